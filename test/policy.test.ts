/**
 * The policy pack (policy/) over the graphs the real program declares under mocks: the dev, staging and production
 * stacks pass with their config files (and the policies that cannot apply say so); then one planted violation at a
 * time on a copy of production's graph, each caught by exactly the policy it breaks, mandatory, with a message that
 * names the resource; then what a preview cannot know yet, the per-stack config files, and the one invariant no
 * analyzer can see (retainOnDelete), held by a graph check instead.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policies } from "../policy/policies";
import * as fs from "node:fs";
import * as path from "node:path";
import { Captured, ConfigMap, isSecretValue, reveal, ROOT, runStack, stackFile, testSecrets } from "./harness";
import { analyze, Analysis, analyzeWith, PackConfig, packConfig, ServedPack, servePack, UNKNOWN } from "./policyAnalyzer";

type Stack = "dev" | "staging" | "production";
const STACKS: Stack[] = ["dev", "staging", "production"];
const graphs = {} as Record<Stack, Captured[]>;

beforeAll(async () => {
  for (const stack of STACKS) graphs[stack] = (await runStack(stack, stackFile(stack), testSecrets(stack))).resources;
}, 60_000);

const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function find(g: Captured[], type: string, name: string): Captured {
  const r = g.find((x) => x.type === type && x.name === name);
  if (!r) throw new Error(`no ${type} ${name}`);
  return r;
}
const SERVICE = "docker:index/service:Service";
/** A service's containerSpec, writable (the captured inputs hold no secret marker above it). */
function spec(g: Captured[], name: string): Record<string, unknown> {
  const task = find(g, SERVICE, name).inputs.taskSpec as { containerSpec: Record<string, unknown> };
  return task.containerSpec;
}
function env(g: Captured[], name: string): Record<string, string> {
  return spec(g, name).env as Record<string, string>;
}
function update(g: Captured[], name: string): Record<string, unknown> {
  return find(g, SERVICE, name).inputs.updateConfig as Record<string, unknown>;
}
function remove(g: Captured[], type: string, name: string): void {
  g.splice(g.indexOf(find(g, type, name)), 1);
}
/** The plaintext of a Swarm secret of the graph. */
function swarmSecret(g: Captured[], name: string): string {
  const data = find(g, "docker:index/secret:Secret", name).inputs.data;
  expect(isSecretValue(data)).toBe(true);
  return Buffer.from(String(reveal(data)), "base64").toString("utf8");
}

const BUCKET = "aws:s3/bucket:Bucket";
const BUCKET_NAME = "backups-bucket-bucket";
const ZONE = "0123456789abcdef0123456789abcdef";

interface Plant {
  policy: string;
  what: string;
  /** What the message must name: the resource (and, where the violation is a resource's, its URN's name). */
  names: string;
  resource?: string;
  plant?: (g: Captured[]) => void;
  /** A planted stack file instead of a mutated graph: the real program declares the violation. */
  config?: (c: ConfigMap) => void;
}

