/**
 * PreDeployBackup: before any migration, each database is dumped with its own tool (host/railyard-backup.sh):
 * streamed to the backup bucket when railyard:backups sends pre-deploy dumps there (the dump survives the host),
 * else into the host's backup folder (timestamped name, written atomically, the newest N kept). Re-run whenever
 * a service's image changes (a release); a failed dump fails `pulumi up` before the migrations run.
 */
import * as pulumi from "@pulumi/pulumi";
import { asRootCommand } from "../commands/asRoot";
import { backupCommand, bucketBackupCommand, BucketTarget } from "../commands/backup";
import type { DatabaseConfig } from "../config/schema";
import { liveDatabase } from "../databases";
import type { Host } from "./host";

/** Seconds one database's dump may take. */
const BACKUP_TIMEOUT_S = 1800;

export interface PreDeployBackupArgs {
  host: Host;
  /** Database name → its Swarm service name and config. */
  databases: Record<string, { serviceName: string; config: DatabaseConfig }>;
  /** Backups kept per database (railyard:deploy.backupRetention, default 5). */
  keep: number;
  /** The release: every service's image; a change runs the backups again. */
  release: pulumi.Input<string>[];
  /** The databases themselves. */
  dependsOn: pulumi.Resource[];
  /**
   * The bucket pre-deploy dumps stream to (railyard:backups with preDeployToBucket): the databases it backs up go
   * there, under `<stack>/<database>/`, once its key is on the host (`ready`). The others stay in the folder.
   */
  bucket?: { target: BucketTarget; stack: string; databases: string[]; ready: pulumi.Resource[]; timeoutSeconds: number };
}

export class PreDeployBackup extends pulumi.ComponentResource {
  readonly commands: pulumi.CustomResource[];

  constructor(name: string, args: PreDeployBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:PreDeployBackup", name, {}, opts);
    const script = args.host.scriptPath("railyard-backup.sh");
    const bucket = args.bucket;
    this.commands = Object.entries(args.databases).map(([db, d]) => {
      const dumped = { ...liveDatabase(d.serviceName, d.config), timeoutSeconds: BACKUP_TIMEOUT_S };
      const toBucket = bucket !== undefined && bucket.databases.includes(db);
      const create = toBucket
        ? // The uploader's key is root's alone: the dump runs as root (through sudo for a non-root SSH user).
          asRootCommand(
            `the pre-deploy dump of ${db} to the bucket`,
            bucketBackupCommand(script, { ...dumped, ...bucket.target, prefix: `${bucket.stack}/${db}`, reason: "pre-deploy", timeoutSeconds: bucket.timeoutSeconds }),
          )
        : backupCommand(script, { ...dumped, dir: `${args.host.stackDir}/backups`, keep: args.keep });
      const after = [...args.host.scriptsReady, ...args.dependsOn, ...(toBucket ? bucket.ready : [])];
      return args.host.run(`${name}-${db}`, { create, triggers: args.release }, { parent: this, dependsOn: after });
    });
    this.registerOutputs({});
  }
}
