/**
 * The health gate's verdicts on a real engine (host/railyard-gate.sh), on services made as railyard makes them (a
 * railyard.stack label, RAILYARD_RELEASE=<hash of its template> in every task's env, start-first updates with
 * failure action rollback): when Swarm's own rollback wins the race the gate still explains the crash (reason and
 * log line) and records it; a re-run fails 43 saying what failed the first time; a re-run for the release Swarm
 * rolled back to passes and rolls nothing; a release that changes only the memory limit, or (without --release)
 * only the health check, is judged on its own new tasks. Also: the whole-template key of the service matches its
 * tasks' view of it, and changes with resources, health check, restart policy and logging alone (placement aside:
 * Swarm keeps the running tasks when only it changes).
 * Prefix `ryg`; only the services this file creates are removed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT } from "../harness";

const images = inject("images");
const GATE = path.join(ROOT, "host", "railyard-gate.sh");
const CREATED = ["ryg-race", "ryg-res", "ryg-hc", "ryg-key"];
const A = "aaaaaaaaaaaa";
const B = "bbbbbbbbbbbb";
const C = "cccccccccccc";
let state = "";

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const removeCreated = () => {
  CREATED.forEach((n) => spawnSync("docker", ["service", "rm", n], { stdio: "ignore" }));
  for (let i = 0; i < 20 && spawnSync("docker", ["network", "rm", "ryg-net"], { stdio: "ignore" }).status !== 0; i++) {
    if (spawnSync("docker", ["network", "inspect", "ryg-net"], { stdio: "ignore" }).status !== 0) break;
    execFileSync("sleep", ["0.5"]);
  }
};
const servingRelease = (name: string) => docker("service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", name).match(/RAILYARD_RELEASE=(\w+)/)?.[1];
const updateState = (name: string) => docker("service", "inspect", "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}", name);
const version = (name: string) => Number(docker("service", "inspect", "--format", "{{.Version.Index}}", name));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A web service as railyard declares one: 2 replicas of the app, its health check, start-first, failure action. */
function createService(name: string, failureAction: "rollback" | "continue"): void {
  docker(
    "service", "create", "--detach", "--quiet", "--name", name, "--replicas", "2",
    "--label", "railyard.stack=ryg", "--env", `RAILYARD_RELEASE=${A}`,
    "--health-cmd", "curl -fsS http://127.0.0.1:8000/health", "--health-interval", "1s", "--health-retries", "2",
    "--update-order", "start-first", "--update-parallelism", "1", "--update-failure-action", failureAction, "--update-monitor", "5s",
    "--rollback-order", "start-first", "--restart-condition", "any", "--restart-delay", "1s",
    images.APP_V1, "python3", "/app/app.py", "serve",
  );
}

/** Waits until every replica of the service runs and is healthy (bounded). */
async function healthy(name: string, replicas = 2): Promise<void> {
  for (let i = 0; i < 240; i++) {
    const ids = docker("ps", "-q", "--filter", `label=com.docker.swarm.service.name=${name}`, "--filter", "health=healthy").split("\n").filter(Boolean);
    const running = docker("service", "ps", "-q", "--filter", "desired-state=running", name).split("\n").filter(Boolean);
    if (ids.length === replicas && running.length === replicas) return;
    await sleep(500);
  }
  throw new Error(`${name} did not run ${replicas} healthy tasks`);
}

const gate = (name: string, args: string[]) =>
  spawnSync("bash", [GATE, "--service", name, "--image", images.APP_V1, "--attempts", "30", "--interval", "1", ...args], { encoding: "utf8" });

beforeAll(() => {
  removeCreated();
  state = fs.mkdtempSync(path.join(os.tmpdir(), "ryg-state-"));
});

afterAll(() => {
  removeCreated();
  fs.rmSync(state, { recursive: true, force: true });
});

