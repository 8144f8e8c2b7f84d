/**
 * PreDeployBackup: before any migration, each database is dumped with its own tool into the host's backup
 * folder (host/railyard-backup.sh: timestamped name, written atomically, the newest N kept). Re-run whenever a
 * service's image changes (a release); a failed dump fails `pulumi up` before the migrations run.
 */
import * as pulumi from "@pulumi/pulumi";
import { backupCommand } from "../commands/backup";
import type { DatabaseConfig } from "../config/schema";
import { PLUGINS } from "../databases";
import { endpointOf } from "../databases/plugin";
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
}

export class PreDeployBackup extends pulumi.ComponentResource {
  readonly commands: pulumi.CustomResource[];

  constructor(name: string, args: PreDeployBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:PreDeployBackup", name, {}, opts);
    this.commands = Object.entries(args.databases).map(([db, d]) => {
      const { user, database } = endpointOf(PLUGINS[d.config.engine], d.serviceName, d.config);
      const create = backupCommand(args.host.scriptPath("railyard-backup.sh"), {
        service: d.serviceName,
        engine: d.config.engine,
        user,
        database,
        dir: `${args.host.stackDir}/backups`,
        keep: args.keep,
        timeoutSeconds: BACKUP_TIMEOUT_S,
      });
      return args.host.run(`${name}-${db}`, { create, triggers: args.release }, { parent: this, dependsOn: [...args.host.scriptsReady, ...args.dependsOn] });
    });
    this.registerOutputs({});
  }
}
