/**
 * The stack file schema: every key under the `railyard:` namespace. Messages are "expected …" phrases; the
 * loader adds the key path and what was found.
 */
import * as path from "node:path";
import { z } from "zod";
import { ENGINES } from "../databases";
import { DURATION_PATTERN, durationMs, goDuration, MEMORY_PATTERN, memoryBytes } from "../lib/units";
import { cronToOnCalendar } from "../lib/cron";
import { imageBuildsSchema, promoteFromSchema } from "./images";
import { MAIN_NODE, MAX_NODES, NODE_LABELS } from "./nodes";
import * as p from "./patterns";
import { DOCKER_HUB_HOSTS, isRegistryServer, REGISTRY_USER } from "./registry";

/** A duration in the form the Docker provider reads back ("60s" is "1m", "1500ms" is "1.5s"), so a declared one never differs from it. */
const canonical = (d: string) => goDuration(durationMs(d));
/** A duration, checked in the stack file's form ("30s", "500ms", "2m", "1h") and kept in canonical form. */
const duration = (fallback: string, min = "0ms") =>
  z
    .string()
    .regex(DURATION_PATTERN, { error: 'expected a duration such as "30s", "500ms", "2m" or "1h"', abort: true })
    .refine((d) => durationMs(d) >= durationMs(min), { error: `expected a duration of at least ${min}` })
    .refine((d) => durationMs(d) <= 24 * 3_600_000, { error: "expected a duration of at most 24h" })
    .transform(canonical)
    .default(canonical(fallback));
/** Property names every JavaScript object has: as map keys they would be dropped or clash (`__proto__`, `constructor`). */
export const PROTOTYPE_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));
export const NOT_PROTOTYPE_KEY = "a name other than a JavaScript object property (constructor, __proto__, toString, hasOwnProperty, …)";
/** A map key of the stack file: not one of JavaScript's own object properties. */
const ownKey = <T extends z.ZodString>(key: T) => key.refine((k) => !PROTOTYPE_KEYS.has(k), { error: `expected ${NOT_PROTOTYPE_KEY}` });
/** A size in bytes such as "512M", from `min` to `max` (both in the same notation). */
const size = (what: string, min: string, max: string) =>
  z
    .string({ error: `expected ${what} such as "512M" or "2G"` })
    .regex(MEMORY_PATTERN, { error: `expected ${what} such as "512M" or "2G"`, abort: true })
    .refine((m) => memoryBytes(m) >= memoryBytes(min), { error: `expected at least ${min}` })
    .refine((m) => memoryBytes(m) <= memoryBytes(max), { error: `expected at most ${max}` });
/**
 * A path inside the project: relative, no `..` that leaves it, not the project's parent or the filesystem root.
 * (Where it exists, the semantic checks also resolve symlinks.)
 */
const projectPath = (what: string) =>
  noNul(what, 1024)
    .refine((p) => !path.isAbsolute(p) && !p.startsWith("~"), { error: `expected ${what} relative to the project directory (not absolute)`, abort: true })
    .refine((p) => { const n = path.posix.normalize(p); return n !== ".." && !n.startsWith("../"); }, { error: `expected ${what} inside the project directory (no .. leaving it)` });

const port = z.int({ error: "expected a whole port number" }).min(1, { error: "expected a port from 1 to 65535" }).max(65535, {
  error: "expected a port from 1 to 65535",
});
const noNul = (what: string, max: number) =>
  z
    .string({ error: `expected ${what} as a string` })
    .min(1, { error: `expected a non-empty ${what}` })
    .max(max, { error: `expected ${what} of at most ${max} characters` })
    .refine((s) => !s.includes("\0"), { error: `expected ${what} without NUL characters` });

export const resourcesSchema = z
  .strictObject({
    /** CPUs a task may use (NanoCPUs), 0.01 to 64. @default no limit */
    cpus: z.number({ error: "expected a number of CPUs such as 0.5" }).min(0.01, { error: "expected at least 0.01 CPUs" }).max(64, {
      error: "expected at most 64 CPUs",
    }).optional(),
    /** Memory limit, 6M (Docker's minimum) to 1024G. @default no limit */
    memory: size("a memory size", "6M", "1024G").optional(),
  })
  .default({});

const healthcheckSchema = z
  .strictObject({
    // At most 1024 characters: with a route's prefix (200) it stays within what the health gate takes (2048).
    path: z
      .string()
      .regex(p.URL_PATH, { error: 'expected an HTTP path such as "/health"', abort: true })
      .max(1024, { error: "expected an HTTP path of at most 1024 characters" })
      .optional(),
    command: noNul("health-check command", 1024).optional(),
    interval: duration("10s", "1s"),
    timeout: duration("5s", "100ms"),
    retries: z.int({ error: "expected a whole number of retries" }).min(1, { error: "expected 1 to 100 retries" }).max(100, {
      error: "expected 1 to 100 retries",
    }).default(3),
    startPeriod: duration("30s"),
  })
  .refine((h) => (h.path === undefined) !== (h.command === undefined), {
    error: "expected exactly one of healthcheck.path or healthcheck.command",
  });

