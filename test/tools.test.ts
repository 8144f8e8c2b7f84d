/** The host tools check: exact line, then run for real with a PATH that has some tools and lacks others. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { requireToolsCommand, TOOLS_MISSING_EXIT } from "../commands/tools";

const TOOLS = [
  { program: "aws", debianPackage: "awscli" },
  { program: "zstd", debianPackage: "zstd" },
];

describe("requireToolsCommand", () => {
  it("builds the exact line", () => {
    expect(requireToolsCommand("backups", TOOLS)).toBe(
      "missing=''; " +
        'for pair in aws:awscli zstd:zstd; do command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"; done; ' +
        `if [ -n "$missing" ]; then echo 'railyard: backups need programs this host lacks; install them as root: apt-get install'"$missing" >&2; exit 74; fi`,
    );
  });

  it("refuses names that are not plain words", () => {
    expect(() => requireToolsCommand("x", [{ program: "aws; rm -rf /", debianPackage: "awscli" }])).toThrow(/not a program or package name/);
    expect(() => requireToolsCommand("x", [{ program: "aws", debianPackage: "$(x)" }])).toThrow(/not a program or package name/);
  });

  it("passes when every program is on PATH and names each missing package otherwise", () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-tools-"));
    fs.writeFileSync(path.join(bin, "aws"), "#!/bin/sh\n", { mode: 0o755 });
    const run = (tools: typeof TOOLS) => spawnSync("/bin/sh", ["-c", requireToolsCommand("backups", tools)], { env: { PATH: bin }, encoding: "utf8" });
    expect(run(TOOLS.slice(0, 1)).status).toBe(0);
    const missing = run([...TOOLS, { program: "curl", debianPackage: "curl" }]);
    expect(missing.status).toBe(TOOLS_MISSING_EXIT);
    expect(missing.stderr).toBe("railyard: backups need programs this host lacks; install them as root: apt-get install zstd curl\n");
    fs.rmSync(bin, { recursive: true, force: true });
  });
});
