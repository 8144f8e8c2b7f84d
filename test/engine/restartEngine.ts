/**
 * Restarts this machine's dockerd the way an operator (or a package upgrade) does: SIGTERM to the daemon, wait for
 * it to exit, then start it again as test/engine/start-engine.sh starts it (same storage driver and log; the
 * single-node swarm comes back with it). Every task is killed: live-restore does not work with Swarm. Callers hold
 * the engine lock; the engine answers and the swarm is active when this returns.
 */
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Restart {
  /** When SIGTERM was sent (epoch ms). */
  at: number;
  /** Until the old daemon exited, and until the new one answered the API (ms after `at`). */
  stoppedMs: number;
  answeredMs: number;
}

export async function restartEngine(): Promise<Restart> {
  const pid = Number(execFileSync("pidof", ["dockerd"], { encoding: "utf8" }).trim().split(/\s+/)[0]);
  if (!pid) throw new Error("no dockerd to restart");
  const at = Date.now();
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 240 && fs.existsSync(`/proc/${pid}`); i++) await sleep(250);
  if (fs.existsSync(`/proc/${pid}`)) throw new Error(`dockerd ${pid} did not exit within 60 s of SIGTERM`);
  const stoppedMs = Date.now() - at;
  await run("bash", [path.join(__dirname, "start-engine.sh")]);
  return { at, stoppedMs, answeredMs: Date.now() - at };
}

/** Makes sure the engine answers with its swarm active (after a test that restarted it, whatever happened). */
export function ensureEngine(): void {
  execFileSync("bash", [path.join(__dirname, "start-engine.sh")], { stdio: "ignore" });
}
