/**
 * BackupBucket under Pulumi mocks: every property of the bucket, its policy and the host's IAM documents as AWS
 * would receive them (JSON parsed), per stack (staging-like 30 days; production-like 7 years with Object Lock),
 * the keys' secrets marked secret, and args that must never reach AWS refused before anything registers.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeSettings from "@pulumi/pulumi/runtime/settings";
import { beforeAll, describe, expect, it } from "vitest";
import { BackupBucket, BackupBucketArgs, backupBucketProblems, lifecycleRules } from "../components/backupBucket";
import { credentialsIni, PolicyDocument, PolicyStatement } from "../lib/backupPolicies";
import { reveal } from "./harness";

const T = {
  provider: "pulumi:providers:aws",
  bucket: "aws:s3/bucket:Bucket",
  publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  versioning: "aws:s3/bucketVersioning:BucketVersioning",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
  lock: "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
  policy: "aws:s3/bucketPolicy:BucketPolicy",
  user: "aws:iam/user:User",
  userPolicy: "aws:iam/userPolicy:UserPolicy",
  key: "aws:iam/accessKey:AccessKey",
};

interface Child {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  parent?: string;
  provider?: string;
  dependsOn: string[];
  retainOnDelete?: boolean;
  registered: boolean;
}

interface Built {
  resources: Child[];
  component: BackupBucket;
}

const accessKeyId = (name: string) => `AKIA${name.toUpperCase().replace(/[^A-Z0-9]/g, "")}0000`;
const secretKey = (name: string) => `wJalr/${name.replace(/[^A-Za-z0-9]/g, "")}+EXAMPLEKEY=`;

/** Builds the component alone under mocks and captures what it registers (as test/harness.ts does for a stack). */
async function build(args: BackupBucketArgs, name = "backups"): Promise<Built> {
  const resources: Child[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        const found = resources.find((r) => r.type === a.type && r.name === a.name);
        if (found) Object.assign(found, { inputs: a.inputs, registered: true });
        const state: Record<string, unknown> = { ...a.inputs };
        let id = `${a.name}-id`;
        if (a.type === T.bucket) state.arn = `arn:aws:s3:::${String(a.inputs.bucket)}`;
        if (a.type === T.user) {
          state.name = `${a.name}-abc1234`;
          state.arn = `arn:aws:iam::123456789012:user/railyard/${a.name}-abc1234`;
        }
        if (a.type === T.key) {
          id = accessKeyId(a.name);
          state.secret = secretKey(a.name);
        }
        return { id, state };
      },
      call: (a) => a.inputs,
    },
    "railyard",
    "test",
    false,
  );
  const names = new Map<pulumi.Resource, string>();
  let component: BackupBucket | undefined;
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => {
      names.set(t.resource, t.name);
      const opts = t.opts as pulumi.CustomResourceOptions;
      const entry: Child = {
        type: t.type,
        name: t.name,
        inputs: {},
        parent: t.opts.parent ? names.get(t.opts.parent) : undefined,
        provider: opts.provider ? names.get(opts.provider) : undefined,
        dependsOn: [],
        retainOnDelete: opts.retainOnDelete,
        registered: t.type === "railyard:index:BackupBucket",
      };
      resources.push(entry);
      const deps = Array.isArray(opts.dependsOn) ? (opts.dependsOn as pulumi.Resource[]) : [];
      queueMicrotask(() => (entry.dependsOn = deps.map((d) => names.get(d) ?? "?")));
      return undefined;
    });
    component = new BackupBucket(name, args);
    return {};
  });
  for (let i = 0; i < 500 && resources.some((r) => !r.registered); i++) await new Promise((r) => setTimeout(r, 10));
  const missing = resources.filter((r) => !r.registered).map((r) => `${r.type}:${r.name}`);
  if (missing.length > 0) throw new Error(`registrations never reached the mock monitor: ${missing.join(", ")}`);
  await (runtimeSettings as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs();
  return { resources, component: component as BackupBucket };
}

