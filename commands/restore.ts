/**
 * Command builders for host/railyard-restore.sh and host/railyard-drill.sh (Kamal style: one shell line each,
 * `timeout` included, every value one quoted word). The drill runs on the host on a schedule; the restore runs by
 * hand on the host or from the operator's machine (`npm run restore`), which streams the object to `--stdin`.
 */
import type { Engine } from "../databases/plugin";
import { shellJoin } from "../lib/shell";

/** The live database, as railyard-backup.sh names it. */
export interface LiveDatabase {
  /** Swarm service name of the database, e.g. "production-postgres". */
  service: string;
  engine: Engine;
  user: string;
  database: string;
}

/** The common S3 options of the bucket scripts (railyard-s3.sh). */
export interface S3Options {
  bucket: string;
  /** STACK/DATABASE, e.g. "production/postgres". */
  prefix: string;
  /** Absolute path of an AWS shared-credentials file on the host (owner-only). */
  credentials: string;
  /** An S3-compatible store's URL (MinIO, R2, B2); absent for AWS. */
  endpoint?: string;
  /** @default "us-east-1" (the script's default when absent) */
  region?: string;
}

/** Where the dump comes from: the bucket (newest complete at or before `at`, or `key`), or stdin. */
export type RestoreSource =
  | { from: "bucket"; s3: S3Options; at?: string; key?: string }
  | { from: "stdin"; key: string; sha256: string; s3?: Omit<S3Options, "credentials"> };

export interface RestoreArgs extends LiveDatabase {
  source: RestoreSource;
  /** @default "scratch" */
  into?: "scratch" | "live";
  /** Live only: the dump taken first, into the bucket with this put-only key (under the source's prefix)… */
  safetyCredentials?: string;
  /** …or into this folder on the host. */
  safetyDir?: string;
  keep?: boolean;
  check?: boolean;
  json?: boolean;
  freshness?: { query: string; maxAgeSeconds: number };
  /** Seconds the whole restore may take. */
  timeoutSeconds: number;
}

/** The drill's arguments, flat (the schedule spreads the bucket's target into them). */
export interface DrillArgs extends LiveDatabase, S3Options {
  /** `<stackDir>/state`: drill-<database>.json is recorded there. */
  stateDir: string;
  /** Owner-only file holding the failure webhook's URL. */
  webhookFile?: string;
  /** The drill fails when the newest complete dump is older (its RPO). */
  maxDumpAgeHours?: number;
  /** SQL returning one timestamp (postgres, mysql), at most `freshnessMaxAgeHours` old in the restored copy. */
  freshnessQuery?: string;
  freshnessMaxAgeHours?: number;
  timeoutSeconds: number;
}

function s3Words(s: Partial<S3Options>): string[] {
  return [
    ...(s.bucket !== undefined ? ["--bucket", s.bucket] : []),
    ...(s.prefix !== undefined ? ["--prefix", s.prefix] : []),
    ...(s.credentials !== undefined ? ["--credentials", s.credentials] : []),
    ...(s.endpoint !== undefined ? ["--endpoint", s.endpoint] : []),
    ...(s.region !== undefined ? ["--region", s.region] : []),
  ];
}

const liveWords = (d: LiveDatabase) => ["--service", d.service, "--engine", d.engine, "--user", d.user, "--database", d.database];
const freshnessWords = (f?: { query: string; maxAgeSeconds: number }) => (f ? ["--freshness-query", f.query, "--max-age", String(f.maxAgeSeconds)] : []);

/** The arguments of railyard-restore.sh (after the script's path). */
export function restoreArgv(a: RestoreArgs): string[] {
  const src = a.source;
  const source =
    src.from === "bucket"
      ? [...s3Words(src.s3), ...(src.at !== undefined ? ["--at", src.at] : []), ...(src.key !== undefined ? ["--key", src.key] : [])]
      : ["--stdin", "--key", src.key, "--sha256", src.sha256, ...s3Words(src.s3 ?? {})];
  const into = a.into ?? "scratch";
  return [
    ...liveWords(a),
    ...source,
    "--into", into,
    ...(into === "live" ? ["--yes"] : []),
    ...(a.safetyCredentials !== undefined ? ["--safety-credentials", a.safetyCredentials] : []),
    ...(a.safetyDir !== undefined ? ["--safety-dir", a.safetyDir] : []),
    ...(a.keep ? ["--keep"] : []),
    ...(a.check ? ["--check"] : []),
    ...freshnessWords(a.freshness),
    ...(a.json ? ["--json"] : []),
  ];
}

/**
 * Runs railyard-restore.sh at `scriptPath`, bounded by `timeout`. `--into live` carries `--yes`: a builder is
 * only called for live by code that asked the operator (npm run restore's own --into live --yes).
 */
export function restoreCommand(scriptPath: string, a: RestoreArgs): string {
  return shellJoin(["timeout", String(a.timeoutSeconds), "bash", scriptPath, ...restoreArgv(a)]);
}

const hours = (h: number) => String(Math.round(h * 3600));

/** The whole argv of the scheduled drill (a systemd unit's ExecStart), `timeout` first. */
export function drillArgv(scriptPath: string, a: DrillArgs): string[] {
  if ((a.freshnessQuery === undefined) !== (a.freshnessMaxAgeHours === undefined)) {
    throw new Error("railyard: a drill's freshness query and its maximum age go together");
  }
  return [
    "timeout", String(a.timeoutSeconds),
    "bash", scriptPath,
    ...liveWords(a),
    ...s3Words(a),
    "--state-dir", a.stateDir,
    ...(a.webhookFile !== undefined ? ["--webhook-file", a.webhookFile] : []),
    ...(a.maxDumpAgeHours !== undefined ? ["--max-dump-age", hours(a.maxDumpAgeHours)] : []),
    ...(a.freshnessQuery !== undefined && a.freshnessMaxAgeHours !== undefined
      ? ["--freshness-query", a.freshnessQuery, "--max-age", hours(a.freshnessMaxAgeHours)]
      : []),
  ];
}

/** Runs railyard-drill.sh at `scriptPath` (by hand, or over SSH), bounded by `timeout`. */
export function drillCommand(scriptPath: string, a: DrillArgs): string {
  return shellJoin(drillArgv(scriptPath, a));
}
