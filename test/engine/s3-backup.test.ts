/**
 * host/railyard-backup.sh's bucket mode on real Postgres, MariaDB (the mysql stand-in) and Redis tasks, streaming
 * to an S3-compatible server on loopback (npm s3rver, test/engine/s3.ts) with Debian's awscli:
 *   a Postgres database of over 100 MB streams up in several multipart parts, its manifest matches the object
 *   (size, sha256), and it restores into a scratch database with identical row counts and checksums;
 *   a dump killed part-way (pg_dump killed in the task; the script sent TERM) exits non-zero and leaves no
 *   object and no manifest; redis and mysql dumps stream up with right manifests; a failed upload (no such
 *   bucket; the server stopped) exits 22, records failed and posts the webhook;
 *   no byte of a credential (a distinctive secret key and session token, the webhook's URL) appears in any
 *   process's argv or environment sampled all along, in the service specs, `docker inspect`, the script's output
 *   or the state files.
 */
import { ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT, runStack } from "../harness";
import { applyStack, teardown } from "./apply";
import { passwordStack } from "./passwordStack";
import { runningContainer } from "./probe";
import { S3Server, startS3 } from "./s3";

const PREFIX = "ryu";
const NET = `${PREFIX}-net`;
const SCRIPT = path.join(ROOT, "host", "railyard-backup.sh");
const images = inject("images");
const execFileAsync = promisify(execFile);

// Distinctive credentials: s3rver checks only the key ID (its own, S3RVER); the secret signs requests and the
// session token travels in a header, so neither may show anywhere else.
const SECRET_KEY = "ryuSecretKey0Zq8Vx3Lp0Tn5Wm2Kd7Hs4Jf6Bg9Nc1";
const SESSION_TOKEN = "ryuSessionToken0Pw4Rt7Yu2Io9Qa6Sd1";
const HOOK_TOKEN = "ryuHookToken0Xc5Vb8Nm3Lk0Jh7";
const DB_PASSWORD = "ryu-db.password-0001";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-ryu-"));
const stateDir = path.join(work, "state");
const credentials = path.join(work, "uploader.ini");
const webhookFile = path.join(work, "webhook.url");
fs.writeFileSync(credentials, `[default]\naws_access_key_id = S3RVER\naws_secret_access_key = ${SECRET_KEY}\naws_session_token = ${SESSION_TOKEN}\n`, { mode: 0o600 });

let s3: S3Server;
let hook: http.Server;
const hookBodies: string[] = [];
/** Every output of the script in this file, checked for credentials at the end. */
const outputs: string[] = [];

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the backup script (asynchronous: the webhook server in this process must answer meanwhile). */
function startBackup(args: string[]): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn("bash", [SCRIPT, ...args], { env: s3.env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve) =>
    child.on("close", (status, signal) => {
      outputs.push(stdout, stderr);
      resolve({ status, signal, stdout, stderr });
    }),
  );
  return { child, done };
}
const backup = (args: string[]) => startBackup(args).done;

const SERVICE_ARGS: Record<string, string[]> = {
  postgres: ["--service", `${PREFIX}-postgres`, "--engine", "postgres", "--user", "app", "--database", "app"],
  mysql: ["--service", `${PREFIX}-mysql`, "--engine", "mysql", "--user", "app", "--database", "app"],
  redis: ["--service", `${PREFIX}-redis`, "--engine", "redis", "--user", "default", "--database", "0"],
};
const bucketArgs = (db: string, extra: string[] = [], endpoint = s3.endpoint) => [
  ...SERVICE_ARGS[db],
  ...["--bucket", s3.bucket, "--prefix", `${PREFIX}/${db}`, "--credentials", credentials, "--endpoint", endpoint],
  ...["--state-dir", stateDir, ...extra],
];