function only(b: Built, type: string): Child {
  const found = b.resources.filter((r) => r.type === type);
  expect(found.map((r) => r.name), type).toHaveLength(1);
  return found[0];
}

function named(b: Built, type: string, name: string): Child {
  const found = b.resources.find((r) => r.type === type && r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}; have ${b.resources.map((r) => `${r.type}:${r.name}`).join(", ")}`);
  return found;
}

function value<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

function parse(policy: unknown): PolicyDocument {
  expect(typeof reveal(policy)).toBe("string");
  return JSON.parse(reveal(policy) as string) as PolicyDocument;
}

/** Every action a statement names (Action as a string or a list). */
const actions = (s: PolicyStatement): string[] => ([] as string[]).concat((s as { Action?: string | string[] }).Action ?? []);

const STACKS = [
  { stack: "staging", bucketName: "railyard-staging-backups", prefix: "staging", retentionDays: 30, objectLock: false, transition: false },
  { stack: "production", bucketName: "railyard-production-backups", prefix: "production", retentionDays: 2555, objectLock: true, transition: true },
];

describe.each(STACKS)("a $stack-like bucket ($retentionDays days, object lock $objectLock)", (s) => {
  const arn = `arn:aws:s3:::${s.bucketName}`;
  let b: Built;
  beforeAll(async () => {
    b = await build({ bucketName: s.bucketName, prefix: s.prefix, retentionDays: s.retentionDays, objectLock: s.objectLock, region: "eu-central-1" });
  });

  it("creates its children under itself, through its own provider in the given region", () => {
    const provider = only(b, T.provider);
    expect(provider.name).toBe("backups-provider");
    expect(provider.inputs.region).toBe("eu-central-1");
    const children = b.resources.filter((r) => r.type !== "railyard:index:BackupBucket");
    for (const c of children) expect(`${c.name}: ${c.parent}`).toBe(`${c.name}: backups`);
    for (const c of children.filter((c) => c.type !== T.provider)) expect(`${c.name}: ${c.provider}`).toBe(`${c.name}: backups-provider`);
    for (const c of children) expect(c.name.startsWith("backups-"), c.name).toBe(true);
  });

  it("names the bucket as asked, never force-destroys it, and keeps the bucket and its settings when they leave the stack", () => {
    const bucket = only(b, T.bucket);
    expect(bucket.inputs.bucket).toBe(s.bucketName);
    expect(bucket.inputs.forceDestroy).toBe(false);
    // Set on the bucket it would force a replacement when turned on later; the lock configuration enables it.
    expect(bucket.inputs.objectLockEnabled).toBeUndefined();
    for (const type of [T.bucket, T.publicAccess, T.encryption, T.versioning, T.lifecycle, T.policy, ...(s.objectLock ? [T.lock] : [])]) {
      expect(`${type}: ${only(b, type).retainOnDelete}`).toBe(`${type}: true`);
    }
    // The host's users and keys are revoked with the stack.
    for (const type of [T.user, T.userPolicy, T.key]) for (const r of b.resources.filter((r) => r.type === type)) expect(r.retainOnDelete, r.name).toBeFalsy();
  });

  it("blocks all four kinds of public access", () => {
    const pab = only(b, T.publicAccess);
    expect(pab.inputs.bucket).toBe(s.bucketName);
    expect(pab.inputs.blockPublicAcls).toBe(true);
    expect(pab.inputs.blockPublicPolicy).toBe(true);
    expect(pab.inputs.ignorePublicAcls).toBe(true);
    expect(pab.inputs.restrictPublicBuckets).toBe(true);
  });

  it("encrypts by default with SSE-S3 and refuses SSE-C uploads", () => {
    const enc = only(b, T.encryption);
    expect(enc.inputs.bucket).toBe(s.bucketName);
    expect(enc.inputs.rules).toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, blockedEncryptionTypes: ["SSE-C"] }]);
  });

  it("enables versioning", () => {
    const v = only(b, T.versioning);
    expect(v.inputs.bucket).toBe(s.bucketName);
    expect(v.inputs.versioningConfiguration).toEqual({ status: "Enabled" });
  });

  it("expires dumps under the prefix after the retention, noncurrent versions after 7 days, incomplete uploads after 2", () => {
    const lc = only(b, T.lifecycle);
    expect(lc.inputs.bucket).toBe(s.bucketName);
    expect(lc.dependsOn).toEqual(["backups-versioning"]);
    // Manifests (tiny) are never moved to a class that bills 128 KiB each.
    expect(lc.inputs.transitionDefaultMinimumObjectSize).toBe("all_storage_classes_128K");
    const rules = lc.inputs.rules as Record<string, unknown>[];
    expect(rules).toHaveLength(1);
    const [rule] = rules;
    expect(rule.id).toBe("dumps");
    expect(rule.status).toBe("Enabled");
    expect(rule.filter).toEqual({ prefix: `${s.prefix}/` });
    expect(rule.prefix).toBeUndefined();
    expect(rule.expiration).toEqual({ days: s.retentionDays });
    // Without Object Lock an overwritten dump stays recoverable for the whole retention; with it, a week.
    expect(rule.noncurrentVersionExpiration).toEqual({ noncurrentDays: s.objectLock ? 7 : s.retentionDays });
    expect(rule.abortIncompleteMultipartUpload).toEqual({ daysAfterInitiation: 2 });
    if (s.transition) expect(rule.transitions).toEqual([{ days: 30, storageClass: "GLACIER_IR" }]);
    else expect(rule.transitions).toBeUndefined();
    expect(rule.noncurrentVersionTransitions).toBeUndefined();
  });

  it(s.objectLock ? "locks every dump in COMPLIANCE mode for the retention" : "declares no Object Lock", () => {
    const locks = b.resources.filter((r) => r.type === T.lock);
    if (!s.objectLock) {
      expect(locks).toEqual([]);
      return;
    }
    expect(locks).toHaveLength(1);
    const [lock] = locks;
    expect(lock.inputs.bucket).toBe(s.bucketName);
    expect(lock.inputs.objectLockEnabled).toBe("Enabled");
    expect(lock.inputs.rule).toEqual({ defaultRetention: { mode: "COMPLIANCE", days: s.retentionDays } });
    // Object Lock on an existing bucket needs versioning first.
    expect(lock.dependsOn).toEqual(["backups-versioning"]);
  });

  it("refuses every request without TLS, and bounds the host's keys to their own actions", () => {
    const policy = only(b, T.policy);
    expect(policy.inputs.bucket).toBe(s.bucketName);
    expect(policy.dependsOn).toEqual(["backups-public-access"]);
    const doc = parse(policy.inputs.policy);
    expect(doc.Version).toBe("2012-10-17");
    const tls = doc.Statement.find((st) => st.Sid === "DenyWithoutTls");
    expect(tls).toEqual({
      Sid: "DenyWithoutTls",
      Effect: "Deny",
      Principal: "*",
      Action: ["s3:*"],
      Resource: [arn, `${arn}/*`],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    const uploaderArn = "arn:aws:iam::123456789012:user/railyard/backups-uploader-abc1234";
    const readerArn = "arn:aws:iam::123456789012:user/railyard/backups-reader-abc1234";
    expect(doc.Statement.filter((st) => st.Sid !== "DenyWithoutTls")).toEqual([
      { Sid: "UploaderOnlyPuts", Effect: "Deny", Principal: { AWS: uploaderArn }, NotAction: ["s3:PutObject"], Resource: [arn, `${arn}/*`] },
      { Sid: "ReaderOnlyReads", Effect: "Deny", Principal: { AWS: readerArn }, NotAction: ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"], Resource: [arn, `${arn}/*`] },
      // Nor outside the stack's prefix, whatever IAM policy they get later.
      {
        Sid: "HostOnlyItsPrefix",
        Effect: "Deny",
        Principal: { AWS: [uploaderArn, readerArn] },
        Action: ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"],
        NotResource: `${arn}/${s.prefix}/*`,
      },
      {
        Sid: "ReaderListsOnlyItsPrefix",
        Effect: "Deny",
        Principal: { AWS: readerArn },
        Action: ["s3:ListBucket"],
        Resource: arn,
        Condition: { StringNotLike: { "s3:prefix": [`${s.prefix}/*`] } },
      },
    ]);
    // The policy allows nothing: access comes from IAM only.
    expect(doc.Statement.every((st) => st.Effect === "Deny")).toBe(true);
  });

  it("gives the uploader exactly s3:PutObject on exactly <bucket>/<prefix>/*", () => {
    const user = named(b, T.user, "backups-uploader");
    expect(user.inputs.path).toBe("/railyard/");
    const policy = named(b, T.userPolicy, "backups-uploader-policy");
    expect(policy.inputs.user).toBe("backups-uploader-abc1234");
    const doc = parse(policy.inputs.policy);
    expect(doc).toEqual({
      Version: "2012-10-17",
      Statement: [{ Sid: "PutDumpsUnderPrefix", Effect: "Allow", Action: ["s3:PutObject"], Resource: `arn:aws:s3:::${s.bucketName}/${s.prefix}/*` }],
    });
    // Spelled out, so that a widened policy fails here with its reason.
    const all = doc.Statement.flatMap(actions);
    expect(all.filter((a) => /^s3:Delete/i.test(a)), "no delete").toEqual([]);
    expect(all.filter((a) => /^s3:Get/i.test(a)), "no read").toEqual([]);
    expect(all.filter((a) => /^s3:List/i.test(a)), "no list").toEqual([]);
    expect(all.filter((a) => a.includes("*")), "no wildcard action").toEqual([]);
    expect(all.filter((a) => /Retention|LegalHold|Bypass|Acl|Lifecycle|BucketPolicy|Versioning/i.test(a)), "no retention, ACL or bucket setting").toEqual([]);
    for (const st of doc.Statement) {
      expect(st.Effect).toBe("Allow");
      expect(st).not.toHaveProperty("NotAction");
      expect(st).not.toHaveProperty("NotResource");
      expect(st.Resource).toBe(`arn:aws:s3:::${s.bucketName}/${s.prefix}/*`);
    }
    const key = named(b, T.key, "backups-uploader-key");
    expect(key.inputs.user).toBe("backups-uploader-abc1234");
  });

  it("gives the drill reader get and get-version under the prefix, and list with an s3:prefix condition", () => {
    const doc = parse(named(b, T.userPolicy, "backups-reader-policy").inputs.policy);
    expect(doc).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "ReadDumpsUnderPrefix", Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: `${arn}/${s.prefix}/*` },
        { Sid: "ListDumpsUnderPrefix", Effect: "Allow", Action: ["s3:ListBucket"], Resource: arn, Condition: { StringLike: { "s3:prefix": [`${s.prefix}/*`] } } },
      ],
    });
    const all = doc.Statement.flatMap(actions);
    expect(all.filter((a) => /Delete|Put|\*/i.test(a)), "never write or delete").toEqual([]);
  });

  it("outputs the bucket, its ARN and both keys, the secret access keys marked secret", async () => {
    const c = b.component;
    expect(await value(c.bucket)).toBe(s.bucketName);
    expect(await value(c.arn)).toBe(arn);
    expect(await value(c.uploader.accessKeyId)).toBe(accessKeyId("backups-uploader-key"));
    expect(await pulumi.isSecret(c.uploader.secretAccessKey)).toBe(true);
    expect(await value(c.uploader.secretAccessKey)).toBe(secretKey("backups-uploader-key"));
    expect(c.reader).toBeDefined();
    expect(await pulumi.isSecret(c.reader!.secretAccessKey)).toBe(true);
    expect(await value(c.reader!.accessKeyId)).toBe(accessKeyId("backups-reader-key"));
  });

  it("renders each key as an AWS shared-credentials file, a secret", async () => {
    for (const which of ["uploader", "reader"] as const) {
      const ini = b.component.credentialsIni(which);
      expect(await pulumi.isSecret(ini)).toBe(true);
      expect(await value(ini)).toBe(
        `[default]\naws_access_key_id = ${accessKeyId(`backups-${which}-key`)}\naws_secret_access_key = ${secretKey(`backups-${which}-key`)}\n`,
      );
    }
  });
});

