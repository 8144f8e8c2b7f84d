/**
 * npm run restore -- --stack production --database postgres [--at 2026-11-20] [--list] [--into live --yes] [--keep]
 *
 * Restore by date from the operator's machine: reads Pulumi.<stack>.yaml (non-secret keys only), lists the
 * database's dumps in the backup bucket with the OPERATOR's own AWS credentials (their awscli and environment;
 * never the host's keys), picks the newest complete dump at or before --at, and streams the object
 * (`aws s3 cp s3://… -`) into host/railyard-restore.sh --stdin on the host over ssh (the host key pinned from the
 * stack file, in a temporary known_hosts), or locally for a `mode: local` host. Into a scratch container by
 * default; into the live database only with --into live --yes (the host takes a safety dump to the bucket first,
 * and the object is read once here to check its sha256 before that). Nothing it prints holds a credential.
 *
 * Exit codes: 0 done; 2 bad arguments or stack file; 60 no complete dump at or before --at; 61 listing, manifest
 * or download failed; 255 ssh failed; otherwise railyard-restore.sh's own code (its --help).
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import { asRootCommand } from "../commands/asRoot";
import { restoreCommand, RestoreArgs } from "../commands/restore";
import { databaseNames } from "../config/names";
import { PLUGINS } from "../databases";
import type { Engine } from "../databases/plugin";
import { CliError, hostOf, HostTarget, NAME, obj, readStackFile, ROOT, runMain, runOnHost, scriptPath, str, Yaml } from "./stackHost";

export { knownHostsLine, sshArgv } from "./stackHost";
export type { HostTarget } from "./stackHost";
export { ROOT };

/** A problem the operator can fix: printed as "restore: <message>", exit `code`. */
export class RestoreError extends CliError {}

export interface CliArgs {
  stack: string;
  database: string;
  /** The UTC stamp YYYYmmddTHHMMSSZ (the end of the day for a date); absent: now. */
  at?: string;
  list: boolean;
  into: "scratch" | "live";
  yes: boolean;
  keep: boolean;
}

export const USAGE = `Usage: npm run restore -- --stack STACK --database NAME [--at TIME] [--list] [--into scratch|live] [--yes] [--keep]
  TIME: 2026-11-20 (the end of that UTC day), 2026-11-20T14:30Z or 2026-11-20T14:30:00Z; default now.
  --list               the complete dumps newest first, the one --at picks marked (incomplete ones marked too)
  --into scratch       (default) restore into a throwaway container of the live image on the host, then counts
  --into live --yes    restore into the live database, after a safety dump to the bucket
  --keep               keep the scratch container (its name and how to remove it are printed)`;

/** Parses the command line; a RestoreError (exit 2) names the argument at fault. */
export function parseArgs(argv: string[]): CliArgs {
  const out: Partial<CliArgs> & { list: boolean; yes: boolean; keep: boolean; into: "scratch" | "live" } = { list: false, yes: false, keep: false, into: "scratch" };
  const value = (i: number): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new RestoreError(`${argv[i]} needs a value`, 2);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "--stack":
      case "--database": {
        const v = value(i++);
        if (!NAME.test(v)) throw new RestoreError(`${a} must be a railyard name (a-z, 0-9, inner -, at most 63, starting with a letter), got ${JSON.stringify(v)}`, 2);
        out[a === "--stack" ? "stack" : "database"] = v;
        break;
      }
      case "--at": {
        const v = value(i++);
        const stamp = parseTime(v);
        if (!stamp) throw new RestoreError(`--at must be a UTC date or time: 2026-11-20, 2026-11-20T14:30Z or 2026-11-20T14:30:00Z, got ${JSON.stringify(v)}`, 2);
        out.at = stamp;
        break;
      }
      case "--into": {
        const v = value(i++);
        if (v !== "scratch" && v !== "live") throw new RestoreError(`--into must be scratch or live, got ${JSON.stringify(v)}`, 2);
        out.into = v;
        break;
      }
      case "--list":
        out.list = true;
        break;
      case "--yes":
        out.yes = true;
        break;
      case "--keep":
        out.keep = true;
        break;
      default:
        throw new RestoreError(`unknown argument ${JSON.stringify(a)}\n${USAGE}`, 2);
    }
  }
  if (!out.stack) throw new RestoreError("--stack is required (the stack file Pulumi.<stack>.yaml)", 2);
  if (!out.database) throw new RestoreError("--database is required (a database of railyard:databases)", 2);
  if (out.into === "live" && !out.yes) throw new RestoreError("--into live replaces the live database: add --yes to confirm (a safety dump is taken first)", 2);
  if (out.into === "scratch" && out.yes) throw new RestoreError("--yes goes with --into live", 2);
  if (out.keep && out.into === "live") throw new RestoreError("--keep goes with --into scratch", 2);
  if (out.list && (out.into === "live" || out.keep)) throw new RestoreError("--list only lists: it takes no --into or --keep", 2);
  return out as CliArgs;
}

