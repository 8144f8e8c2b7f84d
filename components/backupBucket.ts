/**
 * BackupBucket: the AWS S3 bucket a stack's dumps stream to, and the host's two keys for it.
 *
 * The bucket is private (all four public-access blocks), encrypted by default (SSE-S3), versioned, refuses every
 * request without TLS, and keeps dumps by its lifecycle alone: current versions expire after the retention,
 * versions made noncurrent (by that expiry, or an overwrite) a few days later, incomplete multipart uploads
 * after two days; long retention moves dumps to Glacier Instant Retrieval after 30 days; Object Lock in
 * compliance mode, when asked, makes the retention one nobody can shorten.
 *
 * The host gets an uploader key that can only put objects under `<prefix>/` (no delete, no read, no list) and,
 * for restore drills, a reader key that can only read and list there. Restores by hand use the operator's own
 * credentials. The operator's credentials that create all this come from the environment of `pulumi up`
 * (AWS_PROFILE, AWS_ACCESS_KEY_ID…): an explicit provider does not read the stack's `aws:` config.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { RESOURCE_NAME } from "../config/patterns";
import { bucketPolicy, credentialsIni, PolicyDocument, readerPolicy, uploaderPolicy } from "../lib/backupPolicies";

export interface BackupBucketArgs {
  /** The bucket's (global) name, chosen in the stack file. Changing it starts a new bucket; the old one is kept. */
  bucketName: string;
  /** The stack prefix: dumps live under `<prefix>/`; the host's keys reach nothing else. */
  prefix: string;
  /** Days a dump is kept (lifecycle expiry of current versions; also the Object Lock retention). @default 30 */
  retentionDays?: number;
  /**
   * Object Lock in COMPLIANCE mode with a default retention of retentionDays: no dump can be deleted or
   * overwritten before then, not even by the account's root. Turned on through its configuration resource, also on
   * a bucket created without it; once on, it cannot be turned off for the bucket, and setting this back to false
   * leaves the default retention in AWS (the configuration is kept, like the bucket). @default false
   */
  objectLock?: boolean;
  /** Also create the read-only key the host's restore drills use. @default true */
  drillReader?: boolean;
  /** AWS region of the bucket (an explicit aws.Provider is created with it). */
  region: string;
  /**
   * Days a noncurrent version is kept: a dump expired by the lifecycle, or one the host overwrote (the uploader
   * can overwrite a key, never delete a version). Without Object Lock this is how long an overwritten dump can
   * still be recovered, so it defaults to the retention: a compromised host that overwrites its dumps' keys (they
   * are guessable times) cannot shorten their lives. With Object Lock no version can go before its retention
   * anyway, and a week is enough. @default retentionDays without objectLock, 7 with it
   */
  noncurrentDays?: number;
  /**
   * Keep the bucket and its settings in AWS when they leave the stack (`pulumi destroy`, a renamed bucket):
   * Pulumi forgets them and the dumps stay, still expiring by their lifecycle. The host's IAM users and keys
   * are always deleted with the stack. @default true
   */
  retainOnDelete?: boolean;
}

/** A key of one of the host's IAM users. */
export interface BackupKey {
  accessKeyId: pulumi.Output<string>;
  /** Marked secret. */
  secretAccessKey: pulumi.Output<string>;
}

/** Defaults, in the order of BackupBucketArgs. */
export const BACKUP_BUCKET_DEFAULTS = { retentionDays: 30, objectLock: false, drillReader: true, retainOnDelete: true };
/** Days a noncurrent version is kept in a bucket under Object Lock (which keeps every version its retention anyway). */
export const LOCKED_NONCURRENT_DAYS = 7;

