/**
 * Every name railyard derives from the stack file, computed here once and checked before any resource exists.
 * Swarm service names (services, databases, migration jobs, the edge's two services) are also DNS names on the
 * stack's network: DNS labels of at most 63 characters, all different. Swarm secrets are auto-named by the
 * provider (the resource name, a dash and 7 random characters) and configs carry a content hash: both must fit
 * Docker's 64 characters. Components take these names; none builds one by hand.
 */
import { ConfigProblem, describe, PathPart } from "./problems";

/** Docker's limit for a service name (a DNS label). */
export const SERVICE_NAME_MAX = 63;
/** Docker's limit for a secret or config name. */
export const OBJECT_NAME_MAX = 64;
/** What the provider appends to an auto-named secret: "-" and 7 random characters. */
export const AUTONAME_SUFFIX = 8;
/** What a content-named config appends: "-" and 12 hex digits. */
export const CONTENT_HASH_SUFFIX = 13;
/** Networks every Docker engine already has: a stack network of that name would be the engine's own. */
export const PREDEFINED_NETWORKS = ["ingress", "bridge", "host", "none", "docker_gwbridge"];

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** The Swarm service name of a service or database, also its DNS name on the stack's network. */
export function swarmName(prefix: string, name: string): string {
  return `${prefix}-${name}`;
}

export interface ServiceNames {
  /** Swarm service, e.g. "staging-api". */
  swarm: string;
  /** The one-off Swarm job that runs the preDeployCommand, e.g. "staging-api-migrate". */
  migrationJob: string;
  /** Pulumi name of the Swarm secret carrying a secret env var (the provider appends "-" and 7 characters). */
  envSecret: (variable: string) => string;
  /** Pulumi name of the Swarm secret mounted for an entry of `secrets`. */
  fileSecret: (secret: string) => string;
}

export interface DatabaseNames {
  swarm: string;
  /** The named volume holding its data, e.g. "staging-postgres-data". */
  volume: string;
  /** Pulumi name of the Swarm secret holding its generated password. */
  passwordSecret: string;
}

export interface EdgeNames {
  /** The Caddy service, e.g. "staging-edge". */
  caddy: string;
  /** Swarm DNS name resolving to every Caddy task, which the front passes connections to. */
  caddyTasks: string;
  /** The HAProxy front holding the host's ports, e.g. "staging-front". */
  front: string;
  /** Caddy's data volume (ACME account, certificates). */
  volume: string;
  /** Config names before their content hash. */
  caddyfileConfig: string;
  frontConfig: string;
}

export function serviceNames(prefix: string, name: string): ServiceNames {
  const swarm = swarmName(prefix, name);
  return {
    swarm,
    migrationJob: `${swarm}-migrate`,
    envSecret: (variable) => `${name}-env-${variable}`,
    fileSecret: (secret) => `${name}-secret-${secret}`,
  };
}

export function databaseNames(prefix: string, name: string): DatabaseNames {
  const swarm = swarmName(prefix, name);
  return { swarm, volume: `${swarm}-data`, passwordSecret: `${name}-password` };
}

export function edgeNames(prefix: string): EdgeNames {
  const caddy = swarmName(prefix, "edge");
  const front = swarmName(prefix, "front");
  return { caddy, caddyTasks: `tasks.${caddy}`, front, volume: `${caddy}-data`, caddyfileConfig: `${caddy}-caddyfile`, frontConfig: `${front}-haproxy` };
}

/**
 * Pulumi name of a domain's DNS record: the domain itself after the zone component's name (dots are fine in
 * Pulumi names, and two domains never share one). `previous` is the name railyard gave it before, with dots
 * turned into dashes, which mapped a-b.example.com and a.b.example.com to one name: kept as an alias so an
 * existing record is not replaced.
 */
export function dnsRecordName(zone: string, domain: string): { name: string; previous: string } {
  return { name: `${zone}-${domain}`, previous: `${zone}-${domain.replace(/\./g, "-")}` };
}

/** The stack's overlay network: as configured, else `<prefix>-net`. */
export function networkName(prefix: string, configured?: string): string {
  return configured ?? `${prefix}-net`;
}

/** What a stack derives names from (the parts of it that parsed). */
export interface NameSources {
  prefix: string;
  /** railyard:network, when set. */
  network?: string;
  services: Record<string, { preDeployCommand?: string; secrets: string[] }>;
  /** Per service, its env vars that become Swarm secrets (known once references are expanded). */
  secretVars: Record<string, string[]>;
  databases: string[];
  /** Whether the stack has an edge (a service with domains). */
  edge: boolean;
}

