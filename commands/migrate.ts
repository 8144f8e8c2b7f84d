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
