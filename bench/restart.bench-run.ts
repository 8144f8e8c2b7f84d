/**
 * Engine-restart benchmark: what restarting dockerd on a single-node host costs (every task is killed: live-restore
 * does not work with Swarm), under constant load through the edge (front → Caddy → 2 api tasks) of the dev stack:
 * seconds until the engine's API answers again, until every service of the stack runs its replicas again, until the
 * edge answers again, and requests failed. Baseline in the same run: the same stack's normal rolling update of the
 * api (v1→v2, as `pulumi up` releases it). Then a restart while the api's next release (one more env var) is being
 * gated: the gate passes and the release runs on every task (asserted, never timings). Prefix `ryi`; restarts dockerd: run under the engine
 * lock only. Quick mode sends fewer requests.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { afterAll, expect, it } from "vitest";
import { CommandFailed, teardown } from "../test/engine/apply";
import { EDGE_HTTP_PORT, runningImages } from "../test/engine/probe";
import { ensureEngine, Restart, restartEngine } from "../test/engine/restartEngine";
import { CONNECTIONS, load, table } from "./load";
import { deployStack, images, MODE, QUICK, releaseApi } from "./release";

const PREFIX = "ryi";
const API = `${PREFIX}-api`;
const HOST = "api.localhost";
const MIN = QUICK ? 1_000 : 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(async () => {
  ensureEngine();
  await teardown(PREFIX, `${PREFIX}-net`);
});

/** Whether every service of the stack runs all its replicas ("n/n"). */
function allRunning(): boolean {
  try {
    const rows = execFileSync("docker", ["service", "ls", "--filter", `name=${PREFIX}-`, "--format", "{{.Replicas}}"], { encoding: "utf8" }).trim().split("\n");
    return rows.length > 0 && rows.every((r) => /^(\d+)\/\1\b/.test(r));
  } catch {
    return false;
  }
}

/** Whether the edge answers 200 for the api. */
function edgeAnswers(): boolean {
  try {
    return execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2", "-H", `Host: ${HOST}`, `http://127.0.0.1:${EDGE_HTTP_PORT}/`], { encoding: "utf8" }) === "200";
  } catch {
    return false;
  }
}

/** The stack's services with their replicas and each one's newest task states and errors: what a stall looks like. */
function stackState(): string {
  const sh = (args: string[]) => {
    try {
      return execFileSync("docker", args, { encoding: "utf8", timeout: 20_000 }).trim();
    } catch (e) {
      return `docker ${args.join(" ")}: ${(e as Error).message}`;
    }
  };
  const replicas = sh(["service", "ls", "--filter", `name=${PREFIX}-`, "--format", "{{.Name}} {{.Replicas}}"]);
  const services = replicas.startsWith("docker ") ? [] : replicas.split("\n").filter(Boolean).map((row) => row.split(" ")[0]);
  return [
    replicas,
    ...services.map((name) => sh(["service", "ps", "--no-trunc", "--format", "{{.Name}} {{.DesiredState}} {{.CurrentState}} {{.Error}}", name]).split("\n").slice(0, 4).join("\n")),
  ].join("\n");
}

/** Restarts dockerd and waits until every service runs again and the edge answers: the times after SIGTERM. */
async function restartAndRecover(): Promise<Restart & { allRunningMs: number; edgeMs: number }> {
  const r = await restartEngine();
  let allRunningMs = -1;
  let edgeMs = -1;
  for (let i = 0; i < 1200 && (allRunningMs < 0 || edgeMs < 0); i++) {
    if (allRunningMs < 0 && allRunning()) allRunningMs = Date.now() - r.at;
    if (edgeMs < 0 && edgeAnswers()) edgeMs = Date.now() - r.at;
    await sleep(250);
  }
  if (allRunningMs < 0 || edgeMs < 0) throw new Error(`the stack did not recover within 5 minutes of the restart (${allRunningMs < 0 ? "not every service runs" : "the edge does not answer"}):\n${stackState()}`);
  return { ...r, allRunningMs, edgeMs };
}

