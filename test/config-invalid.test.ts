/**
 * Invalid stack files: each one fails with its key path and "expected …, got …", and the program registers
 * no resource at all.
 */
import { describe, expect, it } from "vitest";
import { ConfigMap, runStack, stackFile, StackRunError, testSecrets } from "./harness";

type Svc = Record<string, unknown> & { env?: Record<string, unknown> };
interface Case {
  name: string;
  /** Changes a deep copy of the valid staging config (plain keys and secret keys). */
  mutate: (plain: ConfigMap, secret: ConfigMap) => void;
  /** The problem line's start, and a fragment of what was expected or found. */
  line: string;
  contains?: string;
}

const svc = (c: ConfigMap, name: string) => (c["railyard:services"] as Record<string, Svc>)[name];
const db = (c: ConfigMap, name: string) => (c["railyard:databases"] as Record<string, Svc>)[name];
const host = (c: ConfigMap) => c["railyard:host"] as Record<string, unknown>;
const edge = (c: ConfigMap) => c["railyard:edge"] as Record<string, unknown>;

const cases: Case[] = [
  { name: "pausing an unknown service during a migration", mutate: (c) => (svc(c, "api").pauseDuringMigration = ["workers"]), line: "railyard:services.api.pauseDuringMigration[0]: expected another service of the stack (frontend, worker, beat)", contains: 'got "workers"' },
  { name: "pausing without a migration", mutate: (c) => (svc(c, "frontend").pauseDuringMigration = ["worker"]), line: "railyard:services.frontend.pauseDuringMigration: expected a preDeployCommand to pause services for" },
  { name: "two services claim one domain", mutate: (c) => (svc(c, "frontend").domains = ["api.staging.example.com"]), line: "railyard:services.frontend.domains[0]: expected a domain no other service or entry routes", contains: 'got "api.staging.example.com", also routed to api' },
  { name: "domain outside the Cloudflare zone", mutate: (c) => (svc(c, "api").domains = ["api.example.org"]), line: "railyard:services.api.domains[0]: expected a domain inside the zone example.com", contains: 'got "api.example.org"' },
  { name: "edge.tls cloudflare without a zone", mutate: (c) => delete edge(c).cloudflare, line: "railyard:edge.cloudflare: expected the zone (zoneId and zone) for edge.tls cloudflare", contains: "got nothing" },
  { name: "malformed Cloudflare zone ID", mutate: (c) => ((edge(c).cloudflare as Record<string, unknown>).zoneId = "my-zone"), line: "railyard:edge.cloudflare.zoneId: expected the zone ID (32 hex digits" },
  { name: "plain HTTP outside dev", mutate: (c) => (edge(c).tls = "off"), line: "railyard:edge.tls: expected TLS outside dev (cloudflare, acme or internal)", contains: "got off" },
  { name: "redirect to a domain nobody routes", mutate: (c) => (edge(c).redirects = { "www.example.com": "example.com" }), line: 'railyard:edge.redirects["www.example.com"]: expected a target domain that a service routes', contains: 'got "example.com"' },
  { name: "redirect from a routed domain", mutate: (c) => (edge(c).redirects = { "staging.example.com": "api.staging.example.com" }), line: 'railyard:edge.redirects["staging.example.com"]: expected a domain that no service routes' },
  { name: "domain with capitals or a scheme", mutate: (c) => (svc(c, "api").domains = ["https://API.example.com"]), line: "railyard:services.api.domains[0]: expected a lower-case domain name" },
  { name: "domains on a worker", mutate: (c) => (svc(c, "worker").domains = ["worker.example.com"]), line: "railyard:services.worker.domains: expected no domains on a worker service" },
  { name: "edge image by tag outside dev", mutate: (c) => (edge(c).image = "caddy:latest"), line: "railyard:edge.image: expected an image pinned by digest outside dev", contains: 'got "caddy:latest"' },
  { name: "edge ports equal", mutate: (c) => (edge(c).httpsPort = 80), line: "railyard:edge.httpsPort: expected a port other than httpPort" },
  { name: "unknown edge TLS mode", mutate: (c) => (edge(c).tls = "letsencrypt"), line: "railyard:edge.tls: expected cloudflare, acme, internal or off" },
  { name: "Cloudflare records on a local host without an address", mutate: (c) => (c["railyard:host"] = { mode: "local" }), line: "railyard:edge.publicAddress: expected the address DNS records point at" },
  { name: "port of the wrong type", mutate: (c) => (svc(c, "api").port = "abc"), line: "railyard:services.api.port: expected a whole port number", contains: 'got "abc"' },
  { name: "port too high", mutate: (c) => (svc(c, "api").port = 70000), line: "railyard:services.api.port: expected a port from 1 to 65535", contains: "got 70000" },
  { name: "port zero", mutate: (c) => (svc(c, "frontend").port = 0), line: "railyard:services.frontend.port: expected a port from 1 to 65535" },
  { name: "negative replicas", mutate: (c) => (svc(c, "api").replicas = -1), line: "railyard:services.api.replicas: expected 0 to 50 replicas" },
  { name: "fractional replicas", mutate: (c) => (svc(c, "api").replicas = 2.5), line: "railyard:services.api.replicas: expected a whole number of replicas" },
  { name: "missing host", mutate: (c) => delete c["railyard:host"], line: "railyard:host: expected mode: ssh", contains: "got nothing" },
  { name: "unknown host mode", mutate: (c) => (host(c).mode = "ftp"), line: "railyard:host.mode:" },
  { name: "hostile host address", mutate: (c) => (host(c).address = "203.0.113.10; rm -rf /"), line: "railyard:host.address: expected an IPv4/IPv6 address or a host name" },
  { name: "ssh port as text", mutate: (c) => (host(c).port = "22x"), line: "railyard:host.port: expected a whole port number" },
  { name: "missing private key", mutate: (_c, s) => delete s["railyard:sshPrivateKey"], line: "railyard:sshPrivateKey: expected an SSH private key for host.mode ssh", contains: "pulumi config set --secret railyard:sshPrivateKey" },
  {
    name: "private key set as plain text",
    mutate: (c, s) => {
      c["railyard:sshPrivateKey"] = s["railyard:sshPrivateKey"];
      delete s["railyard:sshPrivateKey"];
    },
    line: "railyard:sshPrivateKey: expected a secret value (cat ~/.ssh/id_ed25519 | pulumi config set --secret railyard:sshPrivateKey)",
    contains: "got a plain, unencrypted value",
  },
  {
    name: "app secrets set as plain text",
    mutate: (c, s) => {
      c["railyard:secrets"] = s["railyard:secrets"];
      delete s["railyard:secrets"];
    },
    line: "railyard:secrets: expected a secret value",
  },
  { name: "missing pinned host key outside dev", mutate: (c) => delete host(c).hostKey, line: "railyard:host.hostKey: expected the host's pinned public key outside dev" },
  { name: "malformed host key", mutate: (c) => (host(c).hostKey = "not-a-key"), line: "railyard:host.hostKey: expected the host's public key" },
  { name: "host key with a newline", mutate: (c) => (host(c).hostKey = "ssh-ed25519 AAAA\nrm -rf /"), line: "railyard:host.hostKey: expected the host's public key" },
  { name: "unknown reference target", mutate: (c) => (svc(c, "api").env!.DATABASE_URL = "${{postgress.DATABASE_URL}}"), line: "railyard:services.api.env.DATABASE_URL: expected a reference to a known service or database", contains: 'got "${{postgress.DATABASE_URL}}"' },
  { name: "unknown variable of a database", mutate: (c) => (svc(c, "api").env!.DATABASE_URL = "${{postgres.MONGO_URL}}"), line: "railyard:services.api.env.DATABASE_URL: expected a variable of database postgres: DATABASE_URL, PGHOST" },
  { name: "malformed reference", mutate: (c) => (svc(c, "api").env!.DATABASE_URL = "${{postgres}}"), line: "railyard:services.api.env.DATABASE_URL: expected references of the form ${{service.VAR}}" },
  { name: "unclosed reference", mutate: (c) => (svc(c, "api").env!.DATABASE_URL = "x ${{postgres.DATABASE_URL"), line: "railyard:services.api.env.DATABASE_URL: expected references of the form" },
  { name: "reference to a missing secret", mutate: (c) => (svc(c, "api").env!.SECRET_KEY = "${{secrets.NOPE}}"), line: "railyard:services.api.env.SECRET_KEY: expected a secret set with pulumi config set --secret --path 'railyard:secrets.NOPE'" },
  { name: "service referring to itself", mutate: (c) => (svc(c, "api").env!.SELF = "${{api.URL}}"), line: "railyard:services.api.env.SELF: expected a reference to another service or a database (not to itself)" },
  {
    name: "reference cycle",
    mutate: (c) => {
      svc(c, "api").env!.BEAT_HOST = "${{beat.HOST}}";
      svc(c, "beat").env!.API_URL = "${{api.URL}}";
    },
    line: "railyard:services.api.env.BEAT_HOST: expected references without a cycle between services",
    contains: "got the cycle api → beat → api",
  },
  { name: "a database named like a service", mutate: (c) => (db(c, "postgres").engine = "postgres", (c["railyard:databases"] as Record<string, unknown>).api = { engine: "redis" }), line: 'railyard:databases.api: expected a name that no service uses', contains: 'got "api", also a service' },
  { name: "service name with capitals", mutate: (c) => ((c["railyard:services"] as Record<string, unknown>).API_Server = { kind: "worker", image: svc(c, "beat").image }), line: "railyard:services.API_Server: expected a lower-case name" },
  { name: "reserved name", mutate: (c) => ((c["railyard:services"] as Record<string, unknown>).secrets = { kind: "worker", image: svc(c, "beat").image }), line: "railyard:services.secrets: expected a name other than secrets, railyard, tasks, edge, front" },
  { name: "misspelt service key", mutate: (c) => (svc(c, "api").imgae = "x"), line: "railyard:services.api.imgae: expected a known key", contains: "got an unknown key" },
  { name: "misspelt top-level key", mutate: (c) => (c["railyard:servics"] = {}), line: "railyard:servics: expected one of the keys environment, prefix, host" },
  { name: "image not pinned outside dev", mutate: (c) => (svc(c, "api").image = "registry.example.com/aponta/api:latest"), line: "railyard:services.api.image: expected an image pinned by digest outside dev" },
  { name: "image and build together", mutate: (c) => (svc(c, "api").build = { context: "./api" }), line: "railyard:services.api.image: expected exactly one of image or build" },
  { name: "worker with a port", mutate: (c) => (svc(c, "worker").port = 8000), line: "railyard:services.worker.port: expected no port on a worker service", contains: "got 8000" },
  { name: "web service without a port", mutate: (c) => delete svc(c, "frontend").port, line: "railyard:services.frontend.port: expected a port for a web service" },
  { name: "worker probed over HTTP", mutate: (c) => (svc(c, "worker").healthcheck = { path: "/health" }), line: "railyard:services.worker.healthcheck.path: expected a healthcheck command on a worker service" },
  { name: "healthcheck with path and command", mutate: (c) => ((svc(c, "api").healthcheck as Record<string, unknown>).command = "true"), line: "railyard:services.api.healthcheck: expected exactly one of healthcheck.path or healthcheck.command" },
  { name: "duration in words", mutate: (c) => ((svc(c, "api").healthcheck as Record<string, unknown>).interval = "5 seconds"), line: "railyard:services.api.healthcheck.interval: expected a duration", contains: 'got "5 seconds"' },
  { name: "health path with shell syntax", mutate: (c) => ((svc(c, "api").healthcheck as Record<string, unknown>).path = "/health;$(reboot)"), line: "railyard:services.api.healthcheck.path: expected an HTTP path" },
  { name: "env name with a dash", mutate: (c) => (svc(c, "api").env!["BAD-NAME"] = "x"), line: "railyard:services.api.env.BAD-NAME: expected an environment variable name" },
  { name: "env value with NUL", mutate: (c) => (svc(c, "api").env!.ENVIRONMENT = "sta\0ging"), line: "railyard:services.api.env.ENVIRONMENT: expected a value without NUL characters" },
  { name: "env value as a list", mutate: (c) => (svc(c, "api").env!.ENVIRONMENT = ["a"]), line: "railyard:services.api.env.ENVIRONMENT: expected a string, number or boolean", contains: "got a list" },
  { name: "unknown engine", mutate: (c) => (db(c, "postgres").engine = "oracle"), line: "railyard:databases.postgres.engine: expected an engine: postgres, mysql, mongo, redis", contains: 'got "oracle"' },
  { name: "redis with a user", mutate: (c) => (db(c, "redis").user = "admin"), line: "railyard:databases.redis.user: expected no user for engine redis" },
  { name: "mysql root as the app user", mutate: (c) => ((c["railyard:databases"] as Record<string, unknown>).mysql = { engine: "mysql", user: "root" }), line: "railyard:databases.mysql.user: expected an app user other than root", contains: 'got "root"' },
  { name: "memory below Docker's minimum", mutate: (c) => (svc(c, "api").resources = { memory: "1K" }), line: "railyard:services.api.resources.memory: expected at least 6M" },
  { name: "zero health interval", mutate: (c) => ((svc(c, "api").healthcheck as Record<string, unknown>).interval = "0s"), line: "railyard:services.api.healthcheck.interval: expected a duration of at least 100ms" },
  { name: "memory in words", mutate: (c) => (svc(c, "api").resources = { memory: "lots" }), line: "railyard:services.api.resources.memory: expected a memory size" },
  { name: "secret env without a start command", mutate: (c) => (svc(c, "frontend").env!.TOKEN = "${{secrets.SECRET_KEY}}"), line: "railyard:services.frontend.startCommand: expected a start command, because env TOKEN hold secrets" },
  { name: "start command as a number", mutate: (c) => (svc(c, "api").startCommand = 123), line: "railyard:services.api.startCommand: expected start command as a string", contains: "got 123" },
  { name: "prefix with punctuation", mutate: (c) => (c["railyard:prefix"] = "Staging!"), line: 'railyard:prefix: expected a lower-case name', contains: 'got "Staging!"' },
  { name: "unknown environment", mutate: (c) => (c["railyard:environment"] = "prod"), line: "railyard:environment: expected dev, staging or production", contains: 'got "prod"' },
  { name: "data dir escaping with ..", mutate: (c) => (host(c).dataDir = "/srv/../etc"), line: "railyard:host.dataDir: expected an absolute path" },
  { name: "data dir with command substitution", mutate: (c) => (host(c).dataDir = "/srv/$(id)"), line: "railyard:host.dataDir: expected an absolute path" },
  { name: "file secret that does not exist", mutate: (c) => (svc(c, "api").secrets = ["NOPE"]), line: "railyard:services.api.secrets[0]: expected a secret set with pulumi config set --secret" },
  { name: "duplicate file secret", mutate: (c) => (svc(c, "api").secrets = ["SECRET_KEY", "SECRET_KEY"]), line: "railyard:services.api.secrets[1]: expected each secret once" },
  { name: "services as text", mutate: (c) => (c["railyard:services"] = "api"), line: "railyard:services: expected a map of service names", contains: 'got "api"' },
  {
    name: "a secret hidden inside services",
    mutate: (c, s) => {
      s["railyard:services"] = c["railyard:services"];
      delete c["railyard:services"];
    },
    line: "railyard:services: expected plain configuration; secret values belong in railyard:secrets",
  },
  { name: "zero health attempts", mutate: (c) => ((c["railyard:deploy"] as Record<string, unknown>).healthCheckAttempts = 0), line: "railyard:deploy.healthCheckAttempts: expected 1 to 200 attempts" },
  { name: "log size in words", mutate: (c) => ((c["railyard:logs"] as Record<string, unknown>).maxSize = "10 MB"), line: "railyard:logs.maxSize: expected a log size" },
  { name: "bad secret name", mutate: (_c, s) => ((s["railyard:secrets"] as Record<string, unknown>)["lower-case"] = "x"), line: "railyard:secrets.lower-case: expected a secret name such as SECRET_KEY" },
];

