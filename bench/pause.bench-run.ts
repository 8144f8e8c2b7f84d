/**
 * Pause benchmark: what pausing a worker costs a release with a migration. A worker as staging declares it (one
 * replica, 120 s stop grace period, Swarm's init, a 190 s update monitor — the window railyard computes for its
 * 30 s health check) is paused around a trivial migration (`true`) by railyard-migrate.sh: after (this script) and
 * before (the script of ca1139b, whose `docker service scale` waits for Swarm's update monitor), beside the same
 * migration with nothing paused. The pause cost is each run minus that one. Asserts outcomes (exit 0, the worker
 * back at 1 running task, no job container left), never timings; prints both side by side and the ratio, then one
 * machine-readable line. Quick: a 20 s monitor (the ratio then says less about staging). Prefix `ryn`.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, expect, it } from "vitest";
import { containersOf, createWorker, MIGRATE, removeServices, replicas, running, waitFor } from "../test/engine/migrateBed";
import { images, MODE, QUICK } from "./release";

const STACK = "ryn";
const WORKER = `${STACK}-worker`;
const JOB = `${STACK}-api-migrate`;
const MONITOR_S = QUICK ? 20 : 190;
const BEFORE_COMMIT = "ca1139b";

afterAll(() => removeServices([WORKER, JOB]));

/** The script of BEFORE_COMMIT with its library, in a folder of their own. */
function beforeScript(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ryn-before-"));
  for (const file of ["railyard-migrate.sh", "railyard-lib.sh"]) {
    fs.writeFileSync(path.join(dir, file), execFileSync("git", ["show", `${BEFORE_COMMIT}:host/${file}`], { encoding: "utf8" }));
  }
  return path.join(dir, "railyard-migrate.sh");
}

/** Seconds one run of SCRIPT takes (exit 0 asserted), then checks the worker is back and nothing is left. */
async function timed(script: string, args: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  const r = execFileSync("bash", [script, ...args, "--", "--label", `railyard.stack=${STACK}`, images().APP_V1, "true"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  expect(r).toBeDefined();
  await waitFor("the worker running again", () => replicas(WORKER) === 1 && running(WORKER) === 1, 120_000);
  await waitFor("no job or container left", () => containersOf(JOB).length === 0, 60_000);
  return seconds;
}

it("measures the pause cost of a migration: railyard-migrate now vs before (docker service scale, waiting for the update monitor)", async () => {
  removeServices([WORKER, JOB]);
  createWorker(WORKER, STACK, images().APP_V1, 1, `${MONITOR_S}s`);
  await waitFor("the worker running", () => running(WORKER) === 1, 60_000);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "ryn-state-"));
  const common = ["--job", JOB, "--timeout", "120", "--stack", STACK];

  const alone = await timed(MIGRATE, [...common, "--state-dir", stateDir]);
  const after = await timed(MIGRATE, [...common, "--state-dir", stateDir, "--pause", WORKER]);
  const before = await timed(beforeScript(), [...common, "--pause", WORKER]);

  const cost = (s: number) => Math.max(0, s - alone);
  const ratio = cost(before) / Math.max(cost(after), 0.1);
  const f = (s: number) => s.toFixed(1);
  const report = [
    `pause benchmark (${MODE}): a worker of 1 replica (stop grace 120 s, update monitor ${MONITOR_S} s${QUICK ? "; staging's is 190 s" : ", as staging's"}) paused around a migration that runs \`true\``,
    "| run | step | pause cost (step − migration alone) |",
    "| --- | ---: | ---: |",
    `| migration alone (nothing paused) | ${f(alone)} s | — |`,
    `| after: railyard-migrate (detached, waits for the tasks) | ${f(after)} s | ${f(cost(after))} s |`,
    `| before: railyard-migrate of ${BEFORE_COMMIT} (docker service scale) | ${f(before)} s | ${f(cost(before))} s |`,
    `pause cost before / after: ${ratio.toFixed(1)}× (goal: a few seconds, not the monitor window)`,
    `pause: mode=${MODE} monitor_s=${MONITOR_S} alone_s=${f(alone)} after_s=${f(after)} before_s=${f(before)} after_cost_s=${f(cost(after))} before_cost_s=${f(cost(before))} ratio=${ratio.toFixed(1)}`,
  ].join("\n");
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${report}\n`);
});
