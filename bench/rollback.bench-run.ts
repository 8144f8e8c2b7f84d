/**
 * Rollback benchmark: constant load through the edge (front → Caddy → api tasks) while the dev stack goes back from
 * release 2 (api on v2, env B) to release 1 (v1, env A) with the host's fast path (host/railyard-rollback.sh: the
 * recorded specs through the Engine API, then the recorded gates); then the same load on a plain container while
 * seed 002's rollback replaces it (re-tag `:rollback` as `:latest`, stop, remove, start, wait until it answers).
 * Times each from its command until release 1 serves (railyard: every task on release 1 and every gate passed,
 * the script's exit), counts failed requests; asserts outcomes, never timings. Loopback only.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { ROOT, runStack } from "../test/harness";
import { applyStack, tasks, teardown } from "../test/engine/apply";
import { EDGE_HTTP_PORT, health, runningImages } from "../test/engine/probe";
import { CONNECTIONS, load, Phase, table, waitHttp } from "./load";
import { devStack, docker, imageFor, images, MODE, QUICK, removeContainer } from "./release";

/** Requests at least during each rollback (the goal counts 2,000; a full run sends more). */
const MIN = QUICK ? 2_000 : 5_000;
const GOAL_SENT = 2_000;
const GOAL_SECONDS = 10;
const STEADY = QUICK ? 1_000 : 5_000;
const PREFIX = "ryrb";
const API = `${PREFIX}-api`;
const HOST = "api.localhost";
const STACK_DIR = `/tmp/railyard-engine/${PREFIX}`;
const BASELINE = `${PREFIX}-baseline`;
const BASELINE_IMAGE = `${PREFIX}-baseline-app`;
const BASELINE_PORT = 18092;
const ROLLBACK = path.join(ROOT, "host", "railyard-rollback.sh");
const run = promisify(execFile);

const cleanup = async () => {
  removeContainer(BASELINE);
  await run("bash", ["-c", `docker image rm ${BASELINE_IMAGE}:latest ${BASELINE_IMAGE}:rollback >/dev/null 2>&1 || true`]);
  await teardown(PREFIX, `${PREFIX}-net`);
  fs.rmSync(STACK_DIR, { recursive: true, force: true });
};

afterAll(cleanup);

/** The fast path, timed from its start until it exits (every task on the target release, every gate passed). */
async function fastPath(): Promise<{ seconds: number; stdout: string; stderr: string }> {
  const started = Date.now();
  const { stdout, stderr } = await run("bash", [ROLLBACK, "--stack-dir", STACK_DIR, "--stack", PREFIX, "--who", "bench", "--yes"], { encoding: "utf8" });
  return { seconds: (Date.now() - started) / 1000, stdout, stderr };
}

/** The api's env value of ROLLBACK_MARK in every running task. */
async function marks(): Promise<string[]> {
  const running = (await tasks(API)).filter((t) => t.Status.State === "running");
  return running.map((t) => {
    const env = (t.Spec.ContainerSpec as { Env?: string[] }).Env ?? [];
    return env.find((e) => e.startsWith("ROLLBACK_MARK="))?.slice("ROLLBACK_MARK=".length) ?? "";
  });
}