/** Retention from which dumps move to GLACIER_IR (see lifecycleRules). */
export const TRANSITION_MIN_RETENTION_DAYS = 90;
/** Days in S3 Standard before the move: the dumps restored most often, and S3's minimum before a colder class. */
export const TRANSITION_AFTER_DAYS = 30;
/** Days before an incomplete multipart upload is aborted (the uploader may not abort its own). */
export const ABORT_INCOMPLETE_UPLOAD_DAYS = 2;
/** S3 Object Lock's longest retention: 100 years. */
const MAX_RETENTION_DAYS = 36500;

type Resolved = Required<BackupBucketArgs>;

/**
 * Every problem with the args, each naming the argument. The stack's config is checked before this, but the
 * component does not trust its caller: these values reach AWS (a bucket name is global and permanent) and the
 * host's IAM policies.
 */
export function backupBucketProblems(args: BackupBucketArgs): string[] {
  const problems: string[] = [];
  const bucketName = bucketNameProblem(args.bucketName);
  if (bucketName) problems.push(`bucketName: expected ${bucketName}, got ${JSON.stringify(args.bucketName)}`);
  if (typeof args.prefix !== "string" || !RESOURCE_NAME.test(args.prefix)) {
    problems.push(`prefix: expected a railyard name (lower-case letters, digits and dashes, at most 30), got ${JSON.stringify(args.prefix)}`);
  }
  if (typeof args.region !== "string" || !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(args.region)) {
    problems.push(`region: expected an AWS region such as eu-central-1, got ${JSON.stringify(args.region)}`);
  }
  const days = (key: "retentionDays" | "noncurrentDays", max: number) => {
    const v = args[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= max)) problems.push(`${key}: expected a whole number of days from 1 to ${max}, got ${JSON.stringify(v)}`);
  };
  days("retentionDays", MAX_RETENTION_DAYS);
  days("noncurrentDays", 365);
  for (const key of ["objectLock", "drillReader", "retainOnDelete"] as const) {
    if (args[key] !== undefined && typeof args[key] !== "boolean") problems.push(`${key}: expected true or false, got ${JSON.stringify(args[key])}`);
  }
  return problems;
}

/** What is wrong with a bucket name under S3's rules for general purpose buckets, or undefined. */
function bucketNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length < 3 || name.length > 63) return "3 to 63 characters";
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return "lower-case letters, digits, dots and dashes, starting and ending with a letter or digit";
  if (name.includes("..")) return "no two dots in a row";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return "a name that is not an IP address";
  const reservedStart = ["xn--", "sthree-", "amzn-s3-demo-"].find((p) => name.startsWith(p));
  if (reservedStart) return `a name that does not start with ${reservedStart} (reserved by S3)`;
  const reservedEnd = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].find((s) => name.endsWith(s));
  if (reservedEnd) return `a name that does not end with ${reservedEnd} (reserved by S3)`;
  // Requests go to <bucket>.s3.<region>.amazonaws.com over TLS only: a dot makes a host name the wildcard
  // certificate does not cover.
  if (name.includes(".")) return "no dots (a dotted bucket name breaks TLS on S3's virtual-hosted addresses)";
  return undefined;
}

function resolve(name: string, args: BackupBucketArgs): Resolved {
  const problems = backupBucketProblems(args);
  if (problems.length > 0) throw new Error(`BackupBucket ${name}: ${problems.join("; ")}`);
  const set = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
  const a = { ...BACKUP_BUCKET_DEFAULTS, ...set } as Omit<Resolved, "noncurrentDays"> & { noncurrentDays?: number };
  return { ...a, noncurrentDays: a.noncurrentDays ?? (a.objectLock ? LOCKED_NONCURRENT_DAYS : a.retentionDays) };
}