describe("BackupBucket options", () => {
  it("applies its defaults: 30 days, no Object Lock, a drill reader, retained on delete", async () => {
    const b = await build({ bucketName: "railyard-dev-backups", prefix: "dev", region: "us-east-1" });
    const rule = (only(b, T.lifecycle).inputs.rules as Record<string, unknown>[])[0];
    expect(rule.expiration).toEqual({ days: 30 });
    expect(rule.transitions).toBeUndefined();
    expect(b.resources.filter((r) => r.type === T.lock)).toEqual([]);
    expect(b.resources.filter((r) => r.type === T.user).map((r) => r.name)).toEqual(["backups-uploader", "backups-reader"]);
    expect(only(b, T.bucket).retainOnDelete).toBe(true);
  });

  it("without a drill reader: no reader user, policy or key, and no reader in the bucket policy", async () => {
    const b = await build({ bucketName: "railyard-dev-backups", prefix: "dev", region: "us-east-1", drillReader: false, retainOnDelete: false }, "bk");
    expect(b.resources.filter((r) => r.type === T.user).map((r) => r.name)).toEqual(["bk-uploader"]);
    expect(b.resources.filter((r) => r.type === T.userPolicy).map((r) => r.name)).toEqual(["bk-uploader-policy"]);
    expect(b.resources.filter((r) => r.type === T.key).map((r) => r.name)).toEqual(["bk-uploader-key"]);
    expect(b.component.reader).toBeUndefined();
    expect(() => b.component.credentialsIni("reader")).toThrow(/no reader key/);
    expect(parse(only(b, T.policy).inputs.policy).Statement.map((st) => st.Sid)).toEqual(["DenyWithoutTls", "UploaderOnlyPuts", "HostOnlyItsPrefix"]);
    // Children are named after the component.
    expect(only(b, T.bucket).name).toBe("bk-bucket");
    expect(only(b, T.bucket).retainOnDelete).toBe(false);
  });

  it("moves dumps to GLACIER_IR only from 90 days of retention, and keeps noncurrent versions as long as asked", () => {
    const rule = (retentionDays: number) => lifecycleRules({ prefix: "p", retentionDays, noncurrentDays: 7 })[0];
    expect(rule(89).transitions).toBeUndefined();
    expect(rule(90).transitions).toEqual([{ days: 30, storageClass: "GLACIER_IR" }]);
    expect(lifecycleRules({ prefix: "p", retentionDays: 30, noncurrentDays: 14 })[0].noncurrentVersionExpiration).toEqual({ noncurrentDays: 14 });
  });
});

