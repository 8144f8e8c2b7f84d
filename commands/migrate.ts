/**
 * Command builder for the pre-deploy step (Kamal style: a pure function returning one shell line; every value is
 * one quoted word, so nothing in it is expanded). The script lives in host/ and works by hand with --help:
 * railyard-migrate.sh runs the service's preDeployCommand as a Swarm job from the new image, pausing the
 * services the stack file names while it runs.
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
  /**
   * Services scaled to 0 while the job runs (restored after, also on failure), each with its stop grace period in
   * whole seconds (rounded up): the script waits at most that long (+ 30 s) for their tasks to stop.
   */
  pause: { service: string; stopGraceSeconds: number }[];
  /** Where the script keeps its per-job lock and its guardian's log on the host: `<stackDir>/state`. */
  stateDir: string;
  labels: Record<string, string>;
  /**
   * The private registry the image is on (config/registry.ts registryFor): its password goes on the command's
   * stdin (migrationStdin), never on this line.
   */
  registry?: { server: string; username: string };
  /**
   * Swarm placement constraints of the job (the service's: lib/placement.ts appPlacement on a stack with nodes), as
   * `docker service create --constraint` takes them. @default none (Swarm may run it on any node, as on one node)
   */
  constraints?: string[];
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

/**
 * Seconds railyard-migrate.sh may spend outside the job and the pause, by its own bounds (host/railyard-migrate.sh):
 * another run's lock 150, a leftover job's removal 30, the pause's margin over the stop grace period 30, the job's
 * removal 30 and restored tasks running 60, plus 60 for the docker calls in between.
 */
export const MIGRATE_OVERHEAD_SECONDS = 360;

/**
 * Runs the migration job with railyard-migrate.sh. The outer `timeout` stops the whole step only after every
 * bound of the script: the job's own limit, the longest stop grace period of the paused services, and the rest
 * (MIGRATE_OVERHEAD_SECONDS). If it fires anyway, the script's guardian restores the paused services.
 */
export function migrateCommand(scriptPath: string, j: MigrationJob): string {
  const longestGrace = Math.max(0, ...j.pause.map((p) => p.stopGraceSeconds));
  return shellJoin([
    "timeout", String(j.timeoutSeconds + longestGrace + MIGRATE_OVERHEAD_SECONDS),
    "bash", scriptPath,
    "--job", j.job,
    "--timeout", String(j.timeoutSeconds),
    "--stack", j.stack,
    "--state-dir", j.stateDir,
    ...j.pause.flatMap((p) => ["--pause", p.service]),
    ...(j.registry ? ["--registry", j.registry.server, "--registry-user", j.registry.username] : []),
    ...(j.constraints ?? []).flatMap((c) => ["--constraint", c]),
    "--",
    ...migrationJobArgs(j),
  ]);
}

/** The migration command's stdin when its image is on the private registry: the password, one line. */
export function migrationStdin(password: string): string {
  return `${password}\n`;
}