it("measures a single-node engine restart against a rolling update, under load", async () => {
  const { APP_V1, APP_V2 } = images();
  await teardown(PREFIX, `${PREFIX}-net`);
  const first = await deployStack(PREFIX, APP_V1);
  expect(first.outcome["api-gate"]).toBe("ok");
  for (let i = 0; i < 240 && !edgeAnswers(); i++) await sleep(250);

  // Baseline: the api's normal rolling update.
  const update = releaseApi(PREFIX, APP_V2);
  const u = await load("rolling update v1→v2 (baseline)", EDGE_HTTP_PORT, HOST, { until: update, min: MIN });
  const v2 = await update;
  if (v2.result instanceof CommandFailed) throw v2.result;
  expect(await runningImages(API)).toEqual([APP_V2, APP_V2]);

  // dockerd restarted with nothing under way.
  const recovery = restartAndRecover();
  const r = await load("dockerd restart", EDGE_HTTP_PORT, HOST, { until: recovery, min: MIN });
  const rec = await recovery;

  // dockerd restarted while the gate judges the api's next release (v2 with one more env var: a new release).
  const release = releaseApi(PREFIX, APP_V2, { RYI_RELEASE: "2" });
  const during = (async () => {
    let seen = false;
    for (let i = 0; i < 1200 && !seen; i++) {
      // The gate's process (the bracket keeps pgrep's own command line from matching).
      seen = execFileSync("bash", ["-c", `pgrep -f '[r]ailyard-gate.sh --service ${API} ' || true`], { encoding: "utf8" }).trim() !== "";
      if (!seen) await sleep(100);
    }
    // Otherwise the figure would measure a restart outside the gate.
    if (!seen) throw new Error("the api's gate never ran within 120 s: no restart while gating to measure");
    const restarted = await restartAndRecover();
    const released = await release;
    return { restarted, released };
  })();
  const g = await load("dockerd restart while gating", EDGE_HTTP_PORT, HOST, { until: during, min: MIN });
  const { restarted, released } = await during;
  if (released.result instanceof CommandFailed) throw released.result;
  expect(released.result.outcome["api-gate"]).toBe("ok");
  expect((await runningImages(API)).every((i) => i === APP_V2)).toBe(true);

  const s = (ms: number) => (ms / 1000).toFixed(1);
  const report = [
    `restart benchmark (${MODE}): ${CONNECTIONS} connections of constant load through front → Caddy → 2 api tasks (dev stack); dockerd restarted with SIGTERM and started again`,
    table([u, r, g]),
    `rolling update v1→v2 (baseline): ${v2.seconds.toFixed(1)} s, ${u.failed} of ${u.sent} requests failed`,
    `dockerd restart: old daemon gone ${s(rec.stoppedMs)} s after SIGTERM, API answers at ${s(rec.answeredMs)} s, every service runs again at ${s(rec.allRunningMs)} s, ` +
      `the edge answers at ${s(rec.edgeMs)} s; ${r.failed} of ${r.sent} requests failed (baseline update: ${u.failed} of ${u.sent})`,
    `dockerd restart while the gate judged the next release: every service again at ${s(restarted.allRunningMs)} s; api-gate ok (${released.seconds.toFixed(1)} s), the release on every task, nothing rolled back; ${g.failed} of ${g.sent} requests failed`,
    `restart: mode=${MODE} api_s=${s(rec.answeredMs)} all_running_s=${s(rec.allRunningMs)} edge_s=${s(rec.edgeMs)} sent=${r.sent} failed=${r.failed} ` +
      `gated_all_running_s=${s(restarted.allRunningMs)} gated_sent=${g.sent} gated_failed=${g.failed} update_s=${v2.seconds.toFixed(1)} update_sent=${u.sent} update_failed=${u.failed}`,
  ].join("\n");
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${report}\n`);
});
