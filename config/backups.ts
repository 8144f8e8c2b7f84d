/**
 * railyard:backups beyond its shape: the databases it names exist, the secrets it names are in railyard:secrets
 * (and the webhook's is an https URL), a drill has a key that can read, and a freshness query belongs to a SQL
 * database that is backed up. Then the plan the Backups component builds from: schedules as systemd calendars,
 * the keys as secret Outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { cronToOnCalendar } from "../lib/cron";
import { durationMs } from "../lib/units";
import type { ConfigProblem } from "./problems";
import type { BackupsConfig, DatabaseConfig } from "./schema";
import { namedSecretProblem, webhookSecretProblems } from "./webhook";

/** An access key pair, both halves secret. */
export interface KeyPair {
  accessKeyId: pulumi.Output<string>;
  secretAccessKey: pulumi.Output<string>;
}

/** The bucket: created on AWS by railyard, or an existing S3-compatible one with the keys the host uses. */
export type BucketPlan =
  | { provider: "aws"; name: string; region: string; objectLock: boolean }
  | { provider: "s3"; name: string; region: string; endpoint: string; uploader: KeyPair; reader?: KeyPair };

export interface DrillPlan {
  /** systemd OnCalendar expression (UTC). */
  calendar: string;
  maxDumpAgeHours: number;
  freshness: Record<string, { query: string; maxAgeHours: number }>;
}

export interface BackupPlan {
  bucket: BucketPlan;
  /** systemd OnCalendar expressions (UTC), one per cron schedule. */
  calendars: string[];
  retentionDays: number;
  /** The databases backed up (names under railyard:databases). */
  databases: string[];
  preDeployToBucket: boolean;
  /** Seconds one dump may take. */
  timeoutSeconds: number;
  /** A secret Output: the webhook URL failures are posted to. */
  webhook?: pulumi.Output<string>;
  /** Restore drills; undefined when disabled. */
  drill?: DrillPlan;
}

/** Engines whose restored data a SQL freshness query can read. */
const SQL_ENGINES = new Set(["postgres", "mysql"]);

/** The databases a backups config covers: those it names, or every database. */
export function backedUp(backups: BackupsConfig, databases: Record<string, DatabaseConfig>): string[] {
  return backups.databases ?? Object.keys(databases);
}

/**
 * Problems of railyard:backups against the rest of the stack. `databaseNames` holds every database key as
 * written (an entry that failed its own checks is still a name); `secrets` is railyard:secrets as parsed
 * (undefined when it did not parse: its own problem is reported, and secret names are not judged).
 */
export function backupProblems(
  backups: BackupsConfig,
  databaseNames: string[],
  databases: Record<string, DatabaseConfig>,
  secrets: Record<string, string> | undefined,
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const known = new Set(databaseNames);
  if (databaseNames.length === 0) {
    out.push({ path: ["backups"], expected: "databases to back up under railyard:databases", got: "a stack without databases" });
  }
  const seen = new Set<string>();
  (backups.databases ?? []).forEach((name, i) => {
    if (!known.has(name)) out.push({ path: ["backups", "databases", i], expected: "a database under railyard:databases", got: `"${name}"` });
    if (seen.has(name)) out.push({ path: ["backups", "databases", i], expected: "each database once", got: `"${name}" again` });
    seen.add(name);
  });
  const covered = new Set(backedUp(backups, databases));
  for (const name of Object.keys(backups.drill.freshness)) {
    const path = ["backups", "drill", "freshness", name];
    if (!covered.has(name)) out.push({ path, expected: "a database that is backed up", got: `"${name}"` });
    else if (Object.hasOwn(databases, name) && !SQL_ENGINES.has(databases[name].engine)) {
      out.push({ path, expected: "a postgres or mysql database (a SQL freshness query)", got: `a ${databases[name].engine} database` });
    }
  }
  if (backups.bucket.provider === "s3" && backups.drill.enabled && backups.bucket.reader === undefined) {
    out.push({
      path: ["backups", "drill", "enabled"],
      expected: "bucket.reader (a read-only key the host's drills restore with) or drill.enabled: false",
      got: "true without a reader key",
    });
  }
  if (secrets !== undefined) out.push(...secretProblems(backups, secrets));
  return out;
}

/** Each secret the backups config names exists; the webhook's is an https URL (its value never shown). */
function secretProblems(backups: BackupsConfig, secrets: Record<string, string>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const b = backups.bucket;
  if (b.provider === "s3") {
    for (const role of ["uploader", "reader"] as const) {
      const pair = b[role];
      if (pair === undefined) continue;
      for (const half of ["accessKeyIdSecret", "secretAccessKeySecret"] as const) {
        const problem = namedSecretProblem(["backups", "bucket", role, half], pair[half], secrets, true);
        if (problem) out.push(problem);
      }
    }
  }
  if (backups.webhookSecret !== undefined) out.push(...webhookSecretProblems(["backups", "webhookSecret"], backups.webhookSecret, secrets));
  return out;
}

/** The plan of a checked backups config (backupProblems found nothing). */
export function planBackups(
  backups: BackupsConfig,
  databases: Record<string, DatabaseConfig>,
  secrets: Record<string, pulumi.Output<string>>,
): BackupPlan {
  const calendar = (cron: string) => {
    const r = cronToOnCalendar(cron);
    if (!r.ok) throw new Error(`railyard: unchecked schedule ${JSON.stringify(cron)}: expected ${r.problem.expected}`);
    return r.onCalendar;
  };
  const pair = (p: { accessKeyIdSecret: string; secretAccessKeySecret: string }): KeyPair => ({
    accessKeyId: secrets[p.accessKeyIdSecret],
    secretAccessKey: secrets[p.secretAccessKeySecret],
  });
  const b = backups.bucket;
  const bucket: BucketPlan =
    b.provider === "aws"
      ? { provider: "aws", name: b.name, region: b.region, objectLock: b.objectLock }
      : { provider: "s3", name: b.name, region: b.region, endpoint: b.endpoint, uploader: pair(b.uploader), reader: b.reader && pair(b.reader) };
  return {
    bucket,
    calendars: backups.schedules.map(calendar),
    retentionDays: backups.retentionDays,
    databases: backedUp(backups, databases),
    preDeployToBucket: backups.preDeployToBucket,
    timeoutSeconds: Math.ceil(durationMs(backups.timeout) / 1000),
    webhook: backups.webhookSecret === undefined ? undefined : secrets[backups.webhookSecret],
    drill: backups.drill.enabled
      ? { calendar: calendar(backups.drill.schedule), maxDumpAgeHours: backups.drill.maxDumpAgeHours, freshness: backups.drill.freshness }
      : undefined,
  };
}

/** What a stack output may show of the plan: everything but the keys and the webhook's URL. */
export function backupsOutput(plan: BackupPlan): Record<string, unknown> {
  const { bucket, webhook, ...rest } = plan;
  const where = bucket.provider === "aws" ? { ...bucket } : { provider: bucket.provider, name: bucket.name, region: bucket.region, endpoint: bucket.endpoint };
  return { ...rest, bucket: where, webhook: webhook !== undefined };
}
