/**
 * Checks that span keys: names shared by a service and a database, references and their cycles, images pinned
 * outside dev, secrets that exist, the SSH settings a host needs. They run on whatever parts of the stack file
 * parsed, so one run reports these together with the schema's problems.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PLUGINS } from "../databases";
import { shellQuote } from "../lib/shell";
import { PINNED_IMAGE, registryOk, TAGGED_IMAGE } from "./patterns";
import { expandedLengths, planEnv, serviceVariables } from "./env";
import { nameProblems as derivedNameProblems } from "./names";
import { ConfigProblem, describe } from "./problems";
import { pausedBy } from "./env";
import { findCycles, parseTemplate, serviceEdges } from "./references";
import type { ServiceEnvPlan } from "./env";
import type { DatabaseConfig, EdgeConfig, HostConfig, ServiceConfig } from "./schema";

export interface PartialStack {
  environment?: "dev" | "staging" | "production";
  prefix?: string;
  /** railyard:network, when set and valid. */
  network?: string;
  host?: HostConfig;
  hasPrivateKey: boolean;
  /** Every service name in the stack file, parsed or not. */
  serviceNames: string[];
  /** The services that parsed. */
  services: Record<string, ServiceConfig>;
  /** The env of every service whose env parsed, also when the rest of the service did not. */
  envs: Record<string, Record<string, string>>;
  databaseNames: string[];
  databases: Record<string, DatabaseConfig>;
  /** railyard:edge, when it parsed. */
  edge?: EdgeConfig;
  /** Names under railyard:secrets, or undefined when that key did not parse. */
  secretNames?: Set<string>;
  /** Each app secret's size in UTF-8 bytes (expanded env sizes count them). */
  secretLengths?: Map<string, number>;
  /** Whether `cloudflare:apiToken` is set as a secret (or CLOUDFLARE_API_TOKEN is in the environment). */
  cloudflareToken: "secret" | "plain" | "absent";
  /** Where relative build paths start (Pulumi runs the program in the project directory). */
  projectDir?: string;
}

/**
 * The kernel's limit for one environment string `NAME=value` with its NUL, in bytes (MAX_ARG_STRLEN): a longer
 * one makes exec fail with E2BIG.
 */
export const MAX_ENV_STRING = 128 * 1024;
/** All of a service's env together, in bytes, well under the kernel's 2 MiB for a program's arguments and environment. */
export const MAX_ENV_TOTAL = 1024 * 1024;

/** The problems found, and each service's expanded env when the references allowed expanding it (checked once, used once). */
export function semanticProblems(s: PartialStack): { problems: ConfigProblem[]; env?: Record<string, ServiceEnvPlan> } {
  const problems = [
    ...hostProblems(s),
    ...nameProblems(s),
    ...imageProblems(s),
    ...buildProblems(s),
    ...databaseProblems(s),
    ...edgeProblems(s),
    ...portProblems(s),
    ...cloudflareTokenProblems(s),
  ];
  const pauses = pauseProblems(s);
  problems.push(...pauses);
  // A name used by both a service and a database is reported once above; references to it are not judged.
  const shared = new Set(s.databaseNames.filter((n) => s.serviceNames.includes(n)));
  const referenceProblems = envReferenceProblems({
    ...s,
    databases: Object.fromEntries(Object.entries(s.databases).filter(([n]) => !shared.has(n))),
  });
  problems.push(...referenceProblems, ...secretListProblems(s));
  if (referenceProblems.length === 0 && pauses.length === 0) problems.push(...pauseOrderProblems(s));
  const allParsed =
    s.serviceNames.length === Object.keys(s.services).length && s.databaseNames.length === Object.keys(s.databases).length;
  if (s.prefix === undefined) return { problems };
  // Expansion needs every reference to resolve; its size is measured before anything is expanded.
  const expandable = referenceProblems.length === 0 && allParsed && shared.size === 0 && s.secretLengths !== undefined;
  const lengths = expandable ? expandedLengths(s.prefix, s.services, s.databases, (name) => s.secretLengths?.get(name) ?? 0) : undefined;
  const sizeProblems = lengths ? envSizeProblems(lengths) : [];
  problems.push(...sizeProblems);
  const plans = lengths && sizeProblems.length === 0 ? planEnv(s.prefix, s.services, s.databases) : undefined;
  if (lengths && plans) problems.push(...secretDeliveryProblems(s, plans), ...migrationLineProblems(s, lengths, plans));
  problems.push(
    ...derivedNameProblems({
      prefix: s.prefix,
      network: s.network,
      services: s.services,
      secretVars: Object.fromEntries(Object.entries(plans ?? {}).map(([n, p]) => [n, Object.keys(p.vars).filter((v) => p.vars[v].secret)])),
      databases: Object.keys(s.databases),
      edge: hasRoutes(s),
    }),
  );
  return { problems, env: plans };
}

