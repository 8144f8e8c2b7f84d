/**
 * railyard's production invariants as CrossGuard policies. Pure objects: policy/index.ts serves them as a pack,
 * test/policy.test.ts runs them through @pulumi/policy's own analyzer functions over the stacks' graphs.
 *
 * Resources are matched by type token, so the pack needs no provider package. What an analyzer gets (read from
 * @pulumi/policy 1.21.0 and the analyzer protocol of @pulumi/pulumi 3.248.0):
 * - `analyze` (one resource, before it changes): its inputs; `analyzeStack` (after a successful preview or update):
 *   every resource with its outputs, parent and dependencies.
 * - Secret values arrive unwrapped (a policy cannot tell a secret from a plain value) and a value not known yet
 *   (preview) throws when read; the library then reports the policy as advisory "can't run during preview".
 * - Options: protect, ignoreChanges, aliases, timeouts, additionalSecretOutputs, deleteBeforeReplace, parent.
 *   Not retainOnDelete: the protocol has no field for it (see database-volumes-retained).
 * - Not the stack's name: per-stack behaviour comes from `--policy-pack-config policy/config/<stack>.json`.
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";

export const SERVICE = "docker:index/service:Service";
export const VOLUME = "docker:index/volume:Volume";
export const SWARM_SECRET = "docker:index/secret:Secret";
export const BUCKET = "aws:s3/bucket:Bucket";
export const PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock";
export const ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration";
export const VERSIONING = "aws:s3/bucketVersioning:BucketVersioning";
export const BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy";
export const DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord";
export const ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting";
export const DATABASE = "railyard:index:Database";
export const PRE_DEPLOY_BACKUP = "railyard:index:PreDeployBackup";

// ---- reading props (plain JSON behind the analyzer's proxy) ----

function field(v: unknown, key: string): unknown {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined;
}
function at(v: unknown, ...path: string[]): unknown {
  return path.reduce(field, v);
}
function text(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function record(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** A value a preview cannot know yet reads as undefined here, instead of blinding the whole policy. */
function known<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (e) {
    if (e instanceof Error && "unknownTypeSentinel" in e) return undefined;
    throw e;
  }
}

/** The value of a Docker label list ([{label, value}]) or map. */
function label(props: Record<string, unknown>, key: string): string | undefined {
  const labels = props.labels;
  if (Array.isArray(labels)) return text(field(labels.find((l) => field(l, "label") === key), "value"));
  return text(field(labels, key));
}

/** What a resource is called in a message: the Pulumi name, and the Swarm name where it differs. */
function called(name: string, props: Record<string, unknown>): string {
  const swarm = known(() => text(props.name));
  return swarm && swarm !== name ? `${name} (${swarm})` : name;
}

// ---- docker services ----

const DIGEST = /@sha256:[0-9a-f]{64}$/;

export const imagesPinnedByDigest: ResourceValidationPolicy = {
  name: "images-pinned-by-digest",
  description: "Every Swarm service runs an image pinned by digest (repo@sha256:…): a tag can move under a running stack, and a rollback must bring back the exact bytes.",
  validateResource: (args, report) => {
    if (args.type !== SERVICE) return;
    const image = text(at(args.props, "taskSpec", "containerSpec", "image")) ?? "";
    if (!DIGEST.test(image)) report(`service ${called(args.name, args.props)}: image "${image}" is not pinned by digest (expected repo@sha256:<64 hex>)`);
  },
};

/** Roles that take traffic: their tasks must prove they are healthy before Swarm routes to them. */
const TRAFFIC_ROLES = ["web", "edge"];

export const webHealthChecked: ResourceValidationPolicy = {
  name: "web-services-health-checked",
  description: "Every service that takes traffic (railyard.role web or edge) has a healthcheck: a start-first update waits on it before the old task stops.",
  validateResource: (args, report) => {
    if (args.type !== SERVICE) return;
    const role = label(args.props, "railyard.role");
    if (!role || !TRAFFIC_ROLES.includes(role)) return;
    const tests = list(at(args.props, "taskSpec", "containerSpec", "healthcheck", "tests")).map(String);
    if (tests.length === 0 || tests[0] === "NONE") report(`${role} service ${called(args.name, args.props)} has no healthcheck: Swarm would route to a task that cannot answer`);
  },
};

