/**
 * Backup benchmark (issue 12): a generated Postgres database of about 1 GB (quick: 100 MB) streamed to an
 * S3-compatible server on loopback by host/railyard-backup.sh's bucket mode, against a raw dump of the same
 * database in the same run, then restored, with the largest temp file seen while the backup ran.
 *   database: the dev stack's postgres (databases only, as test/engine/backup.test.ts deploys it), prefix ryx;
 *     two tables generated server-side (`insert … select generate_series`) from md5 strings, a small
 *     vocabulary of words, numbers and timestamps: text that compresses like an application's rows (the ratio
 *     is printed), with a primary key on each and an index; `bytes` is pg_database_size.
 *   baseline (raw_s): `pg_dump` (plain format) inside the task through the same `docker exec` path, its output
 *     thrown away on the host (> /dev/null).
 *   railyard (railyard_s): railyard-backup.sh --bucket … at its default level (pg_dump --format=custom
 *     --compress=0 | zstd | sha256 | aws s3 cp -, then the manifest) to test/engine/s3.ts's s3rver; ratio =
 *     railyard_s / raw_s. Alternated with the baseline, each 5 times (quick: 3), the medians taken (every time
 *     printed), a host `sync` before each timed run (the generation's and s3rver's writes not in the way). Full
 *     mode also times a custom-format pg_dump > /dev/null and the script at --level 3 (where a difference comes
 *     from).
 *     No --state-dir: the small state record written after the upload is not part of the measured run.
 *   restore (restore_s): railyard-restore.sh --key … --into scratch --check --json of the last object (download,
 *     sha256 and zstd checks, pg_restore in a throwaway container of the live image); its row counts, and then
 *     each table's count and row checksum read in the kept scratch container, must equal the database's (else
 *     the benchmark fails: no figures). The scratch container is removed after.
 *   peak_temp_bytes: the largest temp file of the backup (0 when none). What is watched, every 100 ms while the
 *     run goes on (the same watch runs during the baseline, so both carry its overhead):
 *     - the open files of the run's processes: those started since the run began that descend from the process
 *       the benchmark spawned (the script, docker's CLI, zstd, sha256sum, aws) or that docker exec started in the
 *       Postgres task's PID namespace (pg_dump), read from /proc/<pid>/fd — anywhere on the host or in the
 *       container, removed-but-open files too. The server's own processes (the backend serving the dump) are
 *       the database's, like its data files (a new backend may write its relcache file pg_internal.init): their
 *       files do not count; their CPU is shown with the run's, by command (and s3rver's: it shares the 2 cores);
 *     - the files created since the run began directly in /tmp and /var/tmp (where mktemp puts them; their whole
 *       trees would take an inotify watch per folder, and a machine whose /tmp holds checkouts with node_modules
 *       runs out of watches), and anywhere under the stack's folder (the host dataDir + prefix:
 *       /tmp/railyard-engine/ryx here) and the Postgres task container's writable layer (docker inspect
 *       GraphDriver.Data.UpperDir), recursively, through inotify (Node's fs.watch), each lstat-ed at every sample;
 *       s3rver's folder (the remote) is not watched. A temp file deeper in /tmp is still seen while the run holds
 *       it open (above).
 *     A regular file born after the start (statx birth time, else ctime) counts as the run's when one of the
 *     run's processes held it open at a sample; new files nobody of the run held open are other processes'
 *     (this machine is shared: tests beside it, runc's per-exec file) and are printed apart with their paths.
 *     Not seen: a file the run writes and closes within one sample and never opens again (then it is printed
 *     among the others). Each run first checks the watch on control files (a 1 MiB host file the run holds, a
 *     2 MiB removed-but-open file in the task, 512 KiB written meanwhile by the benchmark itself: someone else's).
 *   compression (full mode only; quick skips it and says so): the same custom-format dump piped through none,
 *     gzip -1, zstd -1 -T0 and zstd -3 -T0 into a byte count: wall seconds, the compressor's CPU seconds and
 *     the compressed bytes, side by side.
 * Never a timing assert: the outcome is checked (exit codes, the object, row counts), the figures are printed.
 */