/** TIME as a key's stamp YYYYmmddTHHMMSSZ (a date means the end of that UTC day); undefined when it is not one. */
export function parseTime(t: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?Z)?$/.exec(t);
  if (!m) return undefined;
  const [, y, mo, d, h = "23", mi = "59", s = m[4] === undefined ? "59" : "00"] = m;
  const date = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
  // Date.UTC rolls 2026-02-30 over to March: a date that does not come back as written does not exist.
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}Z`;
  if (Number.isNaN(date.getTime()) || date.toISOString().replace(".000", "") !== iso) return undefined;
  return `${y}${mo}${d}T${h}${mi}${s}Z`;
}

export function stampNow(now = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
}

export function stampIso(stamp: string): string {
  return `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`;
}

// ---- the stack file ----

export interface Bucket {
  name: string;
  endpoint?: string;
  region?: string;
}

export interface StackInfo {
  prefix: string;
  host: HostTarget;
  bucket: Bucket;
  /** The database's engine, user and database name, and its Swarm service. */
  engine: Engine;
  user: string;
  dbName: string;
  service: string;
}

/** The backup bucket as railyard:backups names it (only its non-secret keys: name, endpoint, region). */
export function bucketOf(backups: unknown, stack: string): Bucket {
  const bucket = obj(obj(backups)?.bucket);
  const name = str(bucket?.name);
  if (!bucket || !name) throw new RestoreError(`Pulumi.${stack}.yaml: railyard:backups.bucket.name is not set: this stack has no backup bucket`, 2);
  return { name, endpoint: str(bucket.endpoint), region: str(bucket.region) };
}

/** Reads what the restore needs from the stack file's config (a parsed Pulumi.<stack>.yaml's `config`). */
export function stackInfo(config: Yaml, stack: string, database: string): StackInfo {
  const where = `Pulumi.${stack}.yaml`;
  const { prefix, host: target } = hostOf(config, stack);
  const db = obj(obj(config["railyard:databases"])?.[database]);
  if (!db) throw new RestoreError(`${where}: railyard:databases has no database named ${JSON.stringify(database)}`, 2);
  const engine = str(db.engine) as Engine | undefined;
  if (!engine || !(engine in PLUGINS)) throw new RestoreError(`${where}: railyard:databases.${database}.engine is not postgres, mysql, mongo or redis`, 2);
  const plugin = PLUGINS[engine];
  return {
    prefix,
    host: target,
    bucket: bucketOf(config["railyard:backups"], stack),
    engine,
    user: str(db.user) ?? plugin.defaultUser,
    dbName: str(db.database) ?? plugin.defaultDatabase,
    service: databaseNames(prefix, database).swarm,
  };
}

export function readStack(stack: string, database: string, root = ROOT): StackInfo {
  return stackInfo(readStackFile(stack, root).config, stack, database);
}

// ---- the bucket: listing and the pick ----

export const EXT: Record<Engine, string> = { postgres: "dump", mysql: "sql", mongo: "archive", redis: "rdb" };

export interface Listed {
  key: string;
  size: number;
}

export interface Pick {
  /** Complete dumps (with a manifest), newest first. */
  complete: Listed[];
  /** Dump objects without a manifest: never restored. */
  incomplete: Listed[];
  picked?: Listed;
}

const stampOf = (key: string) => /\/(\d{8}T\d{6}Z)\.[a-z]+\.zst$/.exec(key)?.[1] ?? "";

/** Sorts the prefix's objects into complete and incomplete dumps of `ext`, and picks the newest complete at or before `at`. */
export function pickDump(objects: Listed[], prefix: string, ext: string, at: string): Pick {
  const dumpKey = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/\\d{8}T\\d{6}Z\\.${ext}\\.zst$`);
  const manifests = new Set(objects.filter((o) => o.key.endsWith(".json")).map((o) => o.key.slice(0, -".json".length)));
  const dumps = objects.filter((o) => dumpKey.test(o.key)).sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  const complete = dumps.filter((d) => manifests.has(d.key));
  const incomplete = dumps.filter((d) => !manifests.has(d.key));
  return { complete, incomplete, picked: complete.find((d) => stampOf(d.key) <= at) };
}

