/**
 * Command builder for host/railyard-backup.sh (Kamal style): one database's dump into the stack's backup
 * folder, keeping the newest N. PreDeployBackup (components/preDeployBackup.ts) runs it before migrations.
 */
import type { Engine } from "../databases/plugin";
import { shellJoin } from "../lib/shell";

export interface BackupArgs {
  /** Swarm service name of the database, e.g. "production-postgres". */
  service: string;
  engine: Engine;
  user: string;
  database: string;
  /** Folder on the host, e.g. "/srv/railyard/production/backups". */
  dir: string;
  keep: number;
  /** Seconds the dump may take: a dump that hangs (a locked table, a full disk) fails instead of holding the deploy. */
  timeoutSeconds: number;
}

/** Runs the backup script at `scriptPath` on the host, bounded by `timeout`. */
export function backupCommand(scriptPath: string, a: BackupArgs): string {
  return shellJoin([
    "timeout", String(a.timeoutSeconds),
    "bash", scriptPath,
    "--service", a.service,
    "--engine", a.engine,
    "--user", a.user,
    "--database", a.database,
    "--dir", a.dir,
    "--keep", String(a.keep),
  ]);
}
