/** Restore and drill command builders: exact strings, then run for real by bash and sh with hostile values. */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { DrillArgs, drillArgv, drillCommand, RestoreArgs, restoreArgv, restoreCommand } from "../commands/restore";
import { ROOT } from "./harness";
import { HOSTILE } from "./hostile";

const SCRIPTS = "/srv/railyard/production/scripts";
const S3 = { bucket: "railyard-production-backups", prefix: "production/postgres", credentials: "/srv/railyard/production/secrets/backup-reader.ini" };
const PG = { service: "production-postgres", engine: "postgres", user: "crm", database: "crm" } as const;

describe("restore command", () => {
  it("builds the exact lines: from the bucket by date, into scratch by default", () => {
    expect(restoreCommand(`${SCRIPTS}/railyard-restore.sh`, { ...PG, source: { from: "bucket", s3: S3, at: "2026-11-20" }, timeoutSeconds: 3600 })).toBe(
      "timeout 3600 bash /srv/railyard/production/scripts/railyard-restore.sh --service production-postgres --engine postgres --user crm --database crm" +
        " --bucket railyard-production-backups --prefix production/postgres --credentials /srv/railyard/production/secrets/backup-reader.ini" +
        " --at 2026-11-20 --into scratch",
    );
    expect(
      restoreCommand(`${SCRIPTS}/railyard-restore.sh`, {
        ...PG,
        source: { from: "bucket", s3: { ...S3, endpoint: "https://s3.example.com", region: "auto" }, key: "production/postgres/20261120T030000Z.dump.zst" },
        keep: true,
        check: true,
        json: true,
        freshness: { query: "select max(created_at) from orders", maxAgeSeconds: 90000 },
        timeoutSeconds: 600,
      }),
    ).toBe(
      "timeout 600 bash /srv/railyard/production/scripts/railyard-restore.sh --service production-postgres --engine postgres --user crm --database crm" +
        " --bucket railyard-production-backups --prefix production/postgres --credentials /srv/railyard/production/secrets/backup-reader.ini" +
        " --endpoint https://s3.example.com --region auto --key production/postgres/20261120T030000Z.dump.zst --into scratch --keep --check" +
        " --freshness-query 'select max(created_at) from orders' --max-age 90000 --json",
    );
  });

  it("builds the exact lines: from stdin (npm run restore), into live with --yes and the safety dump's destination", () => {
    const sha = "a".repeat(64);
    expect(
      restoreCommand("/opt/rail yard/railyard-restore.sh", {
        ...PG,
        source: { from: "stdin", key: "production/postgres/20261120T030000Z.dump.zst", sha256: sha, s3: { bucket: S3.bucket, prefix: S3.prefix } },
        into: "live",
        safetyCredentials: "/srv/railyard/production/secrets/backup-uploader.ini",
        timeoutSeconds: 7200,
      }),
    ).toBe(
      "timeout 7200 bash '/opt/rail yard/railyard-restore.sh' --service production-postgres --engine postgres --user crm --database crm" +
        ` --stdin --key production/postgres/20261120T030000Z.dump.zst --sha256 ${sha} --bucket railyard-production-backups --prefix production/postgres` +
        " --into live --yes --safety-credentials /srv/railyard/production/secrets/backup-uploader.ini",
    );
    expect(
      restoreCommand(`${SCRIPTS}/railyard-restore.sh`, {
        ...PG,
        source: { from: "bucket", s3: S3 },
        into: "live",
        safetyDir: "/srv/railyard/production/backups",
        timeoutSeconds: 60,
      }),
    ).toContain("--into live --yes --safety-dir /srv/railyard/production/backups");
  });
});