const restartPolicySchema = z
  .strictObject({
    // "any" by default: a task that Swarm stops for failing its health check usually exits 0 on SIGTERM, and
    // Swarm's on-failure would then never restart it (measured on the real engine: the service stayed at 0/2).
    condition: z.enum(["on-failure", "any", "none"], { error: "expected on-failure, any or none" }).default("any"),
    /** Restarts within `window` before Swarm gives up; 0 means no limit (Swarm's meaning). @default 10 */
    maxAttempts: z.int({ error: "expected a whole number of attempts" }).min(0, { error: "expected 0 to 100 attempts" }).max(100, {
      error: "expected 0 to 100 attempts",
    }).default(10),
    delay: duration("5s"),
    window: duration("2m"),
  })
  .default({ condition: "any", maxAttempts: 10, delay: "5s", window: "2m" });

const updateSchema = z
  .strictObject({
    parallelism: z.int({ error: "expected a whole number" }).min(1, { error: "expected 1 to 10 tasks at a time" }).max(10, {
      error: "expected 1 to 10 tasks at a time",
    }).default(1),
    delay: duration("0s"),
    monitor: duration("30s"),
    // The provider reads the ratio back with one decimal: 0.25 would read back as 0.2 and differ on every run.
    maxFailureRatio: z
      .number({ error: "expected a ratio from 0 to 1" })
      .min(0, { error: "expected a ratio from 0 to 1" })
      .max(1, { error: "expected a ratio from 0 to 1" })
      .refine((r) => Math.abs(r * 10 - Math.round(r * 10)) < 1e-9, { error: "expected a ratio with one decimal at most (0, 0.1, … 1)" })
      .default(0),
  })
  .default({ parallelism: 1, delay: "0s", monitor: "30s", maxFailureRatio: 0 });

const buildSchema = z.strictObject({
  /** The build context: a folder inside the project, e.g. ./api. */
  context: projectPath("a build context path"),
  /** The Dockerfile, inside the project. @default Dockerfile in the context */
  dockerfile: projectPath("a Dockerfile path").optional(),
  target: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: "expected a build stage name" }).optional(),
  args: z
    .record(ownKey(z.string().regex(p.ENV_NAME, { error: "expected a build argument name", abort: true })), noNul("build argument", 4096))
    .optional(),
});

const resourceNameRef = z.string().regex(p.RESOURCE_NAME, { error: "expected a service name" });
const domain = z.string().regex(p.DOMAIN, { error: "expected a lower-case domain name such as api.example.com" });

/**
 * A path prefix on a domain: "/" or segments of lower-case letters, digits and - . _ ~ (no trailing slash, no
 * "." or ".." segment). Lower-case because Caddy matches paths case-insensitively.
 */
const ROUTE_PATH = /^\/$|^(?:\/(?!\.{1,2}(?:\/|$))[a-z0-9._~-]+)+$/;
const ROUTE_PATH_RULE = "a path prefix such as /api/v1 (lower-case letters, digits, - . _ ~; no trailing slash, no . or .. segment; at most 200 characters)";
const isRoutePath = (s: unknown): s is string => typeof s === "string" && s.length <= 200 && ROUTE_PATH.test(s);
/** `example.com` or `example.com/api/v1`: a route that keeps its prefix. */
const splitRoute = (s: string) => {
  const slash = s.indexOf("/");
  return slash < 0 ? { domain: s, path: "/", stripPath: false } : { domain: s.slice(0, slash), path: s.slice(slash), stripPath: false };
};
const routeString = z
  .string()
  .refine((s) => p.DOMAIN.test(splitRoute(s).domain), {
    error: "expected a lower-case domain name such as api.example.com, optionally with a path prefix (example.com/api/v1)",
  })
  .refine((s) => !p.DOMAIN.test(splitRoute(s).domain) || isRoutePath(splitRoute(s).path), { error: `expected ${ROUTE_PATH_RULE} after the domain` });
// Keys checked with non-aborting z.custom: a union reports an option's own issues only when none aborts, and a type
// mismatch (z.string(), z.boolean()) aborts, which would hide "stripPath: expected true or false" behind the union's.
const routeObject = z
  .strictObject({
    domain: z.custom<string>((v) => typeof v === "string" && p.DOMAIN.test(v), { error: "expected a lower-case domain name such as api.example.com", abort: false }),
    /** The path prefix routed to the service: requests for it and below it (`/api/v1`, `/api/v1/…`, never `/api/v10`). @default "/" */
    path: z.custom<string>(isRoutePath, { error: `expected ${ROUTE_PATH_RULE}`, abort: false }).default("/"),
    /** Strip the prefix before proxying (the app serves at its root); false keeps it (the app serves under it). @default false */
    stripPath: z.custom<boolean>((v) => typeof v === "boolean", { error: "expected true or false", abort: false }).default(false),
  })
  .refine((r) => !(r.stripPath && r.path === "/"), { path: ["stripPath"], error: "expected stripPath only with a path prefix other than /" });