type Namespace = "Swarm service" | "Swarm secret" | "Swarm config" | "volume";
/** Per namespace: the longest final name Docker takes, and how many characters the engine or provider appends. */
const LIMITS: Record<Namespace, [number, number]> = {
  "Swarm service": [SERVICE_NAME_MAX, 0],
  "Swarm secret": [OBJECT_NAME_MAX, AUTONAME_SUFFIX],
  "Swarm config": [OBJECT_NAME_MAX, CONTENT_HASH_SUFFIX],
  // Volume names have no short limit of their own; a Linux file name is at most 255 bytes.
  volume: [255, 0],
};

interface Derived {
  namespace: Namespace;
  name: string;
  /** Longest the final name may be, and what the engine adds to it. */
  max: number;
  suffix: number;
  /** The config key the name comes from, and what it names. */
  path: PathPart[];
  /** The stack file's value the name is made from (what an error reports as found). */
  source: string;
  what: string;
}

function derivedNames(s: NameSources): Derived[] {
  const out: Derived[] = [];
  const add = (namespace: Namespace, name: string, path: PathPart[], source: string, what: string) => {
    const [max, suffix] = LIMITS[namespace];
    out.push({ namespace, name, max, suffix, path, source, what });
  };
  for (const db of s.databases) {
    const n = databaseNames(s.prefix, db);
    add("Swarm service", n.swarm, ["databases", db], db, `the Swarm service of databases.${db}`);
    add("volume", n.volume, ["databases", db], db, `the volume of databases.${db}`);
    add("Swarm secret", n.passwordSecret, ["databases", db], db, `the password secret of databases.${db}`);
  }
  for (const [name, svc] of Object.entries(s.services)) {
    const n = serviceNames(s.prefix, name);
    add("Swarm service", n.swarm, ["services", name], name, `the Swarm service of services.${name}`);
    if (svc.preDeployCommand !== undefined) add("Swarm service", n.migrationJob, ["services", name], name, `the migration job of services.${name}`);
    for (const v of s.secretVars[name] ?? []) {
      add("Swarm secret", n.envSecret(v), ["services", name, "env", v], v, `the Swarm secret of services.${name}.env.${v}`);
    }
    svc.secrets.forEach((f, i) => add("Swarm secret", n.fileSecret(f), ["services", name, "secrets", i], f, `the Swarm secret of services.${name}.secrets[${i}]`));
  }
  if (s.edge) {
    const e = edgeNames(s.prefix);
    add("Swarm service", e.caddy, ["prefix"], s.prefix, "the edge's Caddy service");
    add("Swarm service", e.front, ["prefix"], s.prefix, "the edge's front");
    add("volume", e.volume, ["prefix"], s.prefix, "the edge's data volume");
    add("Swarm config", e.caddyfileConfig, ["prefix"], s.prefix, "the edge's Caddyfile config");
    add("Swarm config", e.frontConfig, ["prefix"], s.prefix, "the front's HAProxy config");
  }
  return out;
}

/**
 * Checks every derived name: Docker's length limits, DNS labels for Swarm services, a network that is not one
 * of the engine's own, and no two names equal in one namespace (the later one is reported, naming the first).
 */
export function nameProblems(s: NameSources): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const network = networkName(s.prefix, s.network);
  if (PREDEFINED_NETWORKS.includes(network)) {
    problems.push({
      path: [s.network === undefined ? "prefix" : "network"],
      expected: `a network name other than Docker's own (${PREDEFINED_NETWORKS.join(", ")})`,
      got: describe(network),
    });
  }
  const seen = new Map<string, Derived>();
  for (const d of derivedNames(s)) {
    const length = d.name.length + d.suffix;
    if (length > d.max) {
      problems.push({
        path: d.path,
        expected: `a shorter name: ${d.what} would be ${JSON.stringify(d.name)}${d.suffix > 0 ? ` plus ${d.suffix} characters` : ""}, ${length} characters, over Docker's ${d.max}`,
        got: describe(d.source),
      });
    } else if (d.namespace === "Swarm service" && !DNS_LABEL.test(d.name)) {
      problems.push({ path: d.path, expected: `${d.what} to be a DNS label`, got: describe(d.name) });
    }
    const key = `${d.namespace}\0${d.name}`;
    const first = seen.get(key);
    if (first) {
      problems.push({
        path: d.path,
        expected: `a name whose derived ${d.namespace} names differ from every other (${JSON.stringify(d.name)} is already ${first.what})`,
        got: describe(d.source),
      });
    } else {
      seen.set(key, d);
    }
  }
  return problems;
}