/** How each role must be updated, and why. */
const UPDATE_RULES: Record<string, { order: string; rollback: boolean; why: string }> = {
  web: { order: "start-first", rollback: true, why: "the new task starts and passes its healthcheck before the old one stops" },
  worker: { order: "start-first", rollback: true, why: "the new task starts before the old one stops" },
  edge: { order: "start-first", rollback: true, why: "the ingress must never be down during its own update" },
  scheduler: { order: "stop-first", rollback: true, why: "two schedulers at once would fire every job twice" },
  database: { order: "stop-first", rollback: false, why: "two engines must never open one data directory" },
  front: { order: "stop-first", rollback: true, why: "its host-mode ports cannot be held by two tasks" },
};

export const updateOrder: ResourceValidationPolicy = {
  name: "update-order",
  description: "Services (web, worker, edge) update start-first with failure_action rollback; schedulers stop-first with rollback; databases and the host-port front stop-first.",
  validateResource: (args, report) => {
    if (args.type !== SERVICE) return;
    const who = called(args.name, args.props);
    const role = label(args.props, "railyard.role");
    const rule = role === undefined ? undefined : UPDATE_RULES[role];
    if (!rule) {
      report(`service ${who} has railyard.role "${role ?? ""}": expected one of ${Object.keys(UPDATE_RULES).join(", ")}`);
      return;
    }
    const order = text(at(args.props, "updateConfig", "order")) ?? "stop-first"; // Swarm's default
    const failure = text(at(args.props, "updateConfig", "failureAction")) ?? "pause"; // Swarm's default
    if (order !== rule.order) report(`${role} service ${who} updates ${order}: expected ${rule.order} (${rule.why})`);
    if (rule.rollback && failure !== "rollback") report(`${role} service ${who} has update failure_action ${failure}: expected rollback (a failed update must return to the running release)`);
  },
};

/**
 * Env keys that name a credential (by their last word: SMTP_PASSWORD, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, not
 * JWT_TOKEN_TTL); `*_FILE` keys point at a secret file and are what railyard uses.
 */
const SECRET_KEY_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|ENCRYPTION_?KEY|SIGNING_?KEY|SECRET_?KEY|CREDENTIALS?)$/i;
/** A URL with a password: scheme://user:password@host. */
const URL_CREDENTIALS = /[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@]+@/i;
/** Shorter Swarm secrets (a port, "true") would match by accident; real secrets here are far longer. */
const MIN_SECRET_LENGTH = 8;

/** Every string of a service spec that a task or `docker service inspect` shows: env, args, labels, healthcheck. */
function specStrings(props: Record<string, unknown>): { where: string; value: string }[] {
  const out: { where: string; value: string }[] = [];
  const spec = known(() => record(at(props, "taskSpec", "containerSpec"))) ?? {};
  const add = (where: string, read: () => unknown) => {
    const v = known(read);
    if (typeof v === "string") out.push({ where, value: v });
  };
  for (const key of known(() => Object.keys(record(spec.env))) ?? []) add(`env ${key}`, () => record(spec.env)[key]);
  for (const key of ["commands", "args"]) list(known(() => spec[key])).forEach((_, i) => add(`${key}[${i}]`, () => list(spec[key])[i]));
  list(known(() => at(spec, "healthcheck", "tests"))).forEach((_, i) => add(`healthcheck[${i}]`, () => list(at(spec, "healthcheck", "tests"))[i]));
  for (const where of ["labels", "containerLabels"]) {
    const labels = known(() => (where === "labels" ? props.labels : spec.labels));
    list(labels).forEach((l, i) => add(`label ${text(field(l, "label")) ?? i}`, () => field(l, "value")));
  }
  return out;
}

