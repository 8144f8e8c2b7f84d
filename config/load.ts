/**
 * Reads the `railyard:` namespace of the stack's config once, checks all of it, and returns a typed
 * StackConfig. Any problem throws a RailyardConfigError listing every problem, before any resource exists.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { z } from "zod";
import { BackupPlan, backupProblems, planBackups } from "./backups";
import { EdgePlan, planEdge } from "./edge";
import { imageBuildProblems, ImageBuilds, promotionProblems } from "./images";
import type { ServiceEnvPlan } from "./env";
import { DatabaseNames, databaseNames, EdgeNames, edgeNames, networkName, ServiceNames, serviceNames } from "./names";
import { MAX_NODES, NodeConfig, nodeProblems, ParsedNode, resolveNodes } from "./nodes";
import { ConfigProblem, describe, problemsFromZod, RailyardConfigError } from "./problems";
import { DatabaseConfig, databaseSchema, LoadedHostConfig, nodeName, nodeSchema, NOT_PROTOTYPE_KEY, ParsedStack, serviceSchema, ServiceConfig, stackSchema, TOP_LEVEL_KEYS } from "./schema";
import { semanticProblems } from "./semantics";
import { databasePasswordProblems } from "./passwords";
import type { RegistryConfig } from "./registry";
import { namedSecretProblem, webhookSecretProblems } from "./webhook";

export type Environment = ParsedStack["environment"];

export interface DeploySettings {
  branch: string;
  preDeployBackup: boolean;
  backupRetention: number;
  healthCheckAttempts: number;
  healthCheckInterval: string;
  migrationTimeout: string;
  /** Release records kept on the host. */
  releasesKept: number;
  /** The railyard:secrets entry holding the deploy webhook's URL (its name, not its value). */
  webhookSecret?: string;
  /** What CI builds and pushes, by image repository (railyard:deploy.images); absent when not set. */
  images?: ImageBuilds;
  /** The stack whose tested digests this one deploys instead of building (railyard:deploy.promoteFrom). */
  promoteFrom?: string;
}

export interface StackConfig {
  stack: string;
  environment: Environment;
  /** Prefix of every name on the host: Swarm services, volumes, secrets. */
  prefix: string;
  /** The stack's attachable overlay network. */
  network: string;
  /** The stack's overlay network is encrypted (railyard:encryptNetwork). */
  encryptNetwork: boolean;
  host: LoadedHostConfig;
  /** More machines in the stack's swarm (railyard:nodes), by name; {} for a single-node stack. */
  nodes: Record<string, NodeConfig>;
  /** Secret Output; present when host.mode is ssh. */
  sshPrivateKey?: pulumi.Output<string>;
  logs: ParsedStack["logs"];
  deploy: DeploySettings;
  services: Record<string, ServiceConfig>;
  databases: Record<string, DatabaseConfig>;
  /** The edge's routes, redirects and settings; undefined when no service has a domain. */
  edge?: EdgePlan;
  /** App secrets, each a secret Output. */
  secrets: Record<string, pulumi.Output<string>>;
  /** Each service's env with references expanded. */
  env: Record<string, ServiceEnvPlan>;
  /** Every name derived from the stack file (config/names.ts), checked before any resource exists. */
  names: StackNames;
  /** Dumps to an S3 bucket on schedules, and restore drills; undefined when railyard:backups is not set. */
  backups?: BackupPlan;
  /** The private registry the host pulls from (railyard:registry); undefined when not set. */
  registry?: RegistryConfig;
}

export interface StackNames {
  services: Record<string, ServiceNames>;
  databases: Record<string, DatabaseNames>;
  edge: EdgeNames;
}

/** The shape of a service's or database's name (the key of its entry). */
const ENTRY_NAME = stackSchema.shape.services.unwrap().keyType;
/** Most services or databases one stack file may declare (each is a Swarm service on the host). */
const MAX_ENTRIES = 100;

const NAMESPACE = "railyard";
/** Keys whose values must be Pulumi secrets. */
const SECRET_KEYS = new Set(["sshPrivateKey", "secrets"]);
const SECRET_HINT: Record<string, string> = {
  sshPrivateKey: "cat ~/.ssh/id_ed25519 | pulumi config set --secret railyard:sshPrivateKey",
  secrets: "pulumi config set --secret --path 'railyard:secrets.<NAME>' <value>",
};

