/**
 * BackupSchedule: one database's scheduled job on the host (its backup to the bucket, or its restore drill) as a
 * systemd service and the timer that starts it (render/systemd.ts), installed by one host command
 * (commands/schedule.ts). systemd, not a container or cron: the timer survives reboots and, with Persistent=true,
 * runs a slot missed while the host was down as soon as it is back; the last result is in `systemctl status`
 * and the job's state file.
 */
import * as pulumi from "@pulumi/pulumi";
import { installUnitsCommand, removeUnitsCommand, ScheduledJob, scheduleUnitName } from "../commands/schedule";
import { serviceUnit, timerUnit } from "../render/systemd";
import type { Host } from "./host";

export interface BackupScheduleArgs {
  host: Host;
  /** The stack's prefix (railyard:prefix), e.g. "production". */
  stack: string;
  job: ScheduledJob;
  /** The database's name in the stack file, e.g. "postgres". */
  database: string;
  /** The user the job runs as (the owner of the key files it reads). */
  user: string;
  /** OnCalendar expressions, already converted from the stack file's cron lines (lib/cron.ts). */
  schedules: string[];
  /** The host script and its arguments (paths to root-only credential files, never a credential). */
  execStart: string[];
  /** Seconds one run may take before systemd stops it and records the unit as failed. */
  timeoutSeconds: number;
  /** What must exist before the job may run (the database, the bucket's credential files). */
  dependsOn: pulumi.Resource[];
}

const DESCRIPTIONS: Record<ScheduledJob, (stack: string, database: string) => string> = {
  backup: (stack, database) => `railyard: backup of ${stack}/${database} to the bucket`,
  drill: (stack, database) => `railyard: restore drill of ${stack}/${database}`,
};

export class BackupSchedule extends pulumi.ComponentResource {
  /** The units' name without suffix, e.g. "railyard-production-backup-postgres". */
  readonly unitName: string;
  /** The command that installs the units. */
  readonly install: pulumi.CustomResource;
  /** The command that removes them (stop, disable, delete, reload), run when the schedule leaves the stack. */
  readonly removeCommand: string;

  constructor(name: string, args: BackupScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:BackupSchedule", name, {}, opts);
    this.unitName = scheduleUnitName(args.stack, args.job, args.database);
    const description = DESCRIPTIONS[args.job](args.stack, args.database);
    const service = serviceUnit({ description, execStart: args.execStart, timeoutSeconds: args.timeoutSeconds, user: args.user });
    const timer = timerUnit({ description: `${description} (timer)`, onCalendar: args.schedules, unit: `${this.unitName}.service` });
    this.removeCommand = removeUnitsCommand({ name: this.unitName });
    // The unit files are in `create`: a changed schedule or command runs the (idempotent) install again as an
    // update, never the delete. Only a new unit name replaces the resource; the old units are removed first, so a
    // replacement can never remove units of the same name that it has just installed.
    this.install = args.host.run(
      `${name}-units`,
      { create: installUnitsCommand({ name: this.unitName, service, timer }), triggers: [this.unitName], delete: this.removeCommand },
      { parent: this, dependsOn: [...args.host.scriptsReady, ...args.dependsOn], deleteBeforeReplace: true },
    );
    this.registerOutputs({ unitName: this.unitName });
  }
}