it("measures the host's fast rollback 2 → 1 under load against seed 002's :rollback re-tag, stop, remove, start", async () => {
  const { APP_V1, APP_V2 } = images();
  await cleanup();
  // Release 1 (env A, v1), release 2 (env B, v2): both applied and recorded as `pulumi up` would.
  for (const [mark, api] of [
    ["A", APP_V1],
    ["B", APP_V2],
  ]) {
    const stack = await runStack("dev", devStack(PREFIX, { ROLLBACK_MARK: mark }));
    await applyStack(stack, imageFor(api));
  }
  expect(await runningImages(API)).toEqual([APP_V2, APP_V2]);
  expect(fs.readFileSync(path.join(STACK_DIR, "releases", "live"), "utf8").trim()).toBe("2");
  await waitHttp(EDGE_HTTP_PORT, HOST);

  const steady = await load("railyard steady (release 2)", EDGE_HTTP_PORT, HOST, { amount: STEADY });
  const rollback = fastPath();
  const a = await load("railyard fast path 2 → 1", EDGE_HTTP_PORT, HOST, { until: rollback, min: MIN });
  const done = await rollback;
  const steps = done.stderr.split("\n").filter((l) => /update\(s\) sent|gate passed/.test(l));
  expect(await runningImages(API)).toEqual([APP_V1, APP_V1]);
  expect(await marks()).toEqual(["A", "A"]);
  expect(await health(API)).toMatchObject({ version: "v1", status: "ok" });
  expect(done.stdout).toContain(`npm run rollback -- --stack ${PREFIX} --to 1`);
  const record = JSON.parse(fs.readFileSync(path.join(STACK_DIR, "releases", "000003.json"), "utf8")) as { kind: string; rollbackOf: number };
  expect([record.kind, record.rollbackOf]).toEqual(["host-rollback", 1]);

  // Seed 002: `:rollback` holds the previous image; the rollback re-tags it as `:latest` and recreates the container.
  docker("tag", APP_V1, `${BASELINE_IMAGE}:rollback`);
  docker("tag", APP_V2, `${BASELINE_IMAGE}:latest`);
  const start = () => docker("run", "-d", "--name", BASELINE, "-p", `${BASELINE_PORT}:8000`, `${BASELINE_IMAGE}:latest`, "python3", "/app/app.py", "serve");
  start();
  await waitHttp(BASELINE_PORT, HOST);
  const baseSteady = await load("baseline steady (v2)", BASELINE_PORT, HOST, { amount: STEADY });
  const started = Date.now();
  let baselineSeconds = 0;
  const replace = (async () => {
    docker("tag", `${BASELINE_IMAGE}:rollback`, `${BASELINE_IMAGE}:latest`);
    docker("stop", BASELINE);
    docker("rm", BASELINE);
    start();
    await waitHttp(BASELINE_PORT, HOST);
    baselineSeconds = (Date.now() - started) / 1000;
  })();
  const base = await load("baseline :rollback stop/rm/start", BASELINE_PORT, HOST, { until: replace, min: MIN });
  await replace;
  const baseVersion = docker("exec", BASELINE, "curl", "-fsS", "http://127.0.0.1:8000/health");
  expect(JSON.parse(baseVersion)).toMatchObject({ version: "v1" });

  const phases: Phase[] = [steady, a, baseSteady, base];
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  const report = [
    `rollback benchmark (${MODE}): ${CONNECTIONS} connections of constant load; railyard through front → Caddy → 2 api tasks, baseline on one plain container`,
    `railyard: host/railyard-rollback.sh 2 → 1 (recorded specs through the Engine API, every recorded gate): ${done.seconds.toFixed(1)} s until it exited, every task on v1 with env A`,
    `  its steps (the api's 2 tasks replaced at once, start-first, as its RollbackConfig rolls; each gate waits for --stable seconds of its new tasks):`,
    ...steps.map((l) => `  ${l.trim()}`),
    `baseline: seed 002's re-tag :rollback → :latest, stop, rm, start, until it answers 200: ${baselineSeconds.toFixed(1)} s`,
    table(phases),
    `goal (printed, not asserted): 0 failed of at least ${GOAL_SENT.toLocaleString("en")} and at most ${GOAL_SECONDS} s: ` +
      `${met(a.failed === 0 && a.sent >= GOAL_SENT)} (${a.failed} of ${a.sent}), ${met(done.seconds <= GOAL_SECONDS)} (${done.seconds.toFixed(1)} s); ` +
      `baseline: ${base.failed} failed of ${base.sent}`,
    `rollback: railyard_s=${done.seconds.toFixed(1)} failed=${a.failed} sent=${a.sent} baseline_s=${baselineSeconds.toFixed(1)} baseline_failed=${base.failed}`,
  ].join("\n");
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${report}\n`);
});