/** A public route to a service: a domain, and a path prefix on it. */
const routeSchema = z
  .union([routeString, routeObject], {
    error: "expected a domain (example.com), a domain and path prefix (example.com/api/v1) or {domain, path, stripPath}",
  })
  // After the union: a transform inside an option would hide that option's own message behind the union's.
  .transform((r) => (typeof r === "string" ? splitRoute(r) : r));
export type RouteConfig = z.output<typeof routeSchema>;

const envValue = z
  .union([z.string(), z.number(), z.boolean()], { error: "expected a string, number or boolean" })
  .transform((v) => String(v))
  .refine((s) => !s.includes("\0"), { error: "expected a value without NUL characters" })
  .refine((s) => s.length <= 32768, { error: "expected a value of at most 32768 characters" });

export const serviceSchema = z
  .strictObject({
    /**
     * web: serves HTTP on `port`; worker: no port (queue consumers); scheduler: at most one task ever (Celery beat,
     * cron-like senders): 0 or 1 replica, updated and rolled back stop-first, after any migration that pauses it.
     * @default "web"
     */
    kind: z.enum(["web", "worker", "scheduler"], { error: "expected web, worker or scheduler" }).default("web"),
    image: noNul("image reference", 512).optional(),
    build: buildSchema.optional(),
    startCommand: noNul("start command", 4096).optional(),
    preDeployCommand: noNul("pre-deploy command", 4096).optional(),
    replicas: z.int({ error: "expected a whole number of replicas" }).min(0, { error: "expected 0 to 50 replicas" }).max(50, {
      error: "expected 0 to 50 replicas",
    }).default(1),
    port: port.optional(),
    healthcheck: healthcheckSchema.optional(),
    restartPolicy: restartPolicySchema,
    env: z.record(ownKey(z.string().regex(p.ENV_NAME, { error: "expected an environment variable name", abort: true })), envValue).default({}),
    secrets: z
      .array(z.string().regex(p.SECRET_NAME, { error: "expected a secret name such as SECRET_KEY" }))
      .max(100, { error: "expected at most 100 secrets" })
      .default([]),
    resources: resourcesSchema,
    update: updateSchema,
    stopGracePeriod: duration("30s"),
    /** Services scaled to 0 while this service's preDeployCommand runs, restored after (seed 003: stop workers). */
    pauseDuringMigration: z.array(resourceNameRef).default([]),
    /**
     * Public routes the edge sends to this (web) service: `api.example.com`, `example.com/api/v1` (prefix kept), or
     * `{domain, path, stripPath}`. Services may share a domain with different path prefixes; the longest prefix wins.
     * @default []
     */
    domains: z.array(routeSchema, { error: "expected a list of domains" }).max(100, { error: "expected at most 100 domains" }).default([]),
  })
  .superRefine((s, ctx) => {
    if ((s.image === undefined) === (s.build === undefined)) {
      ctx.addIssue({ code: "custom", path: ["image"], input: s.image, message: "expected exactly one of image or build" });
    }
    if (s.kind === "web" && s.port === undefined) {
      ctx.addIssue({ code: "custom", path: ["port"], input: undefined, message: "expected a port for a web service" });
    }
    if (s.kind !== "web" && s.port !== undefined) {
      ctx.addIssue({ code: "custom", path: ["port"], input: s.port, message: `expected no port on a ${s.kind} service` });
    }
    if (s.kind !== "web" && s.healthcheck?.path !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["healthcheck", "path"],
        input: s.healthcheck.path,
        message: `expected a healthcheck command on a ${s.kind} service (it has no port to probe)`,
      });
    }
    if (s.kind === "scheduler" && s.replicas > 1) {
      ctx.addIssue({
        code: "custom",
        path: ["replicas"],
        input: s.replicas,
        message: "expected 0 or 1 replicas for a scheduler (a second one would send every scheduled job twice)",
      });
    }
    if (s.pauseDuringMigration.length > 0 && s.preDeployCommand === undefined) {
      ctx.addIssue({ code: "custom", path: ["pauseDuringMigration"], input: s.pauseDuringMigration, message: "expected a preDeployCommand to pause services for" });
    }
    if (s.kind !== "web" && s.domains.length > 0) {
      ctx.addIssue({ code: "custom", path: ["domains"], input: s.domains, message: `expected no domains on a ${s.kind} service (it has no port to route to)` });
    }
    const seen = new Set<string>();
    s.secrets.forEach((name, i) => {
      if (seen.has(name)) {
        ctx.addIssue({ code: "custom", path: ["secrets", i], input: name, message: "expected each secret once" });
      }
      seen.add(name);
    });
  });

