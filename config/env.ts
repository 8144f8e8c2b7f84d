/**
 * Expands each service's env into literal text, database variables and app secrets, following references to
 * other services. Runs on a stack whose references were already checked (no unknown target, no cycle).
 */
import { PLUGINS } from "../databases";
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

/** The Swarm service name of a service or database, which is also its DNS name on the stack's network. */
export function swarmName(prefix: string, name: string): string {
  return `${prefix}-${name}`;
}

/** Variables every service offers to the others (a worker has no port, so only HOST). */
export function serviceVariables(service: ServiceConfig): string[] {
  return service.port === undefined ? ["HOST"] : ["HOST", "PORT", "URL"];
}

export function planEnv(
  prefix: string,
  services: Record<string, ServiceConfig>,
  databases: Record<string, DatabaseConfig>,
): Record<string, ServiceEnvPlan> {
  const expand = (service: string, variable: string): EnvPart[] => {
    const config = services[service];
    const host = swarmName(prefix, service);
    if (variable === "HOST") return [{ kind: "text", text: host }];
    if (variable === "PORT") return [{ kind: "text", text: String(config.port) }];
    if (variable === "URL") return [{ kind: "text", text: `http://${host}:${config.port}` }];
    return expandValue(config.env[variable]);
  };
  const expandValue = (value: string): EnvPart[] =>
    parseTemplate(value).parts.flatMap((part): EnvPart[] => {
      if (part.kind === "text") return [part];
      if (part.target === "secrets") return [{ kind: "secret", name: part.variable }];
      if (part.target in databases) return [{ kind: "database", database: part.target, variable: part.variable }];
      return expand(part.target, part.variable);
    });

  const plans: Record<string, ServiceEnvPlan> = {};
  for (const [name, service] of Object.entries(services)) {
    const vars: Record<string, EnvVar> = {};
    const refServices = new Set<string>();
    const refDatabases = new Set<string>();
    for (const [variable, value] of Object.entries(service.env)) {
      const parts = mergeText(expandValue(value));
      vars[variable] = { parts, secret: parts.some((p) => isSecretPart(p, databases)) };
      for (const part of parseTemplate(value).parts) {
        if (part.kind !== "ref" || part.target === "secrets") continue;
        (part.target in databases ? refDatabases : refServices).add(part.target);
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

/** Service names so that every service comes after the services it refers to (references have no cycle). */
export function deployOrder(plans: Record<string, ServiceEnvPlan>): string[] {
  const order: string[] = [];
  const visit = (name: string) => {
    if (order.includes(name)) return;
    for (const dep of plans[name].services) visit(dep);
    order.push(name);
  };
  Object.keys(plans).sort().forEach(visit);
  return order;
}
