/**
 * The edge's Caddyfile, from the stack's edge plan. One site per routed domain; each of its path prefixes proxies
 * to its service's tasks through Swarm DNS (dynamic A upstreams refreshed each second), retries other tasks for
 * `tryDuration` when one refuses (a task leaving during an update), and takes a failing task out of rotation
 * (passive health). Redirect
 * domains answer 301 to their target; HTTP answers 308 to HTTPS (Caddy's automatic HTTPS). A body over the
 * limit is refused with 413: by its Content-Length up front, or (chunked) when the proxy hits the limit.
 */
import type { EdgePlan, EdgeRoute } from "../config/edge";
import { durationMs, memoryBytes } from "../lib/units";

/** Where the edge's certificate and key are mounted (Swarm secrets) when TLS comes from Cloudflare's Origin CA. */
export const EDGE_CERT_FILE = "edge_cert.pem";
export const EDGE_KEY_FILE = "edge_key.pem";
/** The port of the edge's own health answer (inside the network only; never published). */
export const EDGE_HEALTH_PORT = 9180;

const seconds = (d: string) => `${Math.max(1, Math.round(durationMs(d) / 1000))}s`;
const indent = (lines: string[]) => lines.map((l) => (l === "" ? l : `\t${l}`));

function globalOptions(plan: EdgePlan): string[] {
  const t = plan.settings.timeouts;
  const options = [
    "admin off",
    "grace_period 10s",
    "servers {",
    ...indent(["timeouts {", ...indent([`read_header ${seconds(t.readHeader)}`, `read_body ${seconds(t.readBody)}`, `write ${seconds(t.write)}`, `idle ${seconds(t.idle)}`]), "}"]),
    "}",
  ];
  if (plan.tls === "off") options.push("auto_https off");
  if (plan.tls === "internal") options.push("local_certs");
  if (plan.tls === "acme" && plan.settings.acmeEmail !== undefined) options.push(`email ${plan.settings.acmeEmail}`);
  return ["{", ...indent(options), "}"];
}

/** Headers, body limit and JSON access log every routed site shares. */
function commonSnippet(plan: EdgePlan): string[] {
  const limit = memoryBytes(plan.settings.maxRequestBody);
  const headers = [
    ...(plan.settings.hsts && plan.tls !== "off" ? ['Strict-Transport-Security "max-age=31536000; includeSubDomains"'] : []),
    'X-Content-Type-Options "nosniff"',
    'X-Frame-Options "SAMEORIGIN"',
    'Referrer-Policy "strict-origin-when-cross-origin"',
    "-Server",
  ];
  return [
    "(railyard_common) {",
    ...indent([
      "header {",
      ...indent(headers),
      "}",
      "request_body {",
      ...indent([`max_size ${limit}`]),
      "}",
      // Without a Content-Length the matcher is false (CEL's && absorbs the parse error); a chunked body meets max_size.
      `@railyard_body_too_large expression \`{http.request.header.Content-Length}.matches("^[0-9]+$") && int({http.request.header.Content-Length}) > ${limit}\``,
      // A handle, not a bare respond: Caddy orders handle before respond, so a site's route handles would answer
      // first. Handles are mutually exclusive and keep their order (named matchers are not sorted by path), so this
      // one, imported first, is tried first.
      "handle @railyard_body_too_large {",
      ...indent(['respond "request body too large" 413']),
      "}",
      "log {",
      ...indent(["output stdout", "format json"]),
      "}",
    ]),
    "}",
  ];
}

function siteAddress(plan: EdgePlan, domain: string): string {
  return plan.tls === "off" ? `http://${domain}` : domain;
}

function tlsLine(plan: EdgePlan): string[] {
  if (plan.tls === "cloudflare") return [`tls /run/secrets/${EDGE_CERT_FILE} /run/secrets/${EDGE_KEY_FILE}`];
  if (plan.tls === "internal") return ["tls internal"];
  return [];
}

function proxy(plan: EdgePlan, route: EdgeRoute): string[] {
  const options = [
    "dynamic a {",
    ...indent([`name ${route.upstream}`, `port ${route.port}`, "refresh 1s", "dial_timeout 2s"]),
    "}",
    "lb_policy round_robin",
    `lb_try_duration ${durationMs(plan.settings.tryDuration)}ms`,
    "lb_try_interval 100ms",
    "fail_duration 10s",
    "max_fails 1",
  ];
  return ["reverse_proxy {", ...indent(options), "}"];
}

/**
 * A domain's site: one `handle` per path prefix, longest first, each with a named matcher for the prefix itself
 * and below it (`path /api/v1 /api/v1/*`: never /api/v10), stripping the prefix when the route asks; the "/"
 * route (else a 404) is the last, matcher-less handle. Handles are mutually exclusive and the first that matches
 * wins; Caddy keeps named matchers with several paths in their written order and puts a handle without matcher
 * last, so the order written here is the order tried.
 */
function domainSite(plan: EdgePlan, domain: string, routes: EdgeRoute[]): string[] {
  const handles: string[] = [];
  routes.forEach((route, i) => {
    if (route.path === "/") return;
    const matcher = `@railyard_route_${i + 1}`;
    const strip = route.stripPath ? [`uri strip_prefix ${route.path}`] : [];
    handles.push(`${matcher} path ${route.path} ${route.path}/*`, `handle ${matcher} {`, ...indent([...strip, ...proxy(plan, route)]), "}");
  });
  const root = routes.find((r) => r.path === "/");
  handles.push("handle {", ...indent(root ? proxy(plan, root) : ['respond "not found" 404']), "}");
  return [`${siteAddress(plan, domain)} {`, ...indent(["import railyard_common", ...tlsLine(plan), ...handles]), "}"];
}

function redirectSite(plan: EdgePlan, from: string, to: string): string[] {
  const scheme = plan.tls === "off" ? "http" : "https";
  return [`${siteAddress(plan, from)} {`, ...indent([...tlsLine(plan), `redir ${scheme}://${to}{uri} permanent`]), "}"];
}

/** The edge answers its own health check on a port that is never published. */
function healthSite(): string[] {
  return [`http://:${EDGE_HEALTH_PORT} {`, ...indent(['respond /healthz "ok" 200']), "}"];
}

export function caddyfile(plan: EdgePlan): string {
  const blocks = [
    globalOptions(plan),
    commonSnippet(plan),
    ...[...new Set(plan.routes.map((r) => r.domain))].map((d) => domainSite(plan, d, plan.routes.filter((r) => r.domain === d))),
    ...plan.redirects.map((r) => redirectSite(plan, r.from, r.to)),
    healthSite(),
  ];
  return `${blocks.map((b) => b.join("\n")).join("\n\n")}\n`;
}