export const databaseSchema = z.strictObject({
  engine: z.enum(ENGINES, { error: `expected an engine: ${ENGINES.join(", ")}` }),
  image: z
    .string()
    .regex(p.TAGGED_IMAGE, { error: "expected an image reference such as postgres:16 or repo@sha256:<digest>", abort: true })
    .refine(p.registryOk, { error: "expected a registry that is a host name with an optional port from 1 to 65535" })
    .optional(),
  user: z.string().regex(/^[a-z_][a-z0-9_]{0,31}$/, { error: "expected a lower-case database user name" }).optional(),
  database: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: "expected a lower-case database name" }).optional(),
  resources: resourcesSchema,
  stopGracePeriod: duration("60s"),
  /**
   * The password, from an entry of railyard:secrets (its NAME), instead of a generated one. Set it to the password
   * a kept volume already has (after a lost or recreated state); changing it rotates the password (README:
   * Database passwords). 16 to 128 printable ASCII characters, no space, quote, backslash or backtick.
   * @default a generated password kept in the Pulumi state
   */
  passwordSecret: z.string().regex(p.SECRET_NAME, { error: "expected a secret name such as POSTGRES_PASSWORD" }).optional(),
  /**
   * A keeper on the generated password: any change (setting it the first time too) generates a new one, and
   * `pulumi up` rotates the database to it. Not with passwordSecret.
   */
  passwordVersion: z.int({ error: "expected a whole number" }).min(1, { error: "expected 1 to 1000000" }).max(1_000_000, {
    error: "expected 1 to 1000000",
  }).optional(),
  /**
   * The node that holds the database's volume: "host" (the main host) or a name under railyard:nodes, labelled
   * data. Swarm has no shared volumes: the database runs there only (README: More than one machine). @default "host"
   */
  node: z.string({ error: `expected ${MAIN_NODE} or a name under railyard:nodes` }).regex(p.RESOURCE_NAME, {
    error: `expected ${MAIN_NODE} or a name under railyard:nodes`,
  }).default(MAIN_NODE),
  /**
   * The node the database's data is on now, while it moves to `node` (README: Moving a database to another node).
   * Without it, a `node` that differs from the running database's is refused before the database is touched: it
   * would start there on an empty volume. Remove it once the move is done. @default none
   */
  moveFrom: z.string({ error: `expected ${MAIN_NODE} or a node name` }).regex(p.RESOURCE_NAME, { error: `expected ${MAIN_NODE} or a node name` }).optional(),
});

/**
 * The host's public key. A line pasted from `ssh-keyscan <host>` (`<host> <type> <key>`, or known_hosts'
 * `[host]:port <type> <key>`) is accepted too: the leading host field is dropped.
 */
const hostKey = z
  .string({ error: "expected the host's public key as a string" })
  .transform((k) => {
    const fields = k.trim().split(" ");
    return fields.length >= 3 && !KEY_TYPE.test(fields[0]) && KEY_TYPE.test(fields[1]) ? fields.slice(1).join(" ") : k;
  })
  .pipe(z.string().regex(p.HOST_KEY, { error: 'expected the host\'s public key, e.g. "ssh-ed25519 AAAA…" (ssh-keyscan -t ed25519 <host>)' }));
const KEY_TYPE = /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521))$/;

const advertiseAddress = z.union([z.ipv4(), z.ipv6()], { error: "expected an IP address for swarm init --advertise-addr" }).optional();
/** What may run on a machine: data (databases and their volumes), edge, app (the services); each once. */
const nodeLabels = (fallback: readonly (typeof NODE_LABELS)[number][]) =>
  z
    .array(z.enum(NODE_LABELS, { error: `expected a label: ${NODE_LABELS.join(", ")}` }), { error: `expected a list of labels (${NODE_LABELS.join(", ")})` })
    .min(1, { error: `expected at least one label (${NODE_LABELS.join(", ")})` })
    .refine((l) => new Set(l).size === l.length, { error: "expected each label once" })
    .default([...fallback]);
/** What may run on the main host. @default [data, edge, app] */
const hostLabels = nodeLabels(NODE_LABELS);
const sshAddress = z
  .union([z.ipv4(), z.ipv6(), z.string().regex(p.HOSTNAME)], { error: "expected an IPv4/IPv6 address or a host name" })
  // All digits and dots is no host name (no top-level domain is numeric): an IPv4 address with an octet over 255.
  .refine((a) => !/^[0-9.]+$/.test(a) || z.ipv4().safeParse(a).success, { error: "expected an IPv4 address of four octets from 0 to 255" });
