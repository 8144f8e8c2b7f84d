/**
 * A command builder that checks the host has the programs a feature needs, and names the Debian packages to
 * install when it does not (the backups stream through zstd to awscli; the webhook posts with curl). It installs
 * nothing itself: what goes on a host is its administrator's call.
 */
import { shellJoin } from "../lib/shell";

export interface Tool {
  /** The program as found on PATH. */
  program: string;
  /** The Debian package that has it. */
  debianPackage: string;
}

/** Exit code of the check when a program is missing. */
export const TOOLS_MISSING_EXIT = 74;

const WORD = /^[a-z0-9][a-z0-9.+-]*$/;

/** Fails (74) listing every missing program and the `apt-get install` line for them; `what` says who needs them. */
export function requireToolsCommand(what: string, tools: Tool[]): string {
  for (const t of tools) {
    if (!WORD.test(t.program) || !WORD.test(t.debianPackage)) throw new Error(`railyard: not a program or package name: ${JSON.stringify(t)}`);
  }
  const pairs = tools.map((t) => `${t.program}:${t.debianPackage}`);
  return [
    `missing=''`,
    `for pair in ${shellJoin(pairs)}; do command -v "\${pair%%:*}" >/dev/null 2>&1 || missing="$missing \${pair#*:}"; done`,
    `if [ -n "$missing" ]; then echo ${shellJoin([`railyard: ${what} need programs this host lacks; install them as root: apt-get install`])}"$missing" >&2; exit ${TOOLS_MISSING_EXIT}; fi`,
  ].join("; ");
}