export function formatList(p: Pick, at: string): string {
  const rows = [`  ${"TIME".padEnd(20)} ${"BYTES".padStart(14)}  KEY`];
  for (const d of p.complete) rows.push(`${d === p.picked ? "*" : " "} ${stampIso(stampOf(d.key)).padEnd(20)} ${String(d.size).padStart(14)}  ${d.key}`);
  for (const d of p.incomplete) rows.push(`  ${stampIso(stampOf(d.key)).padEnd(20)} ${"incomplete".padStart(14)}  ${d.key} (no manifest: never restored)`);
  rows.push(p.picked ? `* the newest complete dump at or before ${stampIso(at)}` : `no complete dump at or before ${stampIso(at)}`);
  return rows.join("\n");
}

// ---- command lines ----

/** `aws` with the operator's own credentials (their environment) and the bucket's endpoint and region. */
export function awsArgv(bucket: Bucket, args: string[]): string[] {
  return ["aws", ...(bucket.endpoint ? ["--endpoint-url", bucket.endpoint] : []), ...(bucket.region ? ["--region", bucket.region] : []), ...args];
}

export function listArgv(bucket: Bucket, prefix: string): string[] {
  return awsArgv(bucket, ["s3api", "list-objects-v2", "--bucket", bucket.name, "--prefix", `${prefix}/`, "--output", "json"]);
}

export function downloadArgv(bucket: Bucket, key: string): string[] {
  return awsArgv(bucket, ["s3", "cp", "--quiet", `s3://${bucket.name}/${key}`, "-"]);
}

/** Seconds the host's restore may take (a large dump's download, restore and counts). */
export const RESTORE_TIMEOUT_S = 6 * 3600;

/** The host's railyard-restore.sh line, reading the object on stdin. */
export function hostRestoreCommand(info: StackInfo, database: string, cli: CliArgs, key: string, sha256: string, scriptPath: string): string {
  const stackDir = `${info.host.dataDir}/${info.prefix}`;
  const args: RestoreArgs = {
    service: info.service,
    engine: info.engine,
    user: info.user,
    database: info.dbName,
    source: {
      from: "stdin", key, sha256,
      ...(cli.into === "live" ? { s3: { bucket: info.bucket.name, prefix: `${info.prefix}/${database}`, endpoint: info.bucket.endpoint, region: info.bucket.region } } : {}),
    },
    into: cli.into,
    ...(cli.into === "live" ? { safetyCredentials: `${stackDir}/secrets/backup-uploader.ini` } : {}),
    keep: cli.keep,
    timeoutSeconds: RESTORE_TIMEOUT_S,
  };
  // As root (through sudo for a non-root SSH user): a live restore's safety dump reads the uploader's key, which
  // is root's alone; the stream on stdin passes through.
  return asRootCommand(`the restore of ${database}`, restoreCommand(scriptPath, args));
}

// ---- running ----

function awsJson(argv: string[], what: string): unknown {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new RestoreError(`${what} failed (${argv.slice(0, 4).join(" ")} …): ${(r.stderr || r.error?.message || "").trim().split("\n").slice(-3).join(" ")}`, 61);
  return r.stdout.trim() === "" ? {} : JSON.parse(r.stdout);
}