import { ChildProcess, execFile, execFileSync, spawn, SpawnOptions } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ROOT, runStack } from "../test/harness";
import { applyStack, teardown } from "../test/engine/apply";
import { onLocalEngine, runningContainer } from "../test/engine/probe";
import { S3Server, startS3 } from "../test/engine/s3";
import { images, MODE, QUICK } from "./release";

const PREFIX = "ryx";
const NET = `${PREFIX}-net`;
const SERVICE = `${PREFIX}-postgres`;
const TARGET_BYTES = (QUICK ? 100 : 1024) * 1024 * 1024;
const CUSTOMERS = QUICK ? 20_000 : 200_000;
const BATCH = QUICK ? 100_000 : 500_000;
const SAMPLE_MS = 100;
const RUNS = QUICK ? 3 : 5;
const BACKUP = path.join(ROOT, "host", "railyard-backup.sh");
const RESTORE = path.join(ROOT, "host", "railyard-restore.sh");
const execFileAsync = promisify(execFile);

const PASSWORD = "/run/secrets/railyard_db_password";
/** pg_dump inside the task as the app user (the password from its Swarm secret); extra args for the format. */
const pgDump = (format: string) => ["sh", "-c", `PGPASSWORD="$(cat ${PASSWORD})" exec pg_dump -h 127.0.0.1 -U app -d app ${format}`];

let s3: S3Server;
let watch: TempWatch;
let container = "";

/** Runs SQL in the Postgres task as the app user; the rows as text (psql -tA). */
async function psql(database: string, sql: string): Promise<string> {
  const script = `PGPASSWORD="$(cat ${PASSWORD})" psql -h 127.0.0.1 -U app -d "$0" -v ON_ERROR_STOP=1 -tAc "$1"`;
  const r = await execFileAsync("docker", ["exec", container, "sh", "-c", script, database, sql], { maxBuffer: 16 * 1024 * 1024 });
  return r.stdout.trim();
}

/** Waits for a child; rejects with its stderr when it exits non-zero. */
function finished(child: ChildProcess, what: string): Promise<string> {
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => (code === 0 ? resolve(out) : reject(new Error(`${what} exited ${code ?? signal}: ${err.slice(-2000)}`))));
  });
}

/** Spawns a process of the measured run (the temp-file watch follows it and its descendants). */
function spawnRun(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, options);
  watch.track(child.pid);
  return child;
}

/** Seconds a promise took, and its value. */
async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const began = process.hrtime.bigint();
  const value = await work();
  return { seconds: Number(process.hrtime.bigint() - began) / 1e9, value };
}

const WORDS = [
  "invoice", "shipped", "pending", "customer", "refund", "delivery", "warehouse", "priority", "express", "standard",
  "returned", "backorder", "paid", "card", "transfer", "discount", "coupon", "review", "address", "updated",
  "cancelled", "confirmed", "gift", "wrapped",
];
const words = `array[${WORDS.map((w) => `'${w}'`).join(",")}]`;

/** Generates the database server-side until pg_database_size reaches the target; returns its size. */
async function generate(): Promise<number> {
  await psql("app", "create table customers (id bigint not null, name text not null, email text not null, city text not null, created_at timestamptz not null)");
  await psql("app", "create table events (id bigint not null, customer_id bigint not null, kind text not null, payload text not null, amount numeric(12,2) not null, at timestamptz not null)");
  await psql(
    "app",
    `insert into customers select g, initcap(w[1 + g % 24]) || ' ' || initcap(w[1 + (g * 7) % 24]) || ' ' || g,
       'user' || g || '@example.com', (array['Berlin','Lisbon','Austin','Osaka','Lagos','Lima','Oslo'])[1 + g % 7],
       timestamptz '2024-01-01' + g * interval '13 minutes'
     from generate_series(1::bigint, ${CUSTOMERS}) g, (select ${words} w) v`,
  );
  // Leave room for the indexes (built after the data, as a restore builds them).
  let next = 1;
  while (Number(await psql("app", "select pg_database_size(current_database())")) < TARGET_BYTES * 0.8) {
    await psql(
      "app",
      `insert into events select g, 1 + (g * 7919) % ${CUSTOMERS},
         (array['order.created','order.paid','order.shipped','invoice.sent','login','password.reset','cart.updated','refund.issued'])[1 + g % 8],
         '{"ref":"' || md5(g::text) || '","sku":"SKU-' || lpad((g % 9973)::text, 5, '0') || '","qty":' || (1 + g % 17)
           || ',"note":"' || w[1 + (g * 31) % 24] || ' ' || w[1 + (g * 17) % 24] || ' ' || w[1 + (random() * 23)::int]
           || '","seen":"' || (timestamptz '2025-01-01' + (random() * 31536000) * interval '1 second') || '"}',
         round((random() * 2000)::numeric, 2), timestamptz '2025-01-01' + g * interval '7 seconds'
       from generate_series(${next}::bigint, ${next + BATCH - 1}) g, (select ${words} w) v`,
    );
    next += BATCH;
  }
  await psql("app", "alter table customers add primary key (id)");
  await psql("app", "alter table events add primary key (id)");
  await psql("app", "create index events_customer on events (customer_id, at)");
  await psql("app", "vacuum (analyze, parallel 0)"); // no parallel workers: the task's /dev/shm is small
  // Vacuumed and analysed: no autovacuum pass on 1 GB while the runs are timed.
  await psql("app", "alter table customers set (autovacuum_enabled = false); alter table events set (autovacuum_enabled = false)");
  await psql("app", "checkpoint").catch(() => undefined); // a superuser's command: settles the writes before timing
  return Number(await psql("app", "select pg_database_size(current_database())"));
}