/**
 * The lifecycle: one rule on `<prefix>/` (dumps and their manifests alike). Expiry of the current version after
 * the retention (in a versioned bucket it adds a delete marker; S3 removes the marker itself once the last
 * version is gone); the noncurrent version is deleted noncurrentDays later (with Object Lock, never before its
 * retention ends). Long retention moves dumps to GLACIER_IR after 30 days: still read in milliseconds (a restore
 * by date needs no thaw request, unlike GLACIER or DEEP_ARCHIVE) at about a sixth of Standard's storage price;
 * its 90-day minimum charge and its per-GB retrieval fee are why shorter retention stays in Standard (the
 * newest dumps, which drills and most restores read, are in Standard either way). Objects under 128 KiB (the
 * manifests) are never moved: GLACIER_IR bills each as 128 KiB.
 */
export function lifecycleRules(a: Pick<Resolved, "prefix" | "retentionDays" | "noncurrentDays">): aws.types.input.s3.BucketLifecycleConfigurationRule[] {
  const transition = a.retentionDays >= TRANSITION_MIN_RETENTION_DAYS;
  return [
    {
      id: "dumps",
      status: "Enabled",
      filter: { prefix: `${a.prefix}/` },
      expiration: { days: a.retentionDays },
      noncurrentVersionExpiration: { noncurrentDays: a.noncurrentDays },
      abortIncompleteMultipartUpload: { daysAfterInitiation: ABORT_INCOMPLETE_UPLOAD_DAYS },
      ...(transition ? { transitions: [{ days: TRANSITION_AFTER_DAYS, storageClass: "GLACIER_IR" }] } : {}),
    },
  ];
}

export class BackupBucket extends pulumi.ComponentResource {
  /** The bucket's name. */
  readonly bucket: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;
  /** The host's put-only key. */
  readonly uploader: BackupKey;
  /** The host's read-only key for restore drills (drillReader). */
  readonly reader?: BackupKey;

  constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before the component registers: bad args leave nothing behind.
    const a = resolve(name, args);
    super("railyard:index:BackupBucket", name, {}, opts);
    const provider = new aws.Provider(`${name}-provider`, { region: a.region }, { parent: this });
    const child: pulumi.CustomResourceOptions = { parent: this, provider };
    const kept: pulumi.CustomResourceOptions = { ...child, retainOnDelete: a.retainOnDelete };

    const bucket = createBucket(name, a, kept);
    const publicAccess = blockPublicAccess(name, bucket, kept);
    encryptByDefault(name, bucket, kept);
    const versioning = enableVersioning(name, bucket, kept);
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      { bucket: bucket.bucket, rules: lifecycleRules(a), transitionDefaultMinimumObjectSize: "all_storage_classes_128K" },
      { ...kept, dependsOn: [versioning] },
    );
    if (a.objectLock) lockDumps(name, bucket, a.retentionDays, { ...kept, dependsOn: [versioning] });

    const uploader = hostUser(name, "uploader", a.prefix, bucket.arn.apply((arn) => uploaderPolicy(arn, a.prefix)), child);
    const reader = a.drillReader ? hostUser(name, "reader", a.prefix, bucket.arn.apply((arn) => readerPolicy(arn, a.prefix)), child) : undefined;
    new aws.s3.BucketPolicy(
      `${name}-policy`,
      {
        bucket: bucket.bucket,
        policy: pulumi
          .all([bucket.arn, uploader.user.arn, reader?.user.arn])
          .apply(([arn, up, read]) => JSON.stringify(bucketPolicy(arn, a.prefix, { uploader: up, reader: read }))),
      },
      // S3 refuses a policy while the public-access block is being changed; and that block comes first anyway.
      { ...kept, dependsOn: [publicAccess] },
    );

    this.bucket = bucket.bucket;
    this.arn = bucket.arn;
    this.uploader = uploader.key;
    this.reader = reader?.key;
    this.registerOutputs({ bucket: this.bucket, arn: this.arn, uploaderAccessKeyId: this.uploader.accessKeyId });
  }

  /** The AWS shared-credentials file of one of the host's keys (`[default]` profile), a secret. */
  credentialsIni(which: "uploader" | "reader"): pulumi.Output<string> {
    const key = which === "uploader" ? this.uploader : this.reader;
    if (!key) throw new Error(`BackupBucket: no ${which} key (drillReader is false)`);
    return pulumi.secret(pulumi.all([key.accessKeyId, key.secretAccessKey]).apply(([id, secret]) => credentialsIni(id, secret)));
  }
}