const PLANTS: Plant[] = [
  { policy: "images-pinned-by-digest", what: "a tag image", names: "api", resource: "api", plant: (g) => void (spec(g, "api").image = "registry.example.com/crm/backend:v2") },
  { policy: "images-pinned-by-digest", what: "the edge on a tag", names: "edge", resource: "edge", plant: (g) => void (spec(g, "edge").image = "caddy:2.10-alpine") },
  { policy: "web-services-health-checked", what: "a web service without healthcheck", names: "frontend", resource: "frontend", plant: (g) => void delete spec(g, "frontend").healthcheck },
  { policy: "web-services-health-checked", what: "a healthcheck of NONE", names: "api", resource: "api", plant: (g) => void ((spec(g, "api").healthcheck as { tests: string[] }).tests = ["NONE"]) },
  { policy: "update-order", what: "a web service updated stop-first", names: "api", resource: "api", plant: (g) => void (update(g, "api").order = "stop-first") },
  { policy: "update-order", what: "failure_action pause", names: "worker", resource: "worker", plant: (g) => void (update(g, "worker").failureAction = "pause") },
  { policy: "update-order", what: "a scheduler updated start-first", names: "beat", resource: "beat", plant: (g) => void (update(g, "beat").order = "start-first") },
  { policy: "update-order", what: "a database updated start-first", names: "postgres", resource: "postgres", plant: (g) => void (update(g, "postgres").order = "start-first") },
  {
    policy: "no-secret-in-service-spec",
    what: "a Swarm secret's value in env",
    names: "api",
    resource: "api",
    plant: (g) => void (env(g, "api").SENTRY_DSN = `https://sentry.example.com/?k=${swarmSecret(g, "postgres-password")}`),
  },
  { policy: "no-secret-in-service-spec", what: "credentials in a URL", names: "worker", resource: "worker", plant: (g) => void (env(g, "worker").DATABASE_URL = "postgres://crm:hunter2hunter2@postgres:5432/crm") },
  { policy: "no-secret-in-service-spec", what: "a literal SMTP_PASSWORD", names: "api", resource: "api", plant: (g) => void (env(g, "api").SMTP_PASSWORD = "literal-password") },
  {
    policy: "no-secret-in-service-spec",
    what: "a secret in the command line",
    names: "beat",
    resource: "beat",
    plant: (g) => void (spec(g, "beat").commands as string[]).push(`--broker=redis://:${swarmSecret(g, "redis-password")}@redis:6379/0`),
  },
  {
    policy: "database-volumes-retained",
    what: "a database on a volume the stack does not declare",
    names: "postgres",
    resource: "postgres",
    plant: (g) => void ((spec(g, "postgres").mounts as { source: string }[])[0].source = "postgres-data-by-hand"),
  },
  { policy: "database-volumes-retained", what: "a database with no mount", names: "mongo", resource: "mongo", plant: (g) => void delete spec(g, "mongo").mounts },
  {
    policy: "backup-bucket-private",
    what: "public policies allowed",
    names: "backups-bucket-public-access",
    resource: "backups-bucket-public-access",
    plant: (g) => void (find(g, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "backups-bucket-public-access").inputs.blockPublicPolicy = false),
  },
  { policy: "backup-bucket-private", what: "no public access block", names: BUCKET_NAME, resource: BUCKET_NAME, plant: (g) => remove(g, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "backups-bucket-public-access") },
  { policy: "backup-bucket-private", what: "a public-read ACL", names: BUCKET_NAME, resource: BUCKET_NAME, plant: (g) => void (find(g, BUCKET, BUCKET_NAME).inputs.acl = "public-read") },
  {
    policy: "backup-bucket-encrypted",
    what: "no default encryption",
    names: BUCKET_NAME,
    resource: BUCKET_NAME,
    plant: (g) => remove(g, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "backups-bucket-encryption"),
  },
  {
    policy: "backup-bucket-versioned",
    what: "versioning suspended",
    names: BUCKET_NAME,
    resource: BUCKET_NAME,
    plant: (g) => void ((find(g, "aws:s3/bucketVersioning:BucketVersioning", "backups-bucket-versioning").inputs.versioningConfiguration as { status: string }).status = "Suspended"),
  },
  {
    policy: "backup-bucket-tls-only",
    what: "no TLS-only statement",
    names: BUCKET_NAME,
    resource: BUCKET_NAME,
    plant: (g) => {
      const policy = find(g, "aws:s3/bucketPolicy:BucketPolicy", "backups-bucket-policy").inputs;
      const doc = JSON.parse(String(policy.policy)) as { Statement: { Sid: string }[] };
      doc.Statement = doc.Statement.filter((s) => s.Sid !== "DenyWithoutTls");
      policy.policy = JSON.stringify(doc);
    },
  },
  {
    policy: "backup-bucket-tls-only",
    what: "a TLS-only statement on another bucket's ARN",
    names: BUCKET_NAME,
    resource: BUCKET_NAME,
    plant: (g) => {
      const policy = find(g, "aws:s3/bucketPolicy:BucketPolicy", "backups-bucket-policy").inputs;
      const doc = JSON.parse(String(policy.policy)) as { Statement: { Sid: string; Resource: string[] }[] };
      for (const s of doc.Statement) if (s.Sid === "DenyWithoutTls") s.Resource = ["arn:aws:s3:::another-bucket", "arn:aws:s3:::another-bucket/*"];
      policy.policy = JSON.stringify(doc);
    },
  },
  {
    policy: "dns-proxied",
    what: "a record not proxied",
    names: "cloudflare-api.example.com",
    resource: "cloudflare-api.example.com",
    plant: (g) => void (find(g, "cloudflare:index/dnsRecord:DnsRecord", "cloudflare-api.example.com").inputs.proxied = false),
  },
  { policy: "cloudflare-strict-tls", what: "SSL flexible", names: "cloudflare-ssl", resource: "cloudflare-ssl", plant: (g) => void (find(g, "cloudflare:index/zoneSetting:ZoneSetting", "cloudflare-ssl").inputs.value = "flexible") },
  {
    policy: "cloudflare-strict-tls",
    what: "minimum TLS 1.0",
    names: "cloudflare-min-tls-version",
    resource: "cloudflare-min-tls-version",
    plant: (g) => void (find(g, "cloudflare:index/zoneSetting:ZoneSetting", "cloudflare-min-tls-version").inputs.value = "1.0"),
  },
  { policy: "cloudflare-strict-tls", what: "no SSL setting for the zone", names: ZONE, plant: (g) => remove(g, "cloudflare:index/zoneSetting:ZoneSetting", "cloudflare-ssl") },
  {
    policy: "pre-deploy-backup",
    what: "railyard:deploy.preDeployBackup false",
    names: "postgres, mongo, redis",
    config: (c) => void ((c["railyard:deploy"] as { preDeployBackup: boolean }).preDeployBackup = false),
  },
  { policy: "pre-deploy-backup", what: "a database the pre-deploy backup skips", names: "mongo", resource: "mongo", plant: (g) => remove(g, "command:remote:Command", "backup-mongo") },
];