/** Each table's exact row count and a checksum of its rows (sum of hashtext of each row's text). */
const COUNTS =
  "select 'public.customers=' || count(*) || ':' || coalesce(sum(hashtext(c::text)::bigint), 0) from customers c " +
  "union all select 'public.events=' || count(*) || ':' || coalesce(sum(hashtext(e::text)::bigint), 0) from events e";
/** COUNTS' rows as { table: rows }. */
const rowCounts = (counts: string) => Object.fromEntries(counts.split("\n").map((l) => [l.split("=")[0], Number(l.split("=")[1].split(":")[0])]));

interface TempFiles {
  peak: number;
  largest: string;
  files: number;
  othersPeak: number;
  others: string;
  samples: number;
  /** CPU seconds by command (sampled every SAMPLE_MS: the last tenth of a second of each process may be missed). */
  cpu: string;
}
interface Proc {
  parent: number;
  start: number;
  cpu: number;
  comm: string;
}
interface Run<T> {
  seconds: number;
  value: T;
  temp: TempFiles;
}
interface Seen {
  name: string;
  size: number;
}
const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat's start times are in these

/**
 * The temp files of a run (see the header): every SAMPLE_MS, (1) the open files of the run's processes — the
 * processes started since `begin` that descend from the ones given to `track`, or that docker exec started in
 * the Postgres container's PID namespace (the dump tool; not the server's backends) — and (2) the files
 * the inotify watch saw created under the watched folders since `begin`. A regular file counts when it was born
 * after `begin` (statx birth time, else ctime); it is the run's own when one of the run's processes held it open at a sample
 * (deleted-but-open files too), anyone's else otherwise (reported apart, with its path).
 */
class TempWatch {
  private watchers: fs.FSWatcher[] = [];
  private created = new Set<string>();
  private since = Number.POSITIVE_INFINITY;
  private sinceTicks = Number.POSITIVE_INFINITY;
  private tracked = new Set<number>();
  private ours = new Map<string, Seen>(); // by device:inode
  private others = new Map<string, Seen>();
  private timer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  private samples = 0;
  private cpu = new Map<number, { name: string; ticks: number }>();
  /** s3rver's processes (the remote) and their CPU ticks at begin. */
  private remoteCpu = new Map<number, number>();

  constructor(
    readonly roots: { path: string; recursive: boolean }[],
    private readonly excluded: string[],
    private readonly containerNs: string,
    private readonly remotePids: number[],
  ) {
    for (const root of roots) this.watchers.push(this.watchRoot(root.path, root.recursive));
  }

  private watchRoot(root: string, recursive: boolean): fs.FSWatcher {
    for (let attempt = 1; ; attempt++) {
      try {
        const w = fs.watch(root, { recursive, persistent: false }, (event, name) => {
          if (event !== "rename" || !name || Date.now() < this.since) return;
          const full = path.join(root, name.toString());
          if (!this.excluded.some((x) => full === x || full.startsWith(`${x}/`))) this.created.add(full);
        });
        w.on("error", (e) => (this.failure ??= e));
        return w;
      } catch (e) {
        // A folder removed while the watch walks the tree (other processes use /tmp): walk again.
        if (attempt === 3) throw e;
      }
    }
  }