describe("drill command", () => {
  it("builds the exact line", () => {
    expect(
      drillCommand(`${SCRIPTS}/railyard-drill.sh`, {
        ...PG,
        ...S3,
        stateDir: "/srv/railyard/production/state",
        webhookFile: "/srv/railyard/production/secrets/backup-webhook.url",
        timeoutSeconds: 3600,
      }),
    ).toBe(
      "timeout 3600 bash /srv/railyard/production/scripts/railyard-drill.sh --service production-postgres --engine postgres --user crm --database crm" +
        " --bucket railyard-production-backups --prefix production/postgres --credentials /srv/railyard/production/secrets/backup-reader.ini" +
        " --state-dir /srv/railyard/production/state --webhook-file /srv/railyard/production/secrets/backup-webhook.url",
    );
    expect(
      drillCommand(`${SCRIPTS}/railyard-drill.sh`, {
        service: "dev-mysql", engine: "mysql", user: "app", database: "app",
        ...S3, prefix: "dev/mysql", endpoint: "http://127.0.0.1:9000",
        stateDir: "/tmp/railyard/dev/state",
        maxDumpAgeHours: 26,
        freshnessQuery: "select 1",
        freshnessMaxAgeHours: 0.5,
        timeoutSeconds: 900,
      }),
    ).toBe(
      "timeout 900 bash /srv/railyard/production/scripts/railyard-drill.sh --service dev-mysql --engine mysql --user app --database app" +
        " --bucket railyard-production-backups --prefix dev/mysql --credentials /srv/railyard/production/secrets/backup-reader.ini" +
        " --endpoint http://127.0.0.1:9000 --state-dir /tmp/railyard/dev/state --max-dump-age 93600 --freshness-query 'select 1' --max-age 1800",
    );
    expect(() => drillArgv("/x", { ...PG, ...S3, stateDir: "/s", freshnessQuery: "select 1", timeoutSeconds: 1 })).toThrow("go together");
  });
});

/** A stand-in script that prints each argument it got, NUL-terminated. */
function argvPrinter(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-argv-"));
  const script = path.join(dir, "print argv.sh");
  fs.writeFileSync(script, "printf '%s\\0' \"$@\"\n");
  return script;
}

const words = (out: string) => out.split("\0").slice(0, -1);

