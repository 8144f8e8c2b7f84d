/**
 * The edge: its Caddyfile and HAProxy config (exact text), and what each stack declares for it — Swarm configs
 * named by content, the Caddy tier rolling start-first, the front holding host ports stop-first, Cloudflare
 * records, zone settings and an Origin CA certificate whose key stays secret.
 */
import { describe, expect, it } from "vitest";
import { EdgePlan, planEdge, routeFor, serviceEdgeProbe, underPrefix } from "../config/edge";
import { edgeSchema, ServiceConfig, serviceSchema } from "../config/schema";
import { caddyfile } from "../render/caddyfile";
import { haproxyConfig } from "../render/haproxy";
import type { DeclaredService } from "./engine/spec";
import { byType, Captured, isSecretValue, one, reveal, runStack, stackFile, StackRun, testSecrets } from "./harness";

const SERVICE = "docker:index/service:Service";
const CONFIG = "docker:index/serviceConfig:ServiceConfig";
const RECORD = "cloudflare:index/dnsRecord:DnsRecord";
const SETTING = "cloudflare:index/zoneSetting:ZoneSetting";
const ORIGIN = "cloudflare:index/originCaCertificate:OriginCaCertificate";

const plan = (tls: EdgePlan["tls"]): EdgePlan => ({
  tls,
  routes: [{ domain: "api.example.com", path: "/", stripPath: false, service: "api", upstream: "tasks.st-api", port: 3002 }],
  redirects: [{ from: "www.example.com", to: "example.com" }],
  hostnames: ["api.example.com", "www.example.com"],
  // The schema's defaults, with a write timeout given in minutes (rendered as seconds).
  settings: { ...edgeSchema.parse({}), timeouts: { readHeader: "10s", readBody: "30s", write: "1m", idle: "2m" } },
});

/** The reverse_proxy block of a route, as rendered inside a handle. */
const proxyBlock = (upstream: string, port: number) => `		reverse_proxy {
			dynamic a {
				name ${upstream}
				port ${port}
				refresh 1s
				dial_timeout 2s
			}
			lb_policy round_robin
			lb_try_duration 10000ms
			lb_try_interval 100ms
			fail_duration 10s
			max_fails 1
		}
`;

const caddyfileText = (r: StackRun) => Buffer.from(String(one(r, CONFIG, "edge-caddyfile").inputs.data), "base64").toString();
const spec = (r: Captured) => r.inputs as unknown as DeclaredService & {
  endpointSpec: { mode: string; ports?: { targetPort: number; publishedPort: number; publishMode: string }[] };
  taskSpec: { containerSpec: { configs: { configName: string; fileName: string }[] } };
};

describe("Caddyfile", () => {
  it("routes a domain to its tasks with retries and passive health, and redirects www (Cloudflare origin certificate)", () => {
    expect(caddyfile(plan("cloudflare"))).toBe(`{
	admin off
	grace_period 10s
	servers {
		timeouts {
			read_header 10s
			read_body 30s
			write 60s
			idle 120s
		}
	}
}

(railyard_common) {
	header {
		Strict-Transport-Security "max-age=31536000; includeSubDomains"
		X-Content-Type-Options "nosniff"
		X-Frame-Options "SAMEORIGIN"
		Referrer-Policy "strict-origin-when-cross-origin"
		-Server
	}
	request_body {
		max_size 10485760
	}
	@railyard_body_too_large expression \`{http.request.header.Content-Length}.matches("^[0-9]+$") && int({http.request.header.Content-Length}) > 10485760\`
	handle @railyard_body_too_large {
		respond "request body too large" 413
	}
	log {
		output stdout
		format json
	}
}

api.example.com {
	import railyard_common
	tls /run/secrets/edge_cert.pem /run/secrets/edge_key.pem
	handle {
${proxyBlock("tasks.st-api", 3002)}	}
}

www.example.com {
	tls /run/secrets/edge_cert.pem /run/secrets/edge_key.pem
	redir https://example.com{uri} permanent
}

http://:9180 {
	respond /healthz "ok" 200
}
`);
  });

  it("plain HTTP in dev: http:// sites, no automatic HTTPS, no HSTS", () => {
    const text = caddyfile(plan("off"));
    expect(text).toContain("\tauto_https off\n");
    expect(text).toContain("http://api.example.com {\n");
    expect(text).toContain("http://www.example.com {\n\tredir http://example.com{uri} permanent\n}");
    expect(text).not.toContain("Strict-Transport-Security");
    expect(text).not.toContain("tls ");
  });

  it("ACME with an account e-mail; internal CA with local_certs", () => {
    const acme = plan("acme");
    acme.settings.acmeEmail = "ops@example.com";
    expect(caddyfile(acme)).toContain("\temail ops@example.com\n");
    expect(caddyfile(acme)).not.toContain("tls ");
    expect(caddyfile(plan("internal"))).toContain("\tlocal_certs\n");
    expect(caddyfile(plan("internal"))).toContain("\ttls internal\n");
  });
});

