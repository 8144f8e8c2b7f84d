/**
 * Rollout benchmark: constant load through the edge (front → Caddy → api tasks) while (a) the api rolls v1→v2
 * and (b) an update to a release that crashes on start is rolled back; then the same load on a plain container
 * while seed 002's sequence replaces it (stop old, remove, run new, wait for it). Prints both side by side and,
 * last, one machine-readable line. Everything runs on loopback against containers this run starts.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { afterAll, expect, inject, it } from "vitest";
import { runStack } from "../test/harness";
import { applyStack, teardown } from "../test/engine/apply";
import { EDGE_HTTP_PORT, onLocalEngine } from "../test/engine/probe";
import { CONNECTIONS, load, Phase, table, waitHttp } from "./load";

const QUICK = process.env.RAILYARD_BENCH_QUICK === "1";
const MIN = QUICK ? 2_000 : 10_000;
const STEADY = QUICK ? 1_000 : 5_000;
const PREFIX = "ryr";
const HOST = "api.localhost";
const BASELINE = `${PREFIX}-baseline`;
const BASELINE_PORT = 18091;
const images = inject("images");

const deploy = async (api: string) =>
  applyStack(await runStack("dev", onLocalEngine("dev", PREFIX)), (name) =>
    ({ postgres: images.POSTGRES, redis: images.REDIS, edge: images.EDGE, "edge-front": images.FRONT, api })[name] ?? images.APP_V1,
  );

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

afterAll(async () => {
  docker("rm", "-f", BASELINE);
  await teardown(PREFIX, `${PREFIX}-net`);
});

it("measures requests lost and latency during rollouts: railyard vs seed 002's stop/remove/run", async () => {
  await teardown(PREFIX, `${PREFIX}-net`);
  expect((await deploy(images.APP_V1)).outcome.api).toBe("converged");
  await waitHttp(EDGE_HTTP_PORT, HOST);

  const steady = await load("railyard steady", EDGE_HTTP_PORT, HOST, { amount: STEADY });
  const rollout = deploy(images.APP_V2);
  const a = await load("railyard rollout v1→v2", EDGE_HTTP_PORT, HOST, { until: rollout, min: MIN });
  expect((await rollout).outcome.api).toBe("converged");
  const rollback = deploy(images.APP_CRASH);
  const b = await load("railyard crashing v3, rolled back", EDGE_HTTP_PORT, HOST, { until: rollback, min: MIN });
  expect((await rollback).outcome.api).toBe("rolled back");

  execFileSync("bash", ["-c", `docker rm -f ${BASELINE} >/dev/null 2>&1 || true`]);
  const run = (image: string) => docker("run", "-d", "--name", BASELINE, "-p", `${BASELINE_PORT}:8000`, image, "python3", "/app/app.py", "serve");
  run(images.APP_V1);
  await waitHttp(BASELINE_PORT, HOST);
  const baseSteady = await load("baseline steady", BASELINE_PORT, HOST, { amount: STEADY });
  const replace = (async () => {
    docker("stop", BASELINE);
    docker("rm", BASELINE);
    run(images.APP_V2);
    await waitHttp(BASELINE_PORT, HOST);
  })();
  const base = await load("baseline stop/rm/run v1→v2", BASELINE_PORT, HOST, { until: replace, min: MIN });
  await replace;

  const phases: Phase[] = [steady, a, b, baseSteady, base];
  const ratio = (x: number, y: number) => (y === 0 ? "n/a" : (x / y).toFixed(2));
  const p99Rollout = Math.max(a.p99, b.p99);
  const report = [
    `rollout benchmark (${QUICK ? "quick" : "full"}): ${CONNECTIONS} connections of constant load; railyard through front → Caddy → 2 api tasks, baseline on one plain container`,
    table(phases),
    `p99 during rollout / steady: railyard ${ratio(p99Rollout, steady.p99)}×, baseline ${ratio(base.p99, baseSteady.p99)}×`,
    `failed requests during the release: railyard ${a.failed} + ${b.failed} (rollback) of ${a.sent + b.sent}, baseline ${base.failed} of ${base.sent}`,
    `rollout: sent=${a.sent} failed=${a.failed} rollback_failed=${b.failed} p99_steady_ms=${steady.p99} p99_rollout_ms=${p99Rollout} baseline_failed=${base.failed}`,
  ].join("\n");
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${report}\n`);
});