const tally = { planted: 0, caught: 0, byPolicy: new Map<string, number>() };
afterAll(() => {
  // The line the README quotes.
  console.log(`policy pack: ${tally.caught} of ${tally.planted} planted violations caught, by ${tally.byPolicy.size} of ${policies.length} policies`);
});

function summary(a: Analysis): string[] {
  return a.violations.map((v) => `${v.level} ${v.policy} ${v.resource ?? "(stack)"}: ${v.message.split("\n").pop() ?? ""}`);
}

describe("the three stacks' graphs pass the pack with their config files", () => {
  it.each(STACKS)("%s: no violation", async (stack) => {
    const a = await analyze(stack, graphs[stack], policies, packConfig(stack));
    expect(summary(a)).toEqual([]);
  });

  it("says which policies do not apply where (dev and staging have no bucket; dev no Cloudflare zone)", async () => {
    const na = async (stack: Stack) => [...(await analyze(stack, graphs[stack], policies, packConfig(stack))).notApplicable.keys()].sort();
    const buckets = ["backup-bucket-encrypted", "backup-bucket-private", "backup-bucket-tls-only", "backup-bucket-versioned"];
    expect(await na("dev")).toEqual([...buckets, "cloudflare-strict-tls"].sort());
    expect(await na("staging")).toEqual(buckets);
    expect(await na("production")).toEqual([]);
  });
});