/**
 * example.com shared by a frontend ("/"), an API serving under /api/v1 (prefix kept) and a legacy app mounted at
 * /api (prefix stripped); the API and the legacy app also have domains of their own.
 */
const sharedServices = () => {
  const web = (port: number, domains: unknown[], health: string) => serviceSchema.parse({ image: "x", port, domains, healthcheck: { path: health } });
  return {
    legacy: web(8080, [{ domain: "example.com", path: "/api", stripPath: true }, { domain: "legacy.example.com", path: "/v2", stripPath: true }], "/health"),
    frontend: web(80, ["example.com"], "/"),
    api: web(3002, ["example.com/api/v1", "api.example.com"], "/api/v1/health"),
  };
};
const sharedPlan = (services: Record<string, ServiceConfig> = sharedServices()) =>
  planEdge("st", "production", { mode: "local", dataDir: "/var/lib/railyard" }, edgeSchema.parse({ tls: "acme" }), services) as EdgePlan;
/** A site block of a Caddyfile, from its address line to its closing brace. */
const siteBlock = (text: string, address: string) => {
  const start = text.indexOf(`\n${address} {\n`);
  expect(start, `no site ${address}`).toBeGreaterThanOrEqual(0);
  return text.slice(start + 1, text.indexOf("\n}\n", start) + 3);
};

