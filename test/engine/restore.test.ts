/**
 * host/railyard-restore.sh and host/railyard-drill.sh on real components: Postgres, MariaDB (as mysql) and Redis
 * tasks deployed from the dev stack's declarations, npm s3rver on loopback as the bucket, Debian's awscli.
 * The dumps in the bucket are made here from the live tasks with the engines' own tools (zstd, sha256 and a
 * manifest in the shared format), under chosen UTC times, so the pick by date has known answers.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT, runStack } from "../harness";
import { applyStack, teardown } from "./apply";
import { passwordStack } from "./passwordStack";
import { runningContainer } from "./probe";
import { main as npmRestore } from "../../scripts/restore";
import { S3Server, startS3 } from "./s3";

const PREFIX = "ryv";
const NET = `${PREFIX}-net`;
const RESTORE = path.join(ROOT, "host", "railyard-restore.sh");
const DRILL = path.join(ROOT, "host", "railyard-drill.sh");
const images = inject("images");
const SECRET = "/run/secrets/railyard_db_password";
const PASSWORDS = { postgres: "pg-restore.password-0001", mysql: "my-restore.password-0001", redis: "rd-restore.password-0001" };

let s3: S3Server;
let credentials: string;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-restore-test-"));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a host script without blocking the event loop (the webhook server answers meanwhile). */
function run(script: string, args: string[], opts: { input?: Buffer; onStart?: (pid: number) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [script, ...args], { env: s3.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    if (child.pid && opts.onStart) opts.onStart(child.pid);
    child.stdin.end(opts.input ?? Buffer.alloc(0));
  });
}

const s3Args = (database: string) => ["--bucket", s3.bucket, "--prefix", `${PREFIX}/${database}`, "--credentials", credentials, "--endpoint", s3.endpoint];
const dbArgs = (engine: "postgres" | "mysql" | "redis") => [
  "--service", `${PREFIX}-${engine}`, "--engine", engine,
  "--user", engine === "redis" ? "default" : "app", "--database", engine === "redis" ? "0" : "app",
];
const restoreArgs = (engine: "postgres" | "mysql" | "redis", extra: string[] = []) => [...dbArgs(engine), ...s3Args(engine), ...extra];

function aws(args: string[], input?: Buffer): Buffer {
  return execFileSync("aws", ["--endpoint-url", s3.endpoint, "--region", "us-east-1", ...args], {
    env: { ...s3.env, AWS_SHARED_CREDENTIALS_FILE: credentials },
    input,
    maxBuffer: 1 << 30,
  });
}

const sh = async (service: string, script: string, input?: Buffer, args: string[] = []): Promise<Buffer> =>
  execFileSync("docker", ["exec", "-i", await runningContainer(`${PREFIX}-${service}`), "sh", "-c", script, "sh", ...args], { input, maxBuffer: 1 << 30 });
const psql = async (sql: string) => (await sh("postgres", 'psql -X -q -h 127.0.0.1 -U app -d app -v ON_ERROR_STOP=1 -tAc "$1"', undefined, [sql])).toString().trim();
const mysql = async (sql: string) => (await sh("mysql", `MYSQL_PWD="$(cat ${SECRET})" mariadb -uroot -N -B app`, Buffer.from(sql))).toString().trim();
const redis = async (cmd: string) => (await sh("redis", `REDISCLI_AUTH="$(cat ${SECRET})" redis-cli --no-auth-warning ${cmd}`)).toString().trim();

/** The engines' own dump tools, run in the live tasks (what railyard-backup.sh streams). */
async function rawDump(engine: "postgres" | "mysql" | "redis"): Promise<Buffer> {
  if (engine === "postgres") return sh("postgres", `PGPASSWORD="$(cat ${SECRET})" pg_dump -h 127.0.0.1 -U app -d app --format=custom --compress=0`);
  if (engine === "mysql") return sh("mysql", `MYSQL_PWD="$(cat ${SECRET})" mysqldump --single-transaction --routines --triggers -h 127.0.0.1 -u app app`);
  return sh("redis", `REDISCLI_AUTH="$(cat ${SECRET})" redis-cli --no-auth-warning --rdb /tmp/ryv.rdb >/dev/null && cat /tmp/ryv.rdb && rm -f /tmp/ryv.rdb`);
}

const EXT = { postgres: "dump", mysql: "sql", redis: "rdb" } as const;

