/** The bucket backup's builders (commands/backup.ts): exact lines, then run for real by bash and sh with hostile values. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { BucketBackupArgs, bucketBackupArgv, bucketBackupCommand } from "../commands/backup";
import { HOSTILE } from "./hostile";

const SCRIPT = "/srv/railyard/production/scripts/railyard-backup.sh";
const production: BucketBackupArgs = {
  service: "production-postgres",
  engine: "postgres",
  user: "crm",
  database: "crm",
  bucket: "acme-railyard-backups",
  prefix: "production/postgres",
  credentials: "/srv/railyard/production/secrets/backup-uploader.ini",
  timeoutSeconds: 3600,
};

describe("bucket backup command", () => {
  it("builds the exact line with only what is given (the script's defaults for the rest)", () => {
    expect(bucketBackupCommand(SCRIPT, production)).toBe(
      "timeout 3600 bash /srv/railyard/production/scripts/railyard-backup.sh --service production-postgres --engine postgres --user crm --database crm " +
        "--bucket acme-railyard-backups --prefix production/postgres --credentials /srv/railyard/production/secrets/backup-uploader.ini",
    );
  });

  it("builds the pre-deploy line of an S3-compatible store", () => {
    const minio = { ...production, endpoint: "https://minio.example.com:9000", region: "eu-west-1", reason: "pre-deploy" as const };
    expect(bucketBackupCommand(SCRIPT, { ...minio, timeoutSeconds: 1800 })).toBe(
      "timeout 1800 bash /srv/railyard/production/scripts/railyard-backup.sh --service production-postgres --engine postgres --user crm --database crm " +
        "--bucket acme-railyard-backups --prefix production/postgres --credentials /srv/railyard/production/secrets/backup-uploader.ini " +
        "--endpoint https://minio.example.com:9000 --region eu-west-1 --reason pre-deploy",
    );
  });

  it("builds the scheduled unit's argv, every option in order", () => {
    expect(
      bucketBackupArgv(SCRIPT, {
        ...production,
        engine: "redis",
        service: "production-redis",
        user: "default",
        database: "0",
        prefix: "production/redis",
        endpoint: undefined,
        region: "us-east-1",
        reason: "scheduled",
        level: 3,
        stateDir: "/srv/railyard/production/state",
        webhookFile: "/srv/railyard/production/secrets/backup-webhook.url",
      }),
    ).toEqual([
      "timeout", "3600", "bash", SCRIPT,
      "--service", "production-redis", "--engine", "redis", "--user", "default", "--database", "0",
      "--bucket", "acme-railyard-backups", "--prefix", "production/redis", "--credentials", "/srv/railyard/production/secrets/backup-uploader.ini",
      "--region", "us-east-1", "--reason", "scheduled", "--level", "3",
      "--state-dir", "/srv/railyard/production/state", "--webhook-file", "/srv/railyard/production/secrets/backup-webhook.url",
    ]);
  });

  it("delivers every hostile value as exactly one literal argument, by bash and sh, and executes nothing", () => {
    fs.rmSync("/tmp/railyard-pwned", { force: true });
    // A stand-in for the script: prints each argument it gets, NUL-terminated.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-bucket-argv-"));
    const echo = path.join(dir, "rail yard's backup.sh");
    fs.writeFileSync(echo, `printf '%s\\0' "$@"\n`);
    const fields = ["service", "user", "database", "bucket", "prefix", "credentials", "endpoint", "region", "stateDir", "webhookFile"] as const;
    for (const value of HOSTILE) {
      for (const field of fields) {
        const args: BucketBackupArgs = { ...production, [field]: value };
        const line = bucketBackupCommand(echo, args);
        const expected = bucketBackupArgv(echo, args).slice(4);
        expect(expected).toContain(value);
        for (const shell of ["bash", "sh"]) {
          const out = execFileSync(shell, ["-c", line], { encoding: "utf8" });
          expect(out.split("\0").slice(0, -1), `${field}=${JSON.stringify(value)} by ${shell}`).toEqual(expected);
        }
      }
    }
    expect(fs.existsSync("/tmp/railyard-pwned")).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