export function listBucket(bucket: Bucket, prefix: string): Listed[] {
  const out = obj(awsJson(listArgv(bucket, prefix), `listing s3://${bucket.name}/${prefix}/`));
  const contents = Array.isArray(out?.Contents) ? out.Contents : [];
  return contents.flatMap((c: unknown) => {
    const o = obj(c);
    return typeof o?.Key === "string" && typeof o.Size === "number" ? [{ key: o.Key, size: o.Size }] : [];
  });
}

export function readManifest(bucket: Bucket, d: Listed): { sha256: string } {
  const m = obj(awsJson(downloadArgv(bucket, `${d.key}.json`), `reading the manifest ${d.key}.json`));
  if (m?.key !== d.key) throw new RestoreError(`the manifest ${d.key}.json does not name ${d.key}`, 61);
  if (typeof m.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(m.sha256)) throw new RestoreError(`the manifest ${d.key}.json has no sha256`, 61);
  if (m.bytes !== d.size) throw new RestoreError(`${d.key} is ${d.size} bytes in the bucket, its manifest says ${JSON.stringify(m.bytes)}`, 61);
  return { sha256: m.sha256 };
}

const exited = (p: ChildProcess): Promise<number> => new Promise((resolve) => p.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1))));

/** Reads the object once and checks its sha256 (before a live restore touches anything). */
async function verifyObject(bucket: Bucket, key: string, sha256: string): Promise<void> {
  const argv = downloadArgv(bucket, key);
  const dl = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  const hash = crypto.createHash("sha256");
  dl.stdout?.on("data", (c: Buffer) => hash.update(c));
  if ((await exited(dl)) !== 0) throw new RestoreError(`the download of ${key} failed`, 61);
  const got = hash.digest("hex");
  if (got !== sha256) throw new RestoreError(`the sha256 of ${key} is ${got}, its manifest says ${sha256}: the object is corrupt (live untouched)`, 61);
}

/** Streams the object into the host's restore (ssh, or bash here for a local host); resolves to its exit code. */
async function streamRestore(info: StackInfo, bucket: Bucket, key: string, remote: (scriptPath: string) => string): Promise<number> {
  const script = scriptPath({ stack: "", prefix: info.prefix, host: info.host, stackDir: `${info.host.dataDir}/${info.prefix}` }, "railyard-restore.sh");
  const argv = downloadArgv(bucket, key);
  const dl = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  const down = exited(dl);
  if (!dl.stdout) throw new RestoreError(`the download of ${key} did not start`, 61);
  // The host may stop reading early (a refused argument, a failed restore): the download then stops too.
  const { code: status } = await runOnHost(info.host, remote(script), { stdin: dl.stdout });
  if (dl.exitCode === null) dl.kill();
  if (status === 0 && (await down) !== 0) throw new RestoreError(`the download of ${key} failed`, 61);
  return status;
}

/** The command: `root` holds the stack files (this checkout). */
export async function main(argv: string[], root = ROOT): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const cli = parseArgs(argv);
  const info = readStack(cli.stack, cli.database, root);
  const prefix = `${info.prefix}/${cli.database}`;
  const at = cli.at ?? stampNow();
  const pick = pickDump(listBucket(info.bucket, prefix), prefix, EXT[info.engine], at);
  if (cli.list) {
    console.log(formatList(pick, at));
    return 0;
  }
  const d = pick.picked;
  if (!d) throw new RestoreError(`no complete dump at or before ${stampIso(at)} under s3://${info.bucket.name}/${prefix}/ (--list shows what there is)`, 60);
  const { sha256 } = readManifest(info.bucket, d);
  console.error(`restore: ${d.key} (${d.size} bytes) into ${cli.into === "live" ? `the live ${info.service}` : "a scratch container"} on ${info.host.mode === "local" ? "this machine" : info.host.address}`);
  if (cli.into === "live") await verifyObject(info.bucket, d.key, sha256);
  return streamRestore(info, info.bucket, d.key, (script) => hostRestoreCommand(info, cli.database, cli, d.key, sha256, script));
}

if (require.main === module) runMain("restore", () => main(process.argv.slice(2)));