/** The plaintext of every Swarm secret in the stack (their `data` is base64), skipping ones a preview cannot know. */
function swarmSecretValues(resources: PolicyResource[]): { name: string; value: string }[] {
  return resources
    .filter((r) => r.type === SWARM_SECRET)
    .flatMap((r) => {
      const data = known(() => text(r.props.data));
      const value = data === undefined ? undefined : Buffer.from(data, "base64").toString("utf8");
      return value !== undefined && value.length >= MIN_SECRET_LENGTH ? [{ name: r.name, value }] : [];
    });
}

export const noSecretInServiceSpec: StackValidationPolicy = {
  name: "no-secret-in-service-spec",
  description: "No secret in any service spec (env, command, healthcheck, labels): secrets reach tasks as Swarm secret files, because a spec is shown to anyone who can run docker service inspect.",
  configSchema: {
    properties: {
      allowedEnv: { type: "array", items: { type: "string" }, default: [], description: "Env names that look like credentials but hold none (e.g. FIREBASE_API_KEY, public by design)." },
    },
  },
  validateStack: (args, report) => {
    const allowed = new Set(args.getConfig<{ allowedEnv?: string[] }>().allowedEnv ?? []);
    const secrets = swarmSecretValues(args.resources);
    for (const svc of args.resources.filter((r) => r.type === SERVICE)) {
      const who = called(svc.name, svc.props);
      for (const { where, value } of specStrings(svc.props)) {
        const key = where.startsWith("env ") ? where.slice(4) : undefined;
        const leaked = secrets.find((s) => value.includes(s.value));
        // The message names the place and the secret resource, never the value.
        if (leaked) report(`service ${who}: ${where} holds the value of Swarm secret ${leaked.name}`, svc.urn);
        else if (URL_CREDENTIALS.test(value)) report(`service ${who}: ${where} holds a URL with a password (user:password@)`, svc.urn);
        else if (key && SECRET_KEY_NAME.test(key) && !allowed.has(key) && value !== "") report(`service ${who}: env ${key} names a credential but holds a literal value (pass it as a secret file)`, svc.urn);
      }
    }
  },
};

export const databaseVolumesRetained: StackValidationPolicy = {
  name: "database-volumes-retained",
  description: "Every database keeps its data on a named volume that the stack declares (the program marks those retainOnDelete), never in the task's own layer, a tmpfs or a volume nobody manages.",
  validateStack: (args, report) => {
    if (!args.resources.some((r) => r.type === SERVICE && label(r.props, "railyard.role") === "database")) args.notApplicable("the stack has no database");
    const volumes = new Set(args.resources.filter((r) => r.type === VOLUME).map((r) => known(() => text(r.props.name))));
    for (const svc of args.resources.filter((r) => r.type === SERVICE && label(r.props, "railyard.role") === "database")) {
      const mounts = list(at(svc.props, "taskSpec", "containerSpec", "mounts"));
      const declared = mounts.filter((m) => field(m, "type") === "volume" && volumes.has(text(field(m, "source"))));
      if (declared.length > 0) continue;
      const seen = mounts.map((m) => `${text(field(m, "type")) ?? "?"} ${text(field(m, "source")) ?? "(anonymous)"}`).join(", ") || "no mount";
      report(`database service ${called(svc.name, svc.props)} keeps its data on no volume the stack declares (has ${seen}): a task replaced would lose it`, svc.urn);
    }
  },
};

// ---- the backup bucket ----

/** The bucket a bucket sub-resource configures (railyard passes the bucket's name). */
function bucketOf(r: PolicyResource): string | undefined {
  return known(() => text(r.props.bucket));
}

/** Runs `check` for every bucket of the stack with the sub-resources that configure it. */
function eachBucket(args: StackValidationArgs, check: (bucket: PolicyResource, name: string, of: (type: string) => PolicyResource[]) => void): void {
  const resources = args.resources;
  if (!resources.some((r) => r.type === BUCKET)) args.notApplicable("the stack declares no bucket");
  for (const bucket of resources.filter((r) => r.type === BUCKET)) {
    const name = known(() => text(bucket.props.bucket)) ?? bucket.name;
    check(bucket, name, (type) => resources.filter((r) => r.type === type && bucketOf(r) === name));
  }
}