function fresh(): { plain: ConfigMap; secret: ConfigMap } {
  return { plain: structuredClone(stackFile("staging")), secret: structuredClone(testSecrets("staging")) };
}

async function failure(plain: ConfigMap, secret: ConfigMap): Promise<{ message: string; registered: number }> {
  let registered = -1;
  try {
    const run = await runStack("staging", plain, secret);
    registered = run.resources.length;
  } catch (e) {
    if (!(e instanceof StackRunError)) throw e;
    return { message: e.message, registered: e.resources.length };
  }
  throw new Error(`expected the program to fail, but it registered ${registered} resources`);
}

describe("invalid stack configs", () => {
  it("has at least 30 distinct cases", () => {
    expect(new Set(cases.map((c) => c.line)).size).toBeGreaterThanOrEqual(30);
  });

  it("the unmodified staging config is valid", async () => {
    const { plain, secret } = fresh();
    const run = await runStack("staging", plain, secret);
    expect(run.resources.length).toBeGreaterThan(10);
  });

  it.each(cases)("$name", async (c) => {
    const { plain, secret } = fresh();
    c.mutate(plain, secret);
    const { message, registered } = await failure(plain, secret);
    expect(message).toContain("no resource was registered");
    const lines = message.split("\n").map((l) => l.trim());
    const line = lines.find((l) => l.startsWith(c.line));
    expect(line, `no line starting with ${c.line} in:\n${message}`).toBeDefined();
    expect(line).toMatch(/^railyard:[^:]+: expected .+, got .+$/s);
    if (c.contains) expect(line).toContain(c.contains);
    expect(registered).toBe(0);
  });

  it("reports every problem at once", async () => {
    const { plain, secret } = fresh();
    svc(plain, "api").port = 0;
    db(plain, "redis").engine = "oracle";
    svc(plain, "worker").env!.X = "${{nowhere.X}}";
    const { message } = await failure(plain, secret);
    expect(message).toContain("has 3 problems");
    expect(message).toContain("railyard:services.api.port:");
    expect(message).toContain("railyard:databases.redis.engine:");
    expect(message).toContain("railyard:services.worker.env.X:");
  });

  it("never prints a secret value in an error", async () => {
    const { plain, secret } = fresh();
    secret["railyard:sshPrivateKey"] = "hunter2-not-a-key";
    (secret["railyard:secrets"] as Record<string, unknown>).SECRET_KEY = 12345;
    const { message } = await failure(plain, secret);
    expect(message).toContain("railyard:sshPrivateKey: expected an SSH private key in PEM/OpenSSH format, got a secret string (value hidden)");
    expect(message).toContain("railyard:secrets.SECRET_KEY: expected secret value as a string, got a secret number (value hidden)");
    expect(message).not.toContain("hunter2");
    expect(message).not.toContain("12345");
  });
});