/** aws (Debian's) against the test server with the same credentials file. */
function aws(args: string[], input?: Buffer): Buffer {
  return execFileSync("aws", ["--endpoint-url", s3.endpoint, "--region", "us-east-1", ...args], {
    env: { ...s3.env, AWS_SHARED_CREDENTIALS_FILE: credentials },
    input,
    maxBuffer: 512 * 1024 * 1024,
  });
}
/** Keys under a prefix, sorted. */
function keys(prefix: string): string[] {
  const out = JSON.parse(aws(["s3api", "list-objects-v2", "--bucket", s3.bucket, "--prefix", prefix]).toString() || "{}") as { Contents?: { Key: string }[] };
  return (out.Contents ?? []).map((c) => c.Key).sort();
}
const object = (key: string) => aws(["s3", "cp", `s3://${s3.bucket}/${key}`, "-"]);
const sha256 = (b: Buffer) => execFileSync("sha256sum", { input: b, encoding: "utf8" }).split(" ")[0];
const unzstd = (b: Buffer) => execFileSync("zstd", ["-dc"], { input: b, maxBuffer: 1024 * 1024 * 1024 });

interface Manifest {
  format: number;
  stack: string;
  database: string;
  engine: string;
  key: string;
  bytes: number;
  sha256: string;
  compression: string;
  started: string;
  finished: string;
  reason: string;
  host: string;
}
/** The manifest of a dump key, checked against the object it describes. */
function checkedManifest(key: string, db: string, engine: string, ext: string): { manifest: Manifest; body: Buffer } {
  expect(key).toMatch(new RegExp(`^${PREFIX}/${db}/\\d{8}T\\d{6}Z\\.${ext}\\.zst$`));
  const manifest = JSON.parse(object(`${key}.json`).toString()) as Manifest;
  const body = object(key);
  expect(manifest).toMatchObject({ format: 1, stack: PREFIX, database: db, engine, key, compression: "zstd", reason: "scheduled", host: os.hostname() });
  expect(manifest.bytes).toBe(body.length);
  expect(manifest.sha256).toBe(sha256(body));
  expect(manifest.started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  expect(manifest.finished >= manifest.started).toBe(true);
  return { manifest, body };
}
const state = (db: string) => JSON.parse(fs.readFileSync(path.join(stateDir, `backup-${db}.json`), "utf8")) as Record<string, unknown>;

const sh = async (container: string, script: string, ...args: string[]) =>
  (await execFileAsync("docker", ["exec", container, "sh", "-c", script, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })).stdout.trim();
const PG = `PGPASSWORD="$(cat /run/secrets/railyard_db_password)" psql -X -h 127.0.0.1 -U app -v ON_ERROR_STOP=1 -tA -d "$0" -c "$1"`;
const psql = async (db: string, sql: string) => sh(await runningContainer(`${PREFIX}-postgres`), PG, db, sql);
const CHECKSUM = "select count(*) || ':' || md5(string_agg(md5(id || ',' || body), '' order by id)) from big";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The largest number of parts s3rver has held at once for any multipart upload in the bucket. */
function partsNow(): number {
  let most = 0;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const sub = path.join(dir, e.name);
      if (dir.endsWith("uploads")) most = Math.max(most, fs.readdirSync(sub).filter((f) => /^\d+$/.test(f)).length);
      else walk(sub);
    }
  };
  try {
    walk(path.join(s3.directory, s3.bucket));
  } catch {
    // a folder removed while read: the next poll sees the rest
  }
  return most;
}

/** Polls s3rver's multipart uploads until `done` settles; the most parts seen. */
async function watchParts<T>(done: Promise<T>): Promise<number> {
  let settled = false;
  void done.finally(() => (settled = true));
  let most = 0;
  while (!settled) {
    most = Math.max(most, partsNow());
    await sleep(50);
  }
  return most;
}

/** Waits until pg_dump runs in the task and s3rver holds at least one part of its upload. */
async function dumpUnderWay(): Promise<void> {
  const container = await runningContainer(`${PREFIX}-postgres`);
  for (let i = 0; i < 600; i++) {
    const running = await sh(container, "pgrep -x pg_dump || true");
    if (running && partsNow() >= 1) return;
    await sleep(100);
  }
  throw new Error("pg_dump never got under way with an upload part stored");
}

/**
 * A sampler in its own process: every process's argv and environment, read from /proc all along, searched for
 * the credentials (given in a file, so its own argv holds none). It also counts the uploads and scripts it saw.
 */