  begin(): void {
    this.created.clear();
    this.tracked.clear();
    this.ours.clear();
    this.others.clear();
    this.cpu.clear();
    this.samples = 0;
    const all = TempWatch.table();
    this.remoteCpu = new Map(this.remotePids.map((pid) => [pid, all.get(pid)?.cpu ?? 0]));
    this.sinceTicks = Math.floor(Number(fs.readFileSync("/proc/uptime", "utf8").split(" ")[0]) * CLOCK_TICKS) - 1;
    this.since = Date.now();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  /** A process of the run (its descendants are too). */
  track(pid: number | undefined): void {
    if (pid) this.tracked.add(pid);
  }

  /** A regular file born since begin (by its birth time; where the file system kept none, its ctime). */
  private born(s: fs.Stats): boolean {
    return s.isFile() && (s.birthtimeMs > 0 ? s.birthtimeMs : s.ctimeMs) >= this.since - 5;
  }

  private static note(map: Map<string, Seen>, key: string, name: string, size: number): void {
    map.set(key, { name, size: Math.max(size, map.get(key)?.size ?? 0) });
  }

  /** Every process now: parent, start (clock ticks since boot), CPU ticks (user + system), command name. */
  private static table(): Map<number, Proc> {
    const all = new Map<number, Proc>();
    for (const entry of fs.readdirSync("/proc")) {
      if (!/^[0-9]+$/.test(entry)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // from field 3 (state) on
        all.set(Number(entry), {
          parent: Number(fields[1]),
          start: Number(fields[19]),
          cpu: Number(fields[11]) + Number(fields[12]),
          comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
        });
      } catch {
        // exited
      }
    }
    return all;
  }

  private inContainer(pid: number): boolean {
    try {
      return fs.readlinkSync(`/proc/${pid}/ns/pid`) === this.containerNs;
    } catch {
      return false;
    }
  }

  /**
   * The run's processes now (started since begin): descendants of a tracked process, and the processes docker
   * exec started in the task (the topmost one of their line inside the task's PID namespace started since
   * begin); and the task's server processes started since begin (the backend serving the dump: the database's
   * own, counted for CPU only).
   */
  private processes(all: Map<number, Proc>): { ours: number[]; server: number[] } {
    const ours: number[] = [];
    const server: number[] = [];
    for (const [pid, proc] of all) {
      if (proc.start < this.sinceTicks) continue;
      let p: number | undefined = pid;
      while (p !== undefined && !this.tracked.has(p)) p = all.get(p)?.parent;
      if (p !== undefined) {
        ours.push(pid);
        continue;
      }
      if (!this.inContainer(pid)) continue;
      let top = pid;
      while (all.has(all.get(top)?.parent ?? -1) && this.inContainer(all.get(top)?.parent ?? -1)) top = all.get(top)?.parent ?? top;
      ((all.get(top)?.start ?? 0) >= this.sinceTicks ? ours : server).push(pid);
    }
    return { ours, server };
  }

  private noteCpu(pid: number, name: string, ticks: number): void {
    this.cpu.set(pid, { name, ticks: Math.max(ticks, this.cpu.get(pid)?.ticks ?? 0) });
  }

  private sample(): void {
    this.samples++;
    const all = TempWatch.table();
    const { ours, server } = this.processes(all);
    for (const pid of ours) this.noteCpu(pid, all.get(pid)?.comm ?? "?", all.get(pid)?.cpu ?? 0);
    for (const pid of server) this.noteCpu(pid, "postgres server", all.get(pid)?.cpu ?? 0);
    for (const [pid, before] of this.remoteCpu) this.noteCpu(pid, "s3rver", (all.get(pid)?.cpu ?? before) - before);
    for (const pid of ours) {
      let fds: string[] = [];
      try {
        fds = fs.readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          const s = fs.statSync(`/proc/${pid}/fd/${fd}`);
          if (this.born(s)) TempWatch.note(this.ours, `${s.dev}:${s.ino}`, fs.readlinkSync(`/proc/${pid}/fd/${fd}`), s.size);
        } catch {
          // closed meanwhile
        }
      }
    }
    for (const file of this.created) {
      try {
        const s = fs.lstatSync(file);
        if (!this.born(s)) continue;
        const key = `${s.dev}:${s.ino}`;
        TempWatch.note(this.ours.has(key) ? this.ours : this.others, key, file, s.size);
      } catch {
        // gone again
      }
    }
  }

