/**
 * What the program declares for railyard:backups, run for real: the dev stack with a bucket on an S3-compatible
 * server on loopback (s3rver) is applied by the test bed — the host's tools checked, the keys written from stdin
 * into owner-only files, the pre-deploy dump streamed to the bucket before the migration — then the exact
 * ExecStart lines of the declared systemd units (the scheduled dump, the weekly drill) are run as systemd would run
 * them (no systemd here; test/engine/schedule-systemd.test.ts runs units under a real one). The drill restores
 * what the scheduled dump uploaded and records its RPO and RTO. No key appears in any declared command line.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { reveal, runStack, StackRun } from "../harness";
import { applyStack, teardown } from "./apply";
import { onLocalEngine, runningContainer } from "./probe";
import { S3Server, startS3 } from "./s3";

const PREFIX = "ryz";
const DATA_DIR = "/tmp/railyard-engine";
const STACK_DIR = `${DATA_DIR}/${PREFIX}`;
const images = inject("images");
const execFileAsync = promisify(execFile);
const UPLOADER_SECRET = "ryzUploaderSecret0Kq7Wn2Xc5";
const READER_SECRET = "ryzReaderSecret0Lp3Vb8Mz1";

let s3: S3Server;
let run: StackRun;

/** The dev stack on the local engine, with backups to the loopback bucket and a pre-deploy dump. */
async function declare(): Promise<StackRun> {
  const config = onLocalEngine("dev", PREFIX);
  config["railyard:deploy"] = { ...(config["railyard:deploy"] as object), preDeployBackup: true };
  config["railyard:backups"] = {
    bucket: {
      provider: "s3",
      name: s3.bucket,
      endpoint: s3.endpoint,
      uploader: { accessKeyIdSecret: "UPLOADER_ID", secretAccessKeySecret: "UPLOADER_SECRET" },
      reader: { accessKeyIdSecret: "READER_ID", secretAccessKeySecret: "READER_SECRET" },
    },
    databases: ["postgres", "redis"],
  };
  const secrets = { "railyard:secrets": { UPLOADER_ID: "S3RVER", UPLOADER_SECRET, READER_ID: "S3RVER", READER_SECRET } };
  return runStack("dev", config, secrets);
}