/** Uploads a dump (zstd) under STAMP, with its manifest unless `complete` is false; returns its key. */
function putDump(engine: "postgres" | "mysql" | "redis", stamp: string, raw: Buffer, complete = true, database: string = engine): string {
  const key = `${PREFIX}/${database}/${stamp}.${EXT[engine]}.zst`;
  const body = execFileSync("zstd", ["-q", "-3", "-c"], { input: raw, maxBuffer: 1 << 30 });
  aws(["s3", "cp", "--quiet", "-", `s3://${s3.bucket}/${key}`], body);
  if (complete) {
    const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`;
    const manifest = {
      format: 1, stack: PREFIX, database, engine, key, bytes: body.length,
      sha256: crypto.createHash("sha256").update(body).digest("hex"), compression: "zstd",
      started: iso, finished: iso, reason: "scheduled", host: "test",
    };
    aws(["s3", "cp", "--quiet", "-", `s3://${s3.bucket}/${key}.json`], Buffer.from(JSON.stringify(manifest)));
  }
  return key;
}

const PG_CHECKSUM = "select count(*) || ':' || md5(string_agg(id || ',' || name, ';' order by id)) from items";
const MY_CHECKSUM = "select concat(count(*), ':', md5(group_concat(id, ',', name order by id separator ';'))) from items";

/** The restore's --json report. */
const report = (r: Run) => {
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { result: string; key: string; dump_time: string; bytes: number; restore_seconds: number; counts: Record<string, number>; container?: string };
};

const scratchContainers = () =>
  execFileSync("docker", ["ps", "-aq", "--filter", `label=railyard.scratch`, "--filter", `name=${PREFIX}-`], { encoding: "utf8" }).trim();

/** No scratch container is left; a failure shows each one left, with its state, so a leak can be traced. */
const expectNoScratch = () => {
  const left = execFileSync("docker", ["ps", "-a", "--filter", `label=railyard.scratch`, "--filter", `name=${PREFIX}-`, "--format", "{{.Names}} {{.Status}} {{.CreatedAt}}"], { encoding: "utf8" }).trim();
  expect(left, "scratch containers left behind").toBe("");
};

/** A webhook receiver on loopback: every POST body it got. */
function webhookServer(): Promise<{ url: string; bodies: string[]; close(): void }> {
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      bodies.push(body);
      res.end("ok");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      resolve({ url: `http://127.0.0.1:${port}/hooks/ryv`, bodies, close: () => server.close() });
    }),
  );
}

/** Times of the postgres dumps (20 Nov is the day the operator asks for). */
const T = {
  d18: "20261118T030000Z",
  d19: "20261119T030000Z",
  d20: "20261120T030000Z",
  d20late: "20261120T150000Z", // incomplete: newer than the right one, must be skipped
  d21: "20261121T030000Z",
};
const keys: Record<string, string> = {};

