/**
 * The release store's Docker-dependent parts on a real engine (host/railyard-release.sh): `record` captures each
 * service's Swarm spec as the engine holds it; it keeps each recorded image with a created, never started keeper
 * container (so `docker image prune -a` and `docker image rm` leave it), and pruning a record removes its keepers;
 * `check-images` says which image of a record is gone (76); a migration or gate that fails during a release records
 * a failed release from the pending one, keeping its own exit code. Images are tiny local ones on top of a test image.
 * Prefix `ryl`; only what this file creates is removed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT } from "../harness";

const images = inject("images");
const SCRIPT = path.join(ROOT, "host", "railyard-release.sh");
const SERVICE = "ryl-api";
const JOB = "ryl-api-migrate";
const TAGS = ["ryl-app:v1", "ryl-app:v2", "ryl-app:v3", "ryl-app:gone"];
const KEY = (c: string) => c.repeat(64);
let dir = "";

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const tryDocker = (...args: string[]) => spawnSync("docker", args, { encoding: "utf8" });
const keepers = () =>
  docker("ps", "-a", "--filter", "label=railyard.stack=ryl", "--filter", "label=railyard.role=keep", "--format", "{{.Names}} {{.State}} {{.Image}}")
    .split("\n")
    .filter(Boolean)
    .sort();

function release(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("bash", [SCRIPT, "--stack-dir", dir, "--stack", "ryl", ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function record(key: string, image: string, keep = 10): number {
  const services = Buffer.from(
    JSON.stringify({ api: { swarm: SERVICE, image, release: "0123456789ab", migration: false, gate: ["--service", SERVICE] } }),
  ).toString("base64");
  const r = release(["record", "--token", key, "--who", "ci", "--commit", "", "--kind", "deploy", "--keep", String(keep), "--services-b64", services]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout).seq as number;
}

function removeOurs(): void {
  tryDocker("service", "rm", SERVICE, JOB);
  for (let i = 0; i < 40; i++) {
    const left = docker("ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${SERVICE}`).split("\n").filter(Boolean);
    const kept = docker("ps", "-aq", "--filter", "label=railyard.stack=ryl", "--filter", "label=railyard.role=keep").split("\n").filter(Boolean);
    if (left.length + kept.length === 0) break;
    tryDocker("rm", "-f", ...left, ...kept);
    execFileSync("sleep", ["0.5"]);
  }
  for (const tag of TAGS) tryDocker("image", "rm", tag);
}

beforeAll(() => {
  removeOurs();
  for (const tag of TAGS) {
    execFileSync("docker", ["build", "-q", "-t", tag, "-"], { input: `FROM ${images.APP_V1}\nLABEL ryl=${tag}\n`, stdio: ["pipe", "ignore", "pipe"] });
  }
  dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "railyard-release-store-")), "ryl");
  fs.mkdirSync(dir);
  docker(
    "service", "create", "--detach", "--quiet", "--name", SERVICE, "--label", "railyard.stack=ryl", "--env", "RAILYARD_RELEASE=0123456789ab",
    "--init", "--update-order", "start-first", "ryl-app:v1", "sleep", "3600",
  );
});

afterAll(() => {
  removeOurs();
  if (dir) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

describe("the release store on a real engine", () => {
  it("records each service's Swarm spec as the engine holds it, and keeps its image with a never-started container", () => {
    expect(record(KEY("a"), "ryl-app:v1")).toBe(1);
    const rec = JSON.parse(release(["show", "1"]).stdout);
    const spec = JSON.parse(docker("service", "inspect", "--format", "{{json .Spec}}", SERVICE));
    expect(rec.services.api.spec).toEqual(spec);
    expect(rec.services.api.spec).toMatchObject({ Name: SERVICE, Labels: { "railyard.stack": "ryl" } });
    expect(rec.services.api.spec.TaskTemplate.ContainerSpec.Image).toMatch(/^ryl-app:v1/);
    expect(rec.services.api.spec.TaskTemplate.ContainerSpec.Env).toContain("RAILYARD_RELEASE=0123456789ab");
    expect(keepers()).toEqual(["ryl-keep-1-api created ryl-app:v1"]);
    expect(JSON.parse(docker("container", "inspect", "--format", "{{json .Config.Labels}}", "ryl-keep-1-api"))).toMatchObject({
      "railyard.stack": "ryl", "railyard.role": "keep", "railyard.keep": "1",
    });
    expect(release(["check-images", "1"])).toEqual({ status: 0, stdout: "", stderr: "" });
  });

  it("removes the keepers of pruned records, never those of the live one's rollback target", () => {
    docker("service", "update", "--detach", "--quiet", "--image", "ryl-app:v2", SERVICE);
    expect(record(KEY("b"), "ryl-app:v2")).toBe(2);
    docker("service", "update", "--detach", "--quiet", "--image", "ryl-app:v3", SERVICE);
    expect(record(KEY("c"), "ryl-app:v3", 1)).toBe(3);
    expect(JSON.parse(release(["list", "--json"]).stdout).map((r: { seq: number }) => r.seq)).toEqual([2, 3]);
    expect(keepers()).toEqual(["ryl-keep-2-api created ryl-app:v2", "ryl-keep-3-api created ryl-app:v3"]);
    expect(JSON.parse(release(["show", "3"]).stdout).services.api.spec.TaskTemplate.ContainerSpec.Image).toMatch(/^ryl-app:v3/);
  });

  it("check-images names an image removed from the engine (76), changing nothing", () => {
    expect(record(KEY("d"), "ryl-app:gone", 10)).toBe(4);
    expect(release(["check-images", "4"]).status).toBe(0);
    // No task runs ryl-app:gone: only its keeper holds it, and that is what `docker image prune -a` (or a plain
    // `docker image rm`) respects.
    const refused = tryDocker("image", "rm", "ryl-app:gone");
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/ryl-keep-4-api|is using its referenced image|being used/);
    docker("rm", "ryl-keep-4-api");
    docker("image", "rm", "ryl-app:gone");
    const r = release(["check-images", "4"]);
    expect(r).toEqual({ status: 76, stdout: "", stderr: "railyard-release: release 4: the image of api is not on this engine: ryl-app:gone\n" });
    expect(release(["check-images", "3"]).status).toBe(0);
    expect(release(["live"]).stdout).toBe("4\n");
  });

  it("records a failed release when the migration or the gate fails during one, keeping their exit codes", () => {
    const begun = release(["begin", "--token", KEY("e"), "--who", "dana", "--commit", "feedbeef", "--kind", "deploy", "--message", "deploy feedbeef"]);
    expect(begun.status, begun.stderr).toBe(0);
    const migrate = spawnSync("bash", [
      path.join(ROOT, "host", "railyard-migrate.sh"), "--job", JOB, "--timeout", "60", "--stack", "ryl", "--state-dir", path.join(dir, "state"),
      "--", "--label", "railyard.stack=ryl", images.APP_V1, "sh", "-c", "echo failing; exit 3",
    ], { encoding: "utf8" });
    expect(migrate.status, migrate.stderr).toBe(30);
    expect(migrate.stderr).toContain("railyard-migrate: recorded failed release 5 of ryl (migration of api, exit 30)");
    expect(JSON.parse(release(["show", "5"]).stdout)).toMatchObject({
      status: "failed", kind: "deploy", who: "dana", commit: "feedbeef", key: KEY("e"),
      failure: { step: "migration", service: "api", exit: 30, reason: `${JOB} ended Failed` },
    });
    // The failure keeps the deploy's lock (its other steps and a retry run under it), now open to a rollback; the live
    // release is still 4.
    expect(JSON.parse(release(["lock", "status"]).stdout)).toMatchObject({ who: "dana", kind: "deploy", token: KEY("e") });
    expect(release(["live"]).stdout).toBe("4\n");
    // A gate for a release the service does not run (and never ran): 43, recorded too.
    const gate = spawnSync("bash", [
      path.join(ROOT, "host", "railyard-gate.sh"), "--service", SERVICE, "--image", "ryl-app:v9", "--release", "999999999999",
      "--state-dir", path.join(dir, "state"), "--attempts", "1", "--interval", "0.5",
    ], { encoding: "utf8" });
    expect(gate.status, gate.stderr).toBe(43);
    expect(JSON.parse(release(["show", "6"]).stdout)).toMatchObject({ status: "failed", who: "dana", failure: { step: "gate", service: "api", exit: 43 } });
    expect(fs.readFileSync(path.join(dir, "audit.log"), "utf8").replace(/^\S+ /gm, "TIME ").split("\n").slice(-3)).toEqual([
      "TIME dana ryl failed 5 feedbeef",
      "TIME dana ryl failed 6 feedbeef",
      "",
    ]);
    // The next release takes the failed deploy's lock over and releases it when recorded.
    const again = release(["begin", "--token", KEY("f"), "--who", "erin", "--commit", "", "--kind", "deploy", "--message", "deploy again"]);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(release(["lock", "status"]).stdout)).toMatchObject({ who: "erin", token: KEY("f") });
    expect(release(["lock", "release", "--token", KEY("f")]).status).toBe(0);
    expect(release(["lock", "status"]).stdout).toBe("unlocked\n");
  });
});
