/**
 * Command builders for host/railyard-backup.sh (Kamal style: the whole line, `timeout` included, every value one
 * quoted word). `--dir`: one database's dump into the stack's backup folder, keeping the newest N.
 * `--bucket`: the dump streamed, compressed, to the backup bucket with its completion manifest — the scheduled
 * dumps (a systemd unit's ExecStart, as argv) and the pre-deploy ones (PreDeployBackup, a shell line).
 */
import type { Engine } from "../databases/plugin";
import { shellJoin } from "../lib/shell";

/** The database to dump, as the script names it. */
export interface DumpedDatabase {
  /** Swarm service name of the database, e.g. "production-postgres". */
  service: string;
  engine: Engine;
  user: string;
  database: string;
  /** Seconds the dump may take: a dump that hangs (a locked table, a full disk) fails instead of holding the deploy. */
  timeoutSeconds: number;
}

export interface BackupArgs extends DumpedDatabase {
  /** Folder on the host, e.g. "/srv/railyard/production/backups". */
  dir: string;
  keep: number;
}

/** `timeout N bash SCRIPT` and the database's options: how every line of the script starts. */
function dumpWords(scriptPath: string, a: DumpedDatabase): string[] {
  return [
    "timeout", String(a.timeoutSeconds),
    "bash", scriptPath,
    "--service", a.service,
    "--engine", a.engine,
    "--user", a.user,
    "--database", a.database,
  ];
}

/** Runs the backup script at `scriptPath` on the host, bounded by `timeout`. */
export function backupCommand(scriptPath: string, a: BackupArgs): string {
  return shellJoin([
    ...dumpWords(scriptPath, a),
    "--dir", a.dir,
    "--keep", String(a.keep),
  ]);
}

/** Where bucket dumps go, and the key they go with. */
export interface BucketTarget {
  bucket: string;
  /** Absolute path of the owner-only AWS shared-credentials file on the host (the put-only uploader key). */
  credentials: string;
  /** An S3-compatible store's URL (MinIO, R2, B2); absent for AWS. */
  endpoint?: string;
  /** @default "us-east-1" (the script's default when absent) */
  region?: string;
}

export type BackupReason = "scheduled" | "pre-deploy" | "safety";

export interface BucketBackupArgs extends DumpedDatabase, BucketTarget {
  /** STACK/DATABASE: the dump's key is STACK/DATABASE/<UTC time>.<ext>.zst. */
  prefix: string;
  /** Recorded in the manifest. @default "scheduled" (the script's default when absent) */
  reason?: BackupReason;
  /** zstd level, 1 to 19. @default 1 (the script's default when absent; bench:backup measured it as small as 3, and faster) */
  level?: number;
  /** `<stackDir>/state`: backup-<database>.json records the run's result. */
  stateDir?: string;
  /** Owner-only file holding the failure webhook's URL. */
  webhookFile?: string;
}

/** The whole argv of a dump to the bucket (a systemd unit's ExecStart), `timeout` first. */
export function bucketBackupArgv(scriptPath: string, a: BucketBackupArgs): string[] {
  const optional = (option: string, value: string | number | undefined) => (value === undefined ? [] : [option, String(value)]);
  return [
    ...dumpWords(scriptPath, a),
    "--bucket", a.bucket,
    "--prefix", a.prefix,
    "--credentials", a.credentials,
    ...optional("--endpoint", a.endpoint),
    ...optional("--region", a.region),
    ...optional("--reason", a.reason),
    ...optional("--level", a.level),
    ...optional("--state-dir", a.stateDir),
    ...optional("--webhook-file", a.webhookFile),
  ];
}

/** Runs a dump to the bucket on the host (pre-deploy, or by hand), bounded by `timeout`. */
export function bucketBackupCommand(scriptPath: string, a: BucketBackupArgs): string {
  return shellJoin(bucketBackupArgv(scriptPath, a));
}
