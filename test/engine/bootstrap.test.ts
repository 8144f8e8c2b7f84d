/** host/railyard-bootstrap.sh against the real engine: idempotent, and loud about a network it cannot use. */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { BOOTSTRAP_SCRIPT } from "../../components/host";

const run = (network: string) =>
  spawnSync("bash", [BOOTSTRAP_SCRIPT, "--stack", "ryb", "--network", network, "--data-dir", "/tmp/railyard-engine"], {
    encoding: "utf8",
  });

describe("bootstrap on a real engine", () => {
  afterAll(() => {
    execFileSync("bash", ["-c", "docker network rm ryb-net ryb-bridge >/dev/null 2>&1 || true"]);
  });

  it("creates the overlay network once, then changes nothing", () => {
    execFileSync("bash", ["-c", "docker network rm ryb-net >/dev/null 2>&1 || true"]);
    const first = run("ryb-net");
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain("created overlay network ryb-net");
    const id = execFileSync("docker", ["network", "inspect", "--format", "{{.Id}}", "ryb-net"], { encoding: "utf8" });
    const second = run("ryb-net");
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).not.toContain("created");
    expect(execFileSync("docker", ["network", "inspect", "--format", "{{.Id}}", "ryb-net"], { encoding: "utf8" })).toBe(id);
    expect(fs.statSync("/tmp/railyard-engine/ryb/backups").isDirectory()).toBe(true);
    // The state folder belongs to the SSH user before any root job (a backup run) could create it root-owned.
    expect(fs.statSync("/tmp/railyard-engine/ryb/state").isDirectory()).toBe(true);
    expect(fs.statSync("/tmp/railyard-engine/ryb").mode & 0o777).toBe(0o700);
  });

  it("exits 13 when a network of that name is not an attachable overlay", () => {
    execFileSync("bash", ["-c", "docker network rm ryb-bridge >/dev/null 2>&1 || true; docker network create --driver bridge ryb-bridge >/dev/null"]);
    const r = run("ryb-bridge");
    expect(r.status).toBe(13);
    expect(r.stderr).toContain("network ryb-bridge exists as 'bridge false', expected 'overlay true'");
  });
});
