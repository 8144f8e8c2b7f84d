/**
 * An engine restart is not a failed release, on a real engine: dockerd is restarted (SIGTERM, started again as
 * start-engine.sh does; every task is killed) while the gate watches a start-first update with failure action
 * rollback, and again after the update completed. Each time the gate passes the release once Swarm runs it again,
 * says it did not count the tasks the engine lost, and nothing is rolled back: the service still declares and runs
 * the release. (Found here: after a restart in the middle of a start-first update Swarm may keep an extra task of
 * the release in a slot, 3 tasks for 2 replicas, until the next update; the gate accepts extra tasks of the release.)
 * Prefix `ryg`; only the service this file creates is removed. Restarts dockerd: run it under the
 * engine lock only.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { ROOT } from "../harness";
import { ensureEngine, restartEngine } from "./restartEngine";

const images = inject("images");
const GATE = path.join(ROOT, "host", "railyard-gate.sh");
const NAME = "ryg-rst";
const A = "aaaaaaaaaaaa";
const B = "bbbbbbbbbbbb";
let state = "";

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const serving = () => docker("service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", NAME).match(/RAILYARD_RELEASE=(\w+)/)?.[1];
const updateState = () => docker("service", "inspect", "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}", NAME);
/** The release of each task Swarm wants running, and its state. */
const runningTasks = () =>
  docker("service", "ps", "--filter", "desired-state=running", "--format", "{{.ID}}", NAME)
    .split("\n")
    .filter(Boolean)
    .map((id) => docker("inspect", "--format", '{{range .Spec.ContainerSpec.Env}}{{.}} {{end}}|{{.Status.State}}', id))
    .map((line) => `${line.match(/RAILYARD_RELEASE=(\w+)/)?.[1]} ${line.split("|")[1]}`);

/** The gate for release B, run as the component runs it (in the background: the engine restarts under it). */
function gate(): Promise<{ status: number | null; stderr: string }> {
  const child = spawn("bash", [GATE, "--service", NAME, "--image", images.APP_V2, "--release", B, "--state-dir", state, "--port", "8000", "--path", "/health", "--attempts", "90", "--interval", "1"]);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stderr })));
}

async function until(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if (ok()) return;
    } catch {
      // the engine may not answer yet
    }
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  spawnSync("docker", ["service", "rm", NAME], { stdio: "ignore" });
  state = fs.mkdtempSync(path.join(os.tmpdir(), "ryg-rst-state-"));
  docker(
    "service", "create", "--detach", "--quiet", "--name", NAME, "--replicas", "2",
    "--label", "railyard.stack=ryg", "--env", `RAILYARD_RELEASE=${A}`,
    "--health-cmd", "curl -fsS http://127.0.0.1:8000/health", "--health-interval", "1s", "--health-retries", "2",
    "--update-order", "start-first", "--update-parallelism", "1", "--update-delay", "2s", "--update-failure-action", "rollback", "--update-monitor", "15s",
    "--rollback-order", "start-first", "--restart-condition", "any", "--restart-delay", "1s",
    images.APP_V1, "python3", "/app/app.py", "serve",
  );
  await until("2 running tasks of A", () => runningTasks().join() === `${A} running,${A} running`);
});

afterAll(() => {
  ensureEngine();
  spawnSync("docker", ["service", "rm", NAME], { stdio: "ignore" });
  fs.rmSync(state, { recursive: true, force: true });
});

it("dockerd restarted while the gate watches an update: the gate passes the release, nothing is rolled back", async () => {
  docker("service", "update", "--detach", "--quiet", "--image", images.APP_V2, "--env-add", `RAILYARD_RELEASE=${B}`, NAME);
  const verdict = gate();
  // Mid-update: the first task of B runs, the second slot still runs A.
  await until("a running task of B", () => runningTasks().some((t) => t === `${B} running`));
  const restart = await restartEngine();
  console.log(`dockerd restarted during the update: stopped in ${restart.stoppedMs} ms, answering again ${restart.answeredMs} ms after SIGTERM`);
  const r = await verdict;
  console.log(r.stderr);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/the engine lost \d+ task\(s\) of the release .*not counted as failures/);
  // Swarm may keep an extra task of the release in a slot after a restart in the middle of a start-first update
  // (3 tasks for 2 replicas, found here): every task it wants running is of the release.
  expect(r.stderr).toMatch(new RegExp(`[23] task\\(s\\) run release ${B} .* and are healthy`));
  expect(serving()).toBe(B);
  expect(updateState()).not.toMatch(/^rollback/);
  expect(runningTasks().every((t) => t.startsWith(`${B} `))).toBe(true);
  expect(fs.readdirSync(state)).toEqual([]);
});

it("dockerd restarted after the update completed: Swarm runs the release again and a re-run of its gate passes", async () => {
  await until("Swarm's update completed", () => updateState() === "completed");
  const restart = await restartEngine();
  console.log(`dockerd restarted after the update: answering again ${restart.answeredMs} ms after SIGTERM`);
  const r = await gate();
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toMatch(new RegExp(`[23] task\\(s\\) run release ${B} .* and are healthy`));
  expect(serving()).toBe(B);
  expect(updateState()).toBe("completed");
  expect(runningTasks().every((t) => t === `${B} running`)).toBe(true);
});
