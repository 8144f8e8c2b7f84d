/**
 * Recovery benchmark: how long from starting a deploy of a bad release until it is declared failed and every
 * task runs the previous release again. Two bad releases: one that crashes on start, one that starts but
 * reports a degraded component in its health JSON. railyard: the release steps of the dev stack's api (migration
 * job, service update, health gate: see release.ts) applied to the real engine, as `pulumi up` would after an
 * image change. Baseline, in the same run: seed 002's sequence on a plain container (stop, remove, run the new
 * release, check HTTP status 30 × 5 s, then put the old release back). Prints both, the ratio, and a
 * machine-readable last line. Quick mode (--quick): the crash case only, and the baseline loop cut to 3 × 5 s.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { afterAll, expect, it } from "vitest";
import { CommandFailed, teardown } from "../test/engine/apply";
import { runningImages } from "../test/engine/probe";
import { waitHttp } from "./load";
import { deployStack, docker, images, MODE, QUICK, releaseApi, removeContainer, stepTimes } from "./release";

const PREFIX = "ryv";
const BASELINE = `${PREFIX}-baseline`;
const BASELINE_PORT = 18092;
const ATTEMPTS = QUICK ? 3 : 30;
const INTERVAL_S = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** railyard: seconds until the bad release is declared failed (the gate exits) with v1 running everywhere again. */
async function railyard(api: string, env: Record<string, string>, exitCode: number): Promise<{ seconds: number; step: string }> {
  const release = await releaseApi(PREFIX, api, env);
  const failure = release.result;
  if (!(failure instanceof CommandFailed)) throw new Error(`the bad release was not declared failed: ${JSON.stringify(failure.outcome)}`);
  expect([failure.resource, failure.exitCode]).toEqual(["api-gate", exitCode]);
  expect(await runningImages(`${PREFIX}-api`)).toEqual([images().APP_V1, images().APP_V1]);
  console.error(failure.output.split("\n").filter((l) => l.startsWith("railyard-gate:")).join("\n"));
  return { seconds: release.seconds, step: `${failure.resource} exit ${failure.exitCode} (${stepTimes(release)})` };
}

function httpStatus(): string {
  try {
    return execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2", `http://127.0.0.1:${BASELINE_PORT}/health`], { encoding: "utf8" });
  } catch {
    return "000";
  }
}

/** Seed 002 on a plain container: replace, check the status code up to ATTEMPTS × INTERVAL_S, then restore the old release. */
async function baseline(image: string, env: string[]): Promise<{ seconds: number | undefined; note: string }> {
  const run = (img: string, e: string[]) =>
    docker("run", "-d", "--name", BASELINE, "-p", `${BASELINE_PORT}:8000`, ...e.flatMap((x) => ["-e", x]), img, "python3", "/app/app.py", "serve");
  const restore = async () => {
    run(images().APP_V1, []);
    await waitHttp(BASELINE_PORT, "localhost");
  };
  removeContainer(BASELINE);
  await restore();
  const started = Date.now();
  docker("stop", BASELINE);
  docker("rm", BASELINE);
  run(image, env);
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    if (httpStatus() === "200") return { seconds: undefined, note: `passed at attempt ${attempt}: the loop checks the status code only, so the bad release stays` };
    await sleep(INTERVAL_S * 1000);
  }
  removeContainer(BASELINE);
  await restore();
  return { seconds: (Date.now() - started) / 1000, note: `failed after ${ATTEMPTS} × ${INTERVAL_S} s, then the old release restored` };
}

afterAll(async () => {
  removeContainer(BASELINE);
  await teardown(PREFIX, `${PREFIX}-net`);
});

it("measures time to declare a bad release failed and run the previous one: railyard's gate vs seed 002's loop", async () => {
  const { APP_V1, APP_V2, APP_CRASH } = images();
  await teardown(PREFIX, `${PREFIX}-net`);
  const first = await deployStack(PREFIX, APP_V1);
  expect(first.outcome["api-gate"]).toBe("ok");
  const crash = await railyard(APP_CRASH, {}, 40);
  const degraded = QUICK ? undefined : await railyard(APP_V2, { DEGRADED: "1" }, 41);
  const baseCrash = await baseline(APP_CRASH, []);
  const baseDegraded = QUICK ? undefined : await baseline(APP_V2, ["DEGRADED=1"]);
  const slower = Math.max(crash.seconds, degraded?.seconds ?? 0);
  const base = baseCrash.seconds ?? Number.NaN;
  const fmt = (s: number | undefined) => (s === undefined ? "never" : `${s.toFixed(1)} s`);
  const row = (label: string, r: { seconds: number; step: string }, b: { seconds: number | undefined; note: string }) =>
    `${label.padEnd(34)}${fmt(r.seconds).padStart(10)}${fmt(b.seconds).padStart(10)}  railyard: ${r.step}; baseline: ${b.note}`;
  const report = [
    `recovery benchmark (${MODE}${QUICK ? `: crash case only, baseline loop cut to ${ATTEMPTS} × ${INTERVAL_S} s instead of 30 × 5 s` : ""}): ` +
      "from starting the deploy of a bad release until it is declared failed and the previous release runs every task",
    `${"case".padEnd(34)}${"railyard".padStart(10)}${"baseline".padStart(10)}  notes`,
    row("crashes on start", crash, baseCrash),
    ...(degraded && baseDegraded ? [row("starts, health JSON degraded", degraded, baseDegraded)] : []),
    `recovery: mode=${MODE} railyard_s=${slower.toFixed(1)} baseline_s=${base.toFixed(1)} ratio=${(base / slower).toFixed(1)} baseline_attempts=${ATTEMPTS}`,
  ].join("\n");
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${report}\n`);
});
