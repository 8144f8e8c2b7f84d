/**
 * A `docker` for host-script tests: first on PATH in its own folder, it records each call's arguments (one line)
 * and answers by a bash `case "$*"` whose branches the test writes (anything else fails, exit 1).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface ScriptedDocker {
  /** Its folder (put it first on PATH). */
  dir: string;
  /** The calls since the last reset, one line each. */
  calls: () => string;
  reset: () => void;
}

export function scriptedDocker(prefix: string, branches: string): ScriptedDocker {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const log = path.join(dir, "calls");
  fs.writeFileSync(path.join(dir, "docker"), `#!/bin/bash\nprintf '%s\\n' "$*" >> ${log}\ncase "$*" in\n${branches}\n  *) exit 1 ;;\nesac\n`, { mode: 0o755 });
  return {
    dir,
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : ""),
    reset: () => fs.rmSync(log, { force: true }),
  };
}
