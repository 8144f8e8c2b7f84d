/**
 * Expands each service's env into literal text, database variables and app secrets, following references to
 * other services. Runs on a stack whose references were already checked (no unknown target, no cycle) and whose
 * expanded sizes were measured (expandedLengths): every (service, variable) is expanded once and reused, so the
 * work is linear in the size of the result.
 */
import { PLUGINS } from "../databases";
import { endpointOf, PASSWORD_LENGTH } from "../databases/plugin";
import { swarmName } from "./names";
import { parseTemplate } from "./references";
import type { DatabaseConfig, ServiceConfig } from "./schema";

export type EnvPart =
  | { kind: "text"; text: string }
  | { kind: "database"; database: string; variable: string }
  | { kind: "secret"; name: string };

export interface EnvVar {
  parts: EnvPart[];
  /** True when any part holds a password or an app secret: such a value reaches the container as a Swarm secret. */
  secret: boolean;
}

export interface ServiceEnvPlan {
  vars: Record<string, EnvVar>;
  /** What must exist before this service: referenced services and databases. */
  services: string[];
  databases: string[];
}

/** Variables every service offers to the others (a worker has no port, so only HOST). */
export function serviceVariables(service: ServiceConfig): string[] {
  return service.port === undefined ? ["HOST"] : ["HOST", "PORT", "URL"];
}

/**
 * The text of a variable every service offers (HOST; PORT and URL when it has a port), or undefined for one of
 * its env vars. These win over an env var of the same name: `${{api.PORT}}` is always where api listens.
 */
function builtIn(prefix: string, service: ServiceConfig, name: string, variable: string): string | undefined {
  if (!serviceVariables(service).includes(variable)) return undefined;
  const host = swarmName(prefix, name);
  if (variable === "HOST") return host;
  if (variable === "PORT") return String(service.port);
  return `http://${host}:${service.port}`;
}

/**
 * Walks references once per (service, variable), memoised: `leaf` gives a database variable's or a secret's
 * value, `text` a literal's, and `join` combines a value's parts. A reference back into a value still being
 * expanded (a cycle the checks missed) counts as empty instead of recursing forever.
 */