/** Whether a parsed service has a domain: then the stack has an edge (and, with a zone, Cloudflare records). */
function hasRoutes(s: PartialStack): boolean {
  return Object.values(s.services).some((svc) => svc.domains.length > 0);
}

function hostProblems(s: PartialStack): ConfigProblem[] {
  if (s.host?.mode !== "ssh") return [];
  const out: ConfigProblem[] = [];
  if (!s.hasPrivateKey) {
    out.push({
      path: ["sshPrivateKey"],
      expected: "an SSH private key for host.mode ssh (cat ~/.ssh/id_ed25519 | pulumi config set --secret railyard:sshPrivateKey)",
      got: "nothing",
    });
  }
  if (s.host.hostKey === undefined && s.environment !== undefined && s.environment !== "dev") {
    out.push({
      path: ["host", "hostKey"],
      expected: `the host's pinned public key outside dev (ssh-keyscan -t ed25519 ${s.host.address})`,
      got: "nothing",
    });
  }
  return out;
}

function nameProblems(s: PartialStack): ConfigProblem[] {
  return s.databaseNames
    .filter((name) => s.serviceNames.includes(name))
    .map((name) => ({
      path: ["databases", name],
      expected: "a name that no service uses (names become Swarm service and DNS names)",
      got: `${describe(name)}, also a service`,
    }));
}

function imageProblems(s: PartialStack): ConfigProblem[] {
  const images: [(string | number)[], string | undefined][] = Object.entries(s.services).map(([name, service]) => [
    ["services", name, "image"],
    service.image,
  ]);
  if (s.edge && hasRoutes(s)) images.push([["edge", "image"], s.edge.image], [["edge", "frontImage"], s.edge.frontImage]);
  const out: ConfigProblem[] = [];
  for (const [name, db] of Object.entries(s.databases)) {
    // The provider pins a tag to a digest when it creates the service but sends the bare tag on update, so a
    // tag rolls (restarts) the database on the next `pulumi up`; outside dev the stack file pins it.
    const fallback = PLUGINS[db.engine].defaultImage;
    if (db.image !== undefined || s.environment === "dev" || s.environment === undefined) {
      images.push([["databases", name, "image"], db.image]);
      continue;
    }
    out.push({
      path: ["databases", name, "image"],
      expected: `an image pinned by digest outside dev (the default ${fallback} is a tag), e.g. ${fallback}@sha256:<64 hex>`,
      got: "nothing",
    });
  }
  for (const [path, image] of images) {
    if (image === undefined) continue;
    if (!registryOk(image)) {
      out.push({ path, expected: "an image whose registry is a host name with an optional port from 1 to 65535", got: describe(image) });
      continue;
    }
    if (s.environment === "dev" ? TAGGED_IMAGE.test(image) : PINNED_IMAGE.test(image)) continue;
    out.push({
      path,
      expected:
        s.environment === "dev"
          ? "an image reference such as repo:tag or repo@sha256:<digest>"
          : "an image pinned by digest outside dev (repo[:tag]@sha256:<64 hex>)",
      got: describe(image),
    });
  }
  return out;
}

/** Domain → the services that route it (any path), in stack-file order, for the services that parsed. */
function routedDomains(s: PartialStack): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const [name, service] of Object.entries(s.services)) {
    for (const { domain } of service.domains) {
      const names = owners.get(domain) ?? [];
      if (!names.includes(name)) owners.set(domain, [...names, name]);
    }
  }
  return owners;
}

/**
 * One owner per (domain, path prefix) pair — services may share a domain under different prefixes — redirects
 * from unrouted domains to routed ones, a zone that holds every domain, TLS outside dev.
 */
