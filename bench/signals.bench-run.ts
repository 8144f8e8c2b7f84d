/**
 * Signals benchmark: how long a task takes to stop when Swarm stops it in its first second, for an app that runs
 * as PID 1 and installs its SIGTERM handler late (the test app with APP_LATE_HANDLER=3, as a real Celery beat
 * that is still importing). Before: no init (the app is PID 1; the kernel drops a signal PID 1 has no handler
 * for, so the task lives out its stop grace period and is killed). After: Docker's init as PID 1 (what railyard
 * declares for every app service), which forwards SIGTERM to the app. Each run: a one-replica Swarm service is
 * created, scaled to 0 half a second after its container starts, and timed until that container has exited.
 * Prints both, the ratio, and a machine-readable last line. Quick mode (--quick): 2 runs each with a 10 s grace
 * period (full: 5 runs, 30 s, staging's default).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { afterAll, expect, it } from "vitest";
import { docker, images, MODE, QUICK } from "./release";

const PREFIX = "ryw";
const RUNS = QUICK ? 2 : 5;
const GRACE_S = QUICK ? 10 : 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const removeService = (name: string) => execFileSync("bash", ["-c", `docker service rm ${name} >/dev/null 2>&1 || true`]);

/** The container of the service's task once it runs (polled every 50 ms, 60 s at most). */
async function runningContainerOf(service: string): Promise<string> {
  for (let i = 0; i < 1200; i++) {
    const id = docker("ps", "-q", "--filter", `label=com.docker.swarm.service.name=${service}`, "--filter", "status=running").trim();
    if (id) return id;
    await sleep(50);
  }
  throw new Error(`${service} never ran a container`);
}

/** One stop: seconds from `docker service scale NAME=0` to the container's exit, and its exit code. */
async function stopOnce(init: boolean, run: number): Promise<{ seconds: number; exitCode: number }> {
  const name = `${PREFIX}-${init ? "init" : "pid1"}-${run}`;
  removeService(name);
  docker(
    "service", "create", "--detach", "--quiet", "--name", name, "--label", "railyard.stack=ryw",
    "--env", "APP_LATE_HANDLER=3", "--stop-grace-period", `${GRACE_S}s`, "--restart-condition", "none",
    ...(init ? ["--init"] : []), images().APP_V1, "python3", "/app/app.py", "worker",
  );
  try {
    const container = await runningContainerOf(name);
    await sleep(500);
    const began = Date.now();
    docker("service", "scale", "--detach", `${name}=0`);
    for (;;) {
      const state = docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container).trim().split(" ");
      if (state[0] === "exited" || state[0] === "dead") return { seconds: (Date.now() - began) / 1000, exitCode: Number(state[1]) };
      if (Date.now() - began > (GRACE_S + 30) * 1000) throw new Error(`${name}: its container did not stop`);
      await sleep(50);
    }
  } finally {
    removeService(name);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

afterAll(() => {
  for (const init of [true, false]) for (let run = 0; run < RUNS; run++) removeService(`${PREFIX}-${init ? "init" : "pid1"}-${run}`);
});

it("a late-handler task stops at once under Docker's init, and lives out its grace period as PID 1", async () => {
  const before: { seconds: number; exitCode: number }[] = [];
  const after: { seconds: number; exitCode: number }[] = [];
  for (let run = 0; run < RUNS; run++) {
    before.push(await stopOnce(false, run));
    after.push(await stopOnce(true, run));
  }
  // PID 1 ignored SIGTERM and was killed (137); under init the app died of the SIGTERM init forwarded (143).
  expect(before.map((r) => r.exitCode)).toEqual(before.map(() => 137));
  expect(after.map((r) => r.exitCode)).toEqual(after.map(() => 143));
  const b = median(before.map((r) => r.seconds));
  const a = median(after.map((r) => r.seconds));
  const lines = [
    `signals (${MODE}: ${RUNS} runs each, stop grace period ${GRACE_S} s, SIGTERM 0.5 s after the container started, handler installed at 3 s)`,
    `  before (app as PID 1):   median ${b.toFixed(2)} s to stop (runs: ${before.map((r) => r.seconds.toFixed(2)).join(", ")}; exit 137, killed)`,
    `  after (Docker's init):   median ${a.toFixed(2)} s to stop (runs: ${after.map((r) => r.seconds.toFixed(2)).join(", ")}; exit 143, SIGTERM)`,
    `signals: before_s=${b.toFixed(2)} after_s=${a.toFixed(2)} ratio=${(b / a).toFixed(1)} grace_s=${GRACE_S} runs=${RUNS}`,
  ];
  console.log(lines.join("\n"));
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${lines.join("\n")}\n`);
});
