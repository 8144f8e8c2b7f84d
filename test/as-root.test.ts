/** The as-root wrapper: exact lines, then run for real as root, as a user without sudo, and through a stand-in sudo. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { asRootCommand, NOT_ROOT_EXIT } from "../commands/asRoot";

const SCRIPT = "id -u; cat; exit 7";

describe("asRootCommand", () => {
  it("builds the exact lines", () => {
    expect(asRootCommand("backup keys", SCRIPT)).toBe(
      [
        "script='id -u; cat; exit 7'",
        'if [ "$(id -u)" = 0 ]; then sh -c "$script"; exit $?; fi',
        "if ! sudo -n true 2>/dev/null; then echo 'railyard: backup keys needs root: connect as root, or let this user run sudo without a password (sudoers: <user> ALL=(root) NOPASSWD: ALL)' >&2; exit 73; fi",
        'exec sudo -n sh -c "$script"',
      ].join("\n"),
    );
  });

  const asNobody = (command: string, bin: string, input: string) =>
    spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", command], { input, encoding: "utf8", env: { PATH: `${bin}:/usr/bin:/bin` } });

  it("as root: runs the script, its stdin and exit code passed through", () => {
    const r = spawnSync("sh", ["-c", asRootCommand("x", SCRIPT)], { input: "from stdin\n", encoding: "utf8" });
    expect(r.stdout).toBe("0\nfrom stdin\n");
    expect(r.status).toBe(7);
  });

  it("as a user sudo refuses: exits 73 naming what needed root, runs nothing", () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-asroot-"));
    fs.chmodSync(bin, 0o755);
    fs.writeFileSync(path.join(bin, "sudo"), "#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n", { mode: 0o755 });
    const r = asNobody(asRootCommand("backup keys", SCRIPT), bin, "x");
    expect(r.status).toBe(NOT_ROOT_EXIT);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("railyard: backup keys needs root: connect as root, or let this user run sudo without a password (sudoers: <user> ALL=(root) NOPASSWD: ALL)\n");
    fs.rmSync(bin, { recursive: true, force: true });
  });

  it("as a user sudo lets through: the script runs under sudo -n, with its stdin and exit code", () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-asroot-"));
    fs.chmodSync(bin, 0o755);
    // A stand-in sudo that runs the rest as the same user, marking that it was used.
    fs.writeFileSync(path.join(bin, "sudo"), '#!/bin/sh\n[ "$1" = -n ] || exit 1\nshift\n[ "$1" = true ] && exit 0\necho via-sudo\nexec "$@"\n', { mode: 0o755 });
    const r = asNobody(asRootCommand("x", SCRIPT), bin, "from stdin\n");
    expect(r.stdout).toBe("via-sudo\n65534\nfrom stdin\n");
    expect(r.status).toBe(7);
    fs.rmSync(bin, { recursive: true, force: true });
  });
});
