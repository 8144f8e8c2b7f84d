/**
 * railyard-migrate.sh under faults, on the real engine: HUP, TERM and KILL delivered to the script's whole process
 * group (as an SSH drop or a cancelled CI job does) while the paused services are at 0 and the job runs, and
 * during the restore. Without any re-run, the guardian brings every paused service back to its original count and
 * removes the job and its container within a bounded time; with the guardian killed too, a re-run restores from
 * the labels and migrates. Several releases (completed, failed, timed out) leave no container behind.
 * Prefix `rym`; only the services this file creates are removed.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeEach, describe, expect, inject, it } from "vitest";
import {
  containersOf, createWorker, docker, labels, removeServices, replicas, running, runMigrate, serviceExists, sleep, startMigrate, waitFor,
} from "./migrateBed";

const images = inject("images");
const STACK = "rym";
const WORKER = "rym-worker";
const BEAT = "rym-beat";
const JOB = "rym-api-migrate";
const OTHER = "rym-other-migrate";
const CREATED = [WORKER, BEAT, JOB, OTHER];
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "rym-state-"));
/** How long recovery may take without a re-run: the guardian's poll, the job's 10 s stop grace, the restores. */
const RECOVERY_MS = 60_000;

const args = (command: string, options: { job?: string; timeout?: number } = {}) => [
  "--job", options.job ?? JOB, "--timeout", String(options.timeout ?? 120), "--stack", STACK, "--state-dir", stateDir,
  "--pause", WORKER, "--pause", BEAT,
  "--", "--label", `railyard.stack=${STACK}`, images.APP_V1, "sh", "-c", command,
];
const guardianPid = (job = JOB) => path.join(stateDir, `${job}.guardian.pid`);
const pausedBy = (service: string) => labels(service)["railyard.paused-by"];

/** Every paused service back at its original count with no pause label, the job and its containers gone. */
function recovered(): boolean {
  return (
    replicas(WORKER) === 2 && replicas(BEAT) === 1 && pausedBy(WORKER) === undefined && pausedBy(BEAT) === undefined &&
    !serviceExists(JOB) && containersOf(JOB).length === 0 && !fs.existsSync(guardianPid())
  );
}

/** Waits until the run has paused both services and its job's container runs. */
async function pausedWithJobRunning(): Promise<void> {
  await waitFor("both services paused and the job running", () => replicas(WORKER) === 0 && replicas(BEAT) === 0 && docker("ps", "-q", "--filter", `label=com.docker.swarm.service.name=${JOB}`) !== "", 60_000);
  expect(labels(WORKER)).toMatchObject({ "railyard.paused-by": JOB, "railyard.paused-replicas": "2" });
  expect(labels(BEAT)).toMatchObject({ "railyard.paused-by": JOB, "railyard.paused-replicas": "1" });
}

beforeEach(async () => {
  removeServices(CREATED);
  createWorker(WORKER, STACK, images.APP_V1, 2);
  createWorker(BEAT, STACK, images.APP_V1, 1);
  await waitFor("worker and beat running", () => running(WORKER) === 2 && running(BEAT) === 1, 60_000);
});

afterAll(() => removeServices(CREATED));

describe("railyard-migrate survives faults without a re-run", () => {
  it.each([
    ["SIGHUP", { code: 129, signal: null }],
    ["SIGTERM", { code: 143, signal: null }],
    ["SIGKILL", { code: null, signal: "SIGKILL" }],
  ] as const)("%s to the process group while the services are paused and the job runs: restored, job and container gone", async (signal, ended) => {
    const run = startMigrate(args("echo migrating; sleep 300"));
    await pausedWithJobRunning();
    run.signalGroup(signal);
    expect(await run.exit).toEqual(ended);
    await waitFor(`recovery after ${signal}`, recovered, RECOVERY_MS);
    expect(fs.readFileSync(path.join(stateDir, `${JOB}.guardian.log`), "utf8")).toContain(`${WORKER} back to 2 replicas`);
  });

  it.each(["SIGHUP", "SIGTERM", "SIGKILL"] as const)("%s to the process group during the restore (one service back, the other not yet): the guardian restores the other", async (signal) => {
    // A `docker` first on PATH that holds the beat's restore 3 s, so the kill lands between the two restores.
    const shim = fs.mkdtempSync(path.join(os.tmpdir(), "rym-shim-"));
    const real = execFileSync("bash", ["-c", "command -v docker"], { encoding: "utf8" }).trim();
    fs.writeFileSync(path.join(shim, "docker"), `#!/bin/bash\n[[ "$*" == "service update --detach --replicas 1 "* ]] && sleep 3\nexec ${real} "$@"\n`, { mode: 0o755 });
    const run = startMigrate(args("echo migrating; sleep 2"), { PATH: `${shim}:${process.env.PATH}` });
    await waitFor("the worker restored", () => run.output().includes(`${WORKER} back to 2 replicas`), 60_000);
    run.signalGroup(signal);
    await run.exit;
    expect(pausedBy(BEAT)).toBe(JOB);
    await waitFor(`recovery after ${signal} during the restore`, recovered, RECOVERY_MS);
  });
});

