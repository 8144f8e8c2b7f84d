/**
 * railyard:backups in stack files: bad values fail with their key path and "expected …, got …" and register no
 * resource; good ones are planned with their defaults (schedules as systemd calendars, secrets kept secret).
 */
import { describe, expect, it } from "vitest";
import { ConfigMap, runStack, stackFile, StackRunError, testSecrets } from "./harness";

type Obj = Record<string, unknown>;
interface Case {
  name: string;
  stack: "staging" | "production";
  mutate: (plain: ConfigMap, secret: ConfigMap) => void;
  line: string;
  contains?: string;
}

const backups = (c: ConfigMap) => c["railyard:backups"] as Obj;
const bucket = (c: ConfigMap) => backups(c).bucket as Obj;
const drill = (c: ConfigMap) => (backups(c).drill ??= {}) as Obj;
const secrets = (s: ConfigMap) => s["railyard:secrets"] as Obj;

const cases: Case[] = [
  { name: "an unknown provider", stack: "staging", mutate: (c) => (bucket(c).provider = "gcs"), line: "railyard:backups.bucket.provider: expected provider: aws (railyard creates the bucket) or provider: s3" },
  { name: "a bucket name with capitals", stack: "staging", mutate: (c) => (bucket(c).name = "My_Bucket"), line: "railyard:backups.bucket.name: expected an S3 bucket name", contains: 'got "My_Bucket"' },
  { name: "a bucket named like an IP address", stack: "production", mutate: (c) => (bucket(c).name = "192.168.1.10"), line: "railyard:backups.bucket.name: expected an S3 bucket name" },
  { name: "a dotted name for a bucket railyard creates", stack: "production", mutate: (c) => (bucket(c).name = "backups.example.com"), line: "railyard:backups.bucket.name: expected a bucket name without dots" },
  { name: "a bucket name with ..", stack: "production", mutate: (c) => (bucket(c).name = "a..b"), line: "railyard:backups.bucket.name: expected an S3 bucket name" },
  { name: "a bucket name with AWS's reserved prefix", stack: "production", mutate: (c) => (bucket(c).name = "xn--backups"), line: "railyard:backups.bucket.name: expected an S3 bucket name" },
  { name: "an endpoint over plain http", stack: "staging", mutate: (c) => (bucket(c).endpoint = "http://minio.example.com"), line: "railyard:backups.bucket.endpoint: expected an https:// endpoint (plain http only on loopback)" },
  { name: "keys in the endpoint URL", stack: "staging", mutate: (c) => (bucket(c).endpoint = "https://key:secret@minio.example.com"), line: "railyard:backups.bucket.endpoint: expected the endpoint's URL: http(s)://, a lower-case host name", contains: "no path, query or keys" },
  // What the host scripts would refuse at 03:00 is refused here (railyard-lib.sh split_url).
  ...["https://Minio.Example.com", "HTTPS://minio.example.com", "https://minio_x.example.com", "https://bücher.example", "https://exa$mple.com", "https://minio.example.com:0"].map(
    (endpoint): Case => ({ name: `the endpoint ${endpoint}`, stack: "staging", mutate: (c) => (bucket(c).endpoint = endpoint), line: "railyard:backups.bucket.endpoint: expected the endpoint's URL" }),
  ),
  { name: "a region starting with a digit", stack: "staging", mutate: (c) => (bucket(c).region = "1abc"), line: "railyard:backups.bucket.region: expected a region name" },
  { name: "a key with a space", stack: "staging", mutate: (_c, s) => (secrets(s).BACKUP_READER_SECRET_ACCESS_KEY = "two words"), line: "railyard:backups.bucket.reader.secretAccessKeySecret: expected a secret holding one key", contains: "(value hidden)" },
  { name: "a key too long for a credentials line", stack: "staging", mutate: (_c, s) => (secrets(s).BACKUP_UPLOADER_ACCESS_KEY_ID = "k".repeat(300)), line: "railyard:backups.bucket.uploader.accessKeyIdSecret: expected a secret holding one key" },
  { name: "a path in the endpoint URL", stack: "staging", mutate: (c) => (bucket(c).endpoint = "https://minio.example.com/x;rm -rf /"), line: "railyard:backups.bucket.endpoint: expected" },
  { name: "an endpoint that is no URL", stack: "staging", mutate: (c) => (bucket(c).endpoint = "minio.example.com"), line: "railyard:backups.bucket.endpoint: expected the endpoint's URL" },
  { name: "object lock on an existing bucket", stack: "staging", mutate: (c) => (bucket(c).objectLock = true), line: "railyard:backups.bucket.objectLock: expected a known key", contains: "got an unknown key" },
  { name: "an AWS region that is not one", stack: "production", mutate: (c) => (bucket(c).region = "moon-1"), line: "railyard:backups.bucket.region: expected an AWS region such as eu-west-1", contains: 'got "moon-1"' },
  { name: "an uploader key secret not set", stack: "staging", mutate: (_c, s) => delete secrets(s).BACKUP_UPLOADER_SECRET_ACCESS_KEY, line: "railyard:backups.bucket.uploader.secretAccessKeySecret: expected a secret set with pulumi config set --secret --path 'railyard:secrets.BACKUP_UPLOADER_SECRET_ACCESS_KEY'", contains: "which railyard:secrets does not hold" },
  { name: "a drill without a reader key", stack: "staging", mutate: (c) => delete bucket(c).reader, line: "railyard:backups.drill.enabled: expected bucket.reader (a read-only key the host's drills restore with) or drill.enabled: false" },
  { name: "a six-field cron", stack: "staging", mutate: (c) => (backups(c).schedules = ["0 0 3 * * *"]), line: "railyard:backups.schedules[0]: expected" },
  { name: "a cron hour of 24", stack: "staging", mutate: (c) => (backups(c).schedules = ["0 24 * * *"]), line: "railyard:backups.schedules[0]: expected", contains: 'got "0 24 * * *"' },
  { name: "a cron with a shell command in it", stack: "staging", mutate: (c) => (backups(c).schedules = ["0 3 * * * rm -rf /"]), line: "railyard:backups.schedules[0]: expected" },
  { name: "a drill schedule that is no cron", stack: "staging", mutate: (c) => (drill(c).schedule = "weekly-ish"), line: "railyard:backups.drill.schedule: expected" },
  { name: "no schedule", stack: "staging", mutate: (c) => (backups(c).schedules = []), line: "railyard:backups.schedules: expected at least one schedule" },
  { name: "retention of 0 days", stack: "production", mutate: (c) => (backups(c).retentionDays = 0), line: "railyard:backups.retentionDays: expected 1 to 36500 days", contains: "got 0" },
  { name: "fractional retention", stack: "production", mutate: (c) => (backups(c).retentionDays = 1.5), line: "railyard:backups.retentionDays: expected a whole number of days" },
  { name: "an unknown database", stack: "production", mutate: (c) => (backups(c).databases = ["postgres", "mysql"]), line: "railyard:backups.databases[1]: expected a database under railyard:databases", contains: 'got "mysql"' },
  { name: "a database twice", stack: "production", mutate: (c) => (backups(c).databases = ["postgres", "postgres"]), line: "railyard:backups.databases[1]: expected each database once" },
  { name: "a webhook secret not set", stack: "production", mutate: (_c, s) => delete secrets(s).BACKUP_WEBHOOK_URL, line: "railyard:backups.webhookSecret: expected a secret set with pulumi config set --secret --path 'railyard:secrets.BACKUP_WEBHOOK_URL'" },
  { name: "a webhook that is not https", stack: "production", mutate: (_c, s) => (secrets(s).BACKUP_WEBHOOK_URL = "http://hooks.example.com/x"), line: "railyard:backups.webhookSecret: expected a secret holding an https:// URL", contains: "(value hidden)" },
  { name: "a freshness query on redis", stack: "production", mutate: (c) => (drill(c).freshness = { redis: { query: "x", maxAgeHours: 24 } }), line: "railyard:backups.drill.freshness.redis: expected a postgres or mysql database (a SQL freshness query)" },
  { name: "a freshness query on a database not backed up", stack: "production", mutate: (c) => ((backups(c).databases = ["mongo"]), (drill(c).freshness = { postgres: { query: "select now()", maxAgeHours: 24 } })), line: "railyard:backups.drill.freshness.postgres: expected a database that is backed up" },
  { name: "a dump timeout over 24h", stack: "production", mutate: (c) => (backups(c).timeout = "25h"), line: "railyard:backups.timeout: expected a duration of at most 24h" },
  { name: "an unknown key", stack: "production", mutate: (c) => (backups(c).keepForever = true), line: "railyard:backups.keepForever: expected a known key" },
  { name: "backups as a secret", stack: "production", mutate: (c, s) => ((s["railyard:backups"] = c["railyard:backups"]), delete c["railyard:backups"]), line: "railyard:backups: expected plain configuration" },
];