export const bucketPrivate: StackValidationPolicy = {
  name: "backup-bucket-private",
  description: "Every bucket has a public access block with all four switches on and no public ACL: dumps hold every row of production.",
  validateStack: (args, report) => {
    eachBucket(args, (bucket, name, of) => {
      const acl = known(() => text(bucket.props.acl));
      if (acl && /public/.test(acl)) report(`bucket ${bucket.name} (${name}) has ACL ${acl}`, bucket.urn);
      const switches = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"];
      const blocks = of(PUBLIC_ACCESS_BLOCK);
      if (blocks.length === 0) report(`bucket ${bucket.name} (${name}) has no public access block`, bucket.urn);
      for (const b of blocks) {
        const off = switches.filter((s) => known(() => b.props[s]) !== true);
        if (off.length > 0) report(`bucket ${bucket.name} (${name}): public access block ${b.name} leaves ${off.join(", ")} off`, b.urn);
      }
    });
  },
};

const SSE = ["AES256", "aws:kms", "aws:kms:dsse"];

export const bucketEncrypted: StackValidationPolicy = {
  name: "backup-bucket-encrypted",
  description: "Every bucket encrypts objects at rest by default (SSE-S3 or KMS).",
  validateStack: (args, report) => {
    eachBucket(args, (bucket, name, of) => {
      const algorithms = of(ENCRYPTION).flatMap((e) => list(e.props.rules).map((rule) => text(at(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"))));
      if (!algorithms.some((a) => a !== undefined && SSE.includes(a))) report(`bucket ${bucket.name} (${name}) has no default server-side encryption (expected ${SSE.join(" or ")})`, bucket.urn);
    });
  },
};

export const bucketVersioned: StackValidationPolicy = {
  name: "backup-bucket-versioned",
  description: "Every bucket keeps versions: an overwritten or deleted dump stays recoverable (and Object Lock needs it).",
  validateStack: (args, report) => {
    eachBucket(args, (bucket, name, of) => {
      const statuses = of(VERSIONING).map((v) => text(at(v.props, "versioningConfiguration", "status")));
      if (!statuses.includes("Enabled")) report(`bucket ${bucket.name} (${name}) is not versioned (versioning ${statuses.join(", ") || "absent"}; expected Enabled)`, bucket.urn);
    });
  },
};

/**
 * A statement denying every S3 action over plain HTTP to everyone, on the bucket itself and on all of its objects
 * (a deny on some other ARN protects nothing here).
 */
function deniesPlainHttp(statement: unknown, bucketName: string): boolean {
  const principal = field(statement, "Principal");
  const everyone = principal === "*" || field(principal, "AWS") === "*";
  const actions = [field(statement, "Action")].flat();
  const insecure = at(statement, "Condition", "Bool", "aws:SecureTransport");
  const resources = [field(statement, "Resource")].flat();
  const covers = (arn: string) => resources.includes("*") || resources.includes(arn);
  const arn = `arn:aws:s3:::${bucketName}`;
  return (
    field(statement, "Effect") === "Deny" && everyone && actions.includes("s3:*") && (insecure === "false" || insecure === false) && covers(arn) && covers(`${arn}/*`)
  );
}

export const bucketTlsOnly: StackValidationPolicy = {
  name: "backup-bucket-tls-only",
  description: "Every bucket's policy denies all S3 actions to everyone when aws:SecureTransport is false.",
  validateStack: (args, report) => {
    eachBucket(args, (bucket, name, of) => {
      const statements = of(BUCKET_POLICY).flatMap((p) => {
        const doc = text(p.props.policy);
        try {
          return list(field(JSON.parse(doc ?? "{}"), "Statement"));
        } catch {
          return [];
        }
      });
      if (!statements.some((st) => deniesPlainHttp(st, name))) {
        report(`bucket ${bucket.name} (${name}) accepts plain HTTP: no policy statement denies s3:* to "*" on the bucket and its objects when aws:SecureTransport is false`, bucket.urn);
      }
    });
  },
};

// ---- Cloudflare ----

/** Record types Cloudflare can proxy. */
const PROXIABLE = ["A", "AAAA", "CNAME"];

export const dnsProxied: ResourceValidationPolicy = {
  name: "dns-proxied",
  description: "Every A/AAAA/CNAME record is proxied by Cloudflare: the origin's address stays private and Cloudflare terminates TLS.",
  validateResource: (args, report) => {
    if (args.type !== DNS_RECORD) return;
    const type = text(args.props.type) ?? "";
    if (PROXIABLE.includes(type) && args.props.proxied !== true) report(`DNS record ${args.name} (${type} ${text(args.props.name) ?? ""}) is not proxied: it publishes the origin's address`);
  },
};

export const strictTls: StackValidationPolicy = {
  name: "cloudflare-strict-tls",
  description: "Every Cloudflare zone with records has its SSL mode set to strict by the stack (full-chain validation of the origin's certificate), no SSL setting is weaker, and no minimum TLS version is below 1.2.",
  validateStack: (args, report) => {
    if (!args.resources.some((r) => r.type === DNS_RECORD || r.type === ZONE_SETTING)) args.notApplicable("the stack manages no Cloudflare zone");
    const ssl = args.resources.filter((r) => r.type === ZONE_SETTING && known(() => r.props.settingId) === "ssl");
    for (const s of ssl) {
      const value = known(() => s.props.value);
      if (value !== undefined && value !== "strict") report(`zone setting ${s.name}: SSL mode ${JSON.stringify(value)}, expected "strict" (anything less lets Cloudflare talk to an unverified origin)`, s.urn);
    }
    for (const s of args.resources.filter((r) => r.type === ZONE_SETTING && known(() => r.props.settingId) === "min_tls_version")) {
      const value = known(() => s.props.value);
      if (value === "1.0" || value === "1.1") report(`zone setting ${s.name}: minimum TLS version ${value}, expected 1.2 or later`, s.urn);
    }
    const zones = new Set(args.resources.filter((r) => r.type === DNS_RECORD).map((r) => known(() => text(r.props.zoneId))));
    for (const zone of zones) {
      if (zone === undefined) continue;
      if (!ssl.some((s) => known(() => s.props.zoneId) === zone)) report(`zone ${zone} has DNS records but the stack sets no SSL mode for it (expected a ZoneSetting ssl = strict)`);
    }
  },
};

// ---- releases ----

export const preDeployBackup: StackValidationPolicy = {
  name: "pre-deploy-backup",
  description: "A pre-deploy backup dumps every database of the stack before the release's migrations run (railyard:deploy.preDeployBackup).",
  validateStack: (args, report) => {
    const databases = args.resources.filter((r) => r.type === DATABASE);
    const backups = args.resources.filter((r) => r.type === PRE_DEPLOY_BACKUP);
    if (backups.length === 0) {
      report(`no pre-deploy backup: set railyard:deploy.preDeployBackup: true (databases ${databases.map((d) => d.name).join(", ") || "none"} would be migrated without a fresh dump)`);
      return;
    }
    for (const db of databases) {
      // PreDeployBackup names its dump of database <db> "<backup>-<db>".
      const dumped = backups.some((b) => args.resources.some((r) => r.parent?.urn === b.urn && r.name === `${b.name}-${db.name}`));
      if (!dumped) report(`database ${db.name} has no pre-deploy dump`, db.urn);
    }
  },
};

export const policies = [
  imagesPinnedByDigest,
  webHealthChecked,
  updateOrder,
  noSecretInServiceSpec,
  databaseVolumesRetained,
  bucketPrivate,
  bucketEncrypted,
  bucketVersioned,
  bucketTlsOnly,
  dnsProxied,
  strictTls,
  preDeployBackup,
];