function edgeProblems(s: PartialStack): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  // A route as the stack file spells it: the domain, and its path prefix unless it is "/".
  const routeLabel = (r: { domain: string; path: string }) => (r.path === "/" ? r.domain : `${r.domain}${r.path}`);
  const pairOwners = new Map<string, string>();
  for (const [name, service] of Object.entries(s.services)) {
    service.domains.forEach((route, i) => {
      const key = `${route.domain} ${route.path}`;
      const owner = pairOwners.get(key);
      if (owner === undefined) pairOwners.set(key, name);
      else out.push({ path: ["services", name, "domains", i], expected: "a domain no other service or entry routes", got: `${describe(routeLabel(route))}, also routed to ${owner}` });
    });
  }
  const owners = routedDomains(s);
  const edge = s.edge;
  if (!edge) return out;
  for (const [from, to] of Object.entries(edge.redirects)) {
    if (owners.has(from)) out.push({ path: ["edge", "redirects", from], expected: "a domain that no service routes", got: `${describe(from)}, routed to ${owners.get(from)?.join(", ")}` });
    if (!owners.has(to)) out.push({ path: ["edge", "redirects", from], expected: `a target domain that a service routes (${[...owners.keys()].join(", ") || "none"})`, got: describe(to) });
  }
  const hostnames = [...owners.keys(), ...Object.keys(edge.redirects)];
  if (hostnames.length === 0) return out;
  const tls = edgeTls(s.environment, edge);
  if (tls === "off" && s.environment !== undefined && s.environment !== "dev") {
    out.push({ path: ["edge", "tls"], expected: "TLS outside dev (cloudflare, acme or internal)", got: "off" });
  }
  if (tls === "cloudflare" && !edge.cloudflare) {
    out.push({ path: ["edge", "cloudflare"], expected: "the zone (zoneId and zone) for edge.tls cloudflare", got: "nothing" });
  }
  if (edge.cloudflare) {
    const zone = edge.cloudflare.zone;
    for (const [name, service] of Object.entries(s.services)) {
      service.domains.forEach((route, i) => {
        if (!inZone(route.domain, zone)) out.push({ path: ["services", name, "domains", i], expected: `a domain inside the zone ${zone}`, got: describe(routeLabel(route)) });
      });
    }
    for (const from of Object.keys(edge.redirects)) {
      if (!inZone(from, zone)) out.push({ path: ["edge", "redirects", from], expected: `a domain inside the zone ${zone}`, got: describe(from) });
    }
    if (edge.publicAddress === undefined && s.host?.mode === "local") {
      out.push({ path: ["edge", "publicAddress"], expected: "the address DNS records point at (host.mode local has no address)", got: "nothing" });
    }
  }
  return out;
}

/**
 * Services paused during a migration must exist, be other services, and be paused by one migration only (two
 * migrations run unordered: one's restore would start the service while the other's job still runs).
 */
function pauseProblems(s: PartialStack): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const pausedBy = new Map<string, string>();
  for (const [name, service] of Object.entries(s.services).sort(([a], [b]) => a.localeCompare(b))) {
    service.pauseDuringMigration.forEach((other, i) => {
      const path = ["services", name, "pauseDuringMigration", i];
      if (other === name || !s.serviceNames.includes(other)) {
        const others = s.serviceNames.filter((n) => n !== name).join(", ") || "none";
        out.push({ path, expected: `another service of the stack (${others})`, got: describe(other) });
        return;
      }
      const first = pausedBy.get(other);
      if (first !== undefined && first !== name) {
        out.push({ path, expected: `a service no other migration pauses (${first}'s pauses it)`, got: describe(other) });
      }
      pausedBy.set(other, first ?? name);
    });
  }
  return out;
}

/**
 * A paused service is updated after the migration that pauses it (a real `pulumi up` never updates it while the
 * job runs), and that migration runs after everything its service refers to: the two orders must not meet in a
 * cycle (api pauses worker while api refers to worker, directly or through other services).
 */