/** Whether the Pulumi runtime holds a config key as a secret. */
export function isSecretKey(fullKey: string): boolean {
  const internal = runtimeConfig as unknown as { isConfigSecret?: (k: string) => boolean };
  if (typeof internal.isConfigSecret !== "function") {
    throw new Error("railyard: this @pulumi/pulumi version has no isConfigSecret; pin the version in package.json");
  }
  return internal.isConfigSecret(fullKey);
}

/** A config value as the runtime holds it: objects arrive as JSON text, scalars as text. */
function readRaw(key: string): unknown {
  const text = runtimeConfig.getConfig(`${NAMESPACE}:${key}`);
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" ? value : text;
  } catch {
    return text;
  }
}

/**
 * `__proto__` keys anywhere in a value. JSON makes them own properties, but zod skips them in maps without a
 * word (they would replace the result's prototype), so a variable or entry named so would vanish silently.
 */
function prototypeKeyProblems(value: unknown, path: (string | number)[]): ConfigProblem[] {
  if (typeof value !== "object" || value === null) return [];
  const out: ConfigProblem[] = [];
  for (const [key, inner] of Object.entries(value)) {
    const at = [...path, Array.isArray(value) ? Number(key) : key];
    if (key === "__proto__") out.push({ path: at, expected: NOT_PROTOTYPE_KEY, got: describe(key) });
    else out.push(...prototypeKeyProblems(inner, at));
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Parses one value; on failure adds its problems and returns undefined. */
function parseInto<T extends z.ZodType>(
  schema: T,
  value: unknown,
  path: (string | number)[],
  problems: ConfigProblem[],
  secret = false,
): z.output<T> | undefined {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  problems.push(...problemsFromZod(path, result.error, secret));
  return undefined;
}

/**
 * Parses a map of named entries one entry at a time, so one bad entry does not hide the others. `names` holds
 * every key as written; `parsed` only the entries whose name and value are valid.
 */
function parseEntries<T extends z.ZodType>(
  key: "services" | "databases",
  raw: unknown,
  schema: T,
  problems: ConfigProblem[],
): { names: string[]; parsed: Record<string, z.output<T>> } {
  const parsed: Record<string, z.output<T>> = {};
  if (raw === undefined) return { names: [], parsed };
  const kind = key === "services" ? "service" : "database";
  if (!isRecord(raw)) {
    problems.push({ path: [key], expected: `a map of ${kind} names`, got: describe(raw) });
    return { names: [], parsed };
  }
  const names = Object.keys(raw);
  if (names.length > MAX_ENTRIES) {
    problems.push({ path: [key], expected: `at most ${MAX_ENTRIES} ${kind}s`, got: `${names.length}` });
    return { names: [], parsed };
  }
  for (const [name, value] of Object.entries(raw)) {
    const okName = parseInto(ENTRY_NAME, name, [key, name], problems);
    const entry = parseInto(schema, value, [key, name], problems);
    if (okName !== undefined && entry !== undefined) parsed[name] = entry;
  }
  return { names, parsed };
}

/**
 * The env of each service whose env is valid, also when another key of that service is not: its references are
 * then still checked, so a stack file's problems all show in one run.
 */
function parsedEnvs(raw: unknown, services: Record<string, ServiceConfig>): Record<string, Record<string, string>> {
  const envs: Record<string, Record<string, string>> = {};
  if (!isRecord(raw)) return envs;
  for (const [name, value] of Object.entries(raw)) {
    if (Object.hasOwn(services, name)) envs[name] = services[name].env;
    else if (isRecord(value)) {
      const env = serviceSchema.shape.env.safeParse(value.env);
      if (env.success && ENTRY_NAME.safeParse(name).success) envs[name] = env.data;
    }
  }
  return envs;
}

/** Whether the Cloudflare provider has its token: a secret in the stack's config, or the provider's env var. */
function cloudflareToken(): "secret" | "plain" | "absent" {
  const key = "cloudflare:apiToken";
  if (runtimeConfig.getConfig(key) !== undefined) return isSecretKey(key) ? "secret" : "plain";
  return process.env.CLOUDFLARE_API_TOKEN ? "secret" : "absent";
}

function deployDefaults(environment: Environment, d: ParsedStack["deploy"]): DeploySettings {
  const production = environment === "production";
  return {
    branch: d.branch ?? (production ? "main" : "develop"),
    preDeployBackup: d.preDeployBackup ?? production,
    backupRetention: d.backupRetention,
    healthCheckAttempts: d.healthCheckAttempts ?? (production ? 30 : 20),
    healthCheckInterval: d.healthCheckInterval,
    migrationTimeout: d.migrationTimeout,
    releasesKept: d.releasesKept,
    ...(d.webhookSecret === undefined ? {} : { webhookSecret: d.webhookSecret }),
    ...(d.images === undefined ? {} : { images: d.images }),
    ...(d.promoteFrom === undefined ? {} : { promoteFrom: d.promoteFrom }),
  };
}

/** Reads and checks the whole `railyard:` namespace. Throws RailyardConfigError with every problem found. */
export function loadStackConfig(stack: string = pulumi.getStack()): StackConfig {
  const problems: ConfigProblem[] = [];
  const raw: Record<string, unknown> = {};
  /** Keys present in the config but refused before parsing (plain where a secret belongs, or the reverse). */
  const refused = new Set<string>();
  for (const fullKey of Object.keys(runtimeConfig.allConfig()).sort()) {
    const [namespace, key] = fullKey.split(":");
    if (namespace !== NAMESPACE) continue;
    if (!TOP_LEVEL_KEYS.includes(key)) {
      problems.push({ path: [key], expected: `one of the keys ${TOP_LEVEL_KEYS.join(", ")}`, got: "an unknown key" });
      continue;
    }
    const secret = isSecretKey(fullKey);
    if (SECRET_KEYS.has(key) && !secret) {
      problems.push({ path: [key], expected: `a secret value (${SECRET_HINT[key]})`, got: "a plain, unencrypted value" });
      refused.add(key);
      continue;
    }
    if (!SECRET_KEYS.has(key) && secret) {
      problems.push({
        path: [key],
        expected: "plain configuration; secret values belong in railyard:secrets, referenced as ${{secrets.NAME}}",
        got: "a value holding a secret",
      });
      refused.add(key);
      continue;
    }
    raw[key] = readRaw(key);
    problems.push(...prototypeKeyProblems(raw[key], [key]));
  }

  const shape = stackSchema.shape;
  raw.environment ??= defaultEnvironment(stack);
  raw.prefix ??= stack;
  // A refused key is not parsed: its value is unusable and its problem is already reported.
  const parseKept = <T extends z.ZodType>(key: string, schema: T) =>
    refused.has(key) ? undefined : parseInto(schema, raw[key], [key], problems, SECRET_KEYS.has(key));
  const environment = parseKept("environment", shape.environment);
  const prefix = parseKept("prefix", shape.prefix);
  const host = parseKept("host", shape.host);
  const sshPrivateKey = parseKept("sshPrivateKey", shape.sshPrivateKey);
  const network = parseKept("network", shape.network);
  const encryptNetwork = parseKept("encryptNetwork", shape.encryptNetwork);
  const nodes = refused.has("nodes") ? { names: [], parsed: {} } : parseNodes(raw.nodes, problems);
  const logs = parseKept("logs", shape.logs);
  const deploy = parseKept("deploy", shape.deploy);
  const edge = parseKept("edge", shape.edge);
  const secrets = parseKept("secrets", shape.secrets);
  const services = parseEntries("services", refused.has("services") ? undefined : raw.services, serviceSchema, problems);
  const databases = parseEntries("databases", refused.has("databases") ? undefined : raw.databases, databaseSchema, problems);
  const backups = parseKept("backups", shape.backups);
  const registry = refused.has("registry") ? undefined : parseRegistry(raw.registry, problems);

  const semantic = semanticProblems({
    environment,
    prefix,
    host,
    hasPrivateKey: raw.sshPrivateKey !== undefined || refused.has("sshPrivateKey"),
    network,
    serviceNames: services.names,
    services: services.parsed,
    envs: parsedEnvs(refused.has("services") ? undefined : raw.services, services.parsed),
    databaseNames: databases.names,
    databases: databases.parsed,
    edge,
    secretNames: secrets === undefined ? undefined : new Set(Object.keys(secrets)),
    secretLengths: secrets === undefined ? undefined : new Map(Object.entries(secrets).map(([k, v]) => [k, Buffer.byteLength(v, "utf8")])),
    cloudflareToken: cloudflareToken(),
    projectDir: process.cwd(),
  });
  problems.push(...semantic.problems, ...databasePasswordProblems(databases.parsed, secrets));
  const mainHost = host && {
    labels: host.labels,
    ...(host.mode === "ssh" ? { address: host.address, port: host.port, user: host.user } : {}),
  };
  problems.push(
    ...nodeProblems({
      host: mainHost,
      nodeNames: nodes.names,
      nodes: nodes.parsed,
      databases: databases.parsed,
      edge: Object.values(services.parsed).some((svc) => svc.domains.length > 0),
      services: services.names.length > 0,
      hasPrivateKey: raw.sshPrivateKey !== undefined || refused.has("sshPrivateKey"),
    }),
  );
  if (backups !== undefined) problems.push(...backupProblems(backups, databases.names, databases.parsed, secrets));
  if (deploy?.webhookSecret !== undefined && secrets !== undefined) {
    problems.push(...webhookSecretProblems(["deploy", "webhookSecret"], deploy.webhookSecret, secrets));
  }
  if (deploy?.images !== undefined) problems.push(...imageBuildProblems(deploy.images, services.parsed));
  if (deploy !== undefined) problems.push(...promotionProblems(stack, deploy.promoteFrom, deploy.images));
  if (registry !== undefined && secrets !== undefined) {
    const problem = namedSecretProblem(["registry", "passwordSecret"], registry.passwordSecret, secrets);
    if (problem) problems.push(problem);
  }

  if (problems.length > 0 || !environment || !prefix || !host || !mainHost || encryptNetwork === undefined || !logs || !deploy || !edge || !secrets || !semantic.env) {
    throw new RailyardConfigError(problems);
  }
  const secretOutputs = Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, pulumi.secret(v)]));
  return {
    stack,
    environment,
    prefix,
    network: networkName(prefix, network),
    encryptNetwork,
    host,
    nodes: resolveNodes(nodes.parsed, mainHost),
    sshPrivateKey: sshPrivateKey === undefined ? undefined : pulumi.secret(sshPrivateKey),
    logs,
    deploy: deployDefaults(environment, deploy),
    services: services.parsed,
    databases: databases.parsed,
    edge: planEdge(prefix, environment, host, edge, services.parsed),
    secrets: secretOutputs,
    env: semantic.env,
    names: {
      services: Object.fromEntries(Object.keys(services.parsed).map((n) => [n, serviceNames(prefix, n)])),
      databases: Object.fromEntries(Object.keys(databases.parsed).map((n) => [n, databaseNames(prefix, n)])),
      edge: edgeNames(prefix),
    },
    backups: backups && planBackups(backups, databases.parsed, secretOutputs),
    registry: registry && { server: registry.server, username: registry.username, password: secretOutputs[registry.passwordSecret] },
  };
}