/** Where railyard keeps each stack's scripts, backups and builds on the host. @default /var/lib/railyard */
const dataDir = z
  .string()
  .regex(p.ABSOLUTE_PATH, { error: "expected an absolute path such as /srv/railyard (no spaces, no . or .. segment, no trailing /)", abort: true })
  // Room for <dataDir>/<prefix>/scripts/railyard-<script>.sh within the scripts' 1024 characters.
  .max(900, { error: "expected an absolute path of at most 900 characters" })
  .default("/var/lib/railyard");

const sshHostSchema = z.strictObject({
  mode: z.literal("ssh"),
  address: sshAddress,
  port: port.default(22),
  user: z.string().regex(p.UNIX_USER, { error: "expected a login name such as root or deploy" }).default("root"),
  hostKey: hostKey.optional(),
  advertiseAddress,
  dataDir,
  labels: hostLabels,
});

const localHostSchema = z.strictObject({
  mode: z.literal("local"),
  /** For a machine with several addresses, where `docker swarm init` cannot choose one by itself. */
  advertiseAddress,
  dataDir,
  labels: hostLabels,
});

export const hostSchema = z.discriminatedUnion("mode", [sshHostSchema, localHostSchema], {
  error: "expected mode: ssh (a VPS) or mode: local (this machine's engine)",
});

/** A machine joined to the stack's swarm over SSH (README: More than one machine). */
export const nodeSchema = z.strictObject({
  address: sshAddress,
  /** @default 22 */
  port: port.default(22),
  /** @default the main host's user when it is reached over SSH, else root */
  user: z.string().regex(p.UNIX_USER, { error: "expected a login name such as root or deploy" }).optional(),
  /** Required: the node's pinned public key (ssh-keyscan -t ed25519 <address>). */
  hostKey,
  /** The address its join advertises, when it has several. */
  advertiseAddress: z.union([z.ipv4(), z.ipv6()], { error: "expected an IP address for swarm join --advertise-addr" }).optional(),
  /** A manager holds a copy of the swarm's state (Raft); the main host always is one. @default "worker" */
  role: z.enum(["worker", "manager"], { error: "expected worker or manager" }).default("worker"),
  /** What may run on it. @default [app] */
  labels: nodeLabels(["app"]),
  /** Availability drain: its tasks move to other nodes (before anything else changes); it stays in the swarm. @default false */
  drain: z.boolean({ error: "expected true or false" }).default(false),
});
export const nodeName = ownKey(
  z.string().regex(p.RESOURCE_NAME, { error: "expected a lower-case name of letters, digits and dashes (at most 30)", abort: true }),
).refine((n) => n !== MAIN_NODE, { error: `expected a name other than ${MAIN_NODE} (the main host's)` });
/** railyard:nodes: more machines in the stack's swarm, by name. @default {} */
const nodesSchema = z
  .record(nodeName, nodeSchema, { error: "expected a map of node names to nodes" })
  .refine((n) => Object.keys(n).length <= MAX_NODES, { error: `expected at most ${MAX_NODES} nodes` })
  .default({});

/** A name under railyard:secrets (the value is read from there, never from plain config). */
const secretRef = (example: string) => z.string().regex(p.SECRET_NAME, { error: `expected a secret name such as ${example}` });

export const deploySchema = z
  .strictObject({
    branch: z.string().regex(p.BRANCH, { error: "expected a git branch name" }).optional(),
    preDeployBackup: z.boolean({ error: "expected true or false" }).optional(),
    backupRetention: z.int({ error: "expected a whole number" }).min(1, { error: "expected 1 to 100 backups" }).max(100, {
      error: "expected 1 to 100 backups",
    }).default(5),
    healthCheckAttempts: z.int({ error: "expected a whole number" }).min(1, { error: "expected 1 to 200 attempts" }).max(200, {
      error: "expected 1 to 200 attempts",
    }).optional(),
    /** Seconds between the health gate's attempts, at least 1s. @default 5s */
    healthCheckInterval: duration("5s", "1s"),
    /** How long a preDeployCommand may run, at least 1s. @default 5m */
    migrationTimeout: duration("5m", "1s"),
    /** Release records kept on the host, 1 to 100 (the live one and its rollback target always are). @default 10 */
    releasesKept: z.int({ error: "expected a whole number" }).min(1, { error: "expected 1 to 100 releases" }).max(100, {
      error: "expected 1 to 100 releases",
    }).default(10),
    /** An entry of railyard:secrets holding an https webhook URL that hears of every deploy, rollback and failed release. */
    webhookSecret: secretRef("DEPLOY_WEBHOOK_URL").optional(),
    /** What CI builds and pushes, by image repository (config/images.ts). @default none */
    images: imageBuildsSchema.optional(),
    /** The stack whose tested digests this one deploys instead of building (production: staging). @default none */
    promoteFrom: promoteFromSchema.optional(),
  })
  .default({ backupRetention: 5, healthCheckInterval: "5s", migrationTimeout: "5m", releasesKept: 10 });