describe("path routes", () => {
  it("one site per domain: longest prefix first, each matching itself and below, stripped when asked, / last", () => {
    const text = caddyfile(sharedPlan());
    expect(siteBlock(text, "example.com")).toBe(`example.com {
	import railyard_common
	@railyard_route_1 path /api/v1 /api/v1/*
	handle @railyard_route_1 {
${proxyBlock("tasks.st-api", 3002)}	}
	@railyard_route_2 path /api /api/*
	handle @railyard_route_2 {
		uri strip_prefix /api
${proxyBlock("tasks.st-legacy", 8080)}	}
	handle {
${proxyBlock("tasks.st-frontend", 80)}	}
}
`);
    expect(text.match(/^example\.com \{$/gm)).toHaveLength(1);
  });

  it("a domain without a / route answers 404 outside its prefixes", () => {
    expect(siteBlock(caddyfile(sharedPlan()), "legacy.example.com")).toBe(`legacy.example.com {
	import railyard_common
	@railyard_route_1 path /v2 /v2/*
	handle @railyard_route_1 {
		uri strip_prefix /v2
${proxyBlock("tasks.st-legacy", 8080)}	}
	handle {
		respond "not found" 404
	}
}
`);
  });

  it("the order comes from the prefixes, not from the stack file; each domain is one hostname", () => {
    const services = sharedServices();
    const reversed = Object.fromEntries(Object.entries(services).reverse());
    expect(caddyfile(sharedPlan(reversed))).toBe(caddyfile(sharedPlan(services)));
    expect(sharedPlan().hostnames).toEqual(["api.example.com", "example.com", "legacy.example.com"]);
    expect(sharedPlan().routes.filter((r) => r.domain === "example.com").map((r) => r.path)).toEqual(["/api/v1", "/api", "/"]);
  });

  it("a prefix covers itself and what is below it, never a sibling; the longest prefix wins", () => {
    for (const p of ["/api/v1", "/api/v1/", "/api/v1/health?x=1", "/API/V1/items"]) expect(underPrefix("/api/v1", p), p).toBe(true);
    for (const p of ["/api/v10", "/api/v1x", "/api", "/"]) expect(underPrefix("/api/v1", p), p).toBe(false);
    const plan = sharedPlan();
    const serviceOf = (domain: string, path: string) => routeFor(plan, domain, path)?.service;
    expect(serviceOf("example.com", "/api/v1/items")).toBe("api");
    expect(serviceOf("example.com", "/api/v10")).toBe("legacy");
    expect(serviceOf("example.com", "/apix")).toBe("frontend");
    expect(serviceOf("example.com", "/")).toBe("frontend");
    expect(serviceOf("legacy.example.com", "/other")).toBeUndefined();
  });

  it("the gate probes a service's health path through the edge only where that path really reaches the service", () => {
    const plan = sharedPlan();
    const at = (path: string, host: string) => ({ url: `https://127.0.0.1:443${path}`, host, insecure: false });
    // The most specific route first: the API under its kept prefix on the shared domain.
    expect(serviceEdgeProbe(plan, "api", "/api/v1/health")).toEqual(at("/api/v1/health", "example.com"));
    // A stripped prefix: users ask for prefix + health path.
    expect(serviceEdgeProbe(plan, "legacy", "/health")).toEqual(at("/api/health", "example.com"));
    // Outside its kept prefix the API's health path belongs to the frontend there, but its own domain reaches it.
    expect(serviceEdgeProbe(plan, "api", "/health")).toEqual(at("/health", "api.example.com"));
    expect(serviceEdgeProbe(plan, "frontend", "/")).toEqual(at("/", "example.com"));
    // The frontend's /api/v1/health is the API's: no edge probe for the frontend then.
    expect(serviceEdgeProbe(plan, "frontend", "/api/v1/health")).toBeUndefined();
    expect(serviceEdgeProbe(plan, "worker", "/health")).toBeUndefined();
  });
});

describe("HAProxy front", () => {
  it("passes TCP to the Caddy tasks found through Swarm DNS, retrying another task on a refused connection", () => {
    expect(haproxyConfig({ upstream: "tasks.st-edge", ports: [80], idleSeconds: 120 })).toBe(`global
	log stdout format raw local0 notice
	maxconn 4096

defaults
	mode tcp
	log global
	option dontlog-normal
	timeout connect 2s
	timeout client 120s
	timeout server 120s
	timeout client-fin 5s
	retries 3
	option redispatch 1

resolvers swarm
	nameserver docker 127.0.0.11:53
	resolve_retries 3
	timeout resolve 1s
	timeout retry 1s
	hold valid 1s
	hold obsolete 0s

frontend in_80
	bind :80
	default_backend edge_80

backend edge_80
	balance roundrobin
	server-template edge 10 tasks.st-edge:80 check inter 1s fall 1 rise 1 resolvers swarm init-addr none
`);
  });
});

const runs: Record<string, Promise<StackRun>> = {};
const run = (stack: string) => (runs[stack] ??= runStack(stack, stackFile(stack), testSecrets(stack)));

describe.each([
  { stack: "staging", records: ["api.staging.example.com", "staging.example.com"], target: "203.0.113.10" },
  { stack: "production", records: ["api.example.com", "example.com", "www.example.com"], target: "203.0.113.20" },
])("edge of stack $stack (Cloudflare)", ({ stack, records, target }) => {
  it("declares one proxied DNS record per domain, pointing at the host", async () => {
    const r = await run(stack);
    const declared = byType(r, RECORD).map((d) => d.inputs);
    expect(declared.map((d) => d.name).sort()).toEqual(records);
    // Named by the domain itself; the earlier dashed name stays an alias, so existing records are not replaced.
    for (const record of byType(r, RECORD)) {
      expect(record.name).toBe(`cloudflare-${String(record.inputs.name)}`);
      expect(record.aliases).toEqual([`cloudflare-${String(record.inputs.name).replace(/\./g, "-")}`]);
    }
    for (const d of declared) expect(d).toMatchObject({ zoneId: "0123456789abcdef0123456789abcdef", type: "A", content: target, proxied: true, ttl: 1 });
  });

  it("sets the zone to strict SSL, always HTTPS, TLS 1.2 minimum and TLS 1.3, one ZoneSetting each", async () => {
    const settings = Object.fromEntries(byType(await run(stack), SETTING).map((s) => [s.inputs.settingId, s.inputs.value]));
    expect(settings).toEqual({ ssl: "strict", always_use_https: "on", min_tls_version: "1.2", tls_1_3: "on" });
  });

  it("requests an Origin CA certificate for every domain from a CSR made with the stack's own key", async () => {
    const r = await run(stack);
    const cert = one(r, ORIGIN, "cloudflare-origin-cert").inputs;
    expect(cert).toMatchObject({ hostnames: records, requestType: "origin-ecc", requestedValidity: 5475 });
    expect(reveal(one(r, "tls:index/certRequest:CertRequest", "cloudflare-origin-csr").inputs.dnsNames)).toEqual(records);
    expect(one(r, "tls:index/privateKey:PrivateKey", "cloudflare-origin-key").inputs).toMatchObject({ algorithm: "ECDSA", ecdsaCurve: "P256" });
  });

  it("delivers certificate and key to Caddy as Swarm secrets, the key marked secret and readable by root only", async () => {
    const r = await run(stack);
    expect(isSecretValue(one(r, "docker:index/secret:Secret", "edge-key").inputs.data)).toBe(true);
    const key = Buffer.from(String(reveal(one(r, "docker:index/secret:Secret", "edge-key").inputs.data)), "base64").toString();
    expect(key).toContain("PRIVATE KEY-----");
    const secrets = spec(one(r, SERVICE, "edge")).taskSpec.containerSpec.secrets ?? [];
    expect(secrets.map((s) => [s.fileName, s.fileMode])).toEqual([["edge_cert.pem", 0o444], ["edge_key.pem", 0o400]]);
    expect(caddyfileText(r)).toContain("tls /run/secrets/edge_cert.pem /run/secrets/edge_key.pem");
  });

  it("routes every domain and path prefix to its service's tasks and port", async () => {
    const text = caddyfileText(await run(stack));
    const file = stackFile(stack)["railyard:services"] as Record<string, { port?: number; domains?: unknown[] }>;
    for (const [name, s] of Object.entries(file)) {
      for (const route of serviceSchema.parse({ image: "x", ...s }).domains) {
        const site = siteBlock(text, route.domain);
        expect(site).toMatch(/^\S+ \{\n\timport railyard_common\n\ttls \/run\/secrets\/edge_cert.pem \/run\/secrets\/edge_key.pem\n/);
        const handle = route.path === "/" ? "\thandle {\n" : `\t@railyard_route_1 path ${route.path} ${route.path}/*\n\thandle @railyard_route_1 {\n`;
        expect(site).toContain(`${handle}\t\treverse_proxy {\n\t\t\tdynamic a {\n\t\t\t\tname tasks.${stack}-${name}\n\t\t\t\tport ${s.port}\n`);
      }
    }
  });
});

describe("edge services", () => {
  it("Caddy rolls start-first with rollback; the front holds host ports 80/443 and rolls stop-first", async () => {
    const r = await run("production");
    const caddy = spec(one(r, SERVICE, "edge"));
    expect(caddy.name).toBe("production-edge");
    expect(caddy.mode.replicated.replicas).toBe(2);
    expect(caddy.updateConfig).toMatchObject({ order: "start-first", failureAction: "rollback" });
    expect(caddy.endpointSpec).toEqual({ mode: "dnsrr" });
    expect(caddy.taskSpec.containerSpec.image).toMatch(/^caddy:2\.10-alpine@sha256:/);
    expect(caddy.taskSpec.containerSpec.configs[0].fileName).toBe("/etc/railyard/Caddyfile");
    const front = spec(one(r, SERVICE, "edge-front"));
    expect(front.name).toBe("production-front");
    expect(front.updateConfig).toMatchObject({ order: "stop-first" });
    expect(front.endpointSpec.ports).toEqual([
      { targetPort: 80, publishedPort: 80, protocol: "tcp", publishMode: "host" },
      { targetPort: 443, publishedPort: 443, protocol: "tcp", publishMode: "host" },
    ]);
    const haproxy = Buffer.from(String(one(r, CONFIG, "edge-front-config").inputs.data), "base64").toString();
    expect(haproxy).toContain("server-template edge 10 tasks.production-edge:443 check");
  });

  it("staging: the API under /api/v1 on the frontend's domain, tried before the frontend, and gated through it", async () => {
    const r = await run("staging");
    const site = siteBlock(caddyfileText(r), "staging.example.com");
    expect(site.indexOf("name tasks.staging-api\n")).toBeGreaterThan(site.indexOf("@railyard_route_1 path /api/v1 /api/v1/*\n\thandle @railyard_route_1 {\n"));
    expect(site.indexOf("\thandle {\n")).toBeGreaterThan(site.indexOf("name tasks.staging-api\n"));
    expect(site).not.toContain("strip_prefix");
    const gate = String(reveal(one(r, "command:remote:Command", "api-gate").inputs.create));
    expect(gate).toContain("--url https://127.0.0.1:443/api/v1/health --host staging.example.com --insecure");
  });

  it("waits for the routed services and the host bootstrap", async () => {
    const r = await run("staging");
    expect(one(r, SERVICE, "edge").dependsOn).toEqual(expect.arrayContaining(["host-bootstrap", "api", "frontend"]));
  });

  it("names the Caddyfile config by its content: a changed setting gives a new config name", async () => {
    const a = one(await run("staging"), CONFIG, "edge-caddyfile").inputs.name;
    const changed = stackFile("staging");
    (changed["railyard:edge"] as Record<string, unknown>).maxRequestBody = "1G";
    const b = one(await runStack("staging", changed, testSecrets("staging")), CONFIG, "edge-caddyfile").inputs.name;
    expect(a).toMatch(/^staging-edge-caddyfile-[0-9a-f]{12}$/);
    expect(b).toMatch(/^staging-edge-caddyfile-[0-9a-f]{12}$/);
    expect(b).not.toBe(a);
  });

  it("dev: plain HTTP on the configured port, no Cloudflare resources, www redirect", async () => {
    const r = await run("dev");
    expect(byType(r, RECORD)).toHaveLength(0);
    expect(byType(r, ORIGIN)).toHaveLength(0);
    expect(byType(r, SETTING)).toHaveLength(0);
    expect(spec(one(r, SERVICE, "edge-front")).endpointSpec.ports).toEqual([{ targetPort: 80, publishedPort: 8080, protocol: "tcp", publishMode: "host" }]);
    expect(caddyfileText(r)).toContain("http://www.app.localhost {\n\tredir http://app.localhost{uri} permanent\n}");
    expect(r.outputs.domains).toEqual({ "api.localhost": "api", "app.localhost": "frontend" });
    expect(r.outputs.urls).toEqual(["http://api.localhost:8080/", "http://app.localhost:8080/"]);
  });

  it("staging: exports where each route answers, path routes included", async () => {
    const r = await run("staging");
    expect(r.outputs.urls).toEqual(["https://api.staging.example.com/", "https://staging.example.com/api/v1/", "https://staging.example.com/"]);
    expect(r.outputs.domains).toEqual({ "api.staging.example.com": "api", "staging.example.com/api/v1": "api", "staging.example.com": "frontend" });
  });

  it("a stack without domains declares no edge", async () => {
    const plain = stackFile("dev");
    for (const s of Object.values(plain["railyard:services"] as Record<string, { domains?: string[] }>)) delete s.domains;
    delete plain["railyard:edge"];
    const r = await runStack("dev", plain);
    expect(byType(r, SERVICE).map((s) => s.name)).not.toContain("edge");
    expect(byType(r, CONFIG)).toHaveLength(0);
  });
});

describe("DNS record names", () => {
  it("gives two domains that differ only in dots and dashes two records", async () => {
    const plain = stackFile("staging");
    (plain["railyard:services"] as Record<string, { domains: unknown[] }>).api.domains = ["a-b.example.com", "a.b.example.com"];
    const r = await runStack("staging", plain, testSecrets("staging"));
    const names = byType(r, RECORD).map((d) => d.name);
    expect(names).toEqual(expect.arrayContaining(["cloudflare-a-b.example.com", "cloudflare-a.b.example.com"]));
    expect(new Set(names).size).toBe(names.length);
  });
});
