/**
 * The edge's plan: which domain and path prefix route to which service's tasks, which domains redirect, the TLS
 * mode and the address DNS records point at. Runs on a checked stack (one owner per domain and prefix, redirects
 * to routed domains).
 */
import { swarmName } from "./names";
import type { EdgeConfig, HostConfig, ServiceConfig } from "./schema";
import { edgeTls } from "./semantics";

export interface EdgeRoute {
  domain: string;
  /** The path prefix: "/" (the whole domain) or e.g. "/api/v1" — that path and everything below it. */
  path: string;
  /** Whether the prefix is removed from the request's path before it reaches the service. */
  stripPath: boolean;
  /** The stack's service name (e.g. "api"). */
  service: string;
  /** Swarm DNS name that resolves to every running task (e.g. "tasks.staging-api"). */
  upstream: string;
  port: number;
}

export interface EdgePlan {
  tls: NonNullable<EdgeConfig["tls"]>;
  /** By domain, then longest prefix first ("/" last): the order the edge tries a domain's routes in. */
  routes: EdgeRoute[];
  redirects: { from: string; to: string }[];
  /** Every public domain (routed and redirected), once each, sorted: the certificate's names and the DNS records. */
  hostnames: string[];
  /** The address DNS records point at, when Cloudflare manages the zone. */
  dnsTarget?: string;
  settings: EdgeConfig;
}

export function planEdge(
  prefix: string,
  environment: "dev" | "staging" | "production",
  host: HostConfig,
  edge: EdgeConfig,
  services: Record<string, ServiceConfig>,
): EdgePlan | undefined {
  const routes: EdgeRoute[] = [];
  for (const [name, service] of Object.entries(services)) {
    for (const { domain, path, stripPath } of service.domains) {
      routes.push({ domain, path, stripPath, service: name, upstream: `tasks.${swarmName(prefix, name)}`, port: service.port ?? 80 });
    }
  }
  if (routes.length === 0) return undefined;
  const redirects = Object.entries(edge.redirects).map(([from, to]) => ({ from, to }));
  return {
    tls: edgeTls(environment, edge),
    routes: routes.sort((a, b) => a.domain.localeCompare(b.domain) || b.path.length - a.path.length || a.path.localeCompare(b.path)),
    redirects: redirects.sort((a, b) => a.from.localeCompare(b.from)),
    hostnames: [...new Set([...routes.map((r) => r.domain), ...redirects.map((r) => r.from)])].sort(),
    dnsTarget: edge.cloudflare ? (edge.publicAddress ?? (host.mode === "ssh" ? host.address : undefined)) : undefined,
    settings: edge,
  };
}

export interface EdgeProbe {
  url: string;
  /** The domain the request names (Host and TLS server name). */
  host: string;
  insecure: boolean;
}

/**
 * Whether a request path falls under a route's prefix: the prefix itself or below it, never a sibling (/api/v10
 * is not under /api/v1). Case-insensitive and without the query, as Caddy's path matcher.
 */
export function underPrefix(prefix: string, requestPath: string): boolean {
  const path = requestPath.split("?")[0].toLowerCase();
  return prefix === "/" || path === prefix || path.startsWith(`${prefix}/`);
}

/** The route a request for domain + path takes: the longest prefix it falls under. */
export function routeFor(plan: EdgePlan, domain: string, requestPath: string): EdgeRoute | undefined {
  return plan.routes.find((r) => r.domain === domain && underPrefix(r.path, requestPath));
}

/**
 * How the health gate probes a service through the edge: on the most specific of its routes (longest prefix,
 * then domain) where the health path, as users would request it (the prefix + the health path when the route
 * strips it, else the health path itself), really reaches this service by longest prefix. Undefined when no
 * route does: then the gate probes the tasks only.
 */
export function serviceEdgeProbe(plan: EdgePlan, service: string, healthPath: string): EdgeProbe | undefined {
  const routes = plan.routes.filter((r) => r.service === service).sort((a, b) => b.path.length - a.path.length || a.domain.localeCompare(b.domain));
  for (const route of routes) {
    const external = route.stripPath ? `${route.path}${healthPath}` : healthPath;
    if (routeFor(plan, route.domain, external) === route) return edgeProbe(plan, route.domain, external);
  }
  return undefined;
}

/** How the health gate reaches a routed service as users do: the edge's published port on the host itself. */
function edgeProbe(plan: EdgePlan, domain: string, path: string): EdgeProbe {
  const s = plan.settings;
  const url = plan.tls === "off" ? `http://127.0.0.1:${s.httpPort}${path}` : `https://127.0.0.1:${s.httpsPort}${path}`;
  // Cloudflare's origin certificate and Caddy's internal CA are not in the host's trust store.
  return { url, host: domain, insecure: plan.tls !== "acme" };
}

/** Where each route answers, as a user types it: `https://api.example.com/`, `http://app.localhost:8080/api/v1/`. */
export function publicUrls(plan: EdgePlan): string[] {
  const s = plan.settings;
  const [scheme, port, standard] = plan.tls === "off" ? ["http", s.httpPort, 80] : ["https", s.httpsPort, 443];
  return plan.routes.map((r) => `${scheme}://${r.domain}${port === standard ? "" : `:${port}`}${r.path === "/" ? "/" : `${r.path}/`}`);
}