/**
 * The private registry the host pulls from (config/registry.ts): its credentials go only to pulls of images on
 * `server`. The password is an entry of railyard:secrets, never plain config.
 */
export const registrySchema = z.strictObject({
  /** host[:port] as images name it, lower-case, no scheme or path. @default "ghcr.io" */
  server: z
    .string({ error: "expected a registry host such as ghcr.io or registry.example.com:5000" })
    .max(260, { error: "expected a registry host of at most 260 characters", abort: true })
    .refine(isRegistryServer, {
      error: "expected a lower-case registry host with a dot, a port or localhost (ghcr.io, registry.example.com:5000), no scheme, path or user",
      abort: true,
    })
    .refine((s) => !DOCKER_HUB_HOSTS.includes(s), {
      error: "expected a registry other than Docker Hub (its images carry no registry name, so railyard never sends them credentials)",
    })
    .default("ghcr.io"),
  /** The registry user (GHCR: the GitHub user or bot the token belongs to). */
  username: z.string({ error: "expected a registry user name" }).regex(REGISTRY_USER, {
    error: "expected a registry user name (letters, digits and . _ @ + $ -, at most 128, no : or space)",
  }),
  /** An entry of railyard:secrets holding the password or token (GHCR: a token with read:packages). */
  passwordSecret: z
    .string({ error: "expected the name of an entry of railyard:secrets holding the token, such as REGISTRY_TOKEN" })
    .regex(p.SECRET_NAME, { error: "expected a secret name such as REGISTRY_TOKEN" }),
});
export type RegistrySettings = z.output<typeof registrySchema>;
/** An access key pair of an existing bucket's provider, as two entries of railyard:secrets. */
const keyPairSchema = (example: string) =>
  z.strictObject({
    accessKeyIdSecret: secretRef(`${example}_ACCESS_KEY_ID`),
    secretAccessKeySecret: secretRef(`${example}_SECRET_ACCESS_KEY`),
  });
const bucketName = z.string().regex(p.BUCKET_NAME, {
  error: "expected an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens; not an IP address)",
});
/** Loopback hosts, where an S3 endpoint may be plain http (a test server); anywhere else keys would cross the network in the clear. */
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const s3Endpoint = z
  .string({ error: "expected the endpoint's URL, such as https://<account>.r2.cloudflarestorage.com" })
  .regex(p.S3_ENDPOINT, {
    error: "expected the endpoint's URL: http(s)://, a lower-case host name or IP address, an optional port, no path, query or keys (they go in railyard:secrets)",
    abort: true,
  })
  .refine((u) => { try { const url = new URL(u); return url.protocol === "https:" || LOOPBACK.has(url.hostname); } catch { return false; } }, {
    error: "expected an https:// endpoint (plain http only on loopback)",
  });
/** railyard creates the bucket on AWS (components/backupBucket.ts), with the host's put-only and read-only keys. */
const awsBucketSchema = z.strictObject({
  provider: z.literal("aws"),
  // Every request is TLS-only, and S3's wildcard certificate does not cover a dotted name's virtual host.
  name: bucketName.refine((n) => !n.includes("."), { error: "expected a bucket name without dots (S3's TLS certificate does not cover them)" }),
  region: z.string().regex(p.AWS_REGION, { error: "expected an AWS region such as eu-west-1" }),
  /**
   * Object Lock in compliance mode: no one (root included) can delete a dump before retentionDays. Can be turned on
   * later, never off (false later leaves the bucket's default retention in place). @default false
   */
  objectLock: z.boolean({ error: "expected true or false" }).default(false),
});
/** An existing S3-compatible bucket (R2, B2, MinIO, S3): its endpoint and the keys the host uses, from railyard:secrets. */
const s3BucketSchema = z.strictObject({
  provider: z.literal("s3"),
  name: bucketName,
  endpoint: s3Endpoint,
  /** @default us-east-1 (R2 takes "auto") */
  region: z.string().regex(p.S3_REGION, { error: "expected a region name such as us-east-1 or auto" }).default("us-east-1"),
  /** The key scheduled dumps upload with: give it only PutObject under <prefix>/ (README: Backups). */
  uploader: keyPairSchema("BACKUP_UPLOADER"),
  /** A read-only key for the host's restore drills (GetObject and ListBucket under <prefix>/). */
  reader: keyPairSchema("BACKUP_READER").optional(),
});
const cronExpression = z
  .string({ error: 'expected a cron expression such as "0 3 * * *" (UTC)' })
  .max(64, { error: "expected a cron expression of at most 64 characters" })
  .superRefine((c, ctx) => {
    const r = cronToOnCalendar(c);
    if (!r.ok) ctx.addIssue({ code: "custom", input: c, message: `expected ${r.problem.expected}` });
  });

