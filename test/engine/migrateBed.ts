/**
 * What the migration fault tests and the pause benchmark share: paused services made as railyard makes them
 * (a railyard.stack label, Swarm's init, a stop grace period and update monitor), railyard-migrate.sh started in a
 * process group of its own (so a signal reaches the script and its docker children, as an SSH drop does), and
 * what the engine then holds: replica counts, pause labels, the job and its containers.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import { ROOT } from "../harness";

export const MIGRATE = path.join(ROOT, "host", "railyard-migrate.sh");

export const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const tryDocker = (...args: string[]) => spawnSync("docker", args, { encoding: "utf8" });

/** A worker as a stack deploys it: `sleep` under Swarm's init (stops at once on TERM), labelled for STACK. */
export function createWorker(name: string, stack: string, image: string, replicas: number, monitor = "190s"): void {
  docker(
    "service", "create", "--detach", "--quiet", "--name", name, "--label", `railyard.stack=${stack}`, "--replicas", String(replicas),
    "--init", "--stop-grace-period", "120s", "--update-monitor", monitor, image, "sleep", "3600",
  );
}

export const replicas = (service: string) => Number(docker("service", "inspect", "--format", "{{.Spec.Mode.Replicated.Replicas}}", service));
export const labels = (service: string) => JSON.parse(docker("service", "inspect", "--format", "{{json .Spec.Labels}}", service)) as Record<string, string>;
export const running = (service: string) => docker("service", "ps", "--format", "{{.CurrentState}}", service).split("\n").filter((s) => s.startsWith("Running")).length;
export const serviceExists = (name: string) => tryDocker("service", "inspect", name).status === 0;
/** Containers of any task of a service named NAME, running or exited (what piles up on the host). */
export const containersOf = (name: string) => docker("ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${name}`).split("\n").filter(Boolean);

export function removeServices(names: string[]): void {
  for (const name of names) tryDocker("service", "rm", name);
  for (const name of names) {
    const left = containersOf(name);
    if (left.length) tryDocker("rm", "-f", ...left);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls CHECK until it holds; throws with WHAT after LIMIT ms. Returns the ms it took. */
export async function waitFor(what: string, check: () => boolean, limitMs: number): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > limitMs) throw new Error(`not within ${limitMs / 1000} s: ${what}`);
    await sleep(200);
  }
  return Date.now() - start;
}

export interface Run {
  child: ChildProcess;
  /** stderr and stdout so far. */
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends SIGNAL to the run's whole process group (the script and its docker children). */
  signalGroup: (signal: NodeJS.Signals) => void;
}

/** railyard-migrate.sh ARGS in a process group of its own. */
export function startMigrate(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn("bash", [MIGRATE, ...args], { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exit, signalGroup: (signal) => process.kill(-(child.pid ?? 0), signal) };
}

/** Runs railyard-migrate.sh to its end. */
export function runMigrate(args: string[]): { status: number | null; output: string } {
  const r = spawnSync("bash", [MIGRATE, ...args], { encoding: "utf8" });
  return { status: r.status, output: r.stdout + r.stderr };
}