describe("restore and drill commands run by real shells", () => {
  it("deliver every hostile value as exactly one literal argument, by bash and sh, and execute nothing", () => {
    fs.rmSync("/tmp/railyard-pwned", { force: true });
    const printer = argvPrinter();
    for (const value of HOSTILE) {
      const restore: RestoreArgs = {
        service: value, engine: "postgres", user: value, database: value,
        source: { from: "bucket", s3: { bucket: value, prefix: value, credentials: value, endpoint: value, region: value }, at: value },
        into: "live", safetyDir: value, check: true, freshness: { query: value, maxAgeSeconds: 5 }, timeoutSeconds: 30,
      };
      const drill: DrillArgs = {
        service: value, engine: "mysql", user: value, database: value,
        bucket: value, prefix: value, credentials: value, endpoint: value,
        stateDir: value, webhookFile: value, freshnessQuery: value, freshnessMaxAgeHours: 1, timeoutSeconds: 30,
      };
      for (const shell of ["bash", "sh"]) {
        const out = words(execFileSync(shell, ["-c", restoreCommand(printer, restore)], { encoding: "utf8" }));
        expect(out, `${JSON.stringify(value)} by ${shell}`).toEqual(restoreArgv(restore));
        expect(out.filter((w) => w === value).length).toBe(11);
        const drilled = words(execFileSync(shell, ["-c", drillCommand(printer, drill)], { encoding: "utf8" }));
        expect(drilled.filter((w) => w === value).length, `${JSON.stringify(value)} by ${shell}`).toBe(10);
        expect(drilled).toEqual(drillArgv(printer, drill).slice(4));
      }
    }
    expect(fs.existsSync("/tmp/railyard-pwned")).toBe(false);
  });

  it("the real scripts refuse hostile values with exit 2 naming the argument, before anything runs", () => {
    fs.rmSync("/tmp/railyard-pwned", { force: true });
    const restoreScript = path.join(ROOT, "host", "railyard-restore.sh");
    const drillScript = path.join(ROOT, "host", "railyard-drill.sh");
    const creds = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "railyard-creds-")), "reader.ini");
    fs.writeFileSync(creds, "[default]\n", { mode: 0o600 });
    const good: RestoreArgs = { ...PG, source: { from: "bucket", s3: { ...S3, credentials: creds } }, timeoutSeconds: 30 };
    const hostile = HOSTILE.filter((v) => v !== "plain" && v !== "-n");
    const cases: [string, (v: string) => RestoreArgs][] = [
      ["--service", (v) => ({ ...good, service: v })],
      ["--user", (v) => ({ ...good, user: v })],
      ["--bucket", (v) => ({ ...good, source: { from: "bucket", s3: { ...S3, credentials: creds, bucket: v } } })],
      ["--prefix", (v) => ({ ...good, source: { from: "bucket", s3: { ...S3, credentials: creds, prefix: v } } })],
      ["--at", (v) => ({ ...good, source: { from: "bucket", s3: { ...S3, credentials: creds }, at: v } })],
    ];
    for (const [option, make] of cases) {
      for (const value of hostile) {
        const r = spawnSync("bash", ["-c", restoreCommand(restoreScript, make(value))], { encoding: "utf8" });
        expect(r.status, `${option} ${JSON.stringify(value)}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toContain(`railyard-restore: ${option} must be`);
      }
    }
    for (const value of hostile) {
      const r = spawnSync("bash", ["-c", drillCommand(drillScript, { ...PG, ...S3, credentials: creds, stateDir: value, timeoutSeconds: 30 })], { encoding: "utf8" });
      expect(r.status, JSON.stringify(value)).toBe(2);
      expect(r.stderr).toContain("railyard-drill: --state-dir must be");
    }
    expect(fs.existsSync("/tmp/railyard-pwned")).toBe(false);
  });
});

describe("railyard-drill.sh around a stand-in restore (its state file, exit codes and signals)", () => {
  /** The drill beside the shared libraries and a railyard-restore.sh that runs `body`. */
  function drillWith(body: string): { dir: string; run: (extra?: string[], timeout?: number) => ReturnType<typeof spawnSync>; state: () => Record<string, unknown> } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-drill-"));
    for (const f of ["railyard-lib.sh", "railyard-s3.sh", "railyard-drill.sh"]) fs.copyFileSync(path.join(ROOT, "host", f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, "railyard-restore.sh"), `${body}\n`);
    const creds = path.join(dir, "reader.ini");
    fs.writeFileSync(creds, "[default]\n", { mode: 0o600 });
    const state = path.join(dir, "state");
    const argv = ["--service", "dev-postgres", "--engine", "postgres", "--user", "app", "--database", "app", "--bucket", "dev-backups", "--prefix", "dev/postgres", "--credentials", creds, "--state-dir", state];
    return {
      dir,
      run: (extra = [], timeout = 30) => spawnSync("timeout", [String(timeout), "bash", path.join(dir, "railyard-drill.sh"), ...argv, ...extra], { encoding: "utf8" }),
      state: () => JSON.parse(fs.readFileSync(path.join(state, "drill-postgres.json"), "utf8")) as Record<string, unknown>,
    };
  }

  it("records a passed drill: key, dump time, RPO, RTO and the counts as the restore reported them", () => {
    const report = '{"result": "ok", "key": "dev/postgres/20261120T030000Z.dump.zst", "dump_time": "2026-11-20T03:00:00Z", "bytes": 10, "into": "scratch", "restore_seconds": 1.5, "counts": {"public.a}b": 3, "public.items": 500}}';
    const d = drillWith(`printf '%s\\n' '${report}'`);
    const r = d.run();
    expect(r.status, String(r.stderr)).toBe(0);
    const s = d.state();
    expect(s).toMatchObject({ result: "ok", database: "postgres", key: "dev/postgres/20261120T030000Z.dump.zst", dump_time: "2026-11-20T03:00:00Z", rto_seconds: 1.5, counts: { "public.a}b": 3, "public.items": 500 } });
    expect(Math.abs((s.rpo_seconds as number) - (Date.now() / 1000 - Date.parse("2026-11-20T03:00:00Z") / 1000))).toBeLessThan(60);
    expect(d.run(["--max-dump-age", "3600"]).status).toBe(67);
    expect(d.state()).toMatchObject({ result: "failed", exit_code: 67, counts: { "public.items": 500 } });
  });

  it("records a failed restore with its code and reason, and tries the webhook (the URL never in argv or output)", () => {
    const d = drillWith("echo 'railyard-restore: the postgres restore of K into scratch container X failed' >&2; exit 62");
    const hook = path.join(d.dir, "webhook.url");
    fs.writeFileSync(hook, "http://127.0.0.1:9/hooks/secret-path-Xy7\n", { mode: 0o600 });
    const r = d.run(["--webhook-file", hook]);
    expect(r.status).toBe(62);
    expect(d.state()).toMatchObject({ result: "failed", exit_code: 62, reason: "the postgres restore of K into scratch container X failed" });
    expect(String(r.stderr)).toContain("the webhook POST failed");
    expect(String(r.stderr)).not.toContain("secret-path-Xy7");
  });

  it("a drill stopped by its timeout is recorded as failed (68)", () => {
    const d = drillWith("sleep 30");
    const started = Date.now();
    const r = d.run([], 1);
    expect(r.status).toBe(124); // timeout's own code
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(d.state()).toMatchObject({ result: "failed", exit_code: 68 });
    expect(String(d.state().reason)).toContain("stopped by a signal");
  });
});
