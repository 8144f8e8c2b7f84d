/** Parsing of the duration and size strings the stack files use ("30s", "2m", "512M"). */

/** At most 9 digits: nothing the parser or the engine could overflow, or print in exponent form. */
export const DURATION_PATTERN = /^(\d{1,9})(ms|s|m|h)$/;
export const MEMORY_PATTERN = /^(\d{1,9})([KMG])$/;

const DURATION_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const MEMORY_BYTES: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Milliseconds in a duration string such as "30s"; throws on anything else. */
export function durationMs(value: string): number {
  const match = DURATION_PATTERN.exec(value);
  if (!match) throw new Error(`not a duration: ${JSON.stringify(value)}`);
  return Number(match[1]) * DURATION_MS[match[2]];
}

/** Bytes in a memory size such as "512M"; throws on anything else. */
export function memoryBytes(value: string): number {
  const match = MEMORY_PATTERN.exec(value);
  if (!match) throw new Error(`not a memory size: ${JSON.stringify(value)}`);
  return Number(match[1]) * MEMORY_BYTES[match[2]];
}

/** Docker's NanoCPUs for a CPU count such as 0.5. */
export function nanoCpus(cpus: number): number {
  return Math.round(cpus * 1e9);
}