describe("a re-run after the run and its guardian were killed", () => {
  it("finds the services still paused, restores from the labels, removes the old job and migrates normally", async () => {
    const run = startMigrate(args("echo migrating; sleep 300"));
    await pausedWithJobRunning();
    process.kill(Number(fs.readFileSync(guardianPid(), "utf8")), "SIGKILL");
    run.signalGroup("SIGKILL");
    await run.exit;
    await sleep(2000);
    // Nothing restored them: the recorded counts are all that is left.
    expect([replicas(WORKER), replicas(BEAT), pausedBy(WORKER), serviceExists(JOB)]).toEqual([0, 0, JOB, true]);

    const again = runMigrate(args("echo migrated again"));
    expect(again.status, again.output).toBe(0);
    expect(again.output).toContain("migrated again");
    expect(again.output).toContain(`${WORKER} is still paused by an earlier run of ${JOB} (recorded: 2 replicas)`);
    expect(again.output).toContain(`removed the job ${JOB} an earlier run left`);
    await waitFor("recovered after the re-run", recovered, RECOVERY_MS);
  });
});

describe("pauses recorded by other jobs", () => {
  it("refuses (35) a service paused by another job that is still running, and changes nothing", async () => {
    const run = startMigrate(args("echo migrating; sleep 300"));
    await pausedWithJobRunning();
    const version = docker("service", "inspect", "--format", "{{.Version.Index}}", WORKER);
    const other = runMigrate(args("echo other", { job: OTHER }));
    expect(other.status, other.output).toBe(35);
    expect(other.output).toContain(`--pause ${WORKER}: the service is paused by the migration job ${JOB}, which is still running`);
    expect(docker("service", "inspect", "--format", "{{.Version.Index}}", WORKER)).toBe(version);
    expect(serviceExists(OTHER)).toBe(false);
    run.signalGroup("SIGHUP");
    await run.exit;
    await waitFor("recovery", recovered, RECOVERY_MS);
  });

  it("takes over a service left at 0 by a job that is gone and restores it to the recorded count, never to 0", async () => {
    docker("service", "update", "--detach", "--quiet", "--replicas", "0", "--label-add", `railyard.paused-by=${OTHER}`, "--label-add", "railyard.paused-replicas=2", WORKER);
    const r = runMigrate(args("echo migrated"));
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain(`${WORKER} was left paused by the migration job ${OTHER}, which is no longer running (recorded: 2 replicas); taking it over`);
    await waitFor("the worker back at 2", recovered, RECOVERY_MS);
  });
});

describe("nothing piles up", () => {
  it("a completed, a failed and a timed-out release leave no job and no container", async () => {
    const statuses: (number | null)[] = [];
    const leftovers: number[] = [];
    for (const [command, timeout] of [["echo ok", 60], ["echo broken; exit 3", 60], ["sleep 300", 3]] as const) {
      statuses.push(runMigrate(args(command, { timeout })).status);
      await waitFor("the guardian done", () => !fs.existsSync(guardianPid()), RECOVERY_MS);
      leftovers.push(containersOf(JOB).length + (serviceExists(JOB) ? 1 : 0));
    }
    expect(statuses).toEqual([0, 30, 31]);
    expect(leftovers).toEqual([0, 0, 0]);
    expect(recovered()).toBe(true);
  });
});