/**
 * railyard:nodes, one node at a time, so one bad node does not hide the checks of the others (a database's node
 * is known by its name even when that node's entry has a problem of its own).
 */
function parseNodes(raw: unknown, problems: ConfigProblem[]): { names: string[]; parsed: Record<string, ParsedNode> } {
  if (raw === undefined) return { names: [], parsed: {} };
  if (!isRecord(raw)) {
    problems.push({ path: ["nodes"], expected: "a map of node names to nodes", got: describe(raw) });
    return { names: [], parsed: {} };
  }
  const names = Object.keys(raw);
  if (names.length > MAX_NODES) {
    problems.push({ path: ["nodes"], expected: `at most ${MAX_NODES} nodes`, got: `${names.length}` });
    return { names: [], parsed: {} };
  }
  const parsed: Record<string, ParsedNode> = {};
  for (const [name, value] of Object.entries(raw)) {
    const okName = parseInto(nodeName, name, ["nodes", name], problems);
    const node = parseInto(nodeSchema, value, ["nodes", name], problems);
    if (okName !== undefined && node !== undefined) parsed[name] = node;
  }
  return { names, parsed };
}

/**
 * railyard:registry. A registry password never shows in a problem: a `password` key, or a passwordSecret that is
 * no secret's name (the token pasted in place of its name), is reported without its value.
 */
function parseRegistry(value: unknown, problems: ConfigProblem[]): ParsedStack["registry"] {
  const found: ConfigProblem[] = [];
  const parsed = parseInto(stackSchema.shape.registry, value, ["registry"], found);
  const hint = "pulumi config set --secret --path 'railyard:secrets.REGISTRY_TOKEN' <token>, and passwordSecret: REGISTRY_TOKEN";
  for (const problem of found) {
    const key = problem.path.slice(1).join(".");
    if (key === "password") {
      problems.push({ path: problem.path, expected: `no password in plain config (${hint})`, got: "a plain value (hidden)" });
    } else if (key === "passwordSecret" && typeof (value as Record<string, unknown>).passwordSecret === "string") {
      problems.push({ ...problem, expected: `the name of an entry of railyard:secrets (${hint})`, got: "a value that is no secret's name (hidden: it may be the token itself)" });
    } else {
      problems.push(problem);
    }
  }
  return parsed;
}

function defaultEnvironment(stack: string): string | undefined {
  return ["dev", "staging", "production"].includes(stack) ? stack : undefined;
}
