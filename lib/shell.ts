/**
 * Shell quoting for commands railyard sends to a host. Values are quoted so that the shell sees them as one
 * literal word: nothing inside is expanded, substituted or split.
 */

const SAFE_WORD = /^[A-Za-z0-9_./:@%+=,-]+$/;

/** Quotes one word for a POSIX shell; words made only of safe characters are left as they are. */
export function shellQuote(word: string): string {
  if (word.length > 0 && SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Joins words into a command line, each quoted as needed. */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}