/** The declared unit's ExecStart, as argv: the line must need no systemd quoting to split (plain words). */
function execStart(unitsCommand: string): string[] {
  const line = /^ExecStart=(.*)$/m.exec(unitsCommand)?.[1];
  expect(line, "an ExecStart line").toBeDefined();
  expect(line).not.toMatch(/["'\\$%;]/);
  return String(line).split(" ");
}

const create = (name: string) => String(reveal(run.resources.find((r) => r.name === name)?.inputs.create));
const objects = () =>
  fs.readdirSync(path.join(s3.directory, s3.bucket), { recursive: true }).map(String).filter((f) => f.endsWith("._S3rver_object")).map((f) => f.replace(/\._S3rver_object$/, "")).sort();

async function sql(query: string): Promise<string> {
  const c = await runningContainer(`${PREFIX}-postgres`);
  const { stdout } = await execFileAsync("docker", ["exec", c, "sh", "-c", `PGPASSWORD="$(cat /run/secrets/railyard_db_password)" psql -h 127.0.0.1 -U app -d app -v ON_ERROR_STOP=1 -tAc "$0"`, query]);
  return stdout.trim();
}

describe("railyard:backups declared and run (dev stack, loopback bucket)", () => {
  beforeAll(async () => {
    await teardown(PREFIX, `${PREFIX}-net`);
    fs.rmSync(STACK_DIR, { recursive: true, force: true });
    s3 = await startS3("ryz-backups");
    run = await declare();
  });

  afterAll(async () => {
    await teardown(PREFIX, `${PREFIX}-net`);
    fs.rmSync(STACK_DIR, { recursive: true, force: true });
    await s3?.stop();
  });

  it("puts no key in any declared command line or unit", () => {
    const commands = run.resources.filter((r) => r.type === "command:local:Command");
    expect(commands.map((c) => c.name)).toEqual(expect.arrayContaining(["backups-uploader-key", "backups-reader-key", "backups-postgres-units", "backups-postgres-drill-units"]));
    for (const c of commands) {
      const line = String(reveal(c.inputs.create));
      expect(line, c.name).not.toContain(UPLOADER_SECRET);
      expect(line, c.name).not.toContain(READER_SECRET);
    }
  });

  it("applies: tools checked, keys written owner-only, the pre-deploy dump streamed to the bucket before the migration", async () => {
    // The bed applies the databases, the backups' host commands and the pre-deploy dumps; systemd units need a
    // running systemd (their ExecStart lines run below), and the app services are not this test's subject.
    const wanted = (r: { name: string }) =>
      r.name === "host-bootstrap" || /^(postgres|redis)(-|$)/.test(r.name) || (r.name.startsWith("backups-") && !r.name.endsWith("-units")) || r.name.startsWith("backup-");
    const applied = await applyStack({ ...run, resources: run.resources.filter(wanted) }, (name) => (name === "postgres" ? images.POSTGRES : images.REDIS));
    expect(applied.outcome).toMatchObject({
      "backups-tools": "ok",
      "backups-uploader-key": "ok",
      "backups-reader-key": "ok",
      "backup-postgres": "ok",
      "backup-redis": "ok",
    });
    for (const file of ["backup-uploader.ini", "backup-reader.ini"]) {
      const stat = fs.statSync(path.join(STACK_DIR, "secrets", file));
      expect(stat.mode & 0o777, file).toBe(0o600);
    }
    expect(fs.statSync(path.join(STACK_DIR, "secrets")).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(path.join(STACK_DIR, "secrets", "backup-uploader.ini"), "utf8")).toContain(UPLOADER_SECRET);
    const manifests = objects().filter((k) => k.endsWith(".json"));
    expect(manifests.map((k) => k.replace(/\/[^/]+$/, ""))).toEqual([`${PREFIX}/postgres`, `${PREFIX}/redis`]);
    const manifest = JSON.parse(fs.readFileSync(path.join(s3.directory, s3.bucket, `${manifests[0]}._S3rver_object`), "utf8")) as Record<string, unknown>;
    expect(manifest).toMatchObject({ reason: "pre-deploy", database: "postgres", engine: "postgres", compression: "zstd" });
  });

  it("the declared scheduled dump and drill run as their units would, and the drill records RPO and RTO", async () => {
    await sql("create table orders (id serial primary key, note text not null, at timestamptz not null default now())");
    await sql("insert into orders (note) select 'order ' || g from generate_series(1, 2500) g");
    // Keys carry whole seconds: the scheduled dump gets a time of its own after the pre-deploy one.
    await new Promise((r) => setTimeout(r, 1100));
    const dump = execStart(create("backups-postgres-units"));
    expect(dump.slice(0, 3)).toEqual(["/usr/bin/timeout", "21600", "bash"]);
    const backup = await execFileAsync(dump[0], dump.slice(1), { env: s3.env });
    expect(backup.stdout.trim()).toMatch(new RegExp(`^${PREFIX}/postgres/\\d{8}T\\d{6}Z\\.dump\\.zst$`));
    const state = JSON.parse(fs.readFileSync(path.join(STACK_DIR, "state", "backup-postgres.json"), "utf8")) as Record<string, unknown>;
    expect(state).toMatchObject({ result: "ok", key: backup.stdout.trim() });

    const drill = execStart(create("backups-postgres-drill-units"));
    expect(drill).toContain(path.join(STACK_DIR, "secrets", "backup-reader.ini"));
    await execFileAsync(drill[0], drill.slice(1), { env: s3.env });
    const record = JSON.parse(fs.readFileSync(path.join(STACK_DIR, "state", "drill-postgres.json"), "utf8")) as Record<string, unknown>;
    expect(record).toMatchObject({ result: "ok", key: backup.stdout.trim() });
    expect(Number(record.rpo_seconds)).toBeGreaterThanOrEqual(0);
    expect(Number(record.rto_seconds)).toBeGreaterThan(0);
    expect(JSON.stringify(record.counts)).toContain("2500");
    // The drill left no scratch container behind.
    const { stdout } = await execFileAsync("docker", ["ps", "-aq", "--filter", `label=railyard.scratch=${PREFIX}-postgres`]);
    expect(stdout.trim()).toBe("");
  });
});