function pauseOrderProblems(s: PartialStack): ConfigProblem[] {
  const graph = referenceGraph(s);
  const pausers = pausedBy(Object.fromEntries(Object.entries(s.services).map(([n, c]) => [n, c.pauseDuringMigration])));
  for (const [paused, by] of Object.entries(pausers)) if (graph.has(paused)) graph.set(paused, [...(graph.get(paused) ?? []), ...by]);
  const out: ConfigProblem[] = [];
  for (const cycle of findCycles(graph)) {
    // Report it where a pause closes it: the pausing service's list entry.
    const at = cycle.findIndex((node, i) => i + 1 < cycle.length && (pausers[node] ?? []).includes(cycle[i + 1]));
    if (at < 0) continue;
    const [paused, pauser] = [cycle[at], cycle[at + 1]];
    out.push({
      path: ["services", pauser, "pauseDuringMigration", s.services[pauser].pauseDuringMigration.indexOf(paused)],
      expected: `a service ${pauser} does not need first (it is updated after ${pauser}'s migration, which runs after what ${pauser} refers to)`,
      got: `the cycle ${cycle.join(" → ")}`,
    });
  }
  return out;
}

function inZone(domain: string, zone: string): boolean {
  return domain === zone || domain.endsWith(`.${zone}`);
}

/** The edge's TLS mode: as configured, else Cloudflare's when a zone is set, plain HTTP in dev, Caddy's ACME elsewhere. */
export function edgeTls(environment: PartialStack["environment"], edge: EdgeConfig): NonNullable<EdgeConfig["tls"]> {
  return edge.tls ?? (edge.cloudflare ? "cloudflare" : environment === "dev" ? "off" : "acme");
}

/** App users and database names the engine accepts and keeps for the app (not its own system users and tables). */
function databaseProblems(s: PartialStack): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const [name, db] of Object.entries(s.databases)) {
    const plugin = PLUGINS[db.engine];
    for (const key of ["user", "database"] as const) {
      const value = db[key];
      if (value === undefined) continue;
      const path = ["databases", name, key];
      if (!plugin.configurableUser) {
        out.push({ path, expected: `no ${key} for engine ${db.engine}`, got: describe(value) });
        continue;
      }
      const reserved = plugin.reserved[key];
      if (reserved.names.includes(value) || reserved.prefixes.some((pre) => value.startsWith(pre))) {
        const others = [...reserved.names, ...reserved.prefixes.map((pre) => `${pre}…`)].join(", ");
        out.push({ path, expected: `an app ${key} other than ${others} (the engine's own)`, got: describe(value) });
      }
    }
  }
  return out;
}

/** Each service → the services its env refers to. */
function referenceGraph(s: PartialStack): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [name, env] of Object.entries(s.envs)) {
    graph.set(name, serviceEdges(env, (n) => Object.hasOwn(s.envs, n)).map((e) => e.target));
  }
  return graph;
}

/** Every reference must name a known target and variable; service references must not form a cycle. */
function envReferenceProblems(s: PartialStack): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const known = [...s.serviceNames, ...s.databaseNames].sort();
  for (const [name, env] of Object.entries(s.envs)) {
    for (const [variable, value] of Object.entries(env)) {
      const path = ["services", name, "env", variable];
      const parsed = parseTemplate(value);
      for (const raw of parsed.malformed) {
        out.push({ path, expected: "references of the form ${{service.VAR}} or ${{secrets.NAME}}", got: describe(raw) });
      }
      for (const part of parsed.parts) {
        if (part.kind !== "ref") continue;
        const expected = referenceExpectation(s, name, part.target, part.variable, known);
        if (expected) out.push({ path, expected, got: describe(part.raw) });
      }
    }
  }
  if (out.length > 0) return out;
  const graph = referenceGraph(s);
  for (const cycle of findCycles(graph)) {
    const [from, to] = cycle;
    const variable = serviceEdges(s.envs[from], (n) => n === to)[0].variable;
    out.push({
      path: ["services", from, "env", variable],
      expected: "references without a cycle between services",
      got: `the cycle ${cycle.join(" → ")}`,
    });
  }
  return out;
}

/** Why a reference is wrong, as an "expected …" phrase; undefined when it is fine (or cannot be judged yet). */
function referenceExpectation(
  s: PartialStack,
  from: string,
  target: string,
  variable: string,
  known: string[],
): string | undefined {
  if (target === "secrets") {
    if (s.secretNames === undefined || s.secretNames.has(variable)) return undefined;
    return `a secret set with pulumi config set --secret --path 'railyard:secrets.${variable}' <value>`;
  }
  if (target === from) return "a reference to another service or a database (not to itself)";
  if (Object.hasOwn(s.databases, target)) {
    const names = PLUGINS[s.databases[target].engine].variables.map((v) => v.name);
    return names.includes(variable) ? undefined : `a variable of database ${target}: ${names.join(", ")}`;
  }
  if (Object.hasOwn(s.services, target)) {
    const names = [...serviceVariables(s.services[target]), ...Object.keys(s.services[target].env)];
    return names.includes(variable) ? undefined : `a variable of service ${target}: ${names.join(", ")}`;
  }
  if (known.includes(target)) return undefined;
  return `a reference to a known service or database (${known.join(", ") || "none declared"}) or to secrets`;
}

