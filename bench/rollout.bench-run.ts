/**
 * Rollout benchmark: constant load through the edge (front → Caddy → api tasks) while the api is released as
 * `pulumi up` releases it (migration job, service update, health gate: see release.ts), (a) v1→v2 and (b) a v3
 * that crashes on start, which the gate declares failed and rolls back; then the same load on a plain container
 * while seed 002's sequence replaces it (stop old, remove, run new, wait for it). Asserts the releases' outcomes
 * and images, never timings; prints both side by side, the goal, and last one machine-readable line.
 * Everything runs on loopback against containers this run starts.
 */
import * as fs from "node:fs";
import { afterAll, expect, it } from "vitest";
import { CommandFailed, teardown } from "../test/engine/apply";
import { EDGE_HTTP_PORT, runningImages } from "../test/engine/probe";
import { CONNECTIONS, load, Phase, table, waitHttp } from "./load";
import { deployStack, docker, images, MODE, QUICK, releaseApi, removeContainer, stepTimes } from "./release";

/** Requests at least, per release phase; the goal counts 10,000 over both (a quick run sends fewer). */
const MIN = QUICK ? 2_000 : 10_000;
const GOAL_SENT = 10_000;
const STEADY = QUICK ? 1_000 : 5_000;
const PREFIX = "ryr";
const API = `${PREFIX}-api`;
const HOST = "api.localhost";
const BASELINE = `${PREFIX}-baseline`;
const BASELINE_PORT = 18091;

afterAll(async () => {
  removeContainer(BASELINE);
  await teardown(PREFIX, `${PREFIX}-net`);
});

it("measures requests lost and latency during rollouts: railyard's release steps vs seed 002's stop/remove/run", async () => {
  const { APP_V1, APP_V2, APP_CRASH } = images();
  await teardown(PREFIX, `${PREFIX}-net`);
  const first = await deployStack(PREFIX, APP_V1);
  expect(first.outcome["api-migrate"]).toBe("ok");
  expect(first.outcome["api-gate"]).toBe("ok");
  await waitHttp(EDGE_HTTP_PORT, HOST);

  const steady = await load("railyard steady", EDGE_HTTP_PORT, HOST, { amount: STEADY });
  const rollout = releaseApi(PREFIX, APP_V2);
  const a = await load("railyard rollout v1→v2", EDGE_HTTP_PORT, HOST, { until: rollout, min: MIN });
  const v2 = await rollout;
  expect(v2.steps).toEqual(["api-migrate", "api", "api-gate"]);
  if (v2.result instanceof CommandFailed) throw v2.result;
  expect(v2.result.outcome["api-gate"]).toBe("ok");
  expect(await runningImages(API)).toEqual([APP_V2, APP_V2]);

  const rollback = releaseApi(PREFIX, APP_CRASH);
  const b = await load("railyard crashing v3, rolled back", EDGE_HTTP_PORT, HOST, { until: rollback, min: MIN });
  const v3 = await rollback;
  if (!(v3.result instanceof CommandFailed)) throw new Error(`the crashing v3 was not declared failed: ${JSON.stringify(v3.result.outcome)}`);
  expect([v3.result.resource, v3.result.exitCode]).toEqual(["api-gate", 40]);
  expect(await runningImages(API)).toEqual([APP_V2, APP_V2]);

  removeContainer(BASELINE);
  const run = (image: string) => docker("run", "-d", "--name", BASELINE, "-p", `${BASELINE_PORT}:8000`, image, "python3", "/app/app.py", "serve");
  run(APP_V1);
  await waitHttp(BASELINE_PORT, HOST);
  const baseSteady = await load("baseline steady", BASELINE_PORT, HOST, { amount: STEADY });
  const replace = (async () => {
    docker("stop", BASELINE);
    docker("rm", BASELINE);
    run(APP_V2);
    await waitHttp(BASELINE_PORT, HOST);
  })();
  const base = await load("baseline stop/rm/run v1→v2", BASELINE_PORT, HOST, { until: replace, min: MIN });
  await replace;

  const phases: Phase[] = [steady, a, b, baseSteady, base];
  const ratio = (x: number, y: number) => (y === 0 ? Number.NaN : x / y);
  const p99Rollout = Math.max(a.p99, b.p99);
  const p99Ratio = ratio(p99Rollout, steady.p99);
  const sent = a.sent + b.sent;
  const failed = a.failed + b.failed;
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  const report = [
    `rollout benchmark (${MODE}): ${CONNECTIONS} connections of constant load; railyard through front → Caddy → 2 api tasks, baseline on one plain container`,
    `railyard releases the api as \`pulumi up\` does: ${v2.steps.join(" → ")}`,
    `  v1→v2: ${v2.seconds.toFixed(1)} s (${stepTimes(v2)}), gate ok, 2 tasks on v2`,
    `  crashing v3: ${v3.seconds.toFixed(1)} s (${stepTimes(v3)}), api-gate exit 40, v2 on both tasks again`,
    table(phases),
    `p99 during rollout / steady: railyard ${p99Ratio.toFixed(2)}×, baseline ${ratio(base.p99, baseSteady.p99).toFixed(2)}×`,
    `failed requests during the releases: railyard ${a.failed} + ${b.failed} (rollback) of ${sent}, baseline ${base.failed} of ${base.sent}`,
    `goal (printed, not asserted): 0 failed of at least ${GOAL_SENT.toLocaleString("en")} through v1→v2 and the rolled-back v3: ` +
      `${met(failed === 0 && sent >= GOAL_SENT)} (${failed} of ${sent}${QUICK ? "; a quick run sends fewer" : ""}); ` +
      `rollout p99 within 2× steady: ${met(p99Ratio <= 2)} (${p99Ratio.toFixed(2)}×); baseline failures: ${base.failed}`,
    `rollout: mode=${MODE} sent=${a.sent} failed=${a.failed} rollback_sent=${b.sent} rollback_failed=${b.failed} p99_steady_ms=${steady.p99} p99_rollout_ms=${p99Rollout} baseline_sent=${base.sent} baseline_failed=${base.failed}`,
  ].join("\n");
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${report}\n`);
});
