/**
 * Command builders for files on the host that hold a secret (the backup bucket's keys, the webhook's URL): the
 * content arrives on stdin (Pulumi keeps it as a secret; it never appears on a command line), and the file is
 * root's alone (0600, in a 0700 folder; written as root, through sudo for a non-root SSH user) or, for a file the
 * SSH user's own scripts read (the deploy webhook's URL), that user's alone; replaced whole (a reader never sees
 * half a key). Removed when its resource leaves the stack.
 */
import * as path from "node:path";
import { ABSOLUTE_PATH } from "../config/patterns";
import { shellJoin, shellQuote } from "../lib/shell";
import { asRootCommand } from "./asRoot";

function checked(file: string): string {
  if (!ABSOLUTE_PATH.test(file) || file.length > 1024) throw new Error(`railyard: a secret file needs a plain absolute path, got ${JSON.stringify(file)}`);
  return file;
}

export interface SecretFileOptions {
  /** Whose file it is: root's (the backup keys), or the SSH user's, written as that user without sudo. @default "root" */
  owner?: "root" | "ssh-user";
}

/** `script` as the file's owner runs it. */
function asOwner(label: string, script: string, o: SecretFileOptions): string {
  return (o.owner ?? "root") === "root" ? asRootCommand(label, script) : script;
}

/**
 * Writes stdin to `file` (mode 0600, folder 0700): first to `<file>.new` beside it, then renamed over it. Fails
 * on empty input, so a missing secret never leaves an empty key behind.
 */
export function writeSecretFileCommand(file: string, o: SecretFileOptions = {}): string {
  const f = checked(file);
  const dir = path.posix.dirname(f);
  const tmp = `${f}.new`;
  return asOwner(`writing ${f}`, [
    "umask 077",
    shellJoin(["mkdir", "-p", "--", dir]),
    shellJoin(["chmod", "700", "--", dir]),
    `cat > ${shellQuote(tmp)}`,
    `test -s ${shellQuote(tmp)}`,
    shellJoin(["mv", "-f", "--", tmp, f]),
  ].join(" && "), o);
}

/** Removes the file (and a half-written one); succeeds when it is already gone. */
export function removeSecretFileCommand(file: string, o: SecretFileOptions = {}): string {
  const f = checked(file);
  return asOwner(`removing ${f}`, shellJoin(["rm", "-f", "--", f, `${f}.new`]), o);
}