describe("one planted violation at a time on production's graph: caught, mandatory, naming the resource", () => {
  it.each(PLANTS.map((p) => [`${p.policy}: ${p.what}`, p] as const))("%s", async (_, p) => {
    tally.planted++;
    let g = copy(graphs.production);
    if (p.config) {
      const config = copy(stackFile("production"));
      p.config(config);
      g = (await runStack("production", config, testSecrets("production"))).resources;
    }
    p.plant?.(g);
    const a = await analyze("production", g, policies, packConfig("production"));
    // Exactly the planted policy fires: a mutation that tripped another would be testing something else.
    expect(new Set(a.violations.map((v) => v.policy))).toEqual(new Set([p.policy]));
    expect(a.violations.every((v) => v.level === "mandatory")).toBe(true);
    const named = a.violations.filter((v) => v.message.includes(p.names) && (p.resource === undefined || v.resource === p.resource));
    expect(named, summary(a).join("\n")).not.toHaveLength(0);
    tally.caught++;
    tally.byPolicy.set(p.policy, (tally.byPolicy.get(p.policy) ?? 0) + 1);
  });

  it("every policy of the pack has a planted violation", () => {
    expect(new Set(PLANTS.map((p) => p.policy))).toEqual(new Set(policies.map((p) => p.name)));
  });

  it("the README quotes these counts and lists every policy (no figure can rot)", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Policy pack"), readme.indexOf("\n## ", readme.indexOf("## Policy pack") + 1));
    const policed = new Set(PLANTS.map((p) => p.policy)).size;
    expect(section).toContain(`policy pack: ${PLANTS.length} of ${PLANTS.length} planted violations caught, by ${policed} of ${policies.length} policies`);
    expect(section).toContain(`then ${PLANTS.length} violations are planted`);
    expect(section).toContain(`it announces its ${policies.length} policies`);
    for (const p of policies) expect(section).toContain(`| \`${p.name}\` |`);
  });

  it("credential-shaped names that hold no credential pass (a *_FILE path, a TTL, an empty value)", async () => {
    const g = copy(graphs.production);
    Object.assign(env(g, "api"), { SMTP_PASSWORD_FILE: "/run/secrets/smtp", JWT_TOKEN_TTL: "3600", SENTRY_TOKEN: "", TOKEN_ISSUER: "https://example.com" });
    expect(summary(await analyze("production", g, policies, packConfig("production")))).toEqual([]);
  });

  it("a violation never shows the secret it found", async () => {
    const g = copy(graphs.production);
    const value = swarmSecret(g, "postgres-password");
    env(g, "api").LEAK = value;
    const a = await analyze("production", g, policies, packConfig("production"));
    expect(a.violations.map((v) => v.message).join("\n")).toContain("Swarm secret postgres-password");
    expect(a.violations.map((v) => v.message).join("\n")).not.toContain(value);
  });
});