/** Dumps leave the host: to an S3 bucket on schedules, with restore drills. README: Backups. */
export const backupsSchema = z.strictObject({
  bucket: z.discriminatedUnion("provider", [awsBucketSchema, s3BucketSchema], {
    error: "expected provider: aws (railyard creates the bucket) or provider: s3 (an existing S3-compatible bucket: endpoint and keys)",
  }),
  /** When each database is dumped: cron expressions in UTC. @default ["0 3 * * *"] (daily at 03:00 UTC) */
  schedules: z.array(cronExpression, { error: "expected a list of cron expressions" }).min(1, { error: "expected at least one schedule" }).max(10, {
    error: "expected at most 10 schedules",
  }).default(["0 3 * * *"]),
  /** Days each dump is kept (the bucket's lifecycle; with objectLock, a minimum too). @default 30 */
  retentionDays: z.int({ error: "expected a whole number of days" }).min(1, { error: "expected 1 to 36500 days" }).max(36500, {
    error: "expected 1 to 36500 days",
  }).default(30),
  /** Which databases (names under railyard:databases). @default every database */
  databases: z.array(resourceNameRef, { error: "expected a list of database names" }).min(1, { error: "expected at least one database" }).optional(),
  /** Pre-deploy dumps (railyard:deploy.preDeployBackup) go to the bucket too, not only to the host's folder. @default true */
  preDeployToBucket: z.boolean({ error: "expected true or false" }).default(true),
  /** How long one dump may take, 1m to 24h. @default 6h */
  timeout: duration("6h", "1m"),
  /** An entry of railyard:secrets holding an https webhook URL (Slack's, say) that hears of every failed dump or drill. */
  webhookSecret: secretRef("BACKUP_WEBHOOK_URL").optional(),
  drill: z
    .strictObject({
      /** @default true */
      enabled: z.boolean({ error: "expected true or false" }).default(true),
      /** When the newest dump of each database is restored into a scratch database and checked (cron, UTC). @default "0 4 * * 0" (Sundays 04:00 UTC) */
      schedule: cronExpression.default("0 4 * * 0"),
      /** A drill fails when the newest dump is older than this many hours (the RPO it must meet). @default 48 */
      maxDumpAgeHours: z.int({ error: "expected a whole number of hours" }).min(1, { error: "expected 1 to 8760 hours" }).max(8760, {
        error: "expected 1 to 8760 hours",
      }).default(48),
      /**
       * Per database (postgres, mysql), a SQL query returning one timestamp, the newest row's: the drill fails when
       * the restored data's newest row is older than maxAgeHours before the dump.
       */
      freshness: z
        .record(
          ownKey(z.string().regex(p.RESOURCE_NAME, { error: "expected a database name", abort: true })),
          z.strictObject({
            query: noNul("SQL query", 4096),
            maxAgeHours: z.int({ error: "expected a whole number of hours" }).min(1, { error: "expected 1 to 8760 hours" }).max(8760, {
              error: "expected 1 to 8760 hours",
            }),
          }),
        )
        .default({}),
    })
    .prefault({}),
});
export type BackupsConfig = z.output<typeof backupsSchema>;

const edgeTimeoutsSchema = z
  .strictObject({
    readHeader: duration("10s", "1s"),
    readBody: duration("30s", "1s"),
    write: duration("60s", "1s"),
    idle: duration("2m", "1s"),
  })
  // Parsed like a given value, so the defaults above are the only ones.
  .prefault({});

/** The edge: Caddy in front of the web services, TLS, redirects, limits, and (optionally) Cloudflare DNS. */
export const edgeSchema = z
  .strictObject({
    /** cloudflare: Origin CA certificate (zone SSL strict); acme: Caddy's own certificates; internal: Caddy's local CA; off: plain HTTP (dev). */
    tls: z.enum(["cloudflare", "acme", "internal", "off"], { error: "expected cloudflare, acme, internal or off" }).optional(),
    acmeEmail: z.email({ error: "expected an e-mail address for the ACME account" }).optional(),
    cloudflare: z
      .strictObject({
        zoneId: z.string().regex(p.CLOUDFLARE_ID, { error: "expected the zone ID (32 hex digits, on the zone's overview page)" }),
        zone: domain,
      })
      .optional(),
    /** The address DNS records point at; defaults to host.address. */
    publicAddress: z.union([z.ipv4(), z.ipv6()], { error: "expected the public IPv4 or IPv6 address of the host" }).optional(),
    /** Domains that redirect permanently to a routed domain, e.g. www.example.com: example.com. */
    redirects: z
      .record(ownKey(domain), domain, { error: "expected a map of domain → domain" })
      // Each is a DNS record and a name on the one Origin CA certificate.
      .refine((r) => Object.keys(r).length <= 100, { error: "expected at most 100 redirects" })
      .default({}),
    image: z.string().regex(p.TAGGED_IMAGE, { error: "expected a Caddy image reference" }).default("caddy:2.10-alpine"),
    frontImage: z.string().regex(p.TAGGED_IMAGE, { error: "expected an HAProxy image reference" }).default("haproxy:2.6"),
    replicas: z.int({ error: "expected a whole number of replicas" }).min(1, { error: "expected 1 to 10 replicas" }).max(10, {
      error: "expected 1 to 10 replicas",
    }).default(2),
    httpPort: port.default(80),
    httpsPort: port.default(443),
    /** Largest request body, 1K to 10G; larger bodies get 413. @default 10M */
    maxRequestBody: size("a size", "1K", "10G").default("10M"),
    timeouts: edgeTimeoutsSchema,
    /** How long Caddy keeps retrying other tasks when one refuses a request (lb_try_duration). */
    tryDuration: duration("10s", "100ms"),
    hsts: z.boolean({ error: "expected true or false" }).default(true),
    resources: resourcesSchema,
  })
  .superRefine((e, ctx) => {
    if (e.httpPort === e.httpsPort) {
      ctx.addIssue({ code: "custom", path: ["httpsPort"], input: e.httpsPort, message: "expected a port other than httpPort" });
    }
  })
  // Parsed like a given value, so each key's default above is the only one.
  .prefault({});

