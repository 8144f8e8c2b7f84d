/**
 * Password rotation benchmark: what the apps see while a database password changes in one `pulumi up`.
 * A postgres database (the official image's pg_hba stand-in) and a 2-replica api that uses it; the password comes
 * from secret config, so each run gives it a new one. Every 250 ms each running api task is asked for its health,
 * which opens a new connection with the task's own DATABASE_URL: a sample fails when any task cannot sign in.
 *   railyard: the program's steps for the change, applied by the engine bed: the new password set in the running
 *     database (rotate), the database update, the check, then the api's update (its env secret changed). New
 *     connections with the old password fail from the ALTER until the api has rolled: the window measured.
 *   baseline (the program before this change): the same `pulumi up` without the rotate and check steps. The
 *     database restarts with the new secret but its volume keeps the old password; the api rolls to the new one
 *     and never connects again. Observed for 60 s after the roll (quick: 15 s), then repaired by hand with
 *     railyard-dbpass.sh --rotate (the drift message's second way out), which is timed too.
 * Prints both, and a machine-readable last line. Quick: 1 railyard rotation (full: 3, median) and the baseline.
 * The app's health gate is not applied (it adds nothing to the window: it runs after the roll).
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ROOT, runStack } from "../test/harness";
import { applyStack, ApplyResult, tasks, teardown } from "../test/engine/apply";
import { passwordStack } from "../test/engine/passwordStack";
import { images, MODE, QUICK } from "./release";

const PREFIX = "rypb";
const NET = `${PREFIX}-net`;
const RUNS = QUICK ? 1 : 3;
const OBSERVE_S = QUICK ? 15 : 60;
const SAMPLE_MS = 250;
const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = (password: string) => passwordStack(PREFIX, { postgres: password }, { replicas: 2, env: { DATABASE_URL: "${{postgres.DATABASE_URL}}" } });

const imageFor = (name: string) => (name === "postgres" ? images().POSTGRES : images().APP_V1);
const without = (steps: string[]) => (name: string) => !name.endsWith("-gate") && !steps.includes(name);
async function apply(password: string, skip: string[] = []): Promise<ApplyResult> {
  const { plain, secret } = config(password);
  return applyStack(await runStack("dev", plain, secret), imageFor, without(skip));
}

/** One sample: every running api task asked for its health (a new connection each); ok when all reach the database. */
async function sample(): Promise<boolean> {
  const running = (await tasks(`${PREFIX}-api`)).filter((t) => t.Status.State === "running");
  const answers = await Promise.all(
    running.map((t) =>
      execFileAsync("docker", ["exec", t.Status.ContainerStatus?.ContainerID ?? "none", "curl", "-fsS", "--max-time", "4", "http://127.0.0.1:8000/health"], { timeout: 6000 })
        .then((r) => (JSON.parse(r.stdout) as { database: string }).database === "ok")
        .catch(() => false),
    ),
  );
  return running.length > 0 && answers.every(Boolean);
}

/** Until `done` resolves, then `after` ms more: when each sample was taken (ms from the start) and whether it passed. */
async function sampleWhile(done: Promise<unknown>, after: () => Promise<void>): Promise<{ at: number; ok: boolean }[]> {
  const began = Date.now();
  const samples: { at: number; ok: boolean }[] = [];
  let finished = false;
  const stop = done.then(after).finally(() => (finished = true));
  while (!finished) {
    const at = Date.now() - began;
    samples.push({ at, ok: await sample() });
    await sleep(Math.max(0, SAMPLE_MS - (Date.now() - began - at)));
  }
  await stop;
  return samples;
}

/** Every api task replaced since `before`, and running. */
async function rolled(before: string[]): Promise<void> {
  for (let i = 0; i < 480; i++) {
    const all = await tasks(`${PREFIX}-api`);
    if (all.length >= 2 && all.every((t) => !before.includes(t.ID) && t.Status.State === "running")) return;
    await sleep(250);
  }
  throw new Error("the api did not roll within 120 s");
}

