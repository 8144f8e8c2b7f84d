/**
 * host/railyard-release.sh and its library host/railyard-releases.sh without an engine: the script run for real by
 * bash on temporary stack folders, with a `docker` first on PATH that stands in for the engine (each service's spec,
 * keepers logged). The engine test (test/engine/release-store.test.ts) runs the Docker-dependent parts for real.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./harness";

const SCRIPT = path.join(ROOT, "host", "railyard-release.sh");
const LIBS = `source ${path.join(ROOT, "host", "railyard-lib.sh")}; source ${path.join(ROOT, "host", "railyard-releases.sh")}`;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-release-script-"));
const bin = path.join(work, "bin");
fs.mkdirSync(bin);
// docker: `service inspect` answers a spec named as asked (unless the name is in NO_SERVICE), `image inspect` finds
// every image but those in MISSING, nothing answers with ENGINE_DOWN; every call is logged.
fs.writeFileSync(
  path.join(bin, "docker"),
  `#!/bin/bash
printf '%s\\n' "$*" >> "$CALLS"
[ -z "\${ENGINE_DOWN:-}" ] || { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
case "$1 $2" in
  "service inspect")
    name=\${@: -1}
    [[ " \${NO_SERVICE:-} " != *" $name "* ]] || exit 1
    sleep "\${SPEC_SLEEP:-0}"
    printf '{"Name":"%s","Labels":{"railyard.stack":"prod"},"TaskTemplate":{"ContainerSpec":{"Image":"%s"}}}\\n' "$name" "\${IMAGE:-app:v1}" ;;
  "container inspect") exit 1 ;;
  "image inspect") [[ " \${MISSING:-} " != *" $3 "* ]] || exit 1 ;;
esac
exit 0
`,
  { mode: 0o755 },
);

const KEY = (c: string) => c.repeat(64);
const TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g;
let dirs = 0;

/** A fresh stack folder <work>/<n>/prod. */
function stackDir(): string {
  const dir = path.join(work, String(++dirs), "prod");
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function env(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${bin}:${process.env.PATH}`, CALLS: path.join(dir, "..", "docker.calls"), USER: "operator", ...extra };
}

function release(dir: string, args: string[], extra: Record<string, string> = {}): Run {
  const r = spawnSync("bash", [SCRIPT, "--stack-dir", dir, "--stack", "prod", ...args], { encoding: "utf8", env: env(dir, extra) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function releaseAsync(dir: string, args: string[], extra: Record<string, string> = {}): { done: Promise<Run>; pid: number } {
  const child = spawn("bash", [SCRIPT, "--stack-dir", dir, "--stack", "prod", ...args], { env: env(dir, extra) });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
  return { done, pid: child.pid ?? 0 };
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const services = (image: string, more: Record<string, unknown> = {}) =>
  b64(JSON.stringify({ api: { swarm: "prod-api", image, release: "0123456789ab", migration: true, gate: ["--service", "prod-api"] }, ...more }));

function begin(dir: string, key: string, extra: string[] = [], who = "alice"): Run {
  return release(dir, ["begin", "--token", key, "--who", who, "--commit", "abcd1234", "--kind", "deploy", "--message", `deploy ${key.slice(0, 4)}`, ...extra]);
}

/** Begins and records a deploy of IMAGE with content KEY; the record's seq. */
function deploy(dir: string, key: string, image: string, opts: { keep?: number; kind?: string[]; who?: string } = {}): number {
  const kind = opts.kind ?? ["--kind", "deploy"];
  const who = opts.who ?? "alice";
  const b = release(dir, ["begin", "--token", key, "--who", who, "--commit", "abcd1234", ...kind, "--message", "m"]);
  expect(b.status, b.stderr).toBe(0);
  const r = release(dir, ["record", "--token", key, "--who", who, "--commit", "abcd1234", ...kind, "--keep", String(opts.keep ?? 10), "--services-b64", services(image), "--config-b64", b64(`config: ${image}\n`)]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout).seq as number;
}

const audit = (dir: string) => fs.readFileSync(path.join(dir, "audit.log"), "utf8").replace(TIME, "TIME");
const recordOf = (dir: string, seq: number) => JSON.parse(fs.readFileSync(path.join(dir, "releases", `${String(seq).padStart(6, "0")}.json`), "utf8"));
const seqs = (dir: string) => fs.readdirSync(path.join(dir, "releases")).filter((f) => /^\d{6}\.json$/.test(f)).map((f) => Number(f.slice(0, 6))).sort((a, b) => a - b);

describe("railyard-release.sh: begin, record, list, show, live, audit", () => {
  it("records a release with each service's spec, makes it live, audits it, keeps its images, releases the lock", () => {
    const dir = stackDir();
    const b = begin(dir, KEY("a"), [], "alice smith");
    expect(b).toEqual({ status: 0, stdout: "", stderr: "" });
    expect(JSON.parse(fs.readFileSync(path.join(dir, "releases", "lock", "holder.json"), "utf8"))).toEqual({
      who: "alice_smith", kind: "deploy", token: KEY("a"), message: "deploy aaaa", at: expect.stringMatching(TIME),
    });
    expect(JSON.parse(fs.readFileSync(path.join(dir, "releases", "pending.json"), "utf8"))).toEqual({
      who: "alice_smith", commit: "abcd1234", kind: "deploy", rollbackOf: null, token: KEY("a"), message: "deploy aaaa", at: expect.stringMatching(TIME),
    });
    const r = release(dir, ["record", "--token", KEY("a"), "--who", "alice smith", "--commit", "abcd1234", "--kind", "deploy", "--keep", "10", "--services-b64", services("app:v1"), "--config-b64", b64("config:\n  railyard:x: y\n")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\{"seq":1,"at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\}\n$/);
    expect(recordOf(dir, 1)).toEqual({
      version: 1, seq: 1, status: "ok", kind: "deploy", at: expect.stringMatching(TIME), who: "alice_smith", commit: "abcd1234", stack: "prod",
      key: KEY("a"), rollbackOf: null,
      services: {
        api: {
          swarm: "prod-api", image: "app:v1", release: "0123456789ab", migration: true, gate: ["--service", "prod-api"],
          spec: { Name: "prod-api", Labels: { "railyard.stack": "prod" }, TaskTemplate: { ContainerSpec: { Image: "app:v1" } } },
        },
      },
      migrated: ["api"],
      config: "config:\n  railyard:x: y\n",
    });
    expect(fs.readFileSync(path.join(dir, "releases", "live"), "utf8")).toBe("1\n");
    expect(fs.existsSync(path.join(dir, "releases", "lock"))).toBe(false);
    expect(fs.existsSync(path.join(dir, "releases", "pending.json"))).toBe(false);
    expect(audit(dir)).toBe("TIME alice_smith prod deploy 1 abcd1234\n");
    expect(fs.readFileSync(path.join(dir, "..", "docker.calls"), "utf8")).toContain(
      "create --pull never --name prod-keep-1-api --network none --label railyard.stack=prod --label railyard.role=keep --label railyard.keep=1 --entrypoint /railyard-keep app:v1",
    );
    expect(release(dir, ["live"])).toEqual({ status: 0, stdout: "1\n", stderr: "" });
    expect(JSON.parse(release(dir, ["show", "1"]).stdout)).toEqual(recordOf(dir, 1));
  });

  it("lists the records (live marked), as a table or JSON without config and specs; audits each event", () => {
    const dir = stackDir();
    expect(release(dir, ["list"]).stdout).toBe("no releases recorded for prod\n");
    expect(release(dir, ["list", "--json"]).stdout).toBe("[]\n");
    deploy(dir, KEY("a"), "app:v1");
    expect(begin(dir, KEY("b")).status).toBe(0);
    const f = release(dir, ["fail", "--step", "gate", "--service", "api", "--exit", "40", "--reason", "api: crash (exit 1)"]);
    expect(f.status, f.stderr).toBe(0);
    expect(JSON.parse(f.stdout)).toEqual({ seq: 2, at: expect.stringMatching(TIME) });
    // A failed gate keeps the deploy lock (a retry of the same release runs under it); the next deploy takes it over.
    expect(JSON.parse(release(dir, ["lock", "status"]).stdout)).toMatchObject({ kind: "deploy", token: KEY("b") });
    deploy(dir, KEY("c"), "app:v3", { who: "bob" });
    const table = release(dir, ["list"]).stdout.replace(TIME, "TIME");
    expect(table).toBe(
      [
        "  SEQ    STATUS KIND          TIME                 WHO              COMMIT       IMAGES",
        "  1      ok     deploy        TIME alice            abcd1234     api=app:v1",
        "  2      failed deploy        TIME alice            abcd1234     gate of api failed (exit 40)",
        "* 3      ok     deploy        TIME bob              abcd1234     api=app:v3",
        "",
      ].join("\n"),
    );
    const json = JSON.parse(release(dir, ["list", "--json"]).stdout);
    expect(json.map((r: { seq: number; live: boolean }) => [r.seq, r.live])).toEqual([[1, false], [2, false], [3, true]]);
    for (const r of json) {
      expect(r).not.toHaveProperty("config");
      for (const s of Object.values(r.services as Record<string, object>)) expect(s).not.toHaveProperty("spec");
    }
    expect(json[1].failure).toEqual({ step: "gate", service: "api", exit: 40, reason: "api: crash (exit 1)" });
    expect(audit(dir)).toBe("TIME alice prod deploy 1 abcd1234\nTIME alice prod failed 2 abcd1234\nTIME bob prod deploy 3 abcd1234\n");
    expect(release(dir, ["audit", "--lines", "1"]).stdout.replace(TIME, "TIME")).toBe("TIME bob prod deploy 3 abcd1234\n");
  });

  it("names migrated only the services with a migration whose image changed since the previous ok release", () => {
    const dir = stackDir();
    const two = (api: string, worker: string) =>
      b64(JSON.stringify({
        api: { swarm: "prod-api", image: api, release: "0123456789ab", migration: true, gate: [] },
        worker: { swarm: "prod-worker", image: worker, release: "0123456789ab", migration: false, gate: [] },
      }));
    const rec = (key: string, s: string) =>
      release(dir, ["record", "--token", key, "--who", "a", "--commit", "", "--kind", "deploy", "--keep", "10", "--services-b64", s]);
    expect(rec(KEY("a"), two("api:1", "w:1")).status).toBe(0);
    expect(rec(KEY("b"), two("api:1", "w:2")).status).toBe(0);
    expect(rec(KEY("c"), two("api:2", "w:3")).status).toBe(0);
    expect([1, 2, 3].map((s) => recordOf(dir, s).migrated)).toEqual([["api"], [], ["api"]]);
    // No stack file given: config null; no commit: "" in the record, "-" in the audit.
    expect(recordOf(dir, 3).config).toBeNull();
    expect(audit(dir).split("\n")[2]).toBe("TIME a prod deploy 3 -");
  });

  it("refuses to record a service the engine does not have (70), writing nothing", () => {
    const dir = stackDir();
    const r = release(dir, ["record", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy", "--keep", "10", "--services-b64", services("app:v1")], { NO_SERVICE: "prod-api" });
    expect(r.status).toBe(70);
    expect(r.stderr).toContain("the release's service prod-api (api) is not on the engine");
    expect(seqs(dir)).toEqual([]);
    expect(release(dir, ["live"]).status).toBe(77);
  });

  it("says 77 for no such release or no live one, 78 for a record that is not JSON", () => {
    const dir = stackDir();
    expect(release(dir, ["live"])).toEqual({ status: 77, stdout: "", stderr: "railyard-release: no live release of prod recorded yet\n" });
    expect(release(dir, ["show", "4"]).status).toBe(77);
    expect(release(dir, ["check-images", "4"]).status).toBe(77);
    fs.mkdirSync(path.join(dir, "releases"), { recursive: true });
    fs.writeFileSync(path.join(dir, "releases", "000004.json"), "{half");
    expect(release(dir, ["show", "4"]).status).toBe(78);
    expect(release(dir, ["audit"])).toEqual({ status: 0, stdout: "", stderr: "" });
  });

  it("check-images names each image missing from the engine (76); a failed record is unusable (78)", () => {
    const dir = stackDir();
    deploy(dir, KEY("a"), "app:v1");
    expect(release(dir, ["check-images", "1"])).toEqual({ status: 0, stdout: "", stderr: "" });
    const r = release(dir, ["check-images", "1"], { MISSING: "app:v1" });
    expect(r.status).toBe(76);
    expect(r.stderr).toBe("railyard-release: release 1: the image of api is not on this engine: app:v1\n");
    const down = release(dir, ["check-images", "1"], { ENGINE_DOWN: "1" });
    expect([down.status, down.stderr]).toEqual([70, "railyard-release: the Docker engine did not answer: the images of release 1 cannot be checked\n"]);
    release(dir, ["fail", "--step", "migration", "--service", "api", "--exit", "30", "--reason", "x"]);
    expect(release(dir, ["check-images", "2"]).status).toBe(78);
  });
});

describe("the previous good release", () => {
  it("is the newest ok release before the live one that ran something else; repeated rollbacks walk further back", () => {
    const dir = stackDir();
    expect(release(dir, ["previous"]).status).toBe(77);
    deploy(dir, KEY("a"), "app:v1"); // 1
    expect(release(dir, ["previous"]).status).toBe(77);
    deploy(dir, KEY("b"), "app:v2"); // 2
    release(dir, ["fail", "--step", "gate", "--service", "api", "--exit", "40", "--reason", "x"]); // 3 failed
    deploy(dir, KEY("b"), "app:v2"); // 4: the same content as 2 again
    expect(release(dir, ["previous"]).stdout).toBe("1\n");
    deploy(dir, KEY("c"), "app:v3"); // 5
    expect(release(dir, ["previous"]).stdout).toBe("4\n");
    // A rollback to 4 (content b): from there, the one before 4 that is not b.
    deploy(dir, KEY("b"), "app:v2", { kind: ["--kind", "rollback", "--rollback-of", "4"] }); // 6
    expect(recordOf(dir, 6)).toMatchObject({ kind: "rollback", rollbackOf: 4 });
    expect(release(dir, ["previous"]).stdout).toBe("1\n");
    deploy(dir, KEY("a"), "app:v1", { kind: ["--kind", "rollback", "--rollback-of", "1"] }); // 7
    const none = release(dir, ["previous"]);
    expect(none.status).toBe(77);
    expect(none.stderr).toContain("release 7 of prod has no earlier good release that ran something else");
    expect(audit(dir)).toContain("TIME alice prod rollback 7 abcd1234\n");
  });

  it("counts host-rollback records like rollbacks (written by the host's fast path)", () => {
    const dir = stackDir();
    deploy(dir, KEY("a"), "app:v1");
    deploy(dir, KEY("b"), "app:v2");
    deploy(dir, KEY("c"), "app:v3");
    const r = spawnSync("bash", ["-c", `set -euo pipefail; ${LIBS}; releases_init "$1"; previous_good 3; r=$(jq -c '.kind = "host-rollback" | .seq = 4 | .rollbackOf = 2 | .key = "${KEY("b")}"' "$1/releases/000003.json"); write_record 4 "$r"; set_live 4; previous_good`, "bash", dir], { encoding: "utf8", env: env(dir) });
    expect(r.stdout).toBe("2\n1\n");
  });
});

describe("pruning", () => {
  it("keeps the newest N records and always the live one's rollback target; removes pruned records' keepers", () => {
    const dir = stackDir();
    deploy(dir, KEY("a"), "app:v1");
    deploy(dir, KEY("b"), "app:v2");
    for (let i = 0; i < 3; i++) release(dir, ["fail", "--step", "gate", "--service", "api", "--exit", "40", "--reason", "x"]);
    deploy(dir, KEY("c"), "app:v3", { keep: 2 }); // 6: kept with 5 (the newest two) and 2 (its target)
    expect(seqs(dir)).toEqual([2, 5, 6]);
    expect(release(dir, ["previous"]).stdout).toBe("2\n");
    deploy(dir, KEY("d"), "app:v4", { keep: 1 }); // 7: kept with its target 6
    expect(seqs(dir)).toEqual([6, 7]);
    expect(fs.readFileSync(path.join(dir, "releases", "live"), "utf8")).toBe("7\n");
    const calls = fs.readFileSync(path.join(dir, "..", "docker.calls"), "utf8");
    expect(calls).toContain("ps -aq --filter label=railyard.stack=prod --filter label=railyard.role=keep");
  });
});

describe("the lock", () => {
  it("refuses a release while another holds a manual or rollback lock, naming the holder and how to release it", () => {
    const dir = stackDir();
    const a = release(dir, ["lock", "acquire", "--who", "bob", "--kind", "manual", "--message", "db upgrade", "--token", "t-bob"]);
    expect(a.status, a.stderr).toBe(0);
    const r = begin(dir, KEY("a"));
    expect(r.status).toBe(75);
    expect(r.stdout).toBe("");
    expect(r.stderr.replace(TIME, "TIME")).toBe(
      [
        "railyard: prod is locked by bob since TIME (manual: db upgrade)",
        "  wait for it: pass --wait SECONDS (npm run rollback -- --wait 10m; RAILYARD_LOCK_WAIT=600 pulumi up)",
        "  a stale lock (its holder is gone): npm run lock -- --stack prod --release --force",
        `    (on the host: bash ${SCRIPT} --stack-dir ${dir} --stack prod lock release --force)`,
        "",
      ].join("\n"),
    );
    expect(fs.existsSync(path.join(dir, "releases", "pending.json"))).toBe(false);
    expect(JSON.parse(release(dir, ["lock", "status"]).stdout)).toMatchObject({ who: "bob", kind: "manual", token: "t-bob", message: "db upgrade" });
    // Another's lock is not released without its token or --force.
    expect(release(dir, ["lock", "release"]).status).toBe(75);
    expect(release(dir, ["lock", "release", "--token", "t-other"]).status).toBe(75);
    expect(release(dir, ["lock", "acquire", "--who", "carol", "--kind", "rollback", "--message", "m", "--token", "t-carol"]).status).toBe(75);
    // Its holder takes it again (idempotent) and releases it.
    expect(release(dir, ["lock", "acquire", "--who", "bob", "--kind", "manual", "--message", "db upgrade", "--token", "t-bob"]).status).toBe(0);
    expect(release(dir, ["lock", "release", "--token", "t-bob"])).toEqual({ status: 0, stdout: "", stderr: "railyard-release: released the lock of prod\n" });
    expect(release(dir, ["lock", "status"]).stdout).toBe("unlocked\n");
    expect(fs.existsSync(path.join(dir, "audit.log"))).toBe(false);
  });

  it("takes over a deploy lock another deploy left (an interrupted pulumi up), saying whose", () => {
    const dir = stackDir();
    expect(begin(dir, KEY("a"), [], "alice").status).toBe(0);
    const r = begin(dir, KEY("b"), [], "bob");
    expect(r.status).toBe(0);
    expect(r.stderr.replace(TIME, "TIME")).toBe(
      "railyard-release: taking over the deploy lock of alice since TIME (an interrupted pulumi up: Pulumi's own stack lock shows none runs now)\n",
    );
    expect(JSON.parse(release(dir, ["lock", "status"]).stdout)).toMatchObject({ who: "bob", kind: "deploy", token: KEY("b") });
    // The same release begun again proceeds under its own lock.
    expect(begin(dir, KEY("b"), [], "bob")).toEqual({ status: 0, stdout: "", stderr: "" });
  });

  it("lets a rollback's release proceed under the rollback CLI's lock, which record leaves to the CLI", () => {
    const dir = stackDir();
    deploy(dir, KEY("a"), "app:v1");
    deploy(dir, KEY("b"), "app:v2");
    expect(release(dir, ["lock", "acquire", "--who", "carol", "--kind", "rollback", "--message", "rollback to 1", "--token", "cli-token"]).status).toBe(0);
    const b = release(dir, ["begin", "--token", KEY("a"), "--who", "carol", "--commit", "", "--kind", "rollback", "--rollback-of", "1", "--message", "m", "--lock-token", "cli-token"]);
    expect(b).toEqual({ status: 0, stdout: "", stderr: "" });
    const r = release(dir, ["record", "--token", KEY("a"), "--who", "carol", "--commit", "", "--kind", "rollback", "--rollback-of", "1", "--keep", "10", "--services-b64", services("app:v1")]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(release(dir, ["lock", "status"]).stdout)).toMatchObject({ who: "carol", kind: "rollback", token: "cli-token" });
    expect(release(dir, ["lock", "release", "--token", "cli-token"]).status).toBe(0);
    expect(audit(dir).split("\n")[2]).toBe("TIME carol prod rollback 3 -");
  });

  it("waits with --wait until the lock is free, and refuses after the wait", async () => {
    const dir = stackDir();
    expect(release(dir, ["lock", "acquire", "--who", "bob", "--kind", "manual", "--message", "m", "--token", "t"]).status).toBe(0);
    const started = Date.now();
    const refused = begin(dir, KEY("a"), ["--wait", "1"]);
    expect(refused.status).toBe(75);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(refused.stderr).toContain("railyard-release: prod is locked by bob (manual); waiting up to 1s\n");
    const waiting = releaseAsync(dir, ["begin", "--token", KEY("a"), "--who", "alice", "--commit", "", "--kind", "deploy", "--message", "m", "--wait", "30"]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(release(dir, ["lock", "release", "--token", "t"]).status).toBe(0);
    const r = await waiting.done;
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(release(dir, ["lock", "status"]).stdout)).toMatchObject({ who: "alice", kind: "deploy", token: KEY("a") });
    // lock acquire waits the same way.
    const other = releaseAsync(dir, ["lock", "acquire", "--who", "bob", "--kind", "manual", "--message", "m", "--token", "t2", "--wait", "30"]);
    await new Promise((r2) => setTimeout(r2, 1200));
    release(dir, ["lock", "release", "--token", KEY("a")]);
    expect((await other.done).status).toBe(0);
    expect(JSON.parse(release(dir, ["lock", "status"]).stdout)).toMatchObject({ who: "bob", token: "t2" });
  });

  it("releases a stale lock with --force, with an audit line naming who released it", () => {
    const dir = stackDir();
    expect(release(dir, ["lock", "acquire", "--who", "bob", "--kind", "rollback", "--message", "m", "--token", "t"]).status).toBe(0);
    const r = release(dir, ["lock", "release", "--force", "--who", "ops person"]);
    expect(r).toEqual({ status: 0, stdout: "", stderr: "railyard-release: released the lock bob held on prod\n" });
    expect(audit(dir)).toBe("TIME ops_person prod lock-released - -\n");
    expect(release(dir, ["lock", "acquire", "--who", "b", "--kind", "manual", "--message", "m", "--token", "t"]).status).toBe(0);
    expect(release(dir, ["lock", "release", "--force"]).status).toBe(0);
    expect(audit(dir).split("\n")[1]).toBe("TIME operator prod lock-released - -");
    expect(release(dir, ["lock", "release", "--force"])).toEqual({ status: 0, stdout: "", stderr: "railyard-release: prod is not locked\n" });
  });

  it("reads a lock folder without a holder as held by unknown, never as free", () => {
    const dir = stackDir();
    fs.mkdirSync(path.join(dir, "releases", "lock"), { recursive: true });
    const r = begin(dir, KEY("a"));
    expect(r.status).toBe(75);
    expect(r.stderr).toContain("railyard: prod is locked by unknown since unknown (manual: no holder.json in");
    expect(release(dir, ["lock", "release", "--force", "--who", "x"]).status).toBe(0);
    expect(begin(dir, KEY("a")).status).toBe(0);
  });
});

describe("who, in records and audit lines", () => {
  it("is one word of [A-Za-z0-9._@+-], everything else _, at most 64", () => {
    const dir = stackDir();
    deploy(dir, KEY("a"), "app:v1", { who: "Zoë O'Neil <zoe@example.com> $(id)\n" + "x".repeat(80) });
    const who = recordOf(dir, 1).who as string;
    expect(who).toMatch(/^[A-Za-z0-9._@+-]{64}$/);
    expect(who.startsWith("Zo")).toBe(true);
    expect(who).toContain("_O_Neil__zoe@example.com_");
    expect(audit(dir)).toBe(`TIME ${who} prod deploy 1 abcd1234\n`);
  });
});

describe("release_failed (the gate's and migration's failure paths)", () => {
  const failed = (dir: string, ...args: string[]) =>
    spawnSync("bash", ["-c", `set -euo pipefail; ${LIBS}; RAILYARD_SCRIPT=railyard-gate; release_failed "$@"; echo "status $?"`, "bash", dir, ...args], { encoding: "utf8", env: env(dir) });

  it("records the failure from the pending release, keeps the deploy lock (marked failed), and returns 0", () => {
    const dir = stackDir();
    deploy(dir, KEY("a"), "app:v1");
    expect(begin(dir, KEY("b"), [], "bob").status).toBe(0);
    const r = failed(dir, "gate", "prod-api", "41", "prod-api: not healthy\nwithin 30 attempts");
    expect(r.stdout).toBe("status 0\n");
    expect(r.stderr).toBe("railyard-gate: recorded failed release 2 of prod (gate of api, exit 41)\n");
    expect(recordOf(dir, 2)).toEqual({
      version: 1, seq: 2, status: "failed", kind: "deploy", at: expect.stringMatching(TIME), who: "bob", commit: "abcd1234", stack: "prod",
      key: KEY("b"), rollbackOf: null, services: {}, migrated: [], config: null,
      failure: { step: "gate", service: "api", exit: 41, reason: "prod-api: not healthy within 30 attempts" },
    });
    expect(JSON.parse(release(dir, ["lock", "status"]).stdout)).toMatchObject({ who: "bob", kind: "deploy", token: KEY("b") });
    expect(JSON.parse(fs.readFileSync(path.join(dir, "releases", "pending.json"), "utf8"))).toMatchObject({ failed: { seq: 2, step: "gate", service: "api", exit: 41 } });
    expect(release(dir, ["live"]).stdout).toBe("1\n");
    expect(audit(dir).split("\n")[1]).toBe("TIME bob prod failed 2 abcd1234");
    // That deploy's steps are over: a rollback takes its lock over, saying whose it was; a manual lock is not taken over.
    const taken = release(dir, ["lock", "acquire", "--who", "carol", "--kind", "rollback", "--message", "back to 1", "--token", "t1"]);
    expect(taken.status, taken.stderr).toBe(0);
    expect(taken.stderr).toContain("taking over the lock of bob's deploy");
    expect(taken.stderr).toContain("(gate of api, exit 41)");
    expect(JSON.parse(release(dir, ["lock", "status"]).stdout)).toMatchObject({ who: "carol", kind: "rollback" });
    expect(release(dir, ["lock", "acquire", "--who", "dave", "--kind", "manual", "--message", "m", "--token", "t2"]).status).toBe(75);
  });

  it("a deploy lock whose release did not fail is not taken over by a rollback (75, naming it)", () => {
    const dir = stackDir();
    deploy(dir, KEY("a"), "app:v1");
    expect(begin(dir, KEY("b"), [], "bob").status).toBe(0);
    const r = release(dir, ["lock", "acquire", "--who", "carol", "--kind", "rollback", "--message", "m", "--token", "t1"]);
    expect(r.status).toBe(75);
    expect(r.stderr).toContain("locked by bob");
  });

  it("a migration under a rollback is not run: the job script exits 0 before it touches the engine", () => {
    const dir = stackDir();
    deploy(dir, KEY("a"), "app:v1");
    deploy(dir, KEY("b"), "app:v2");
    expect(release(dir, ["begin", "--token", KEY("a"), "--who", "carol", "--commit", "", "--kind", "rollback", "--rollback-of", "1", "--message", "m"]).status).toBe(0);
    const calls = path.join(dir, "..", "docker.calls");
    fs.rmSync(calls, { force: true });
    const migrate = path.join(ROOT, "host", "railyard-migrate.sh");
    const args = ["--job", "prod-api-migrate", "--timeout", "30", "--stack", "prod", "--state-dir", path.join(dir, "state"), "--", "--network", "prod-net", "app:v1", "alembic upgrade head"];
    const r = spawnSync("bash", [migrate, ...args], { encoding: "utf8", env: env(dir) });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("a rollback is under way");
    expect(fs.existsSync(calls)).toBe(false);
    // A deploy's migration does run (here it reaches the stand-in docker).
    expect(begin(dir, KEY("c"), [], "bob").status).toBe(0);
    spawnSync("bash", [migrate, ...args], { encoding: "utf8", env: env(dir) });
    expect(fs.readFileSync(calls, "utf8")).not.toBe("");
  });

  it("leaves a rollback's lock to its holder, and records '-' without a pending release", () => {
    const dir = stackDir();
    fs.mkdirSync(path.join(dir, "releases"));
    release(dir, ["lock", "acquire", "--who", "carol", "--kind", "rollback", "--message", "m", "--token", "t"]);
    expect(failed(dir, "migration", "prod-api", "30", "prod-api-migrate ended Failed").stdout).toBe("status 0\n");
    expect(recordOf(dir, 1)).toMatchObject({ who: "-", kind: "-", commit: "", failure: { step: "migration", service: "api", exit: 30 } });
    expect(audit(dir)).toBe("TIME - prod failed 1 -\n");
    expect(JSON.parse(release(dir, ["lock", "status"]).stdout)).toMatchObject({ who: "carol" });
  });

  it("records a failing rollback as one, with the release it went back to", () => {
    const dir = stackDir();
    deploy(dir, KEY("a"), "app:v1");
    deploy(dir, KEY("b"), "app:v2");
    const b = release(dir, ["begin", "--token", KEY("a"), "--who", "carol", "--commit", "", "--kind", "rollback", "--rollback-of", "1", "--message", "m"]);
    expect(b.status, b.stderr).toBe(0);
    expect(failed(dir, "migration", "prod-api", "31", "prod-api-migrate did not finish within 600s").stdout).toBe("status 0\n");
    expect(recordOf(dir, 3)).toMatchObject({ status: "failed", kind: "rollback", rollbackOf: 1, who: "carol", key: KEY("a") });
    expect(release(dir, ["live"]).stdout).toBe("2\n");
  });

  it("records nothing (and creates nothing) where no release store is, and never fails", () => {
    const dir = stackDir();
    expect(failed(dir, "gate", "prod-api", "40", "x")).toMatchObject({ stdout: "status 0\n", stderr: "" });
    expect(fs.readdirSync(dir)).toEqual([]);
    fs.mkdirSync(path.join(dir, "releases"));
    fs.chmodSync(path.join(dir, "releases"), 0o500);
    const r = failed(dir, "gate", "prod-api", "40", "x");
    fs.chmodSync(path.join(dir, "releases"), 0o700);
    expect(r.stdout).toBe("status 0\n");
    if (process.getuid?.() !== 0) expect(r.stderr).toContain("could not record the failed release");
  });

  it("keeps the gate's exit code on its failing exits", () => {
    const dir = stackDir();
    fs.mkdirSync(path.join(dir, "releases"));
    // The stand-in engine has no such service: the gate fails 2 before changing anything.
    const gate = spawnSync("bash", [path.join(ROOT, "host", "railyard-gate.sh"), "--service", "prod-api", "--image", "app:v1", "--release", "0123456789ab", "--state-dir", path.join(dir, "state")], { encoding: "utf8", env: env(dir) });
    expect(gate.status).toBe(2);
    expect(recordOf(dir, 1)).toMatchObject({ status: "failed", failure: { step: "gate", service: "api", exit: 2, reason: "no Swarm service named prod-api" } });
  });
});

describe("the webhook", () => {
  it("posts each deploy, rollback and failure to the URL in hooks/deploy-webhook.url", async () => {
    const bodies: string[] = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        bodies.push(body);
        res.end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const dir = stackDir();
    fs.mkdirSync(path.join(dir, "hooks"), { mode: 0o700 });
    fs.writeFileSync(path.join(dir, "hooks", "deploy-webhook.url"), `http://127.0.0.1:${port}/hook/S3CRET\n`, { mode: 0o600 });
    const run = async (args: string[]) => {
      const r = await releaseAsync(dir, args).done;
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain("S3CRET");
    };
    const rec = (key: string, image: string, kind: string[]) =>
      run(["record", "--token", key, "--who", "alice", "--commit", "3f2a1bc0d1e2ffff", ...kind, "--keep", "10", "--services-b64", services(image)]);
    await rec(KEY("a"), "app:v1", ["--kind", "deploy"]);
    await run(["fail", "--step", "gate", "--service", "api", "--exit", "40", "--reason", "crash"]);
    await rec(KEY("a"), "app:v1", ["--kind", "rollback", "--rollback-of", "1"]);
    server.close();
    expect(bodies.map((b) => JSON.parse(b).text)).toEqual([
      "railyard: alice deployed prod release 1 (3f2a1bc0d1e2): api=app:v1",
      "railyard: release 2 of prod FAILED at its gate of api (exit 40): crash",
      "railyard: alice rolled prod back to release 1 (now release 3): api=app:v1",
    ]);
  });
});