  /** The largest file of the run (0 when none) with the largest (up to 3) as "path bytes", and the others'. */
  end(): TempFiles {
    clearInterval(this.timer);
    this.sample();
    this.since = Number.POSITIVE_INFINITY;
    if (this.failure) throw new Error(`the temp-file watch failed: ${this.failure.message}`);
    for (const key of this.ours.keys()) this.others.delete(key);
    const top = (m: Map<string, Seen>) => [...m.values()].sort((a, b) => b.size - a.size);
    const list = (seen: Seen[]) => seen.slice(0, 3).map((f) => `${f.name} ${f.size}`).join(", ");
    const ours = top(this.ours);
    const others = top(this.others);
    const cpu = new Map<string, number>();
    for (const { name, ticks } of this.cpu.values()) cpu.set(name, (cpu.get(name) ?? 0) + ticks / CLOCK_TICKS);
    const total = [...cpu.values()].reduce((a, b) => a + b, 0);
    const byCommand = [...cpu].sort((a, b) => b[1] - a[1]).filter(([, sec]) => sec >= 0.05).map(([name, sec]) => `${name} ${sec.toFixed(1)}`);
    const cpuText = `${total.toFixed(1)} (${byCommand.join(", ")})`;
    return { peak: ours[0]?.size ?? 0, largest: list(ours), files: ours.length, othersPeak: others[0]?.size ?? 0, others: list(others), samples: this.samples, cpu: cpuText };
  }

  close(): void {
    clearInterval(this.timer);
    for (const w of this.watchers) w.close();
  }
}

const s3Args = () => ["--bucket", s3.bucket, "--prefix", `${PREFIX}/postgres`, "--credentials", s3.credentialsFile, "--endpoint", s3.endpoint];
const live = ["--service", SERVICE, "--engine", "postgres", "--user", "app", "--database", "app"];

/** railyard's backup: the host script in bucket mode (its default level unless given); prints the object's key. */
async function railyardBackup(extra: string[] = []): Promise<string> {
  const out = await finished(spawnRun("bash", [BACKUP, ...live, ...s3Args(), ...extra], { env: s3.env, stdio: ["ignore", "pipe", "pipe"] }), "railyard-backup.sh");
  return out.trim().split("\n").pop() ?? "";
}

/** The raw baseline: plain pg_dump (or the given format) through the same docker exec path, output thrown away. */
async function rawDump(format = ""): Promise<void> {
  const devNull = fs.openSync("/dev/null", "w");
  try {
    await finished(spawnRun("docker", ["exec", container, ...pgDump(format)], { stdio: ["ignore", devNull, "pipe"] }), "pg_dump");
  } finally {
    fs.closeSync(devNull);
  }
}

/** A run of `work` under the temp-file watch: its seconds, value and temp files. */
async function watched<T>(work: () => Promise<T>): Promise<Run<T>> {
  watch.begin();
  let r: { seconds: number; value: T };
  try {
    r = await timed(work);
  } catch (e) {
    try {
      watch.end();
    } catch {
      // the run's own failure is the one to report
    }
    throw e;
  }
  return { ...r, temp: watch.end() };
}

/** The control run (bash -c, $0 the container): the host file, then the task's deleted-but-open one. */
const CONTROL = [
  'f=$(mktemp /tmp/ryx-control.XXXXXX); exec 3>"$f"; head -c 1048576 /dev/zero >&3; sleep 0.5; exec 3>&-; rm -f "$f"',
  `docker exec "$0" sh -c 'exec 3>/tmp/ryx-control; rm /tmp/ryx-control; head -c 2097152 /dev/zero >&3; sleep 0.5'`,
].join("; ");

