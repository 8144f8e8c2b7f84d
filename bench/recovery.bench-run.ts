/**
 * Recovery benchmark: how long from starting a deploy of a bad release until it is declared failed and every
 * task runs the previous release again. Two bad releases: one that crashes on start, one that starts but
 * reports a degraded component in its health JSON. railyard: the changed steps of the dev stack (migration job,
 * service update, health gate) applied to the real engine, as `pulumi up` would after an image change.
 * Baseline, in the same run: seed 002's sequence on a plain container (stop, remove, run the new release, check
 * HTTP status 30 × 5 s, then put the old release back). Prints both, the ratio, and a machine-readable last line.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { afterAll, expect, inject, it } from "vitest";
import { runStack } from "../test/harness";
import { applyStack, CommandFailed, teardown } from "../test/engine/apply";
import { onLocalEngine, runningImages } from "../test/engine/probe";

const PREFIX = "ryv";
const BASELINE = `${PREFIX}-baseline`;
const BASELINE_PORT = 18092;
const ATTEMPTS = 30;
const INTERVAL_S = 5;
const images = inject("images");

const config = (apiEnv: Record<string, string>) => {
  const c = onLocalEngine("dev", PREFIX);
  Object.assign((c["railyard:services"] as Record<string, { env: Record<string, string> }>).api.env, apiEnv);
  return c;
};
const imageFor = (api: string) => (name: string) =>
  ({ postgres: images.POSTGRES, redis: images.REDIS, edge: images.EDGE, "edge-front": images.FRONT, api })[name] ?? images.APP_V1;
const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** railyard: seconds until the bad release is declared failed (the gate exits) with v1 running everywhere again. */
async function railyard(api: string, env: Record<string, string>): Promise<{ seconds: number; step: string }> {
  const run = await runStack("dev", config(env));
  const started = Date.now();
  const failure = await applyStack(run, imageFor(api), (name) => ["api-migrate", "api", "api-gate"].includes(name)).then(
    () => undefined,
    (e: unknown) => e,
  );
  const seconds = (Date.now() - started) / 1000;
  if (!(failure instanceof CommandFailed)) throw new Error(`the bad release was not declared failed: ${String(failure)}`);
  expect(await runningImages(`${PREFIX}-api`)).toEqual([images.APP_V1, images.APP_V1]);
  console.error(failure.output.split("\n").filter((l) => l.startsWith("railyard-gate:")).join("\n"));
  const d = failure.partial.durations;
  const s = (name: string) => ((d[name] ?? 0) / 1000).toFixed(1);
  return { seconds, step: `${failure.resource} exit ${failure.exitCode} (migration job ${s("api-migrate")} s, update ${s("api")} s, gate ${s("api-gate")} s)` };
}

function httpStatus(): string {
  try {
    return execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2", `http://127.0.0.1:${BASELINE_PORT}/health`], { encoding: "utf8" });
  } catch {
    return "000";
  }
}

/** Seed 002 on a plain container: replace, check the status code up to 30 × 5 s, then restore the old release. */
async function baseline(image: string, env: string[]): Promise<{ seconds: number | undefined; note: string }> {
  const run = (img: string, e: string[]) =>
    docker("run", "-d", "--name", BASELINE, "-p", `${BASELINE_PORT}:8000`, ...e.flatMap((x) => ["-e", x]), img, "python3", "/app/app.py", "serve");
  execFileSync("bash", ["-c", `docker rm -f ${BASELINE} >/dev/null 2>&1 || true`]);
  run(images.APP_V1, []);
  while (httpStatus() !== "200") await sleep(200);
  const started = Date.now();
  docker("stop", BASELINE);
  docker("rm", BASELINE);
  run(image, env);
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    if (httpStatus() === "200") return { seconds: undefined, note: `passed at attempt ${attempt}: the loop checks the status code only, so the bad release stays` };
    await sleep(INTERVAL_S * 1000);
  }
  docker("rm", "-f", BASELINE);
  run(images.APP_V1, []);
  while (httpStatus() !== "200") await sleep(200);
  return { seconds: (Date.now() - started) / 1000, note: `failed after ${ATTEMPTS} × ${INTERVAL_S} s, then the old release restored` };
}

afterAll(async () => {
  execFileSync("bash", ["-c", `docker rm -f ${BASELINE} >/dev/null 2>&1 || true`]);
  await teardown(PREFIX, `${PREFIX}-net`);
});

it("measures time to declare a bad release failed and run the previous one: railyard's gate vs seed 002's loop", async () => {
  await teardown(PREFIX, `${PREFIX}-net`);
  await applyStack(await runStack("dev", config({})), imageFor(images.APP_V1));
  const crash = await railyard(images.APP_CRASH, {});
  const degraded = await railyard(images.APP_V2, { DEGRADED: "1" });
  const baseCrash = await baseline(images.APP_CRASH, []);
  const baseDegraded = await baseline(images.APP_V2, ["DEGRADED=1"]);
  const slower = Math.max(crash.seconds, degraded.seconds);
  const base = baseCrash.seconds ?? Number.NaN;
  const fmt = (s: number | undefined) => (s === undefined ? "never" : `${s.toFixed(1)} s`);
  const report = [
    "recovery benchmark: from starting the deploy of a bad release until it is declared failed and the previous release runs every task",
    `${"case".padEnd(34)}${"railyard".padStart(10)}${"baseline".padStart(10)}  notes`,
    `${"crashes on start".padEnd(34)}${fmt(crash.seconds).padStart(10)}${fmt(baseCrash.seconds).padStart(10)}  railyard: ${crash.step}; baseline: ${baseCrash.note}`,
    `${"starts, health JSON degraded".padEnd(34)}${fmt(degraded.seconds).padStart(10)}${fmt(baseDegraded.seconds).padStart(10)}  railyard: ${degraded.step}; baseline: ${baseDegraded.note}`,
    `recovery: railyard_s=${slower.toFixed(1)} baseline_s=${base.toFixed(1)} ratio=${(base / slower).toFixed(1)}`,
  ].join("\n");
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${report}\n`);
});