function walker<T>(
  prefix: string,
  services: Record<string, ServiceConfig>,
  databases: Record<string, DatabaseConfig>,
  f: { text: (t: string) => T; database: (db: string, variable: string) => T; secret: (name: string) => T; join: (parts: T[]) => T },
): (service: string, variable: string) => T {
  const memo = new Map<string, T>();
  const open = new Set<string>();
  const value = (text: string): T =>
    f.join(
      parseTemplate(text).parts.map((part): T => {
        if (part.kind === "text") return f.text(part.text);
        if (part.target === "secrets") return f.secret(part.variable);
        if (Object.hasOwn(databases, part.target)) return f.database(part.target, part.variable);
        return variable(part.target, part.variable);
      }),
    );
  const variable = (service: string, name: string): T => {
    const config = services[service];
    const own = builtIn(prefix, config, service, name);
    if (own !== undefined) return f.text(own);
    const key = `${service}\0${name}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    if (open.has(key)) return f.join([]);
    open.add(key);
    const result = value(Object.hasOwn(config.env, name) ? config.env[name] : "");
    open.delete(key);
    memo.set(key, result);
    return result;
  };
  return variable;
}

/**
 * UTF-8 bytes of each service's env values once references are expanded, without expanding them (a chain of
 * references can double a value at each step). Secrets count their real size; database variables count a
 * generated password's length.
 */
export function expandedLengths(
  prefix: string,
  services: Record<string, ServiceConfig>,
  databases: Record<string, DatabaseConfig>,
  secretLength: (name: string) => number,
): Record<string, Record<string, number>> {
  const length = walker<number>(prefix, services, databases, {
    text: (t) => Buffer.byteLength(t, "utf8"),
    secret: secretLength,
    database: (db, variable) => Buffer.byteLength(databaseValue(prefix, db, databases[db], variable), "utf8"),
    join: (parts) => parts.reduce((a, b) => a + b, 0),
  });
  return Object.fromEntries(
    Object.entries(services).map(([name, s]) => [name, Object.fromEntries(Object.keys(s.env).map((v) => [v, length(name, v)]))]),
  );
}

/** A database variable's value with a stand-in password of the generated length. */
function databaseValue(prefix: string, name: string, db: DatabaseConfig, variable: string): string {
  const plugin = PLUGINS[db.engine];
  const endpoint = { ...endpointOf(plugin, swarmName(prefix, name), db), password: "x".repeat(PASSWORD_LENGTH) };
  return plugin.variables.find((v) => v.name === variable)?.value(endpoint) ?? "";
}

export function planEnv(
  prefix: string,
  services: Record<string, ServiceConfig>,
  databases: Record<string, DatabaseConfig>,
): Record<string, ServiceEnvPlan> {
  const expand = walker<EnvPart[]>(prefix, services, databases, {
    text: (text) => (text === "" ? [] : [{ kind: "text", text }]),
    secret: (name) => [{ kind: "secret", name }],
    database: (database, variable) => [{ kind: "database", database, variable }],
    join: (parts) => mergeText(parts.flat()),
  });
  const plans: Record<string, ServiceEnvPlan> = {};
  for (const [name, service] of Object.entries(services)) {
    const vars: Record<string, EnvVar> = {};
    const refServices = new Set<string>();
    const refDatabases = new Set<string>();
    for (const variable of Object.keys(service.env)) {
      const parts = expand(name, variable);
      vars[variable] = { parts, secret: parts.some((p) => isSecretPart(p, databases)) };
      for (const part of parseTemplate(service.env[variable]).parts) {
        if (part.kind !== "ref" || part.target === "secrets") continue;
        (Object.hasOwn(databases, part.target) ? refDatabases : refServices).add(part.target);
      }
      for (const part of parts) if (part.kind === "database") refDatabases.add(part.database);
    }
    plans[name] = { vars, services: [...refServices].sort(), databases: [...refDatabases].sort() };
  }
  return plans;
}

function isSecretPart(part: EnvPart, databases: Record<string, DatabaseConfig>): boolean {
  if (part.kind === "secret") return true;
  if (part.kind === "text") return false;
  const plugin = PLUGINS[databases[part.database].engine];
  return plugin.variables.find((v) => v.name === part.variable)?.secret ?? true;
}

/** Joins neighbouring text parts, so a plain value is one text part. */
function mergeText(parts: EnvPart[]): EnvPart[] {
  const out: EnvPart[] = [];
  for (const part of parts) {
    const prev = out[out.length - 1];
    if (part.kind === "text" && prev?.kind === "text") out[out.length - 1] = { kind: "text", text: prev.text + part.text };
    else out.push(part);
  }
  return out;
}

/** For each service some migration pauses, the services whose migrations pause it (from pauseDuringMigration lists). */
export function pausedBy(pauses: Record<string, string[]>): Record<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const [pauser, paused] of Object.entries(pauses)) {
    for (const name of paused) out.set(name, new Set([...(out.get(name) ?? []), pauser]));
  }
  return Object.fromEntries([...out].map(([name, by]) => [name, [...by].sort()]));
}

/**
 * Service names so that every service comes after the services it refers to and after those whose migration
 * pauses it (`after`, from pausedBy; the checks refuse a cycle of the two).
 */
export function deployOrder(plans: Record<string, ServiceEnvPlan>, after: Record<string, string[]> = {}): string[] {
  const order: string[] = [];
  const placed = new Set<string>();
  const visit = (name: string) => {
    if (placed.has(name)) return;
    placed.add(name);
    for (const dep of [...plans[name].services, ...(after[name] ?? [])]) visit(dep);
    order.push(name);
  };
  Object.keys(plans).sort().forEach(visit);
  return order;
}