const sampler = path.join(work, "sampler.cjs");
const samplerOut = path.join(work, "sampler.json");
const samplerStop = path.join(work, "sampler.stop");
let samplerProc: ChildProcess;
fs.writeFileSync(path.join(work, "patterns.json"), JSON.stringify([SECRET_KEY, SESSION_TOKEN, HOOK_TOKEN]));
fs.writeFileSync(
  sampler,
  `const fs = require("fs");
const [patterns, out, stop] = process.argv.slice(2);
const secrets = JSON.parse(fs.readFileSync(patterns, "utf8"));
const r = { rounds: 0, uploaders: 0, scripts: 0, curls: 0, hits: [] };
const read = (f) => { try { return fs.readFileSync(f).toString("latin1"); } catch { return ""; } };
function round() {
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\\d+$/.test(pid) || pid === String(process.pid)) continue;
    const cmd = read("/proc/" + pid + "/cmdline");
    const env = read("/proc/" + pid + "/environ");
    if (/aws.*s3\\x00cp\\x00-\\x00/.test(cmd)) r.uploaders++;
    if (cmd.includes("railyard-backup.sh")) r.scripts++;
    if (/^curl\\x00/.test(cmd) || cmd.includes("/curl\\x00")) r.curls++;
    for (const s of secrets) {
      if (cmd.includes(s)) r.hits.push({ pid, where: "argv", cmd: cmd.split("\\x00").join(" ") });
      if (env.includes(s)) r.hits.push({ pid, where: "environ", cmd: cmd.split("\\x00").join(" ") });
    }
  }
  r.rounds++;
  if (fs.existsSync(stop)) { fs.writeFileSync(out, JSON.stringify(r)); process.exit(0); }
  setTimeout(round, 5);
}
round();
`,
);