describe("writes", () => {
  it("never leave half a record, whenever the run is killed", async () => {
    const dir = stackDir();
    // A stack file as large as a record line carries (RECORD_CONFIG_MAX: a remote shell takes one line of 128 KiB).
    const config = b64("x".repeat(60_000));
    for (let i = 0; i < 12; i++) {
      const run = releaseAsync(dir, ["record", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy", "--keep", "100", "--services-b64", services("app:v1"), "--config-b64", config]);
      await new Promise((r) => setTimeout(r, 40 + i * 15));
      try {
        process.kill(run.pid, "SIGKILL");
      } catch {
        // it ended first
      }
      await run.done;
    }
    for (const seq of seqs(dir)) expect(recordOf(dir, seq).config).toHaveLength(60_000);
    const live = release(dir, ["live"]);
    if (live.status === 0) expect(seqs(dir)).toContain(Number(live.stdout));
  });
});

describe("arguments", () => {
  it("refuses bad ones with 2, naming the argument, before anything is written", () => {
    const dir = stackDir();
    const cases: [string[], string][] = [
      [["list", "--foo"], "unknown argument: --foo"],
      [["bogus"], "unknown subcommand: bogus"],
      [[], "a subcommand is required"],
      [["begin", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy"], "begin needs --message"],
      [["begin", "--token", "abc", "--who", "a", "--commit", "", "--kind", "deploy", "--message", "m"], "--token must be a release key (64 lower-case hex digits), got abc"],
      [["begin", "--token", KEY("a"), "--who", "", "--commit", "", "--kind", "deploy", "--message", "m"], "--who must be not empty"],
      [["begin", "--token", KEY("a"), "--who", "a", "--commit", "HEAD", "--kind", "deploy", "--message", "m"], "--commit must be lower-case hex (4 to 64 digits) or empty, got HEAD"],
      [["begin", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "host-rollback", "--message", "m"], "--kind must be deploy or rollback, got host-rollback"],
      [["begin", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "rollback", "--message", "m"], "begin needs --rollback-of"],
      [["begin", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy", "--rollback-of", "1", "--message", "m"], "--rollback-of needs --kind rollback"],
      [["begin", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy", "--message", "m", "--wait", "1m"], "--wait must be whole seconds, 0 to 86400, got 1m"],
      [["begin", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy", "--message", "m", "--lock-token", "a b"], "--lock-token must be 1 to 128 of A-Z a-z 0-9 . _ -, got a\\ b"],
      [["begin", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy", "--message", "m", "--keep", "3"], "--keep is not an option of begin"],
      [["record", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy", "--keep", "0", "--services-b64", services("x")], "--keep must be 1 to 100, got 0"],
      [["record", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy", "--keep", "5", "--services-b64", "!!"], "--services-b64 must be base64, got \\!\\!"],
      [["record", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy", "--keep", "5", "--services-b64", b64("{}")], "--services-b64 must be base64 of a JSON object"],
      [["record", "--token", KEY("a"), "--who", "a", "--commit", "", "--kind", "deploy", "--keep", "5"], "record needs --services-b64"],
      [["fail", "--step", "deploy", "--service", "api", "--exit", "1", "--reason", "r"], "--step must be gate or migration, got deploy"],
      [["fail", "--step", "gate", "--service", "api", "--exit", "0", "--reason", "r"], "--exit must be 1 to 255, got 0"],
      [["show"], "show needs a release number"],
      [["show", "01"], "show must be a release number (1 to 999999), got 01"],
      [["show", "1", "2"], "unexpected argument: 2"],
      [["lock"], "lock needs acquire, release or status"],
      [["lock", "take"], "lock needs acquire, release or status, got take"],
      [["lock", "acquire", "--who", "a", "--kind", "deploy", "--message", "m", "--token", "t"], "--kind must be rollback or manual, got deploy"],
      [["lock", "acquire", "--who", "a", "--kind", "manual", "--token", "t"], "lock acquire needs --message"],
      [["lock", "status", "--force"], "--force is not an option of lock status"],
      [["audit", "--lines", "0"], "--lines must be 1 to 10000, got 0"],
      [["list", "--stack"], "--stack needs a value"],
    ];
    for (const [args, message] of cases) {
      const r = release(dir, args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toContain(message);
    }
    const rel = spawnSync("bash", [SCRIPT, "--stack-dir", "relative", "--stack", "prod", "list"], { encoding: "utf8" });
    expect([rel.status, rel.stderr]).toEqual([2, "railyard-release: --stack-dir must be an absolute path (letters, digits, . _ - between slashes), got relative\n"]);
    const none = spawnSync("bash", [SCRIPT, "--stack-dir", path.join(dir, "nope"), "--stack", "prod", "list"], { encoding: "utf8" });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain("--stack-dir: no folder");
    expect(spawnSync("bash", [SCRIPT, "--stack-dir", dir, "--stack", "Prod", "list"], { encoding: "utf8" }).stderr).toContain("--stack must be a lower-case name");
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("refuses a stack folder it cannot write (2) instead of waiting on a lock it cannot make", () => {
    if (process.getuid?.() === 0) return;
    const dir = stackDir();
    fs.chmodSync(dir, 0o500);
    const r = begin(dir, KEY("a"));
    fs.chmodSync(dir, 0o700);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--stack-dir: cannot write ${dir}/releases`);
  });

  it("prints its usage with every exit code on --help, and names the Debian packages when jq or curl is missing (74)", () => {
    const help = spawnSync("bash", [SCRIPT, "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    for (const code of ["0 ", "2 ", "70", "74", "75", "76", "77", "78"]) expect(help.stdout).toContain(`\n  ${code}`);
    const dir = stackDir();
    const r = spawnSync("/bin/bash", [SCRIPT, "--stack-dir", dir, "--stack", "prod", "list"], { encoding: "utf8", env: { PATH: path.join(work, "empty") } });
    expect(r.status).toBe(74);
    expect(r.stderr).toBe("railyard-release: the release store needs programs this host lacks; install them as root: apt-get install jq curl\n");
  });
});