function createBucket(name: string, a: Resolved, opts: pulumi.CustomResourceOptions): aws.s3.Bucket {
  // objectLockEnabled stays unset: on aws.s3.Bucket it forces a replacement, so turning objectLock on for an
  // existing bucket would plan to replace it. BucketObjectLockConfiguration enables Object Lock on a new or an
  // existing (versioned) bucket instead, and the bucket's read-back value then differs from nothing declared.
  return new aws.s3.Bucket(
    `${name}-bucket`,
    { bucket: a.bucketName, forceDestroy: false, tags: { "railyard:stack": a.prefix, "railyard:role": "backups" } },
    opts,
  );
}

function blockPublicAccess(name: string, bucket: aws.s3.Bucket, opts: pulumi.CustomResourceOptions): aws.s3.BucketPublicAccessBlock {
  return new aws.s3.BucketPublicAccessBlock(
    `${name}-public-access`,
    { bucket: bucket.bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
    opts,
  );
}

/**
 * SSE-S3 (AES256), not KMS: no key policy to keep, no KMS permission for the host's keys, no per-request KMS
 * cost, and no customer key whose scheduled deletion would make seven years of dumps unreadable. SSE-C uploads
 * are refused: an object encrypted with a key only its writer holds is one no restore can read.
 */
function encryptByDefault(name: string, bucket: aws.s3.Bucket, opts: pulumi.CustomResourceOptions): aws.s3.BucketServerSideEncryptionConfiguration {
  return new aws.s3.BucketServerSideEncryptionConfiguration(
    `${name}-encryption`,
    { bucket: bucket.bucket, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, blockedEncryptionTypes: ["SSE-C"] }] },
    opts,
  );
}

function enableVersioning(name: string, bucket: aws.s3.Bucket, opts: pulumi.CustomResourceOptions): aws.s3.BucketVersioning {
  return new aws.s3.BucketVersioning(`${name}-versioning`, { bucket: bucket.bucket, versioningConfiguration: { status: "Enabled" } }, opts);
}

/**
 * Object Lock, COMPLIANCE, default retention = the dumps' retention. With it S3 refuses a PutObject or UploadPart
 * that carries neither Content-MD5 nor an x-amz-checksum-* header: Debian's aws CLI (2.9) sends Content-MD5 on
 * both; another uploader must too.
 */
function lockDumps(name: string, bucket: aws.s3.Bucket, days: number, opts: pulumi.CustomResourceOptions): aws.s3.BucketObjectLockConfiguration {
  return new aws.s3.BucketObjectLockConfiguration(
    `${name}-object-lock`,
    { bucket: bucket.bucket, objectLockEnabled: "Enabled", rule: { defaultRetention: { mode: "COMPLIANCE", days } } },
    opts,
  );
}

/** One of the host's IAM users with its one inline policy and its access key. */
function hostUser(
  name: string,
  role: "uploader" | "reader",
  prefix: string,
  policy: pulumi.Output<PolicyDocument>,
  opts: pulumi.CustomResourceOptions,
): { user: aws.iam.User; key: BackupKey } {
  const user = new aws.iam.User(
    `${name}-${role}`,
    { path: "/railyard/", forceDestroy: false, tags: { "railyard:stack": prefix, "railyard:role": `backup-${role}` } },
    opts,
  );
  new aws.iam.UserPolicy(`${name}-${role}-policy`, { user: user.name, policy: policy.apply((p) => JSON.stringify(p)) }, opts);
  const key = new aws.iam.AccessKey(`${name}-${role}-key`, { user: user.name }, opts);
  return { user, key: { accessKeyId: key.id, secretAccessKey: pulumi.secret(key.secret) } };
}
