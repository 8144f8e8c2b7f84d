/**
 * Rollback on demand, end to end on the real engine: release 1 (config A: env GREETING=A, image v1) and release 2
 * (config B: GREETING=B, image v2) are deployed by the program's own steps (begin, migration, gate, record, run by
 * the bed as `pulumi up` would run them); `npm run rollback` (scripts/rollback.ts, with the bed standing in for
 * `pulumi up`) brings release 1 back, image AND env, through the same gates, and records it; a second run of the
 * same config changes nothing; rolling forward works the same way; a rollback to a release whose image is gone is
 * refused before anything changes; a deploy while a rollback holds the host lock is refused naming the holder;
 * every step leaves its audit line.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ConfigMap, ROOT, runStack, StackRun } from "../harness";
import { main as rollback } from "../../scripts/rollback";
import { applyStack, ApplyResult, CommandFailed, teardown } from "./apply";
import { engine } from "./engineApi";

const PREFIX = "ryd";
const NETWORK = `${PREFIX}-net`;
const STACK = "dev";
const images = inject("images");
const DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-ryd-data-"));
const STACK_DIR = `${DATA_DIR}/${PREFIX}`;
const RELEASE = path.join(ROOT, "host", "railyard-release.sh");
const V1 = `${PREFIX}-app:v1`;
const V2 = `${PREFIX}-app:v2`;
const DECLARED_V1 = `ghcr.io/example/app@sha256:${"1".repeat(64)}`;
const DECLARED_V2 = `ghcr.io/example/app@sha256:${"2".repeat(64)}`;
/** Declared image → the local image standing in for it. */
const STAND_IN: Record<string, string> = { [DECLARED_V1]: V1, [DECLARED_V2]: V2 };