describe("the gate always explains, and judges the release the service declares", () => {
  beforeAll(async () => {
    createService("ryg-race", "rollback");
    await healthy("ryg-race");
  });

  it("Swarm's rollback wins the race: the gate, started after it, fails with each crash's reason and log line, and records them", async () => {
    // Release B crashes at import (a KeyError); Swarm's failure action rolls it back before any gate starts.
    docker(
      "service", "update", "--detach", "--quiet", "--env-add", `RAILYARD_RELEASE=${B}`,
      "--args", `python3 -c "import os; print('booting', flush=True); os.environ['DATABASE_URL']"`, "ryg-race",
    );
    for (let i = 0; i < 240 && updateState("ryg-race") !== "rollback_completed"; i++) await sleep(500);
    expect(updateState("ryg-race")).toBe("rollback_completed");
    const r = gate("ryg-race", ["--release", B, "--state-dir", state, "--port", "8000", "--path", "/health"]);
    console.log(`the gate after Swarm's rollback:\n${r.stderr}`);
    expect(r.status, r.stderr).toBe(40);
    expect(r.stderr).toMatch(/railyard-gate: task \w+: crash \(exit 1\); its last 50 log lines:\n/);
    expect(r.stderr).toContain("KeyError: 'DATABASE_URL'");
    expect(r.stderr).toContain(`release ${B} (${images.APP_V1}) was rolled back by Swarm (its failure action) before this gate ran`);
    const record = fs.readFileSync(path.join(state, `gate-ryg-race-${B}.txt`), "utf8");
    expect(record).toContain("KeyError: 'DATABASE_URL'");
    expect(servingRelease("ryg-race")).toBe(A);
  });

  it("a re-run for the rolled-back release fails 43 and says what failed the first time, changing nothing", () => {
    const before = version("ryg-race");
    const r = gate("ryg-race", ["--release", B, "--state-dir", state]);
    expect(r.status, r.stderr).toBe(43);
    expect(r.stderr).toContain(`what failed release ${B} the first time:`);
    expect(r.stderr).toContain("KeyError: 'DATABASE_URL'");
    expect(r.stderr).toMatch(/not the declared bbbbbbbbbbbb .*it was rolled back \(reported \d{4}-/);
    expect(version("ryg-race")).toBe(before);
  });

  it("when Swarm's history no longer holds the release's tasks, a re-run prints the record", () => {
    // A release the history never held, recorded by an earlier run.
    fs.writeFileSync(path.join(state, `gate-ryg-race-${C}.txt`), `railyard-gate: ryg-race: release ${C} failed (reported 2026-01-02T03:04:05Z):\nrailyard-gate: task t1: crash (exit 3); its last 50 log lines:\nboom\n`);
    const r = gate("ryg-race", ["--release", C, "--state-dir", state]);
    expect(r.status, r.stderr).toBe(43);
    expect(r.stderr).toContain("railyard-gate: task t1: crash (exit 3); its last 50 log lines:\nboom\n");
    expect(r.stderr).toContain("(reported 2026-01-02T03:04:05Z)");
  });

  it("a re-run for the release Swarm rolled back to (the one serving) judges its tasks and passes, rolling nothing back", () => {
    const before = version("ryg-race");
    const r = gate("ryg-race", ["--release", A, "--state-dir", state, "--port", "8000", "--path", "/health"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`release ${A} serves because an update was rolled back to it; judging its tasks`);
    expect(r.stderr).toContain(`2 task(s) run release ${A}`);
    expect(version("ryg-race")).toBe(before);
    expect(servingRelease("ryg-race")).toBe(A);
  });

  it("a release that changes only the memory limit and dies of it is judged on its new tasks and rolled back", async () => {
    createService("ryg-res", "rollback");
    await healthy("ryg-res");
    docker("service", "update", "--detach", "--quiet", "--env-add", `RAILYARD_RELEASE=${C}`, "--limit-memory", "6m", "ryg-res");
    const r = gate("ryg-res", ["--release", C, "--state-dir", state, "--port", "8000", "--path", "/health"]);
    expect(r.status, r.stderr).toBe(40);
    expect(r.stderr).toContain("crash (exit 137, out of memory)");
    expect(servingRelease("ryg-res")).toBe(A);
    await healthy("ryg-res");
  });

  it("without --release, a release that changes only the health check is judged on its own tasks (the whole template) and rolled back", async () => {
    createService("ryg-hc", "continue");
    await healthy("ryg-hc");
    const before = docker("service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}", "ryg-hc");
    // Same image, command, env and label: only the health check differs, and it never passes.
    docker("service", "update", "--detach", "--quiet", "--health-cmd", "false", "ryg-hc");
    const r = gate("ryg-hc", ["--port", "8000", "--path", "/health"]);
    expect(r.status, r.stderr).toBe(40);
    expect(r.stderr).toMatch(/unhealthy: its health check failed \(last check: exit 1/);
    expect(r.stderr).toContain("ryg-hc rolled back");
    expect(docker("service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}", "ryg-hc")).toBe(before);
  });
});

describe("the whole-template key (the gate without --release)", () => {
  /** The gate's key of the service's template, and of each task that should run. */
  const keys = (name: string) => {
    const out = execFileSync(
      "bash",
      ["-c", `source ${JSON.stringify(GATE)}; sid=$(docker service inspect --format '{{.ID}}' ${name}); spec_key Spec; task_lines | awk '$3 == "running" { print $5 }'`],
      { encoding: "utf8" },
    ).trim().split("\n");
    return { service: out[0], tasks: out.slice(1) };
  };

  it("matches the tasks' view for an unchanged service, changes with resources, health check, restart policy or logging alone, and keeps matching the tasks Swarm keeps for a placement change", async () => {
    spawnSync("docker", ["network", "create", "--driver", "overlay", "ryg-net"], { stdio: "ignore" });
    docker(
      "service", "create", "--quiet", "--name", "ryg-key", "--label", "railyard.stack=ryg", "--network", "ryg-net", "--update-monitor", "1s",
      "--health-cmd", "true", "--health-interval", "1s", images.APP_V1, "python3", "/app/app.py", "serve",
    );
    await healthy("ryg-key", 1);
    let previous = keys("ryg-key");
    expect(previous.tasks).toEqual([previous.service]);
    const changes = [
      ["--limit-memory", "300m"],
      ["--health-interval", "2s"],
      ["--restart-max-attempts", "5"],
      ["--log-driver", "json-file", "--log-opt", "max-size=1m"],
    ];
    for (const change of changes) {
      docker("service", "update", "--quiet", ...change, "ryg-key");
      await healthy("ryg-key", 1);
      const now = keys("ryg-key");
      expect(now.service, change.join(" ")).not.toBe(previous.service);
      expect(now.tasks, change.join(" ")).toEqual([now.service]);
      previous = now;
    }
    // Swarm keeps the running task when only the placement changes (its view keeps the old placement): the key
    // leaves placement out, so the task kept is the release's.
    docker("service", "update", "--quiet", "--placement-pref-add", "spread=node.id", "ryg-key");
    await healthy("ryg-key", 1);
    expect(keys("ryg-key")).toEqual(previous);
  });
});