function secretListProblems(s: PartialStack): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  if (s.secretNames === undefined) return out;
  for (const [name, service] of Object.entries(s.services)) {
    service.secrets.forEach((secret, i) => {
      if (!s.secretNames?.has(secret)) {
        out.push({
          path: ["services", name, "secrets", i],
          expected: `a secret set with pulumi config set --secret --path 'railyard:secrets.${secret}' <value>`,
          got: describe(secret),
        });
      }
    });
  }
  return out;
}

/**
 * Each env value, references expanded, fits what the kernel passes to a program: at most MAX_ENV_STRING bytes
 * one `NAME=value`, MAX_ENV_TOTAL all of a service's. Measured without expanding (a chain of references can
 * double a value at every step), in time linear in the stack file.
 */
function envSizeProblems(lengths: Record<string, Record<string, number>>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const [name, vars] of Object.entries(lengths)) {
    const before = out.length;
    let total = 0;
    for (const [variable, length] of Object.entries(vars)) {
      const bytes = variable.length + 2 + length;
      total += bytes;
      if (bytes > MAX_ENV_STRING) {
        out.push({
          path: ["services", name, "env", variable],
          expected: `NAME=value of at most ${MAX_ENV_STRING} bytes once its references are expanded (the kernel's limit for one environment string)`,
          got: `${bytes} bytes`,
        });
      }
    }
    if (total > MAX_ENV_TOTAL && out.length === before) {
      out.push({ path: ["services", name, "env"], expected: `an environment of at most ${MAX_ENV_TOTAL} bytes once references are expanded`, got: `${total} bytes` });
    }
  }
  return out;
}

/**
 * Variables a shell will not assign as given: read-only in bash (the start command fails before the app starts),
 * or special to bash or dash (RANDOM, SECONDS, LINENO, OPTIND, `_`, …: the app would see another value or none).
 */
const SHELL_SPECIAL = [
  ...["BASHOPTS", "BASH_VERSINFO", "EUID", "PPID", "SHELLOPTS", "UID"],
  ...["RANDOM", "SRANDOM", "SECONDS", "LINENO", "HISTCMD", "EPOCHSECONDS", "EPOCHREALTIME", "GROUPS", "FUNCNAME", "OPTIND", "OPTARG", "IFS", "_"],
];
const isShellSpecial = (name: string) => SHELL_SPECIAL.includes(name) || name.startsWith("BASH");

/**
 * The migration job's command line carries a service's plain env (its secrets go by name): the host's shell
 * receives it as one argument, and Linux refuses an argument over 128 KiB. Its env words, quoted as sent, and the
 * preDeployCommand stay within 100 KiB, leaving room for the rest of the line.
 */
const MAX_MIGRATION_ENV = 100 * 1024;

/** A service with a preDeployCommand keeps its plain env small enough for the migration job's command line. */
function migrationLineProblems(s: PartialStack, lengths: Record<string, Record<string, number>>, plans: Record<string, ServiceEnvPlan>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const [name, vars] of Object.entries(lengths)) {
    const service = s.services[name];
    if (service.preDeployCommand === undefined) continue;
    // Each plain var is `--env NAME=value`, its literal text quoted for the shell (a ' becomes four bytes).
    const quoting = (v: string) =>
      plans[name].vars[v].parts.reduce((sum, part) => (part.kind === "text" ? sum + shellQuote(part.text).length - part.text.length : sum), 0);
    const plain = Object.entries(vars).filter(([v]) => !plans[name].vars[v].secret);
    const bytes = plain.reduce(
      (sum, [v, length]) => sum + "--env ".length + v.length + 1 + length + quoting(v) + 1,
      Buffer.byteLength(shellQuote(service.preDeployCommand), "utf8"),
    );
    if (bytes > MAX_MIGRATION_ENV) {
      out.push({
        path: ["services", name, "env"],
        expected: `plain env and preDeployCommand of at most ${MAX_MIGRATION_ENV} bytes for a service with a preDeployCommand (the migration job's command line carries them; Linux refuses one argument over 128 KiB)`,
        got: `${bytes} bytes`,
      });
    }
  }
  return out;
}