/** The s3rver process serving `directory` (its command line names it). */
function remotePids(directory: string): number[] {
  const pids = fs.readdirSync("/proc").filter((e) => {
    try {
      return /^[0-9]+$/.test(e) && fs.readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").includes(directory);
    } catch {
      return false;
    }
  });
  expect(pids.length, "the s3rver process").toBe(1);
  return pids.map(Number);
}

/** Untimed, before each timed run: the host's dirty pages written out (the generation's, the objects s3rver wrote). */
const settle = () => execFileSync("sync");

/** The run with the median time. */
const medianRun = <T>(runs: Run<T>[]) => [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Restored {
  result?: string;
  counts?: Record<string, number>;
  container?: string;
}
/** railyard's restore of the object into a scratch container, kept for the checksums (removed by the caller). */
async function restore(key: string): Promise<Restored> {
  const out = await finished(
    spawn("bash", [RESTORE, ...live, ...s3Args(), "--key", key, "--into", "scratch", "--keep", "--check", "--json"], { env: s3.env, stdio: ["ignore", "pipe", "pipe"] }),
    "railyard-restore.sh",
  );
  return JSON.parse(out.trim().split("\n").pop() ?? "{}") as Restored;
}

/** COUNTS in the scratch container (the restore's trust sign-in, no password). */
async function scratchCounts(name: string): Promise<string> {
  const r = await execFileAsync("docker", ["exec", name, "psql", "-X", "-h", "127.0.0.1", "-U", "app", "-d", "app", "-v", "ON_ERROR_STOP=1", "-tAc", COUNTS]);
  return r.stdout.trim();
}

/** One compressor on the same custom-format dump: wall and compressor CPU seconds, bytes out. */
async function compress(name: string, command: string): Promise<{ name: string; seconds: number; cpu: number; bytes: number }> {
  const script = `set -euo pipefail; TIMEFORMAT='%3U %3S'; c=$1; shift; docker exec "$c" "$@" | { time ${command}; } 2>&3 | wc -c`;
  const run = await timed(() =>
    execFileAsync("bash", ["-c", `exec 3>&2; ${script}`, "bash", container, ...pgDump("--format=custom --compress=0")], { maxBuffer: 1024 * 1024 }),
  );
  const [user, sys] = run.value.stderr.trim().split(/\s+/).slice(-2).map(Number);
  return { name, seconds: run.seconds, cpu: user + sys, bytes: Number(run.value.stdout.trim()) };
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
const s = (n: number) => n.toFixed(1);

beforeAll(async () => {
  await teardown(PREFIX, NET);
  const run = await runStack("dev", onLocalEngine("dev", PREFIX));
  const databaseOnly = run.resources.filter((r) => r.name === "host-bootstrap" || /^postgres(-|$)/.test(r.name));
  const applied = await applyStack({ ...run, resources: databaseOnly }, () => images().POSTGRES);
  expect(applied.outcome.postgres).toBe("converged");
  container = await runningContainer(SERVICE);
  s3 = await startS3("ryx-bench-backups");
  const [upper, pid] = (await execFileAsync("docker", ["inspect", "--format", "{{.GraphDriver.Data.UpperDir}} {{.State.Pid}}", container])).stdout.trim().split(" ");
  const stackDir = path.join("/tmp/railyard-engine", PREFIX); // onLocalEngine's host dataDir, then the prefix
  const roots = [
    { path: "/tmp", recursive: false },
    { path: "/var/tmp", recursive: false },
    { path: stackDir, recursive: true },
    { path: upper, recursive: true },
  ].filter((r) => r.path && r.path !== "<no value>" && fs.existsSync(r.path));
  watch = new TempWatch(
    roots,
    [path.dirname(s3.directory)],
    fs.readlinkSync(`/proc/${pid}/ns/pid`),
    remotePids(s3.directory),
  );
}, 600_000);

afterAll(async () => {
  watch?.close();
  await s3?.stop();
  // A scratch container a failed restore kept (--keep): only this service's.
  const kept = (await execFileAsync("docker", ["ps", "-aq", "--filter", `label=railyard.scratch=${SERVICE}`])).stdout.split("\n").filter(Boolean);
  if (kept.length > 0) await execFileAsync("docker", ["rm", "--force", "--volumes", ...kept]);
  await teardown(PREFIX, NET);
});

it("streams the database to the bucket and restores it with the same rows; figures beside a raw pg_dump", async () => {
  const gen = await timed(generate);
  const bytes = gen.value;
  const counts = await psql("app", COUNTS);
  await rawDump(); // warm-up, untimed: both timed runs read a database in the page cache

  // The watch works (checked on every run): a 1 MiB file the run keeps open a moment under the host's /tmp, 2 MiB
  // inside the task in a file removed while it stays open (what a dump to a temp file would leave) are the run's;
  // 512 KiB written meanwhile by this process (not the run's) is someone else's.
  const other = path.join("/tmp", `ryx-other-${process.pid}`);
  const control = await watched(async () => {
    const run = finished(
      spawnRun("bash", ["-c", CONTROL, container], { stdio: ["ignore", "pipe", "pipe"] }),
      "control",
    );
    await new Promise((r) => setTimeout(r, 200));
    fs.writeFileSync(other, Buffer.alloc(512 * 1024));
    await run;
    await new Promise((r) => setTimeout(r, 2 * SAMPLE_MS));
  });
  fs.rmSync(other, { force: true });
  expect(control.temp.peak, `the watch saw the control files (${control.temp.largest})`).toBe(2 * 1024 * 1024);
  expect(control.temp.largest).toMatch(/\/tmp\/ryx-control\.[A-Za-z0-9]+ 1048576/);
  expect(control.temp.others).toContain(`${other} 524288`);

  // Alternated, so that both see the same machine: RUNS of each, medians.
  const raws: Run<void>[] = [];
  const backups: Run<string>[] = [];
  for (let i = 0; i < RUNS; i++) {
    settle();
    raws.push(await watched(() => rawDump()));
    settle();
    backups.push(await watched(() => railyardBackup()));
  }
  const rawS = median(raws.map((r) => r.seconds));
  const railyardS = median(backups.map((r) => r.seconds));
  const temp = backups.map((b) => b.temp).sort((a, b) => b.peak - a.peak)[0];
  const rawTemp = raws.map((b) => b.temp).sort((a, b) => b.peak - a.peak)[0];
  const key = backups[backups.length - 1].value;
  for (const b of backups) expect(b.value).toMatch(new RegExp(`^${PREFIX}/postgres/[0-9]{8}T[0-9]{6}Z\\.dump\\.zst$`));
  expect(new Set(backups.map((b) => b.value)).size, "one object per run").toBe(RUNS);
  const stored = (k: string) => path.join(s3.directory, s3.bucket, `${k}._S3rver_object`);
  const object = fs.statSync(stored(key)).size;
  for (const b of backups) expect(fs.existsSync(stored(`${b.value}.json`)), "a manifest beside each dump").toBe(true);
  // The fixed cost in each backup: one aws call (the script makes two: the stream, then the manifest).
  const awsCall = await timed(() => {
    const child = spawn("aws", ["--endpoint-url", s3.endpoint, "--region", "us-east-1", "s3", "cp", "-", `s3://${s3.bucket}/${PREFIX}/aws-call-probe`, "--only-show-errors"], {
      env: { ...s3.env, AWS_SHARED_CREDENTIALS_FILE: s3.credentialsFile },
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdin?.end("{}\n");
    return finished(child, "aws s3 cp");
  });
  // Full mode: where the difference comes from — the dump's format, and the compression level.
  if (!QUICK) settle();
  const customRaw = QUICK ? undefined : await timed(() => rawDump("--format=custom --compress=0"));
  if (!QUICK) settle();
  const level3 = QUICK ? undefined : await watched(() => railyardBackup(["--level", "3"]));
  const level3Object = level3 ? fs.statSync(stored(level3.value)).size : 0;

  const restored = await timed(() => restore(key));
  const scratch = restored.value.container ?? "";
  let restoredCounts = "";
  try {
    expect(restored.value.result).toBe("ok");
    expect(restored.value.counts, "the restore's row counts").toEqual(rowCounts(counts));
    restoredCounts = await scratchCounts(scratch);
  } finally {
    if (/^ryx-postgres-scratch-[0-9a-z-]+$/.test(scratch)) await execFileAsync("docker", ["rm", "--force", "--volumes", scratch]);
  }
  expect(restoredCounts, "the restored rows' checksums").toBe(counts);

  const compressions = QUICK
    ? []
    : [
        await compress("none", "cat"),
        await compress("gzip -1", "gzip -1 -c"),
        await compress("zstd -1 -T0", "zstd -q -1 -T0 -c"),
        await compress("zstd -3 -T0", "zstd -q -3 -T0 -c"),
      ];

  const ratio = railyardS / rawS;
  const each = (runs: { seconds: number }[]) => (runs.length > 1 ? ` (median of ${runs.map((r) => s(r.seconds)).join(", ")})` : "");
  const dumpBytes = compressions.find((c) => c.name === "none")?.bytes;
  const lines = [
    `backup (${MODE}: a ${mb(bytes)} Postgres database, generated in ${s(gen.seconds)} s: ${Object.entries(rowCounts(counts)).map(([t, n]) => `${t} ${n}`).join(", ")} rows)`,
    `  raw pg_dump (plain) > /dev/null through docker exec: ${s(rawS)} s${each(raws)} (baseline; its largest temp file: ${rawTemp.peak} bytes${rawTemp.peak > 0 ? `: ${rawTemp.largest}` : ""})`,
    `  railyard-backup.sh --bucket (pg_dump custom | zstd -1 | sha256 | aws s3 cp - to s3rver, then the manifest): ${s(railyardS)} s${each(backups)}, ${ratio.toFixed(2)}× the baseline; object ${mb(object)} (database size / object ${(bytes / object).toFixed(1)}×${dumpBytes ? `, dump / object ${(dumpBytes / object).toFixed(1)}×` : ""})`,
    `  CPU seconds of the median runs (${os.cpus().length} cores, shared with whatever else runs): baseline ${medianRun(raws).temp.cpu}; railyard ${medianRun(backups).temp.cpu}`,
    `  fixed cost inside each backup: one aws call (a small s3 cp to s3rver) ${s(awsCall.seconds)} s; the script makes two (the stream, the manifest)`,
    ...(customRaw && level3
      ? [
          `  for comparison: pg_dump --format=custom --compress=0 > /dev/null ${s(customRaw.seconds)} s; railyard-backup.sh --level 3 ${s(level3.seconds)} s (${(level3.seconds / rawS).toFixed(2)}×, object ${mb(level3Object)}, largest temp file ${level3.temp.peak} bytes)`,
        ]
      : []),
    `  largest temp file of the backup: ${temp.peak} bytes (${temp.files} file(s) born during it held open by its processes${temp.peak > 0 ? `: ${temp.largest}` : ""}; ${temp.samples} samples)`,
    `    watched: open files of the backup's processes (on the host, and those docker exec started in the Postgres task); new files under ${watch.roots.map((r) => (r.recursive ? `${r.path} (its tree)` : r.path)).join(", ")} (s3rver's folder excluded); created meanwhile by other processes: largest ${temp.othersPeak} bytes${temp.othersPeak > 0 ? ` (${temp.others})` : ""}`,
    `  restore into a scratch container (railyard-restore.sh --into scratch): ${s(restored.seconds)} s, row counts and row checksums equal (${Object.entries(rowCounts(counts)).map(([t, n]) => `${t} ${n}`).join(", ")})`,
    ...(QUICK
      ? ["  compression comparison: skipped in quick mode (full mode: none, gzip -1, zstd -1, zstd -3 on the same dump)"]
      : [
          "  compression of the same custom-format dump (pg_dump | compressor | wc -c; CPU = the compressor's user+sys):",
          ...compressions.map((c) => `    ${c.name.padEnd(12)} ${s(c.seconds).padStart(6)} s wall  ${s(c.cpu).padStart(6)} s CPU  ${mb(c.bytes).padStart(10)}  ${dumpBytes ? `${(dumpBytes / c.bytes).toFixed(2)}×` : ""}`),
        ]),
    `backup: bytes=${bytes} railyard_s=${s(railyardS)} raw_s=${s(rawS)} ratio=${ratio.toFixed(2)} restore_s=${s(restored.seconds)} peak_temp_bytes=${Math.max(temp.peak, level3?.temp.peak ?? 0)}`,
  ];
  console.log(lines.join("\n"));
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${lines.join("\n")}\n`);
});
