/**
 * The edge: its Caddyfile and HAProxy config (exact text), and what each stack declares for it — Swarm configs
 * named by content, the Caddy tier rolling start-first, the front holding host ports stop-first, Cloudflare
 * records, zone settings and an Origin CA certificate whose key stays secret.
 */
import { describe, expect, it } from "vitest";
import type { EdgePlan } from "../config/edge";
import { edgeSchema } from "../config/schema";
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
  routes: [{ domain: "api.example.com", service: "api", upstream: "tasks.st-api", port: 3002 }],
  redirects: [{ from: "www.example.com", to: "example.com" }],
  hostnames: ["api.example.com", "www.example.com"],
  // The schema's defaults, with a write timeout given in minutes (rendered as seconds).
  settings: { ...edgeSchema.parse({}), timeouts: { readHeader: "10s", readBody: "30s", write: "1m", idle: "2m" } },
});

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
	respond @railyard_body_too_large "request body too large" 413
	log {
		output stdout
		format json
	}
}

api.example.com {
	import railyard_common
	tls /run/secrets/edge_cert.pem /run/secrets/edge_key.pem
	reverse_proxy {
		dynamic a {
			name tasks.st-api
			port 3002
			refresh 1s
			dial_timeout 2s
		}
		lb_policy round_robin
		lb_try_duration 10000ms
		lb_try_interval 100ms
		fail_duration 10s
		max_fails 1
	}
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

  it("routes every domain to its service's tasks and port", async () => {
    const r = await run(stack);
    const text = caddyfileText(r);
    const file = stackFile(stack)["railyard:services"] as Record<string, { port?: number; domains?: string[] }>;
    for (const [name, s] of Object.entries(file)) {
      for (const d of s.domains ?? []) expect(text).toContain(`${d} {\n\timport railyard_common\n\ttls /run/secrets/edge_cert.pem /run/secrets/edge_key.pem\n\treverse_proxy {\n\t\tdynamic a {\n\t\t\tname tasks.${stack}-${name}\n\t\t\tport ${s.port}\n`);
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