const apiTaskIds = async () => (await tasks(`${PREFIX}-api`)).map((t) => t.ID);
/** The failing stretch: from the first failed sample to the one after the last (s), and how many failed. */
function window(samples: { at: number; ok: boolean }[]): { seconds: number; failed: number; total: number; failingAtEnd: boolean } {
  const failed = samples.filter((s) => !s.ok);
  if (failed.length === 0) return { seconds: 0, failed: 0, total: samples.length, failingAtEnd: false };
  const last = samples.indexOf(failed[failed.length - 1]);
  const end = samples[last + 1]?.at ?? failed[failed.length - 1].at;
  return { seconds: (end - failed[0].at) / 1000, failed: failed.length, total: samples.length, failingAtEnd: !samples[samples.length - 1].ok };
}

const steps = (r: ApplyResult) =>
  ["postgres-password-rotate", "postgres", "postgres-settle", "postgres-password-check", "api"]
    .filter((s) => r.durations[s] !== undefined)
    .map((s) => `${s} ${(r.durations[s] / 1000).toFixed(1)} s`)
    .join(", ");

beforeAll(async () => {
  await teardown(PREFIX, NET);
});
afterAll(async () => {
  await teardown(PREFIX, NET);
});

it("a railyard rotation fails the apps' new connections only until they roll; without it they never connect again", async () => {
  await apply("bench-password-0000");
  await rolled([]);
  const railyard: { seconds: number; failed: number; total: number; steps: string }[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const before = await apiTaskIds();
    let applied: ApplyResult | undefined;
    const samples = await sampleWhile(
      apply(`bench-password-000${run}`).then((r) => (applied = r)),
      async () => {
        await rolled(before);
        await sleep(3000);
      },
    );
    const w = window(samples);
    expect(w.failingAtEnd, "the api reaches the database after the rotation").toBe(false);
    railyard.push({ ...w, steps: applied ? steps(applied) : "" });
  }

  // Baseline: the same change without the rotate and check steps (the program before this change).
  const before = await apiTaskIds();
  const base = await sampleWhile(apply("bench-password-9999", ["postgres-password-rotate", "postgres-password-check"]), async () => {
    await rolled(before);
    await sleep(OBSERVE_S * 1000);
  });
  const b = window(base);
  expect(b.failingAtEnd, "without the rotation the api cannot connect").toBe(true);
  // The way out: the volume set to the password the task has mounted.
  const container = (await tasks(`${PREFIX}-postgres`)).find((t) => t.Status.State === "running")?.Status.ContainerStatus?.ContainerID ?? "";
  const mounted = spawnSync("docker", ["exec", container, "cat", "/run/secrets/railyard_db_password"], { encoding: "utf8" }).stdout;
  const repairBegan = Date.now();
  const repair = spawnSync("bash", [path.join(ROOT, "host", "railyard-dbpass.sh"), "--rotate", "--service", `${PREFIX}-postgres`, "--engine", "postgres", "--user", "app", "--database", "app"], {
    input: `${mounted}\n`,
    encoding: "utf8",
  });
  const repairS = (Date.now() - repairBegan) / 1000;
  expect(repair.status, repair.stderr).toBe(0);
  expect(await sample(), "the api connects once the volume has the new password").toBe(true);

  const sorted = [...railyard].sort((x, y) => x.seconds - y.seconds);
  const median = sorted[Math.floor(sorted.length / 2)];
  const lines = [
    `password (${MODE}: ${RUNS} railyard rotation(s), baseline observed ${OBSERVE_S} s after the api rolled; a sample every ${SAMPLE_MS} ms asks each of the 2 api tasks for a new connection)`,
    ...railyard.map((r, i) => `  railyard rotation ${i + 1}: new connections failed for ${r.seconds.toFixed(1)} s (${r.failed} of ${r.total} samples; steps: ${r.steps})`),
    `  baseline (no rotate, no check): failing from ${((base.find((s) => !s.ok)?.at ?? 0) / 1000).toFixed(1)} s to the end of the observation (${b.failed} of ${b.total} samples, still failing: the volume keeps the old password); repaired by railyard-dbpass.sh --rotate in ${repairS.toFixed(1)} s`,
    `password: mode=${MODE} window_s=${median.seconds.toFixed(1)} runs=${RUNS} baseline_failing_s=${b.seconds.toFixed(1)} baseline_recovers=no observed_s=${OBSERVE_S} repair_s=${repairS.toFixed(1)}`,
  ];
  console.log(lines.join("\n"));
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${lines.join("\n")}\n`);
});
