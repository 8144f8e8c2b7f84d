/**
 * host/railyard-backup.sh against real Postgres and Redis tasks (deployed from the dev stack's declarations):
 * retention keeps exactly N, a dump restores into a scratch database with identical rows, failures keep old dumps.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT, runStack } from "../harness";
import { applyStack, teardown } from "./apply";
import { onLocalEngine, runningContainer } from "./probe";

const PREFIX = "ryk";
const SCRIPT = path.join(ROOT, "host", "railyard-backup.sh");
const images = inject("images");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-backups-"));

const backup = (...args: string[]) => spawnSync("bash", [SCRIPT, ...args], { encoding: "utf8" });
const pgArgs = (extra: string[] = []) =>
  ["--service", `${PREFIX}-postgres`, "--engine", "postgres", "--user", "app", "--database", "app", "--dir", dir, ...extra];

/** Runs SQL in the Postgres task as the app user, with the password from its Swarm secret. */
async function psql(database: string, sql: string, input?: Buffer): Promise<string> {
  const script = `PGPASSWORD="$(cat /run/secrets/railyard_db_password)" psql -h 127.0.0.1 -U app -d "$0" -v ON_ERROR_STOP=1 -tAc "$1"`;
  return execFileSync("docker", ["exec", "-i", await runningContainer(`${PREFIX}-postgres`), "sh", "-c", script, database, sql], {
    encoding: "utf8",
    input,
  }).trim();
}

const dumps = () => fs.readdirSync(dir).filter((f) => f.startsWith(`${PREFIX}-postgres-`)).sort();
const CHECKSUM = "select count(*) || ':' || md5(string_agg(id || ',' || name, ';' order by id)) from items";

describe("pre-deploy backups on a real engine", () => {
  beforeAll(async () => {
    await teardown(PREFIX, `${PREFIX}-net`);
    const run = await runStack("dev", onLocalEngine("dev", PREFIX));
    const databasesOnly = run.resources.filter((r) => r.name === "host-bootstrap" || /^(postgres|redis)(-|$)/.test(r.name));
    const applied = await applyStack({ ...run, resources: databasesOnly }, (name) => (name === "postgres" ? images.POSTGRES : images.REDIS));
    expect(applied.outcome).toEqual({
      "host-bootstrap": "ok",
      "postgres-password-rotate": "ok",
      postgres: "converged",
      "postgres-settle": "ok",
      "postgres-password-check": "ok",
      redis: "converged",
      "redis-settle": "ok",
    });
    await psql("app", "create table items (id serial primary key, name text not null)");
    await psql("app", "insert into items (name) select 'item ' || g || ' ''quoted'' ✓' from generate_series(1, 500) g");
  });

  afterAll(async () => {
    await teardown(PREFIX, `${PREFIX}-net`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps exactly the newest N dumps", async () => {
    const written: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = backup(...pgArgs(["--keep", "5"]));
      expect(r.status, r.stderr).toBe(0);
      written.push(path.basename(r.stdout.trim()));
      await new Promise((res) => setTimeout(res, 1100)); // names carry the second
    }
    expect(dumps()).toEqual(written.slice(2));
  });

  it("a dump restores into a scratch database with identical rows and checksum", async () => {
    const latest = path.join(dir, dumps()[dumps().length - 1]);
    expect(fs.readFileSync(latest).subarray(0, 5).toString()).toBe("PGDMP"); // pg_dump's custom format
    await psql("app", "drop database if exists scratch");
    await psql("app", "create database scratch");
    const restore = `PGPASSWORD="$(cat /run/secrets/railyard_db_password)" pg_restore -h 127.0.0.1 -U app -d scratch --no-owner`;
    execFileSync("docker", ["exec", "-i", await runningContainer(`${PREFIX}-postgres`), "sh", "-c", restore], { input: fs.readFileSync(latest) });
    const original = await psql("app", CHECKSUM);
    expect(original).toMatch(/^500:[0-9a-f]{32}$/);
    expect(await psql("scratch", CHECKSUM)).toBe(original);
  });

  it("a failed dump exits 21, leaves no partial file and keeps the older dumps", () => {
    const before = dumps();
    const r = backup("--service", `${PREFIX}-postgres`, "--engine", "postgres", "--user", "nobody", "--database", "app", "--dir", dir);
    expect(r.status).toBe(21);
    expect(r.stderr).toContain("older dumps in");
    expect(dumps()).toEqual(before);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".partial"))).toEqual([]);
  });

  it("exits 20 when the service has no running container, and 2 on bad arguments", () => {
    expect(backup("--service", `${PREFIX}-nothing`, "--engine", "postgres", "--user", "app", "--database", "app", "--dir", dir).status).toBe(20);
    expect(backup(...pgArgs(["--keep", "0"])).status).toBe(2);
    expect(backup(...pgArgs(["--dir", "/tmp/$(reboot)"])).status).toBe(2);
    expect(backup("--service", "x", "--engine", "oracle", "--user", "a", "--database", "a", "--dir", dir).status).toBe(2);
    const help = backup("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("pg_dump --format=custom");
  });

  it("snapshots Redis as an RDB file", async () => {
    const auth = `REDISCLI_AUTH="$(cat /run/secrets/railyard_db_password)" redis-cli -h 127.0.0.1 set railyard-key kept`;
    execFileSync("docker", ["exec", await runningContainer(`${PREFIX}-redis`), "sh", "-c", auth]);
    const r = backup("--service", `${PREFIX}-redis`, "--engine", "redis", "--user", "default", "--database", "0", "--dir", dir);
    expect(r.status, r.stderr).toBe(0);
    const rdb = fs.readFileSync(r.stdout.trim());
    expect(rdb.subarray(0, 5).toString()).toBe("REDIS");
    expect(rdb.includes(Buffer.from("railyard-key"))).toBe(true);
  });
});