describe("restore by date and restore drills on real components (postgres, mysql as MariaDB, redis, s3rver)", () => {
  beforeAll(async () => {
    await teardown(PREFIX, NET);
    s3 = await startS3();
    credentials = s3.credentialsFile;
    const { plain, secret } = passwordStack(PREFIX, PASSWORDS, { replicas: 1, env: {} });
    const stack = await runStack("dev", plain, secret);
    const databasesOnly = stack.resources.filter((r) => r.name === "host-bootstrap" || /^(postgres|mysql|redis)(-|$)/.test(r.name));
    const imageFor = (name: string) => ({ postgres: images.POSTGRES, mysql: images.MARIADB, redis: images.REDIS })[name] ?? images.APP_V1;
    const applied = await applyStack({ ...stack, resources: databasesOnly }, imageFor);
    for (const db of ["postgres", "mysql", "redis"]) expect(applied.outcome[db], db).toBe("converged");

    // Postgres: four complete dumps of 100, 200, 300, 400 rows and an incomplete one of 999 rows.
    await psql("create table items (id serial primary key, name text not null)");
    const grow = (n: number) => psql(`insert into items (name) select 'item ' || g || ' ''quoted'' ✓' from generate_series(1, ${n}) g`);
    await grow(100);
    keys.d18 = putDump("postgres", T.d18, await rawDump("postgres"));
    await grow(100);
    keys.d19 = putDump("postgres", T.d19, await rawDump("postgres"));
    await grow(100);
    keys.d20 = putDump("postgres", T.d20, await rawDump("postgres"));
    await grow(699);
    keys.d20late = putDump("postgres", T.d20late, await rawDump("postgres"), false);
    await psql("delete from items where id > 300");
    await grow(100);
    keys.d21 = putDump("postgres", T.d21, await rawDump("postgres"));

    await mysql("create table items (id int auto_increment primary key, name text not null); create table notes (id int primary key, body text)");
    await mysql(`insert into items (name) select concat('item ', seq, ' ''quoted'' ✓') from seq_1_to_500; insert into notes values (1, 'a'), (2, 'b')`);
    keys.my = putDump("mysql", T.d21, await rawDump("mysql"));

    for (let i = 0; i < 25; i++) await redis(`set key:${i} value-${i}`);
    keys.rd = putDump("redis", T.d21, await rawDump("redis"));
  });

  afterAll(async () => {
    for (const id of scratchContainers().split("\n").filter(Boolean)) execFileSync("docker", ["rm", "-f", "-v", id]);
    // One-off jobs a failed test left (they carry no stack label for teardown to find).
    const jobs = execFileSync("docker", ["service", "ls", "-q", "--filter", "label=railyard.job-owner", "--filter", `name=${PREFIX}-`], { encoding: "utf8" }).trim();
    if (jobs !== "") execFileSync("docker", ["service", "rm", ...jobs.split("\n")]);
    await teardown(PREFIX, NET);
    await s3?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("--list: complete dumps newest first, the pick for --at marked, the incomplete one marked and never picked", async () => {
    const r = await run(RESTORE, ["--list", "--engine", "postgres", ...s3Args("postgres"), "--at", "2026-11-20"]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n").slice(1);
    expect(lines.map((l) => l.trim().split(/\s+/).pop())).toEqual([keys.d21, keys.d20, keys.d19, keys.d18, "restored)"]);
    expect(lines[1]).toMatch(/^\* 2026-11-20T03:00:00Z/);
    expect(lines.filter((l) => l.startsWith("*"))).toHaveLength(1);
    expect(lines[4]).toContain(`incomplete  ${keys.d20late} (no manifest: never restored)`);
  });

  it("restore by date picks the newest complete dump at or before the time (the newer incomplete one skipped; --at on a dump's own time included)", async () => {
    const at20 = report(await run(RESTORE, restoreArgs("postgres", ["--at", "2026-11-20", "--json"])));
    expect(at20.key).toBe(keys.d20);
    expect(at20.dump_time).toBe("2026-11-20T03:00:00Z");
    expect(at20.counts).toEqual({ "public.items": 300 });
    const exact = report(await run(RESTORE, restoreArgs("postgres", ["--at", "2026-11-19T03:00:00Z", "--json"])));
    expect(exact.key).toBe(keys.d19);
    expect(exact.counts).toEqual({ "public.items": 200 });
    const minute = report(await run(RESTORE, restoreArgs("postgres", ["--at", "2026-11-19T02:59Z", "--json"])));
    expect(minute.counts).toEqual({ "public.items": 100 });
    const newest = report(await run(RESTORE, restoreArgs("postgres", ["--json"])));
    expect(newest.key).toBe(keys.d21);
    const none = await run(RESTORE, restoreArgs("postgres", ["--at", "2026-11-17"]));
    expect(none.status).toBe(60);
    expect(none.stderr).toContain("no complete dump at or before 2026-11-17T23:59:59Z");
    const incomplete = await run(RESTORE, restoreArgs("postgres", ["--key", keys.d20late]));
    expect(incomplete.status).toBe(60);
    expect(incomplete.stderr).toContain("no manifest");
    expectNoScratch();
  });

  it("restores into scratch with identical row counts and checksums (postgres, mysql) and keys (redis); --keep keeps the container", async () => {
    const pg = report(await run(RESTORE, restoreArgs("postgres", ["--keep", "--check", "--json"])));
    expect(pg.counts).toEqual({ "public.items": 400 });
    const scratch = pg.container ?? "";
    expect(scratch).toMatch(/^ryv-postgres-scratch-/);
    try {
      const inspect = execFileSync("docker", ["inspect", scratch], { encoding: "utf8" });
      expect(inspect).toContain('"railyard.scratch": "ryv-postgres"');
      expect(inspect).toContain('"NetworkMode": "none"');
      expect(inspect).toContain(images.POSTGRES);
      const inScratch = execFileSync("docker", ["exec", scratch, "psql", "-X", "-h", "127.0.0.1", "-U", "app", "-d", "app", "-tAc", PG_CHECKSUM], { encoding: "utf8" }).trim();
      expect(inScratch).toMatch(/^400:[0-9a-f]{32}$/);
      expect(inScratch).toBe(await psql(PG_CHECKSUM));
    } finally {
      execFileSync("docker", ["rm", "-f", "-v", scratch]);
    }

    const my = report(await run(RESTORE, restoreArgs("mysql", ["--keep", "--check", "--json"])));
    expect(my.counts).toEqual({ items: 500, notes: 2 });
    try {
      const inScratch = execFileSync("docker", ["exec", my.container ?? "", "mariadb", "-h", "127.0.0.1", "-uroot", "-N", "-B", "-e", MY_CHECKSUM, "app"], { encoding: "utf8" }).trim();
      expect(inScratch).toMatch(/^500:[0-9a-f]{32}$/);
      expect(inScratch).toBe(await mysql(MY_CHECKSUM));
    } finally {
      execFileSync("docker", ["rm", "-f", "-v", my.container ?? ""]);
    }

    const rd = report(await run(RESTORE, restoreArgs("redis", ["--check", "--json"])));
    expect(rd.counts).toEqual({ db0: 25 });
    expect(rd.key).toBe(keys.rd);
    expectNoScratch();
  });

  it("a Postgres database of over 100 MB restores into scratch through the stream with identical rows and checksum", async () => {
    await psql("drop database if exists big");
    await psql("create database big");
    const bigSql = (sql: string) => sh("postgres", 'psql -X -q -h 127.0.0.1 -U app -d big -v ON_ERROR_STOP=1 -tAc "$1"', undefined, [sql]).then((b) => b.toString().trim());
    await bigSql("create table big (id int primary key, payload text not null)");
    await bigSql("insert into big select g, repeat(md5(g::text), 3) from generate_series(1, 800000) g");
    const size = Number(await bigSql("select pg_database_size('big')"));
    expect(size).toBeGreaterThan(100 * 1024 * 1024);
    const dumpStarted = Date.now();
    const raw = await sh("postgres", `PGPASSWORD="$(cat ${SECRET})" pg_dump -h 127.0.0.1 -U app -d big --format=custom --compress=0`);
    const key = putDump("postgres", T.d21, raw, true, "big");
    const dumpSeconds = (Date.now() - dumpStarted) / 1000;
    const bigArgs = ["--service", `${PREFIX}-postgres`, "--engine", "postgres", "--user", "app", "--database", "big",
      "--bucket", s3.bucket, "--prefix", `${PREFIX}/big`, "--credentials", credentials, "--endpoint", s3.endpoint];
    const restored = report(await run(RESTORE, [...bigArgs, "--keep", "--check", "--json"]));
    expect(restored.key).toBe(key);
    expect(restored.counts).toEqual({ "public.big": 800000 });
    const container = restored.container ?? "";
    try {
      const sum = "select count(*) || ':' || md5(string_agg(md5(id || ',' || payload), '' order by id)) from big";
      const inScratch = execFileSync("docker", ["exec", container, "psql", "-X", "-h", "127.0.0.1", "-U", "app", "-d", "big", "-tAc", sum], { encoding: "utf8" }).trim();
      expect(inScratch).toMatch(/^800000:[0-9a-f]{32}$/);
      expect(inScratch).toBe(await bigSql(sum));
    } finally {
      execFileSync("docker", ["rm", "-f", "-v", container]);
    }
    console.log(`restore 100 MB: db_bytes=${size} dump_bytes=${raw.length} object_bytes=${restored.bytes} restore_s=${restored.restore_seconds} (dump+zstd+upload by the test: ${dumpSeconds.toFixed(1)} s)`);
    await psql("drop database big");
  });

  it("--check fails (63) on a dump that holds nothing, and on a freshness query older than --max-age", async () => {
    await psql("drop database if exists empty");
    await psql("create database empty");
    const emptyDump = await sh("postgres", `PGPASSWORD="$(cat ${SECRET})" pg_dump -h 127.0.0.1 -U app -d empty --format=custom --compress=0`);
    putDump("postgres", T.d21, emptyDump, true, "empty");
    const emptyArgs = [...dbArgs("postgres"), "--bucket", s3.bucket, "--prefix", `${PREFIX}/empty`, "--credentials", credentials, "--endpoint", s3.endpoint];
    const unchecked = await run(RESTORE, [...emptyArgs, "--json"]);
    expect(report(unchecked).counts).toEqual({});
    const checked = await run(RESTORE, [...emptyArgs, "--check"]);
    expect(checked.status).toBe(63);
    expect(checked.stderr).toContain("the restored postgres database holds nothing (no tables, no keys)");

    const fresh = ["--freshness-query", "select timestamp('2026-11-21 03:00:00')"];
    const old = await run(RESTORE, restoreArgs("mysql", [...fresh, "--max-age", "60"]));
    expect(old.status).toBe(63);
    expect(old.stderr).toMatch(/the newest data is \d+s old \(freshness query\), more than --max-age 60/);
    const ok = await run(RESTORE, restoreArgs("mysql", [...fresh, "--max-age", "99999999"]));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/freshness: the newest data is \d+s old \(at most 99999999\)/);
    expectNoScratch();
  });

  it("the drill passes on a good dump (state: ok, RPO, RTO, counts) and fails on a corrupted one: exit 61, state failed with the reason, webhook posted", async () => {
    const hook = await webhookServer();
    const state = path.join(work, "state");
    const webhookFile = path.join(work, "webhook.url");
    fs.writeFileSync(webhookFile, `${hook.url}\n`, { mode: 0o600 });
    try {
      const drillArgs = [...restoreArgs("postgres"), "--state-dir", state, "--webhook-file", webhookFile];
      const ok = await run(DRILL, drillArgs);
      expect(ok.status, ok.stderr).toBe(0);
      const good = JSON.parse(fs.readFileSync(path.join(state, "drill-postgres.json"), "utf8")) as Record<string, unknown>;
      expect(good.result).toBe("ok");
      expect(good.key).toBe(keys.d21);
      expect(good.counts).toEqual({ "public.items": 400 });
      const rpo = Math.round(Date.now() / 1000) - Date.parse("2026-11-21T03:00:00Z") / 1000;
      expect(Math.abs((good.rpo_seconds as number) - rpo)).toBeLessThan(60);
      expect(good.rto_seconds as number).toBeGreaterThan(0);
      expect(good.rto_seconds as number).toBeLessThan(120);
      expect(hook.bodies).toEqual([]);
      console.log(`drill: rto_seconds=${String(good.rto_seconds)} rpo_seconds=${String(good.rpo_seconds)}`);

      // The newest dump restores but is days old: with a day's --max-dump-age the drill fails (67), loudly.
      const stale = await run(DRILL, [...drillArgs, "--max-dump-age", "86400"]);
      expect(stale.status).toBe(67);
      const staleState = JSON.parse(fs.readFileSync(path.join(state, "drill-postgres.json"), "utf8")) as Record<string, unknown>;
      expect(staleState).toMatchObject({ result: "failed", exit_code: 67, key: keys.d21, counts: { "public.items": 400 } });
      expect(String(staleState.reason)).toContain("more than --max-dump-age 86400");
      expect(hook.bodies).toHaveLength(1);
      expect(hook.bodies[0]).toContain("FAILED (exit 67)");

      // Bytes flipped in the middle of the newest object in s3rver's own storage; the manifest kept.
      const stored = path.join(s3.directory, s3.bucket, `${keys.d21}._S3rver_object`);
      const body = fs.readFileSync(stored);
      for (let i = 0; i < 16; i++) body[Math.floor(body.length / 2) + i] ^= 0xff;
      fs.writeFileSync(stored, body);
      const bad = await run(DRILL, drillArgs);
      expect(bad.status).toBe(61);
      const failed = JSON.parse(fs.readFileSync(path.join(state, "drill-postgres.json"), "utf8")) as Record<string, unknown>;
      expect(failed.result).toBe("failed");
      expect(failed.exit_code).toBe(61);
      expect(String(failed.reason)).toMatch(/sha256 of ryv\/postgres\/20261121T030000Z\.dump\.zst is [0-9a-f]{64}, its manifest says/);
      expect(hook.bodies).toHaveLength(2);
      const posted = JSON.parse(hook.bodies[1]) as { text: string };
      expect(posted.text).toContain("the restore drill of ryv/postgres (ryv-postgres) FAILED (exit 61)");
      expectNoScratch();
      // Restore it for the tests after this one.
      for (let i = 0; i < 16; i++) body[Math.floor(body.length / 2) + i] ^= 0xff;
      fs.writeFileSync(stored, body);
    } finally {
      hook.close();
    }
  });

  it("--into live refuses without --yes and without a safety destination; with them it dumps first, then restores (postgres: folder and bucket safety dumps; MariaDB)", async () => {
    const noYes = await run(RESTORE, restoreArgs("postgres", ["--at", "2026-11-18", "--into", "live", "--safety-dir", path.join(work, "safety")]));
    expect(noYes.status).toBe(2);
    expect(noYes.stderr).toContain("add --yes to confirm");
    const noSafety = await run(RESTORE, restoreArgs("postgres", ["--at", "2026-11-18", "--into", "live", "--yes"]));
    expect(noSafety.status).toBe(2);
    expect(noSafety.stderr).toContain("needs a safety destination");
    const redisLive = await run(RESTORE, restoreArgs("redis", ["--into", "live", "--yes", "--safety-dir", path.join(work, "safety")]));
    expect(redisLive.status).toBe(2);
    expect(await psql("select count(*) from items")).toBe("400");
    expect(fs.existsSync(path.join(work, "safety"))).toBe(false);

    const live = await run(RESTORE, restoreArgs("postgres", ["--at", "2026-11-18", "--into", "live", "--yes", "--safety-dir", path.join(work, "safety")]));
    expect(live.status, live.stderr).toBe(0);
    expect(live.stderr.indexOf("safety dump of ryv-postgres first")).toBeLessThan(live.stderr.indexOf("restoring"));
    const safety = fs.readdirSync(path.join(work, "safety"));
    expect(safety).toHaveLength(1);
    expect(safety[0]).toMatch(/^ryv-postgres-\d{8}T\d{6}Z\.dump$/);
    // The live database now holds the dump of 18 Nov (100 rows); the safety dump holds what it had (400).
    expect(await psql("select count(*) from items")).toBe("100");
    await psql("drop database if exists safety");
    await psql("create database safety");
    await sh("postgres", `PGPASSWORD="$(cat ${SECRET})" pg_restore -h 127.0.0.1 -U app -d safety --no-owner`, fs.readFileSync(path.join(work, "safety", safety[0])));
    expect((await sh("postgres", `psql -X -h 127.0.0.1 -U app -d safety -tAc 'select count(*) from items'`)).toString().trim()).toBe("400");

    // The safety dump into the bucket instead (railyard-backup.sh's bucket mode, reason safety), then the restore.
    const viaBucket = await run(RESTORE, restoreArgs("postgres", ["--at", "2026-11-19", "--into", "live", "--yes", "--safety-credentials", credentials]));
    expect(viaBucket.status, viaBucket.stderr).toBe(0);
    expect(await psql("select count(*) from items")).toBe("200");
    const safetyKey = /safety dump: (ryv\/postgres\/\d{8}T\d{6}Z\.dump\.zst)/.exec(viaBucket.stderr)?.[1] ?? "";
    expect(safetyKey).not.toBe("");
    expect(JSON.parse(aws(["s3", "cp", "--quiet", `s3://${s3.bucket}/${safetyKey}.json`, "-"]).toString())).toMatchObject({ key: safetyKey, reason: "safety" });
    const safetyBack = report(await run(RESTORE, restoreArgs("postgres", ["--key", safetyKey, "--json"])));
    expect(safetyBack.counts).toEqual({ "public.items": 100 });

    // MariaDB: the live tables back to the dump's 500 rows, after a safety dump of the 10 left.
    await mysql("delete from items where id > 10");
    const mysqlSafety = path.join(work, "safety-mysql");
    const my = await run(RESTORE, restoreArgs("mysql", ["--into", "live", "--yes", "--safety-dir", mysqlSafety, "--check"]));
    expect(my.status, my.stderr).toBe(0);
    expect(await mysql("select count(*) from items")).toBe("500");
    expect(await mysql(MY_CHECKSUM)).toMatch(/^500:[0-9a-f]{32}$/);
    const mySafety = fs.readdirSync(mysqlSafety);
    expect(mySafety).toHaveLength(1);
    // The safety dump holds what the live tables had: rows 1 to 10.
    const safetySql = fs.readFileSync(path.join(mysqlSafety, mySafety[0]), "utf8");
    expect(safetySql).toMatch(/INSERT INTO `items` VALUES\s*\(1,/);
    expect(safetySql).toContain("(10,");
    expect(safetySql).not.toContain("(11,");
  });

  it("no byte of a credential in argv (sampled from /proc during a restore), docker inspect, output or state files", async () => {
    // The key pair s3rver accepts (its only one) and the databases' passwords.
    const keyPair = [...fs.readFileSync(credentials, "utf8").matchAll(/^aws_\w+ = (\S+)$/gm)].map((m) => m[1]);
    expect(keyPair).toHaveLength(2);
    const secrets = [...new Set([...keyPair, ...Object.values(PASSWORDS)])];
    // Every process of the scripts' trees (pid → parent, argv), and the restore tools in the containers.
    const procs = new Map<string, { ppid: string; argv: string }>();
    const roots: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
          try {
            const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
            const ppid = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1];
            procs.set(`${pid}:${argv}`, { ppid, argv });
          } catch {
            // gone
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const onStart = (pid: number) => roots.push(String(pid));
    const r = await run(RESTORE, restoreArgs("postgres", ["--keep", "--json"]), { onStart });
    const list = await run(RESTORE, ["--list", "--engine", "postgres", ...s3Args("postgres")], { onStart });
    sampling = false;
    await sampler;
    const tree = new Set(roots);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [id, p] of procs) {
        const pid = id.split(":")[0];
        if (tree.has(p.ppid) && !tree.has(pid)) {
          tree.add(pid);
          grew = true;
        }
      }
    }
    const seen = [...procs].filter(([id, p]) => tree.has(id.split(":")[0]) || p.argv.includes("pg_restore")).map(([, p]) => p.argv.replace(/\0/g, " "));
    expect(seen.some((c) => c.includes("aws"))).toBe(true);
    const kept = report(r).container ?? "";
    try {
      expect(seen.some((c) => c.includes("railyard-restore.sh"))).toBe(true);
      expect(seen.some((c) => c.includes("pg_restore -h 127.0.0.1"))).toBe(true);
      const inspect = execFileSync("docker", ["inspect", kept], { encoding: "utf8" });
      const state = fs.readdirSync(path.join(work, "state")).map((f) => fs.readFileSync(path.join(work, "state", f), "utf8"));
      for (const secret of secrets) {
        expect(seen.filter((c) => c.includes(secret))).toEqual([]);
        for (const text of [inspect, r.stdout, r.stderr, list.stdout, list.stderr, ...state]) expect(text).not.toContain(secret);
      }
    } finally {
      execFileSync("docker", ["rm", "-f", "-v", kept]);
    }
  });

  it("npm run restore in local mode: lists and picks with the operator's environment, streams into the host script's --stdin", async () => {
    const root = path.join(work, "operator");
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, "Pulumi.ryv.yaml"), [
      "config:",
      "  railyard:prefix: ryv",
      "  railyard:host: { mode: local, dataDir: /tmp/railyard-engine }",
      "  railyard:databases: { postgres: { engine: postgres, user: app, database: app } }",
      `  railyard:backups: { bucket: { provider: s3, name: ${s3.bucket}, endpoint: '${s3.endpoint}', region: us-east-1 } }`,
      "",
    ].join("\n"));
    // The operator's own environment: their credentials file, Debian's awscli first.
    const saved = { ...process.env };
    Object.assign(process.env, s3.env, { AWS_SHARED_CREDENTIALS_FILE: credentials });
    let code: number;
    const started = Date.now();
    try {
      code = await npmRestore(["--stack", "ryv", "--database", "postgres", "--at", "2026-11-19T03:00Z", "--keep"], root);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    expect(code).toBe(0);
    console.log(`npm run restore (local): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const kept = scratchContainers();
    expect(kept.split("\n")).toHaveLength(1);
    try {
      const rows = execFileSync("docker", ["exec", kept, "psql", "-X", "-h", "127.0.0.1", "-U", "app", "-d", "app", "-tAc", "select count(*) from items"], { encoding: "utf8" }).trim();
      expect(rows).toBe("200"); // the dump of 19 Nov 03:00, picked by the exact time
    } finally {
      execFileSync("docker", ["rm", "-f", "-v", kept]);
    }
  });

  it("a live MariaDB restored from a one-off job (as for a database on another node: its client reaches it by service name over the overlay); a job whose script was SIGKILLed is removed by the next one, a running one's is not", async () => {
    const LIB = path.join(ROOT, "host", "railyard-lib.sh");
    // A later run's sweep, as db_job makes it: this engine's node ID and this process as the owner.
    const sweepHere = (env: Record<string, string> = {}) =>
      spawnSync("bash", ["-c", `source ${JSON.stringify(LIB)}; node=$(docker info --format '{{.Swarm.NodeID}}'); db_job_sweep "$node" "$node:$(job_owner $$)"`], {
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, ...env },
      });
    const jobsLeft = () => execFileSync("docker", ["service", "ls", "--filter", "label=railyard.job-owner", "--filter", `name=${PREFIX}-`, "--format", "{{.Name}}"], { encoding: "utf8" }).trim();
    const before = await mysql(MY_CHECKSUM);
    const dumpFile = path.join(work, "mysql-live.sql");
    fs.writeFileSync(dumpFile, await rawDump("mysql"));
    await mysql("delete from items where id > 7");
    const viaJob = spawnSync("bash", ["-c", `source ${JSON.stringify(RESTORE)}; service=${PREFIX}-mysql engine=mysql into=live user=app database=app
      remote_live elsewhere; echo "job $restore_job target $target db_host $db_host"; restore_tool <"$1"`, "bash", dumpFile], { encoding: "utf8", timeout: 180_000 });
    expect(viaJob.status, viaJob.stderr).toBe(0);
    expect(viaJob.stdout).toMatch(new RegExp(`^job ${PREFIX}-mysql-restore-[0-9a-f]{6} target [0-9a-f]{12,} db_host ${PREFIX}-mysql\n$`));
    expect(await mysql(MY_CHECKSUM)).toBe(before);
    expect(jobsLeft(), "the restore job is removed on exit").toBe("");

    // A run still going on (started first: the killed run's own job creation must not find an orphan yet)…
    const alive = spawn("bash", ["-c", `source ${JSON.stringify(LIB)}; db_job_waiting dbpass ${PREFIX}-mysql 600 120 || exit 3; echo "$db_job_name"; exec sleep 300`], { stdio: ["ignore", "pipe", "inherit"] });
    const aliveJob = await new Promise<string>((resolve, reject) => {
      alive.stdout.once("data", (c: Buffer) => resolve(c.toString().trim()));
      alive.once("exit", (code) => reject(new Error(`the running job's script ended early (${code})`)));
    });
    try {
      // …and one killed with SIGKILL: its EXIT trap never runs, its job (sleeping a day) stays.
      const killed = spawnSync("bash", ["-c", `source ${JSON.stringify(LIB)}; db_job_waiting restore ${PREFIX}-mysql 86400 120 || exit 3; echo "$db_job_name"; kill -9 $$`], { encoding: "utf8", timeout: 180_000 });
      expect(killed.signal, killed.stderr).toBe("SIGKILL");
      expect(killed.stderr, "the running job is not swept").not.toContain("removing");
      const orphan = killed.stdout.trim();
      expect(orphan).toMatch(new RegExp(`^${PREFIX}-mysql-restore-[0-9a-f]{6}$`));
      expect(jobsLeft().split("\n").sort()).toEqual([aliveJob, orphan].sort());
      const sweep = sweepHere({ RAILYARD_SCRIPT: "sweep" });
      expect(sweep.status, sweep.stderr).toBe(0);
      expect(sweep.stderr).toBe(`sweep: removing one-off job ${orphan}: the process that made it (pid ${killed.pid}) is gone\n`);
      expect(jobsLeft()).toBe(aliveJob);
      expect(execFileSync("docker", ["ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${orphan}`], { encoding: "utf8" }).trim(), "its container is gone too").toBe("");
    } finally {
      alive.kill("SIGKILL");
    }
    if (alive.exitCode === null && alive.signalCode === null) await new Promise((resolve) => alive.once("exit", resolve));
    const next = sweepHere();
    expect(next.stderr).toContain(`removing one-off job ${aliveJob}`);
    expect(jobsLeft()).toBe("");
  });
});
