/**
 * Command builders for the release steps around a service update (Kamal style: pure functions returning shell
 * lines; every value is one quoted word, so nothing in it is expanded). The scripts live in host/ and work by
 * hand with --help: railyard-migrate.sh (pre-deploy command as a Swarm job from the new image) and
 * railyard-gate.sh (health gate after the update, rollback on failure; with --settle, the wait for Swarm's own
 * update of the edge and the databases, which convergeConfig ends too early).
 */
import { shellJoin } from "../lib/shell";
import { startCommand } from "./container";

export interface MigrationJob {
  /** The stack (its prefix): the script touches only a leftover job and paused services labelled with it. */
  stack: string;
  /** Swarm name of the one-off job, e.g. "staging-api-migrate". */
  job: string;
  /** The NEW image (the release being deployed). */
  image: string;
  network: string;
  /** Plain env of the service (values that hold no secret). */
  env: Record<string, string>;
  /** Swarm secrets of the service: secret name → file name under /run/secrets. */
  secrets: { name: string; file: string }[];
  /** Env vars exported from secret files before the command runs (see withSecretEnv). */
  secretVars: string[];
  /** The service's preDeployCommand, e.g. "alembic upgrade head". */
  command: string;
  timeoutSeconds: number;
  /** Swarm services scaled to 0 while the job runs (restored after, also on failure). */
  pause: string[];
  labels: Record<string, string>;
}

/** `docker service create` arguments for the job (after railyard-migrate.sh's `--`). */
export function migrationJobArgs(j: MigrationJob): string[] {
  return [
    "--network", j.network,
    ...Object.entries(j.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
    ...Object.entries(j.env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
    ...j.secrets.flatMap((s) => ["--secret", `source=${s.name},target=${s.file},mode=0444`]),
    j.image,
    ...startCommand(j.command, j.secretVars),
  ];
}

/** Runs the migration job with railyard-migrate.sh; `timeout` stops the whole step a minute after the job's own limit. */
export function migrateCommand(scriptPath: string, j: MigrationJob): string {
  return shellJoin([
    "timeout", String(j.timeoutSeconds + 60),
    "bash", scriptPath,
    "--job", j.job,
    "--timeout", String(j.timeoutSeconds),
    "--stack", j.stack,
    ...j.pause.flatMap((s) => ["--pause", s]),
    "--",
    ...migrationJobArgs(j),
  ]);
}

export interface GateArgs {
  /** Swarm service name. */
  service: string;
  /** The image the update declared: the gate passes only when every running task runs it. */
  image: string;
  /** Probe each new task from inside on 127.0.0.1:port/path (web services with an HTTP health check). */
  probe?: { port: number; path: string };
  /** Probe through the edge: URL on the host, Host header / TLS name, accept the origin certificate. */
  edge?: { url: string; host: string; insecure: boolean };
  attempts: number;
  intervalSeconds: number;
}

export function gateCommand(scriptPath: string, g: GateArgs): string {
  const words = ["bash", scriptPath, "--service", g.service, "--image", g.image];
  if (g.probe) words.push("--port", String(g.probe.port), "--path", g.probe.path);
  if (g.edge) words.push("--url", g.edge.url, "--host", g.edge.host, ...(g.edge.insecure ? ["--insecure"] : []));
  words.push("--attempts", String(g.attempts), "--interval", String(g.intervalSeconds));
  // Bounded even if Docker hangs: every attempt plus the 120 s rollback wait, plus a margin.
  const limit = Math.ceil(g.attempts * (g.intervalSeconds + 15) + 180);
  return shellJoin(["timeout", String(limit), ...words]);
}

export interface SettleArgs {
  /** Swarm service name. */
  service: string;
  /** How long Swarm's update (its monitor window, and a rollback) may take, in whole seconds. */
  timeoutSeconds: number;
}

/** Waits for Swarm's own update of the service to complete (railyard-gate.sh --settle); `timeout` a minute after its own limit. */
export function settleCommand(scriptPath: string, g: SettleArgs): string {
  return shellJoin(["timeout", String(g.timeoutSeconds + 60), "bash", scriptPath, "--settle", "--service", g.service, "--timeout", String(g.timeoutSeconds)]);
}