/** Secret env values reach the container as files that a shell exports before the start command runs. */
function secretDeliveryProblems(s: PartialStack, plans: Record<string, ServiceEnvPlan>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const [name, plan] of Object.entries(plans)) {
    const secretVars = Object.keys(plan.vars).filter((v) => plan.vars[v].secret);
    for (const v of secretVars.filter(isShellSpecial)) {
      out.push({
        path: ["services", name, "env", v],
        expected: "a variable name the shell assigns as given (a secret value is assigned by the start command's shell; BASH…, UID, EUID, PPID, RANDOM, SECONDS, LINENO, OPTIND, IFS, _ and the like are read-only or special there)",
        got: describe(v),
      });
    }
    if (secretVars.length > 0 && s.services[name].startCommand === undefined) {
      out.push({
        path: ["services", name, "startCommand"],
        expected: `a start command, because env ${secretVars.join(", ")} hold secrets that railyard exports from Swarm secret files before running it`,
        got: "nothing",
      });
    }
  }
  return out;
}

/**
 * Build inputs exist (a build that cannot start would fail `pulumi up` after the host and databases changed) and
 * stay in the project: resolved, symlinks followed, they must not lead outside it.
 */
function buildProblems(s: PartialStack): ConfigProblem[] {
  if (s.projectDir === undefined) return [];
  const root = fs.realpathSync(s.projectDir);
  const out: ConfigProblem[] = [];
  for (const [name, service] of Object.entries(s.services)) {
    const build = service.build;
    if (!build) continue;
    const paths: [string, string][] = [["context", build.context]];
    if (build.dockerfile !== undefined) paths.push(["dockerfile", build.dockerfile]);
    for (const [key, value] of paths) {
      const resolved = path.resolve(root, value);
      const kind = key === "context" ? "directory" : "file";
      const found = fs.existsSync(resolved) && (kind === "directory" ? fs.statSync(resolved).isDirectory() : fs.statSync(resolved).isFile());
      if (!found) {
        out.push({ path: ["services", name, "build", key], expected: `an existing ${kind} in the project directory`, got: `${describe(value)}, which is not one` });
        continue;
      }
      const real = fs.realpathSync(resolved);
      if (real !== root && !real.startsWith(`${root}${path.sep}`)) {
        out.push({ path: ["services", name, "build", key], expected: `a path inside the project directory ${root}`, got: `${describe(value)}, which leads to ${describe(real)}` });
      }
    }
  }
  return out;
}

/** The edge's host ports must not take the port sshd listens on (the host's SSH port; 22 on a local engine). */
function portProblems(s: PartialStack): ConfigProblem[] {
  if (!s.edge || !s.host || !hasRoutes(s)) return [];
  const ssh = s.host.mode === "ssh" ? s.host.port : 22;
  const out: ConfigProblem[] = [];
  for (const key of ["httpPort", "httpsPort"] as const) {
    if (s.edge[key] === ssh) out.push({ path: ["edge", key], expected: `a port other than the host's SSH port ${ssh}`, got: String(s.edge[key]) });
  }
  return out;
}

/** The Cloudflare provider needs its API token, as a secret, whenever railyard manages the zone. */
function cloudflareTokenProblems(s: PartialStack): ConfigProblem[] {
  const edge = s.edge;
  if (!edge?.cloudflare || !hasRoutes(s)) return [];
  const hint = "pulumi config set --secret cloudflare:apiToken <token with Zone DNS, Zone Settings and SSL edit>";
  if (s.cloudflareToken === "absent") {
    return [{ path: [], key: "cloudflare:apiToken", expected: `the Cloudflare API token for edge.cloudflare (${hint})`, got: "nothing" }];
  }
  if (s.cloudflareToken === "plain") {
    return [{ path: [], key: "cloudflare:apiToken", expected: `a secret value (${hint})`, got: "a plain, unencrypted value" }];
  }
  return [];
}