describe("what a preview cannot know yet", () => {
  it("an image known only at apply time is reported as not checkable in preview (advisory), not as passed", async () => {
    const g = copy(graphs.production);
    spec(g, "api").image = UNKNOWN;
    const a = await analyze("production", g, policies, packConfig("production"));
    expect(summary(a)).toEqual([expect.stringMatching(/^advisory images-pinned-by-digest api: can't run policy 'images-pinned-by-digest' .* during preview/)]);
  });

  it("a Swarm secret whose value is not known yet does not blind the secret check to the rest", async () => {
    const g = copy(graphs.production);
    (find(g, "docker:index/secret:Secret", "postgres-password").inputs.data as { value: string }).value = UNKNOWN;
    env(g, "worker").DATABASE_URL = "postgres://crm:hunter2hunter2@postgres:5432/crm";
    const a = await analyze("production", g, policies, packConfig("production"));
    expect(a.violations.map((v) => [v.policy, v.level, v.resource])).toEqual([["no-secret-in-service-spec", "mandatory", "worker"]]);
  });

  it("a bucket policy known only at apply time leaves TLS-only to the update's own analysis (advisory in preview)", async () => {
    const g = copy(graphs.production);
    find(g, "aws:s3/bucketPolicy:BucketPolicy", "backups-bucket-policy").inputs.policy = UNKNOWN;
    const a = await analyze("production", g, policies, packConfig("production"));
    expect(summary(a)).toEqual([expect.stringMatching(/^advisory backup-bucket-tls-only \(stack\): can't run policy 'backup-bucket-tls-only' .* during preview/)]);
  });
});

describe("per-stack config files", () => {
  const levels = async (stack: Stack, g: Captured[], config: PackConfig | undefined) =>
    (await analyze(stack, g, policies, config ?? {})).violations.map((v) => `${v.policy} ${v.level}`);

  it("dev: tags and no pre-deploy backup are its design (disabled); the rest advises", async () => {
    const g = copy(graphs.dev);
    spec(g, "api").image = "railyard/dev-api:latest";
    update(g, "api").order = "stop-first";
    expect(await levels("dev", g, packConfig("dev"))).toEqual(["update-order advisory"]);
    // The same graph under production's file: the tag is mandatory, and so is the missing pre-deploy backup.
    expect((await levels("dev", g, packConfig("production"))).sort()).toEqual(
      ["images-pinned-by-digest mandatory", "pre-deploy-backup mandatory", "update-order mandatory"].sort(),
    );
  });

  it("staging: mandatory except the pre-deploy backup, which staging does not take", async () => {
    expect(await levels("staging", graphs.staging, packConfig("staging"))).toEqual([]);
    expect(await levels("staging", graphs.staging, packConfig("production"))).toEqual(["pre-deploy-backup mandatory"]);
  });

  it("no config file at all: the pack's own level, mandatory (a run that forgets the file gets production's rules)", async () => {
    expect(await levels("staging", graphs.staging, undefined)).toEqual(["pre-deploy-backup mandatory"]);
  });
});

describe("retainOnDelete: the invariant no analyzer can see, held by the graph", () => {
  /** Database volumes (and the edge's certificates) that a delete of their resource would destroy. */
  function unretained(g: Captured[]): string[] {
    return g.filter((r) => r.type === "docker:index/volume:Volume" && r.retainOnDelete !== true).map((r) => r.name);
  }

  it.each(STACKS)("%s: every volume is retainOnDelete", (stack) => {
    expect(graphs[stack].filter((r) => r.type === "docker:index/volume:Volume").length).toBeGreaterThan(0);
    expect(unretained(graphs[stack])).toEqual([]);
  });

  it("a volume without it is caught", () => {
    const g = copy(graphs.production);
    find(g, "docker:index/volume:Volume", "postgres-data").retainOnDelete = false;
    expect(unretained(g)).toEqual(["postgres-data"]);
  });
});

describe("the pack as the Pulumi CLI runs it (policy/index.ts in its own process, over the analyzer protocol)", () => {
  let pack: ServedPack;
  beforeAll(async () => {
    pack = await servePack(path.join(ROOT, "policy"));
  }, 60_000);
  afterAll(() => pack?.stop());
  const names = policies.map((p) => p.name);

  it("announces every policy of policies.ts, mandatory by default, as railyard 0.1.0", async () => {
    const info = await pack.info();
    expect([info.getName(), info.getVersion(), info.getSupportsconfig()]).toEqual(["railyard", "0.1.0", true]);
    expect(info.getPoliciesList().map((p) => [p.getName(), p.getEnforcementlevel()])).toEqual(names.map((n) => [n, 1]));
  });

  it("production's config: the graph passes, a planted tag image and suspended versioning are mandatory violations", async () => {
    await pack.configure(packConfig("production"), names);
    expect(summary(await analyzeWith(pack, "production", graphs.production))).toEqual([]);
    const g = copy(graphs.production);
    spec(g, "api").image = "registry.example.com/crm/backend:v2";
    (find(g, "aws:s3/bucketVersioning:BucketVersioning", "backups-bucket-versioning").inputs.versioningConfiguration as { status: string }).status = "Suspended";
    const a = await analyzeWith(pack, "production", g);
    expect(a.violations.map((v) => [v.policy, v.level, v.resource]).sort()).toEqual([
      ["backup-bucket-versioned", "mandatory", BUCKET_NAME],
      ["images-pinned-by-digest", "mandatory", "api"],
    ]);
  });

  it("a policy's own config reaches it: allowedEnv lets a public key through", async () => {
    const g = copy(graphs.production);
    env(g, "frontend").FIREBASE_API_KEY = "AIzaSyExamplePublicWebKey0123456789";
    await pack.configure(packConfig("production"), names);
    expect((await analyzeWith(pack, "production", g)).violations.map((v) => [v.policy, v.resource])).toEqual([["no-secret-in-service-spec", "frontend"]]);
    await pack.configure({ ...packConfig("production"), "no-secret-in-service-spec": { allowedEnv: ["FIREBASE_API_KEY"] } }, names);
    expect(summary(await analyzeWith(pack, "production", g))).toEqual([]);
  });

  it("dev's config: a tag image is its design, a stop-first web service advises", async () => {
    await pack.configure(packConfig("dev"), names);
    const g = copy(graphs.dev);
    spec(g, "api").image = "railyard/dev-api:latest";
    update(g, "api").order = "stop-first";
    expect((await analyzeWith(pack, "dev", g)).violations.map((v) => [v.policy, v.level, v.resource])).toEqual([["update-order", "advisory", "api"]]);
  });
});