describe("scheduled dumps streamed to the bucket (real engine, s3rver)", () => {
  beforeAll(async () => {
    samplerProc = spawn(process.execPath, [sampler, path.join(work, "patterns.json"), samplerOut, samplerStop], { stdio: "inherit" });
    s3 = await startS3();
    hook = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        if (req.url === `/hooks/${HOOK_TOKEN}`) hookBodies.push(body);
        res.writeHead(req.url === `/hooks/${HOOK_TOKEN}` ? 200 : 404).end("ok");
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    const port = (hook.address() as { port: number }).port;
    fs.writeFileSync(webhookFile, `http://127.0.0.1:${port}/hooks/${HOOK_TOKEN}\n`, { mode: 0o600 });

    await teardown(PREFIX, NET);
    const { plain, secret } = passwordStack(PREFIX, { postgres: DB_PASSWORD, mysql: DB_PASSWORD, redis: DB_PASSWORD }, { replicas: 1, env: {} });
    const run = await runStack("dev", plain, secret);
    const databasesOnly = run.resources.filter((r) => r.name === "host-bootstrap" || /^(postgres|mysql|redis)(-|$)/.test(r.name));
    const imageFor = (name: string) => ({ postgres: images.POSTGRES, mysql: images.MARIADB, redis: images.REDIS })[name] ?? images.APP_V1;
    const applied = await applyStack({ ...run, resources: databasesOnly }, imageFor);
    for (const db of ["postgres", "mysql", "redis"]) expect(applied.outcome[db]).toBe("converged");

    // Over 100 MB of hex text: it compresses about 2:1, never to nothing.
    await psql("app", "create table big (id int primary key, body text not null)");
    await psql("app", "insert into big select g, (select string_agg(md5((g * 31 + i)::text), '') from generate_series(1, 8) i) from generate_series(1, 420000) g");
    await psql("app", "insert into big values (0, 'quoted '' \" \\ ✓ 🚂')");
    expect(Number(await psql("app", "select pg_database_size('app')"))).toBeGreaterThan(100 * 1024 * 1024);
  });

  afterAll(async () => {
    fs.writeFileSync(samplerStop, "");
    if (samplerProc.exitCode === null) await new Promise((r) => samplerProc.once("exit", r));
    await teardown(PREFIX, NET);
    await s3?.stop();
    hook?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("streams a Postgres database of over 100 MB in several parts; it restores with identical rows", async () => {
    const started = Date.now();
    const { done } = startBackup(bucketArgs("postgres"));
    const parts = await watchParts(done);
    const r = await done;
    expect(r.status, r.stderr).toBe(0);
    const key = r.stdout.trim();
    console.log(`postgres: ${(Date.now() - started) / 1000} s, ${parts} parts held at once`);
    expect(parts).toBeGreaterThanOrEqual(3);
    expect(keys(`${PREFIX}/postgres/`)).toEqual([key, `${key}.json`]);
    const { manifest, body } = checkedManifest(key, "postgres", "postgres", "dump");
    expect(manifest.bytes).toBeGreaterThan(40 * 1024 * 1024);
    expect(unzstd(body).subarray(0, 5).toString()).toBe("PGDMP");
    expect(state("postgres")).toMatchObject({ result: "ok", key, bytes: manifest.bytes, sha256: manifest.sha256, exit_code: 0, message: "" });

    // Restore from a download into a scratch database (by hand: the restore script is tested on its own).
    await psql("app", "drop database if exists scratch");
    await psql("app", "create database scratch");
    const container = await runningContainer(`${PREFIX}-postgres`);
    const restore = `aws --endpoint-url "$1" --region us-east-1 s3 cp "$2" - | zstd -dc | docker exec -i "$3" sh -c 'PGPASSWORD="$(cat /run/secrets/railyard_db_password)" exec pg_restore -h 127.0.0.1 -U app -d scratch --no-owner --exit-on-error'`;
    await execFileAsync("bash", ["-o", "pipefail", "-c", restore, "restore", s3.endpoint, `s3://${s3.bucket}/${key}`, container], {
      env: { ...s3.env, AWS_SHARED_CREDENTIALS_FILE: credentials },
    });
    const original = await psql("app", CHECKSUM);
    expect(original).toMatch(/^420001:[0-9a-f]{32}$/);
    expect(await psql("scratch", CHECKSUM)).toBe(original);
  });

  it("a pg_dump killed part-way exits 21 and leaves no object and no manifest", async () => {
    const before = keys(`${PREFIX}/postgres/`);
    // zstd -12 makes the stream slow enough (about 20 s here) to be killed in the middle.
    const { done } = startBackup(bucketArgs("postgres", ["--level", "12"]));
    await dumpUnderWay();
    await sh(await runningContainer(`${PREFIX}-postgres`), "pkill -x pg_dump");
    const r = await done;
    expect(r.status, r.stderr).toBe(21);
    expect(r.stderr).toContain(`the postgres dump of ${PREFIX}-postgres failed`);
    expect(r.stdout).toBe("");
    await sleep(2000); // an uploader that was not stopped would complete the object by now
    expect(keys(`${PREFIX}/postgres/`)).toEqual(before);
    expect(state("postgres")).toMatchObject({ result: "failed", exit_code: 21 });
  });

  it("a backup sent TERM exits 25 at once and leaves no object and no manifest", async () => {
    const before = keys(`${PREFIX}/postgres/`);
    const { child, done } = startBackup(bucketArgs("postgres", ["--level", "12"]));
    await dumpUnderWay();
    const sent = Date.now();
    child.kill("SIGTERM");
    const r = await done;
    expect(r.status, r.stderr).toBe(25);
    expect(Date.now() - sent).toBeLessThan(5000);
    expect(r.stderr).toContain("interrupted: the upload of");
    await sleep(2000);
    expect(keys(`${PREFIX}/postgres/`)).toEqual(before);
    expect(state("postgres")).toMatchObject({ result: "failed", exit_code: 25 });
    // The dump in the task ends too (its output pipe is gone).
    const container = await runningContainer(`${PREFIX}-postgres`);
    let left = "";
    for (let i = 0; i < 100; i++) {
      left = await sh(container, "pgrep -x pg_dump || true");
      if (!left) break;
      await sleep(200);
    }
    expect(left).toBe("");
  });

  it("streams a Redis snapshot and a MySQL (MariaDB) dump with their manifests", async () => {
    await sh(await runningContainer(`${PREFIX}-redis`), `REDISCLI_AUTH="$(cat /run/secrets/railyard_db_password)" redis-cli --no-auth-warning set ryu-key "kept ✓"`);
    const rd = await backup(bucketArgs("redis"));
    expect(rd.status, rd.stderr).toBe(0);
    const rdb = unzstd(checkedManifest(rd.stdout.trim(), "redis", "redis", "rdb").body);
    expect(rdb.subarray(0, 5).toString()).toBe("REDIS");
    expect(rdb.includes(Buffer.from("ryu-key"))).toBe(true);
    expect(fs.readdirSync(stateDir)).toContain("backup-redis.json");

    const my = await runningContainer(`${PREFIX}-mysql`);
    const mysql = `MYSQL_PWD="$(cat /run/secrets/railyard_db_password)" mariadb --default-character-set=utf8mb4 -h 127.0.0.1 -u app app -e "$0"`;
    await sh(my, mysql, "create table kept (id int primary key, v varchar(64)); insert into kept values (1, 'it''s kept ✓')");
    const r = await backup(bucketArgs("mysql"));
    expect(r.status, r.stderr).toBe(0);
    const sql = unzstd(checkedManifest(r.stdout.trim(), "mysql", "mysql", "sql").body).toString();
    expect(sql).toContain("CREATE TABLE `kept`");
    expect(sql).toContain("it\\'s kept ✓");
    expect(sql).toMatch(/-- Dump completed/);
  });

  it("a failed upload exits 22, records failed and posts the webhook; a stopped server too", async () => {
    const before = hookBodies.length;
    const r = await backup(bucketArgs("postgres", ["--webhook-file", webhookFile]).map((a) => (a === s3.bucket ? "ryu-no-such-bucket" : a)));
    expect(r.status, r.stderr).toBe(22);
    expect(r.stderr).toContain("the upload of s3://ryu-no-such-bucket/ryu/postgres/");
    expect(state("postgres")).toMatchObject({ result: "failed", exit_code: 22 });
    expect(String(state("postgres").message)).toContain("upload");
    expect(hookBodies.length).toBe(before + 1);
    const posted = JSON.parse(hookBodies[before]) as { text: string };
    expect(posted.text).toContain(`railyard backup of ${PREFIX}/postgres (postgres, scheduled) failed`);
    expect(posted.text).toContain("(exit 22)");

    const stopped = await startS3("ryu-stopped");
    const endpoint = stopped.endpoint;
    await stopped.stop();
    const down = await backup(bucketArgs("redis", ["--webhook-file", webhookFile], endpoint));
    expect(down.status, down.stderr).toBe(22);
    expect(state("redis")).toMatchObject({ result: "failed", exit_code: 22 });
    expect(hookBodies.length).toBe(before + 2);
  });

  it("exits 20 without a running container and 2 on bad S3 arguments, recording the 20", async () => {
    const none = await backup(bucketArgs("postgres").map((a) => (a === `${PREFIX}-postgres` ? `${PREFIX}-nothing` : a)));
    expect(none.status).toBe(20);
    expect(state("postgres")).toMatchObject({ result: "failed", exit_code: 20 });
    const loose = path.join(work, "loose.ini");
    fs.writeFileSync(loose, fs.readFileSync(credentials), { mode: 0o644 });
    const r = await backup(bucketArgs("postgres").map((a) => (a === credentials ? loose : a)));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--credentials must be an absolute path to a readable AWS shared-credentials file that only its owner can read");
  });

  it("no credential in any argv or environment, service spec, docker inspect, output or state file", async () => {
    fs.writeFileSync(samplerStop, "");
    if (samplerProc.exitCode === null) await new Promise((r) => samplerProc.once("exit", r));
    const sampled = JSON.parse(fs.readFileSync(samplerOut, "utf8")) as { rounds: number; uploaders: number; scripts: number; curls: number; hits: unknown[] };
    console.log(`sampler: ${sampled.rounds} rounds, uploader seen ${sampled.uploaders}×, script ${sampled.scripts}×, curl ${sampled.curls}×`);
    expect(sampled.hits).toEqual([]);
    expect(sampled.uploaders).toBeGreaterThan(10);
    expect(sampled.scripts).toBeGreaterThan(10);

    const services = [`${PREFIX}-postgres`, `${PREFIX}-mysql`, `${PREFIX}-redis`];
    const containers = await Promise.all(services.map((s) => runningContainer(s)));
    const seen = [
      execFileSync("docker", ["service", "inspect", ...services], { encoding: "utf8" }),
      execFileSync("docker", ["inspect", ...containers], { encoding: "utf8" }),
      ...outputs,
      ...fs.readdirSync(stateDir).map((f) => fs.readFileSync(path.join(stateDir, f), "utf8")),
    ].join("\n");
    expect(outputs.length).toBeGreaterThan(10);
    for (const secret of [SECRET_KEY, SESSION_TOKEN, HOOK_TOKEN]) expect(seen.includes(secret), secret).toBe(false);
  });
});