function fresh(stack: "staging" | "production"): { plain: ConfigMap; secret: ConfigMap } {
  return { plain: structuredClone(stackFile(stack)), secret: structuredClone(testSecrets(stack)) };
}

describe("railyard:backups problems", () => {
  it.each(cases)("$name", async (c) => {
    const { plain, secret } = fresh(c.stack);
    c.mutate(plain, secret);
    let message = "";
    let registered = -1;
    try {
      registered = (await runStack(c.stack, plain, secret)).resources.length;
    } catch (e) {
      if (!(e instanceof StackRunError)) throw e;
      message = e.message;
      registered = e.resources.length;
    }
    const line = message.split("\n").map((l) => l.trim()).find((l) => l.startsWith(c.line));
    expect(line, `no line starting with ${c.line} in:\n${message}`).toBeDefined();
    expect(line).toMatch(/^railyard:[^:]+: expected .+, got .+$/s);
    if (c.contains) expect(line).toContain(c.contains);
    expect(registered).toBe(0);
    // A secret's value never reaches a message.
    for (const v of Object.values(secrets(testSecrets("production")))) expect(message).not.toContain(String(v));
  });
});

describe("railyard:backups plans", () => {
  it("production: AWS bucket, 7 years under Object Lock, daily at 03:00 UTC, weekly drill, every database", async () => {
    const run = await runStack("production", stackFile("production"), testSecrets("production"));
    const plan = run.outputs.backups as Obj;
    expect(plan).toMatchObject({
      bucket: { provider: "aws", name: "railyard-production-backups-example", region: "sa-east-1", objectLock: true },
      calendars: ["*-*-* 03:00:00 UTC"],
      retentionDays: 2555,
      databases: ["postgres", "mongo", "redis"],
      preDeployToBucket: true,
      drill: { maxDumpAgeHours: 48 },
    });
  });

  it("a stack without railyard:backups has no plan", async () => {
    expect((await runStack("dev", stackFile("dev"), testSecrets("dev"))).outputs.backups).toBeUndefined();
  });
});