/** The test's stack file: one web service behind no edge, on this engine, in its own data folder. */
function stackConfig(greeting: string, image: string): ConfigMap {
  return {
    "railyard:environment": "dev",
    "railyard:prefix": PREFIX,
    "railyard:host": { mode: "local", dataDir: DATA_DIR },
    "railyard:deploy": { healthCheckAttempts: 20, healthCheckInterval: "1s", releasesKept: 5 },
    "railyard:services": {
      api: {
        kind: "web",
        image,
        startCommand: "python3 /app/app.py serve",
        // A migration job per release (it changes nothing here): a rollback must not run it.
        preDeployCommand: "true",
        port: 8000,
        replicas: 2,
        healthcheck: { path: "/health", interval: "1s", timeout: "2s", retries: 3, startPeriod: "2s" },
        env: { APP_ROLE: "api", GREETING: greeting },
      },
    },
  };
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-ryd-root-"));
const stackFilePath = path.join(root, `Pulumi.${STACK}.yaml`);
const writeStackFile = (config: ConfigMap) =>
  fs.writeFileSync(stackFilePath, `# the rollback test's stack (test/engine/rollback.test.ts)\n${stringify({ config })}`);
const readStackConfig = (): ConfigMap => (parse(fs.readFileSync(stackFilePath, "utf8")) as { config: ConfigMap }).config;

/** The previous `pulumi up`'s `release` output, as the StackReference reads it back. */
let previous: Record<string, unknown> = {};
/** What the last `up` did with each resource. */
let last: ApplyResult | undefined;

/** `pulumi up` of the stack file as it is now: the program under mocks, applied to the engine by the bed. */
async function up(env: Record<string, string> = {}): Promise<ApplyResult> {
  const saved = { ...process.env };
  Object.assign(process.env, env, { RAILYARD_PROJECT_DIR: root, RAILYARD_WHO: env.RAILYARD_WHO ?? "ci-alice", GITHUB_SHA: env.GITHUB_SHA ?? "a".repeat(40) });
  try {
    const run: StackRun = await runStack(STACK, readStackConfig(), {}, { release: previous });
    const result = await applyStack(run, standIn(run));
    last = result;
    previous = (await outputValue(run.exports.release)) as Record<string, unknown>;
    return result;
  } finally {
    process.env = saved;
  }
}

/** Each declared service's stand-in image, by the image it declares. */
function standIn(run: StackRun): (name: string) => string {
  return (name) => {
    const s = run.resources.find((r) => r.type === "docker:index/service:Service" && r.name === name);
    const declared = String((s?.inputs.taskSpec as { containerSpec: { image: string } } | undefined)?.containerSpec.image);
    return STAND_IN[declared] ?? images.APP_V1;
  };
}

async function outputValue(o: unknown): Promise<unknown> {
  if (o && typeof o === "object" && "apply" in o) return new Promise((resolve) => (o as { apply: (f: (v: unknown) => void) => void }).apply(resolve));
  return o;
}

/** The image and GREETING of every task of the api that Swarm wants running (old tasks still stopping are not). */
async function runningTasks(): Promise<{ image: string; greeting: string }[]> {
  const filter = encodeURIComponent(JSON.stringify({ service: [`${PREFIX}-api`], "desired-state": ["running"] }));
  const list = await engine<{ Status: { State: string }; Spec: { ContainerSpec: { Image: string; Env?: string[] } } }[]>("GET", `/tasks?filters=${filter}`);
  return list
    .filter((t) => t.Status.State === "running")
    .map((t) => ({ image: t.Spec.ContainerSpec.Image, greeting: (t.Spec.ContainerSpec.Env ?? []).find((e) => e.startsWith("GREETING="))?.slice("GREETING=".length) ?? "" }));
}

const releaseCli = (...args: string[]) =>
  execFileSync("bash", [RELEASE, ...args, "--stack-dir", STACK_DIR, "--stack", PREFIX], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const auditLines = () => fs.readFileSync(`${STACK_DIR}/audit.log`, "utf8").trim().split("\n").map((l) => l.replace(/^\S+/, "<time>"));

describe("rollback on demand through the program, on a real engine", () => {
  let secondDeploy: { since: number; until: number } = { since: 0, until: 0 };

  beforeAll(async () => {
    for (const [tag, label] of [[V1, "1"], [V2, "2"]]) {
      execFileSync("docker", ["build", "-q", "-t", tag, "-"], { input: `FROM ${images.APP_V1}\nLABEL railyard.test.release=${label}\n` });
    }
    writeStackFile(stackConfig("A", DECLARED_V1));
    const first = await up();
    expect(first.outcome["api-gate"]).toBe("ok");
    writeStackFile(stackConfig("B", DECLARED_V2));
    const since = nowSeconds();
    const second = await up();
    secondDeploy = { since, until: nowSeconds() + 1 };
    expect(second.outcome["api-gate"]).toBe("ok");
  });

  afterAll(async () => {
    await teardown(PREFIX, NETWORK);
    execFileSync("bash", ["-c", `docker ps -aq --filter label=railyard.stack=${PREFIX} | xargs -r docker rm -f >/dev/null; docker rmi -f ${V1} ${V2} >/dev/null 2>&1 || true`]);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(DATA_DIR, { recursive: true, force: true });
  });

  it("records each release with its images and stack file", async () => {
    const list = JSON.parse(releaseCli("list", "--json")) as { seq: number; status: string; services: Record<string, { image: string }> }[];
    expect(list.map((r) => [r.seq, r.status, r.services.api.image])).toEqual([
      [1, "ok", V1],
      [2, "ok", V2],
    ]);
    expect(await runningTasks()).toEqual([{ image: V2, greeting: "B" }, { image: V2, greeting: "B" }]);
  });

  it("a deploy runs its migration job (release 2 records it as migrated)", () => {
    expect(migrationJobsCreated(secondDeploy.since, secondDeploy.until)).toEqual([`${PREFIX}-api-migrate`]);
    expect(JSON.parse(releaseCli("show", "2"))).toMatchObject({ migrated: ["api"] });
  });

  it("rolls back to release 1: every task runs v1 with config A's env, through the gates, recorded; no migration job runs", async () => {
    const since = nowSeconds();
    const code = await rollback(["--stack", STACK], root, { up: async (_stack, env) => exitOf(up(env)) });
    expect(code).toBe(0);
    expect(migrationJobsCreated(since, nowSeconds() + 1)).toEqual([]);
    expect(last?.actions.api).toBe("update");
    expect(last?.outcome).toMatchObject({ "release-begin": "ok", "api-gate": "ok", "release-record": "ok" });
    expect(await runningTasks()).toEqual([{ image: V1, greeting: "A" }, { image: V1, greeting: "A" }]);
    expect(readStackConfig()).toEqual(stackConfig("A", DECLARED_V1));
    expect(releaseCli("live").trim()).toBe("3");
    const record = JSON.parse(releaseCli("show", "3")) as { kind: string; rollbackOf: number };
    expect(record).toMatchObject({ kind: "rollback", rollbackOf: 1 });
  });

  it("a later `pulumi up` of the same config changes nothing", async () => {
    const again = await up();
    for (const [name, outcome] of Object.entries(again.outcome)) expect(outcome, name).toMatch(/^(unchanged|applied)$/);
    expect(releaseCli("live").trim()).toBe("3");
  });

  it("rolls forward to release 2 the same way", async () => {
    const code = await rollback(["--stack", STACK, "--to", "2"], root, { up: async (_stack, env) => exitOf(up(env)) });
    expect(code).toBe(0);
    expect(await runningTasks()).toEqual([{ image: V2, greeting: "B" }, { image: V2, greeting: "B" }]);
  });

  it("refuses a rollback to a release whose image is gone, before anything changes", async () => {
    const before = fs.readFileSync(stackFilePath, "utf8");
    const spec = execFileSync("docker", ["service", "inspect", "--format", "{{.Version.Index}}", `${PREFIX}-api`], { encoding: "utf8" });
    execFileSync("docker", ["rmi", "-f", V1]);
    let ran = false;
    const code = await rollback(["--stack", STACK, "--to", "1"], root, { up: async () => ((ran = true), 0) });
    expect(code).toBe(76);
    expect(ran).toBe(false);
    expect(fs.readFileSync(stackFilePath, "utf8")).toBe(before);
    expect(execFileSync("docker", ["service", "inspect", "--format", "{{.Version.Index}}", `${PREFIX}-api`], { encoding: "utf8" })).toBe(spec);
    expect(releaseCli("lock", "status").trim()).toBe("unlocked");
  });

  it("refuses a deploy while a rollback holds the lock, naming the holder", async () => {
    releaseCli("lock", "acquire", "--who", "ops-bob", "--kind", "rollback", "--message", "rollback to 1", "--token", "t0ken");
    writeStackFile(stackConfig("C", DECLARED_V2));
    const error = await up().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailed);
    expect((error as CommandFailed).exitCode).toBe(75);
    expect((error as CommandFailed).output).toContain("ops-bob");
    expect((await runningTasks()).map((t) => t.greeting)).toEqual(["B", "B"]);
    releaseCli("lock", "release", "--token", "t0ken");
  });

  it("leaves one audit line per deploy and rollback", () => {
    const sha = "a".repeat(40);
    expect(auditLines()).toEqual([
      `<time> ci-alice ${PREFIX} deploy 1 ${sha}`,
      `<time> ci-alice ${PREFIX} deploy 2 ${sha}`,
      `<time> ci-alice ${PREFIX} rollback 3 ${sha}`,
      `<time> ci-alice ${PREFIX} rollback 4 ${sha}`,
    ]);
  });
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The migration jobs (Swarm services) created on the engine between two times (from the engine's own events). */
function migrationJobsCreated(since: number, until: number): string[] {
  const out = execFileSync(
    "docker",
    ["events", "--since", String(since), "--until", String(until), "--filter", "type=service", "--filter", "event=create", "--format", "{{.Actor.Attributes.name}}"],
    { encoding: "utf8" },
  );
  return out.split("\n").filter((n) => n === `${PREFIX}-api-migrate`);
}

async function exitOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    if (e instanceof CommandFailed) return e.exitCode;
    throw e;
  }
}