export const logsSchema = z
  .strictObject({
    /** Size of one json-file log before rotation, 1k to 10g. @default 10m */
    maxSize: z
      .string()
      .regex(p.LOG_SIZE, { error: 'expected a log size such as "10m" (1k to 10g)', abort: true })
      .refine((m) => memoryBytes(m.toUpperCase()) <= memoryBytes("10G"), { error: "expected a log size of at most 10g" })
      .default("10m"),
    maxFiles: z.int({ error: "expected a whole number" }).min(1, { error: "expected 1 to 50 files" }).max(50, {
      error: "expected 1 to 50 files",
    }).default(3),
  })
  .default({ maxSize: "10m", maxFiles: 3 });

/** Names railyard uses itself: reference namespaces and the edge's Swarm services. */
const RESERVED_NAMES = ["secrets", "railyard", "tasks", "edge", "front"];
const resourceName = ownKey(
  z.string().regex(p.RESOURCE_NAME, { error: "expected a lower-case name of letters, digits and dashes (at most 30)", abort: true }),
).refine((n) => !RESERVED_NAMES.includes(n), { error: `expected a name other than ${RESERVED_NAMES.join(", ")}` });

/** The whole `railyard:` namespace. `secrets` and `sshPrivateKey` are read from Pulumi secrets only. */
export const stackSchema = z.strictObject({
  environment: z.enum(["dev", "staging", "production"], { error: "expected dev, staging or production" }),
  prefix: resourceName,
  host: hostSchema,
  sshPrivateKey: z
    .string({ error: "expected an SSH private key" })
    .refine((k) => k.includes("PRIVATE KEY-----"), { error: "expected an SSH private key in PEM/OpenSSH format" })
    .optional(),
  network: z.string().regex(p.RESOURCE_NAME, { error: "expected a network name of lower-case letters, digits and dashes" }).optional(),
  /**
   * The stack's overlay network encrypted (IPsec between nodes, `--opt encrypted`). Changing it on an existing
   * stack means recreating the network (README: More than one machine). @default false
   */
  // A top-level scalar arrives from the Pulumi runtime as text: "true" and "false" are read as the booleans.
  encryptNetwork: z
    .custom<boolean | "true" | "false">((v) => v === true || v === false || v === "true" || v === "false", { error: "expected true or false" })
    .transform((v) => v === true || v === "true")
    .default(false),
  nodes: nodesSchema,
  logs: logsSchema,
  deploy: deploySchema,
  edge: edgeSchema,
  services: z.record(resourceName, serviceSchema, { error: "expected a map of service names to services" }).default({}),
  databases: z.record(resourceName, databaseSchema, { error: "expected a map of database names to databases" }).default({}),
  backups: backupsSchema.optional(),
  registry: registrySchema.optional(),
  secrets: z
    .record(ownKey(z.string().regex(p.SECRET_NAME, { error: "expected a secret name such as SECRET_KEY", abort: true })), noNul("secret value", 65536))
    .default({}),
});

export type StackInput = z.input<typeof stackSchema>;
export type ParsedStack = z.output<typeof stackSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type DatabaseConfig = z.output<typeof databaseSchema>;
/** The main host as it is loaded (host.labels always set). */
export type LoadedHostConfig = z.output<typeof hostSchema>;
/** The main host as components take it: `labels` may be left out (then all three, the default). */
export type HostConfig = LoadedHostConfig extends infer T ? (T extends unknown ? Omit<T, "labels"> & { labels?: LoadedHostConfig["labels"] } : never) : never;
export type EdgeConfig = z.output<typeof edgeSchema>;
export type ResourcesConfig = z.output<typeof resourcesSchema>;
export const TOP_LEVEL_KEYS = Object.keys(stackSchema.shape);