describe("BackupBucket args that must not reach AWS", () => {
  const good: BackupBucketArgs = { bucketName: "railyard-backups", prefix: "staging", region: "eu-west-1" };
  const bad: [string, Partial<Record<keyof BackupBucketArgs, unknown>>, RegExp][] = [
    ["a 2-character name", { bucketName: "ab" }, /bucketName: expected 3 to 63 characters/],
    ["a 64-character name", { bucketName: "a".repeat(64) }, /bucketName: expected 3 to 63 characters/],
    ["upper case", { bucketName: "Railyard-Backups" }, /bucketName: expected lower-case letters/],
    ["an underscore", { bucketName: "railyard_backups" }, /bucketName: expected lower-case letters/],
    ["a leading dash", { bucketName: "-railyard" }, /bucketName: expected lower-case letters/],
    ["a trailing dash", { bucketName: "railyard-" }, /bucketName: expected lower-case letters/],
    ["two dots in a row", { bucketName: "rail..yard" }, /bucketName: expected no two dots in a row/],
    ["an IP address", { bucketName: "192.168.5.4" }, /bucketName: expected a name that is not an IP address/],
    ["xn-- first", { bucketName: "xn--railyard" }, /bucketName: expected a name that does not start with xn--/],
    ["sthree- first", { bucketName: "sthree-railyard" }, /does not start with sthree-/],
    ["-s3alias last", { bucketName: "railyard-s3alias" }, /bucketName: expected a name that does not end with -s3alias/],
    ["--ol-s3 last", { bucketName: "railyard--ol-s3" }, /does not end with --ol-s3/],
    ["a dot", { bucketName: "railyard.backups" }, /bucketName: expected no dots/],
    ["a newline", { bucketName: "railyard\nbackups" }, /bucketName: expected lower-case letters/],
    ["not a string", { bucketName: 42 }, /bucketName: expected 3 to 63 characters, got 42/],
    ["a prefix with a slash", { prefix: "staging/x" }, /prefix: expected a railyard name/],
    ["an empty prefix", { prefix: "" }, /prefix: expected a railyard name/],
    ["a prefix with a wildcard", { prefix: "st*" }, /prefix: expected a railyard name/],
    ["an upper-case prefix", { prefix: "Staging" }, /prefix: expected a railyard name/],
    ["a region that is not one", { region: "europe" }, /region: expected an AWS region/],
    ["0 days", { retentionDays: 0 }, /retentionDays: expected a whole number of days from 1 to 36500, got 0/],
    ["1.5 days", { retentionDays: 1.5 }, /retentionDays: expected a whole number/],
    ["over 100 years", { retentionDays: 36501 }, /retentionDays: expected a whole number/],
    ["days as a string", { retentionDays: "30" }, /retentionDays: expected a whole number/],
    ["noncurrent 0 days", { noncurrentDays: 0 }, /noncurrentDays: expected a whole number of days from 1 to 365/],
    ["objectLock as a string", { objectLock: "true" }, /objectLock: expected true or false/],
  ];

  it.each(bad)("refuses %s, naming the argument (thrown before the component registers)", (_, change, message) => {
    const args = { ...good, ...change } as BackupBucketArgs;
    expect(backupBucketProblems(args).join("\n")).toMatch(message);
    // No mocks are needed: the constructor throws before it registers anything.
    expect(() => new BackupBucket("refused", args)).toThrow(message);
    expect(() => new BackupBucket("refused", args)).toThrow(/^BackupBucket refused: /);
  });

  it("reports every problem at once", () => {
    const problems = backupBucketProblems({ bucketName: "X", prefix: "a/b", region: "", retentionDays: -1 });
    expect(problems.map((p) => p.split(":")[0])).toEqual(["bucketName", "prefix", "region", "retentionDays"]);
  });

  it("takes good names (the S3 rules' own examples, and the longest)", () => {
    for (const bucketName of ["docexamplebucket1", "log-delivery-march-2020", "my-hosted-content", "abc", "a".repeat(63), "1st-bucket"]) {
      expect(backupBucketProblems({ ...good, bucketName })).toEqual([]);
    }
  });

  it("never writes a credentials file from a key that could add lines to it", () => {
    expect(credentialsIni("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")).toBe(
      "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    );
    expect(() => credentialsIni("AKIAIOSFODNN7EXAMPLE\n[x]", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")).toThrow(/access key ID/);
    expect(() => credentialsIni("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG\naws_session_token = x")).toThrow(/secret access key/);
    // Other stores' keys (R2's lower-case hex IDs) are words too; a space or quote is not.
    expect(credentialsIni("0123456789abcdef0123456789abcdef", "f".repeat(64))).toContain("aws_access_key_id = 0123456789abcdef0123456789abcdef\n");
    expect(() => credentialsIni("key id", "secret")).toThrow(/access key ID/);
    expect(() => credentialsIni("keyid", "sec'ret")).toThrow(/secret access key/);
  });
});
