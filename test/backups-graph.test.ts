/**
 * The backups each stack declares, under Pulumi mocks: the bucket (railyard's own on AWS for production, the
 * team's MinIO for staging, none for dev), the host's key files written from secret stdin, a scheduled dump and a
 * weekly drill per database as systemd units running as the SSH user, the webhook only where it is set, and
 * pre-deploy dumps to the bucket or the folder as the stack file says.
 */
import { describe, expect, it } from "vitest";
import { removeSecretFileCommand } from "../commands/secretFile";
import { byType, Captured, isSecretValue, one, reveal, runStack, stackFile, StackRun, testSecrets } from "./harness";

const CMD = "command:remote:Command";
const run = (stack: string, mutate: (c: Record<string, unknown>) => void = () => {}) => {
  const plain = structuredClone(stackFile(stack));
  mutate(plain);
  return runStack(stack, plain, testSecrets(stack));
};
const create = (c: Captured) => String(reveal(c.inputs.create));
const unitLine = (c: Captured, key: string) => create(c).split("\n").filter((l) => l.startsWith(`${key}=`));
const backupNames = (r: StackRun) => r.resources.filter((x) => x.name.startsWith("backups")).map((x) => x.name).sort();

describe("backups declared per stack", () => {
  it("staging: keys from its secrets into root-only files (stdin, secret), a dump and a drill per database run as root", async () => {
    const r = await run("staging");
    expect(byType(r, "aws:s3/bucket:Bucket")).toEqual([]);
    expect(backupNames(r)).toEqual([
      "backups",
      "backups-postgres",
      "backups-postgres-drill",
      "backups-postgres-drill-units",
      "backups-postgres-units",
      "backups-reader-key",
      "backups-redis",
      "backups-redis-drill",
      "backups-redis-drill-units",
      "backups-redis-units",
      "backups-tools",
      "backups-uploader-key",
    ]);
    const uploader = one(r, CMD, "backups-uploader-key");
    expect(isSecretValue(uploader.inputs.stdin)).toBe(true);
    expect(reveal(uploader.inputs.stdin)).toBe("[default]\naws_access_key_id = uploader-key-id-value\naws_secret_access_key = uploader-secret-value\n");
    expect(create(uploader)).toContain("cat > /srv/railyard/staging/secrets/backup-uploader.ini.new");
    expect(String(reveal(uploader.inputs.delete))).toBe(removeSecretFileCommand("/srv/railyard/staging/secrets/backup-uploader.ini"));
    expect(reveal(one(r, CMD, "backups-reader-key").inputs.stdin)).toContain("aws_secret_access_key = reader-secret-value\n");

    const units = one(r, CMD, "backups-postgres-units");
    // The SSH user is deploy; the jobs run as root, the key files' only reader.
    expect(unitLine(units, "User")).toEqual(["User=root"]);
    expect(unitLine(units, "OnCalendar")).toEqual(["OnCalendar=*-*-* 03:00:00 UTC"]);
    expect(unitLine(units, "ExecStart")).toEqual([
      "ExecStart=/usr/bin/timeout 21600 bash /srv/railyard/staging/scripts/railyard-backup.sh --service staging-postgres --engine postgres --user aponta --database aponta" +
        " --bucket railyard-staging-backups --prefix staging/postgres --credentials /srv/railyard/staging/secrets/backup-uploader.ini" +
        " --endpoint https://minio.example.com --region us-east-1 --reason scheduled --state-dir /srv/railyard/staging/state",
    ]);
    expect(units.dependsOn).toEqual(expect.arrayContaining(["backups-tools", "backups-uploader-key", "postgres", "host-script-railyard-backup"]));

    const drill = one(r, CMD, "backups-redis-drill-units");
    expect(unitLine(drill, "OnCalendar")).toEqual(["OnCalendar=Sun *-*-* 04:00:00 UTC"]);
    const [exec] = unitLine(drill, "ExecStart");
    expect(exec).toContain("/srv/railyard/staging/scripts/railyard-drill.sh --service staging-redis --engine redis");
    expect(exec).toContain("--credentials /srv/railyard/staging/secrets/backup-reader.ini");
    expect(exec).toContain("--max-dump-age 172800");
    expect(exec).not.toContain("--webhook-file");
    expect(drill.dependsOn).toEqual(expect.arrayContaining(["backups-reader-key"]));
  });

  it("production: the bucket on AWS with Object Lock for 7 years, the webhook's URL in a file, every job told of it", async () => {
    const r = await run("production");
    const [bucket] = byType(r, "aws:s3/bucket:Bucket");
    expect(bucket.inputs.bucket).toBe("railyard-production-backups-example");
    expect(byType(r, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")[0].inputs.rule).toEqual({ defaultRetention: { mode: "COMPLIANCE", days: 2555 } });
    const hook = one(r, CMD, "backups-webhook");
    expect(reveal(hook.inputs.stdin)).toBe("https://hooks.example.com/services/webhook-secret-value\n");
    expect(isSecretValue(hook.inputs.stdin)).toBe(true);
    for (const db of ["postgres", "mongo", "redis"]) {
      for (const job of [`backups-${db}-units`, `backups-${db}-drill-units`]) {
        const [exec] = unitLine(one(r, CMD, job), "ExecStart");
        expect(exec, job).toContain("--webhook-file /srv/railyard/production/secrets/backup-webhook.url");
        expect(exec, job).toContain("--region sa-east-1");
        expect(exec, job).not.toContain("--endpoint");
      }
    }
    // The keys the host gets are the bucket's own IAM users' (secret outputs of the access keys), written once the
    // bucket is whole (policies, versioning, lock).
    const uploader = one(r, CMD, "backups-uploader-key");
    expect(isSecretValue(uploader.inputs.stdin)).toBe(true);
    expect(uploader.dependsOn).toContain("backups-bucket");
  });

  it("dev: no backups at all", async () => {
    expect(backupNames(await run("dev"))).toEqual([]);
  });

  it("pre-deploy dumps stay in the host's folder when preDeployToBucket is false, and for a database the bucket does not back up", async () => {
    const r = await run("production", (c) => {
      (c["railyard:backups"] as Record<string, unknown>).databases = ["postgres", "mongo"];
    });
    expect(create(one(r, CMD, "backup-postgres"))).toContain("--bucket railyard-production-backups-example --prefix production/postgres");
    expect(create(one(r, CMD, "backup-redis"))).toMatch(/^timeout 1800 bash .* --dir \/srv\/railyard\/production\/backups --keep 5$/);
    expect(backupNames(r).filter((n) => n.startsWith("backups-redis"))).toEqual([]);
    const local = await run("production", (c) => {
      (c["railyard:backups"] as Record<string, unknown>).preDeployToBucket = false;
    });
    for (const db of ["postgres", "mongo", "redis"]) expect(create(one(local, CMD, `backup-${db}`))).toContain("--dir /srv/railyard/production/backups --keep 5");
  });

  it("without a drill: no reader key and no drill units", async () => {
    const r = await run("staging", (c) => {
      const b = c["railyard:backups"] as Record<string, unknown>;
      b.drill = { enabled: false };
      delete (b.bucket as Record<string, unknown>).reader;
    });
    expect(backupNames(r).filter((n) => n.includes("drill") || n.includes("reader"))).toEqual([]);
  });
});
