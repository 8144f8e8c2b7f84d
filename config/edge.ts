/**
 * The edge's plan: which domain routes to which service's tasks, which domains redirect, the TLS mode and the
 * address DNS records point at. Runs on a checked stack (one owner per domain, redirects to routed domains).
 */
import { swarmName } from "./env";
import type { EdgeConfig, HostConfig, ServiceConfig } from "./schema";
import { edgeTls } from "./semantics";

export interface EdgeRoute {
  domain: string;
  /** The stack's service name (e.g. "api"). */
  service: string;
  /** Swarm DNS name that resolves to every running task (e.g. "tasks.staging-api"). */
  upstream: string;
  port: number;
}

export interface EdgePlan {
  tls: NonNullable<EdgeConfig["tls"]>;
  routes: EdgeRoute[];
  redirects: { from: string; to: string }[];
  /** Every public domain (routed and redirected), sorted: the certificate's names and the DNS records. */
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
    for (const domain of service.domains) {
      routes.push({ domain, service: name, upstream: `tasks.${swarmName(prefix, name)}`, port: service.port ?? 80 });
    }
  }
  if (routes.length === 0) return undefined;
  const redirects = Object.entries(edge.redirects).map(([from, to]) => ({ from, to }));
  return {
    tls: edgeTls(environment, edge),
    routes: routes.sort((a, b) => a.domain.localeCompare(b.domain)),
    redirects: redirects.sort((a, b) => a.from.localeCompare(b.from)),
    hostnames: [...routes.map((r) => r.domain), ...redirects.map((r) => r.from)].sort(),
    dnsTarget: edge.cloudflare ? (edge.publicAddress ?? (host.mode === "ssh" ? host.address : undefined)) : undefined,
    settings: edge,
  };
}

/** How the health gate reaches a routed service as users do: the edge's published port on the host itself. */
export function edgeProbe(plan: EdgePlan, domain: string, path: string): { url: string; host: string; insecure: boolean } {
  const s = plan.settings;
  const url = plan.tls === "off" ? `http://127.0.0.1:${s.httpPort}${path}` : `https://127.0.0.1:${s.httpsPort}${path}`;
  // Cloudflare's origin certificate and Caddy's internal CA are not in the host's trust store.
  return { url, host: domain, insecure: plan.tls !== "acme" };
}
