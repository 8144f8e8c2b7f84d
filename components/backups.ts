/**
 * Backups: each database's dumps leave the host for an S3 bucket on a schedule, and a drill restores the newest
 * one into a scratch database on another. The bucket is railyard's own on AWS (BackupBucket: private, versioned,
 * lifecycle, a put-only key for the host and a read-only one for its drills) or an existing S3-compatible one
 * with the keys the stack file names. The keys reach the host as root-only files (never in a command line or a
 * unit); systemd timers run host/railyard-backup.sh and host/railyard-drill.sh as root (BackupSchedule).
 */
import * as pulumi from "@pulumi/pulumi";
import { BucketTarget, bucketBackupArgv } from "../commands/backup";
import { drillArgv } from "../commands/restore";
import { removeSecretFileCommand, writeSecretFileCommand } from "../commands/secretFile";
import { requireToolsCommand } from "../commands/tools";
import type { BackupPlan, KeyPair } from "../config/backups";
import type { DatabaseConfig } from "../config/schema";
import { liveDatabase } from "../databases";
import { credentialsIni } from "../lib/backupPolicies";
import { BackupBucket } from "./backupBucket";
import { BackupSchedule } from "./backupSchedule";
import type { Host } from "./host";

/** The jobs run as root: the key files are root's alone (the SSH user reaches them through sudo). */
const JOB_USER = "root";
/** Seconds a drill may take: a restore of the largest dump a small team keeps, and its checks. */
const DRILL_TIMEOUT_S = 6 * 3600;
/** What the host needs beside Docker: the uploader, the compressor, and curl for the webhook. */
const TOOLS = [
  { program: "aws", debianPackage: "awscli" },
  { program: "zstd", debianPackage: "zstd" },
  { program: "curl", debianPackage: "curl" },
];

export interface BackupsArgs {
  plan: BackupPlan;
  host: Host;
  /** The stack's prefix: dumps live under `<stack>/<database>/` in the bucket. */
  stack: string;
  /** Database name → its Swarm service name and config (only those the plan backs up are used). */
  databases: Record<string, { serviceName: string; config: DatabaseConfig }>;
  /** The databases themselves. */
  dependsOn: pulumi.Resource[];
}

export class Backups extends pulumi.ComponentResource {
  /** The bucket railyard created (provider aws). */
  readonly bucket?: BackupBucket;
  /** Where a dump goes and with which key file: pre-deploy dumps use it too. */
  readonly target: BucketTarget;
  /** What a dump to the bucket waits for: the tools check and the uploader's key on the host. */
  readonly ready: pulumi.Resource[];
  /** Seconds one dump may take (railyard:backups.timeout). */
  readonly timeoutSeconds: number;
  readonly schedules: BackupSchedule[];

  constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:Backups", name, {}, opts);
    const { plan, host } = args;
    const secretsDir = `${host.stackDir}/secrets`;
    const b = plan.bucket;
    this.bucket =
      b.provider === "aws"
        ? new BackupBucket(
            `${name}-bucket`,
            { bucketName: b.name, prefix: args.stack, retentionDays: plan.retentionDays, objectLock: b.objectLock, drillReader: plan.drill !== undefined, region: b.region },
            { parent: this },
          )
        : undefined;
    const keys = hostKeys(plan, this.bucket);
    const tools = host.run(`${name}-tools`, { create: requireToolsCommand("backups", TOOLS), triggers: [] }, { parent: this, dependsOn: [host.ready] });
    const uploaderFile = `${secretsDir}/backup-uploader.ini`;
    const uploaderKey = this.secretFile(name, "uploader-key", uploaderFile, keys.uploader, host);
    const webhookFile = plan.webhook && `${secretsDir}/backup-webhook.url`;
    const webhook = plan.webhook && webhookFile ? [this.secretFile(name, "webhook", webhookFile, plan.webhook.apply((u) => `${u}\n`), host)] : [];
    this.target = { bucket: b.name, region: b.region, endpoint: b.provider === "s3" ? b.endpoint : undefined, credentials: uploaderFile };
    this.timeoutSeconds = plan.timeoutSeconds;
    this.ready = [tools, uploaderKey];

    const stateDir = `${host.stackDir}/state`;
    const after = [...this.ready, ...webhook, ...args.dependsOn];
    this.schedules = plan.databases.map((db) => {
      const d = args.databases[db];
      const execStart = forSystemd(bucketBackupArgv(host.scriptPath("railyard-backup.sh"), {
        ...liveDatabase(d.serviceName, d.config),
        ...this.target,
        prefix: `${args.stack}/${db}`,
        reason: "scheduled",
        stateDir,
        webhookFile,
        timeoutSeconds: plan.timeoutSeconds,
      }));
      return new BackupSchedule(
        `${name}-${db}`,
        { host, stack: args.stack, user: JOB_USER, job: "backup", database: db, schedules: plan.calendars, execStart, timeoutSeconds: plan.timeoutSeconds, dependsOn: after },
        { parent: this },
      );
    });

    const drill = plan.drill;
    if (drill && keys.reader) {
      const readerFile = `${secretsDir}/backup-reader.ini`;
      const readerKey = this.secretFile(name, "reader-key", readerFile, keys.reader, host);
      for (const db of plan.databases) {
        const d = args.databases[db];
        const freshness = drill.freshness[db];
        const execStart = forSystemd(drillArgv(host.scriptPath("railyard-drill.sh"), {
          ...liveDatabase(d.serviceName, d.config),
          ...this.target,
          credentials: readerFile,
          prefix: `${args.stack}/${db}`,
          stateDir,
          webhookFile,
          maxDumpAgeHours: drill.maxDumpAgeHours,
          freshnessQuery: freshness?.query,
          freshnessMaxAgeHours: freshness?.maxAgeHours,
          timeoutSeconds: DRILL_TIMEOUT_S,
        }));
        this.schedules.push(
          new BackupSchedule(
            `${name}-${db}-drill`,
            { host, stack: args.stack, user: JOB_USER, job: "drill", database: db, schedules: [drill.calendar], execStart, timeoutSeconds: DRILL_TIMEOUT_S, dependsOn: [tools, readerKey, ...webhook, ...args.dependsOn] },
            { parent: this },
          ),
        );
      }
    }
    this.registerOutputs({ bucket: b.name });
  }

  /**
   * A file on the host holding `content` (a secret), owner-only, removed when it leaves the stack. Written once the
   * bucket railyard creates is whole (its users' policies, versioning, lock, bucket policy): a dump that starts as
   * soon as its key is there must neither be refused nor land in a bucket not yet versioned or locked.
   */
  private secretFile(name: string, what: string, file: string, content: pulumi.Output<string>, host: Host): pulumi.CustomResource {
    return host.run(
      `${name}-${what}`,
      { create: writeSecretFileCommand(file), stdin: content, triggers: [file], delete: removeSecretFileCommand(file) },
      { parent: this, dependsOn: [host.ready, ...(this.bucket ? [this.bucket] : [])] },
    );
  }
}

/** The credentials files' text: the keys of the bucket railyard created, or those the stack's secrets hold. */
function hostKeys(plan: BackupPlan, bucket: BackupBucket | undefined): { uploader: pulumi.Output<string>; reader?: pulumi.Output<string> } {
  const b = plan.bucket;
  if (b.provider === "aws" && bucket) return { uploader: bucket.credentialsIni("uploader"), reader: bucket.reader && bucket.credentialsIni("reader") };
  if (b.provider === "aws") throw new Error("railyard: an AWS bucket plan without its bucket");
  const ini = (k: KeyPair) => pulumi.secret(pulumi.all([k.accessKeyId, k.secretAccessKey]).apply(([id, secret]) => credentialsIni(id, secret)));
  return { uploader: ini(b.uploader), reader: b.reader && ini(b.reader) };
}

/**
 * A builder's argv as a unit's ExecStart: systemd wants the program as an absolute path. The builders start with
 * `timeout` (coreutils, /usr/bin on Debian); it stays, as a second bound under the unit's TimeoutStartSec.
 */
function forSystemd(argv: string[]): string[] {
  return argv[0] === "timeout" ? ["/usr/bin/timeout", ...argv.slice(1)] : argv;
}
