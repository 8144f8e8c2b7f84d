/**
 * Invalid stack files: each one fails with its key path and "expected …, got …", and the program registers
 * no resource at all.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigMap, reveal, ROOT, runStack, stackFile, StackRunError, testSecrets } from "./harness";

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
  { name: "pausing a service the migration's service refers to", mutate: (c) => (svc(c, "frontend").pauseDuringMigration = ["api"], svc(c, "frontend").preDeployCommand = "migrate"), line: "railyard:services.frontend.pauseDuringMigration[0]: expected a service frontend does not need first", contains: "got the cycle api → frontend → api" },
  { name: "two migrations pause one service", mutate: (c) => (svc(c, "frontend").pauseDuringMigration = ["worker"], svc(c, "frontend").preDeployCommand = "migrate"), line: "railyard:services.frontend.pauseDuringMigration[0]: expected a service no other migration pauses (api's pauses it)", contains: 'got "worker"' },
  { name: "two schedulers", mutate: (c) => (svc(c, "beat").replicas = 2), line: "railyard:services.beat.replicas: expected 0 or 1 replicas for a scheduler", contains: "got 2" },
  { name: "a scheduler with a port", mutate: (c) => (svc(c, "beat").port = 8000), line: "railyard:services.beat.port: expected no port on a scheduler service" },
  { name: "an unknown service kind", mutate: (c) => (svc(c, "beat").kind = "cron"), line: "railyard:services.beat.kind: expected web, worker or scheduler", contains: 'got "cron"' },
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
  { name: "database image by tag outside dev", mutate: (c) => (db(c, "postgres").image = "postgres:16"), line: "railyard:databases.postgres.image: expected an image pinned by digest outside dev", contains: 'got "postgres:16"' },
  { name: "database with the engine's default (a tag) outside dev", mutate: (c) => delete db(c, "redis").image, line: "railyard:databases.redis.image: expected an image pinned by digest outside dev (the default redis:7.4-bookworm is a tag)", contains: "got nothing" },
  { name: "edge front image by tag outside dev", mutate: (c) => (edge(c).frontImage = "haproxy:2.6"), line: "railyard:edge.frontImage: expected an image pinned by digest outside dev", contains: 'got "haproxy:2.6"' },
  { name: "a failure ratio the provider would read back rounded", mutate: (c) => (svc(c, "api").update = { maxFailureRatio: 0.25 }), line: "railyard:services.api.update.maxFailureRatio: expected a ratio with one decimal at most", contains: "got 0.25" },
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
  { name: "zero health interval", mutate: (c) => ((svc(c, "api").healthcheck as Record<string, unknown>).interval = "0s"), line: "railyard:services.api.healthcheck.interval: expected a duration of at least 1s" },
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
  { name: "no release kept", mutate: (c) => ((c["railyard:deploy"] as Record<string, unknown>).releasesKept = 0), line: "railyard:deploy.releasesKept: expected 1 to 100 releases", contains: "got 0" },
  { name: "too many releases kept", mutate: (c) => ((c["railyard:deploy"] as Record<string, unknown>).releasesKept = 101), line: "railyard:deploy.releasesKept: expected 1 to 100 releases", contains: "got 101" },
  { name: "releases kept as text", mutate: (c) => ((c["railyard:deploy"] as Record<string, unknown>).releasesKept = "ten"), line: "railyard:deploy.releasesKept: expected a whole number", contains: 'got "ten"' },
  { name: "a deploy webhook secret that is not a name", mutate: (c) => ((c["railyard:deploy"] as Record<string, unknown>).webhookSecret = "https://hooks.example.com/x"), line: "railyard:deploy.webhookSecret: expected a secret name such as DEPLOY_WEBHOOK_URL" },
  { name: "a deploy webhook secret not set", mutate: (c) => ((c["railyard:deploy"] as Record<string, unknown>).webhookSecret = "DEPLOY_WEBHOOK_URL"), line: "railyard:deploy.webhookSecret: expected a secret set with pulumi config set --secret --path 'railyard:secrets.DEPLOY_WEBHOOK_URL'", contains: '"DEPLOY_WEBHOOK_URL", which railyard:secrets does not hold' },
  { name: "a deploy webhook that is not https", mutate: (c, s) => (((c["railyard:deploy"] as Record<string, unknown>).webhookSecret = "DEPLOY_WEBHOOK_URL"), ((s["railyard:secrets"] as Record<string, string>).DEPLOY_WEBHOOK_URL = "http://hooks.example.com/x")), line: "railyard:deploy.webhookSecret: expected a secret holding an https:// URL", contains: "railyard:secrets.DEPLOY_WEBHOOK_URL (value hidden)" },
  { name: "zero health attempts", mutate: (c) => ((c["railyard:deploy"] as Record<string, unknown>).healthCheckAttempts = 0), line: "railyard:deploy.healthCheckAttempts: expected 1 to 200 attempts" },
  { name: "log size in words", mutate: (c) => ((c["railyard:logs"] as Record<string, unknown>).maxSize = "10 MB"), line: "railyard:logs.maxSize: expected a log size" },
  { name: "bad secret name", mutate: (_c, s) => ((s["railyard:secrets"] as Record<string, unknown>)["lower-case"] = "x"), line: "railyard:secrets.lower-case: expected a secret name such as SECRET_KEY" },
];

/** Sets an own property, also for names like __proto__ that a plain assignment would turn into a prototype change. */
const own = (o: object, key: string, value: unknown) => Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
const services = (c: ConfigMap) => c["railyard:services"] as Record<string, Svc>;
const deploy = (c: ConfigMap) => c["railyard:deploy"] as Record<string, unknown>;

/**
 * Hostile stack files (issue 9): derived names, JavaScript's own property names as keys, reference expansion,
 * build paths, bounds the engine and scripts accept, and text that could act on a terminal.
 */
const hardening: Case[] = [
  {
    name: "a service named like another's migration job",
    mutate: (c) => (services(c)["api-migrate"] = { kind: "worker", image: svc(c, "beat").image }),
    line: "railyard:services.api-migrate: expected a name whose derived Swarm service names differ from every other",
    contains: '"staging-api-migrate" is already the migration job of services.api',
  },
  {
    name: "a migration job name over Docker's 63 characters",
    mutate: (c) => {
      c["railyard:prefix"] = "p".repeat(30);
      services(c)["a".repeat(30)] = { kind: "worker", image: svc(c, "beat").image, startCommand: "w", preDeployCommand: "m" };
    },
    line: `railyard:services.${"a".repeat(30)}: expected a shorter name: the migration job of services.${"a".repeat(30)} would be`,
    contains: "69 characters, over Docker's 63",
  },
  {
    name: "a secret env var whose Swarm secret name is over 64 characters",
    mutate: (c) => (svc(c, "api").env![`K${"X".repeat(59)}`] = "${{secrets.SECRET_KEY}}"),
    line: `railyard:services.api.env.K${"X".repeat(59)}: expected a shorter name: the Swarm secret of services.api.env.K`,
    contains: "over Docker's 64",
  },
  { name: "Docker's own network", mutate: (c) => (c["railyard:network"] = "bridge"), line: "railyard:network: expected a network name other than Docker's own (ingress, bridge, host, none, docker_gwbridge)", contains: 'got "bridge"' },
  { name: "a service named constructor", mutate: (c) => own(services(c), "constructor", { kind: "worker", image: svc(c, "beat").image }), line: "railyard:services.constructor: expected a name other than a JavaScript object property" },
  { name: "a service named __proto__", mutate: (c) => own(services(c), "__proto__", { kind: "worker", image: svc(c, "beat").image }), line: "railyard:services.__proto__: expected a lower-case name" },
  { name: "a database named constructor", mutate: (c) => own(c["railyard:databases"] as object, "constructor", { engine: "redis" }), line: "railyard:databases.constructor: expected a name other than a JavaScript object property" },
  { name: "an env var named __proto__", mutate: (c) => own(svc(c, "api").env!, "__proto__", "x"), line: "railyard:services.api.env.__proto__: expected a name other than a JavaScript object property" },
  { name: "an env var named constructor", mutate: (c) => own(svc(c, "beat").env!, "constructor", "x"), line: "railyard:services.beat.env.constructor: expected a name other than a JavaScript object property" },
  { name: "an env var named hasOwnProperty", mutate: (c) => own(svc(c, "beat").env!, "hasOwnProperty", "x"), line: "railyard:services.beat.env.hasOwnProperty: expected a name other than a JavaScript object property" },
  { name: "a reference to constructor", mutate: (c) => (svc(c, "beat").env!.X = "${{constructor.URL}}"), line: "railyard:services.beat.env.X: expected a reference to a known service or database", contains: 'got "${{constructor.URL}}"' },
  { name: "a secret named toString", mutate: (_c, s) => own(s["railyard:secrets"] as object, "toString", "x"), line: "railyard:secrets.toString: expected a secret name such as SECRET_KEY" },
  { name: "a redirect from __proto__", mutate: (c) => own((edge(c).redirects = {}) as object, "__proto__", "staging.example.com"), line: "railyard:edge.redirects.__proto__: expected a name other than a JavaScript object property" },
  {
    name: "references that double at every step",
    mutate: (c) => {
      const chain = services(c);
      for (let i = 0; i < 30; i++) {
        const prev = i === 0 ? "" : `\${{w${i - 1}.V}}`;
        chain[`w${i}`] = { kind: "worker", image: svc(c, "beat").image, env: { V: i === 0 ? "xxxxxxxx" : `${prev}${prev}` } };
      }
    },
    line: "railyard:services.w15.env.V: expected NAME=value of at most 131072 bytes once its references are expanded",
    contains: "got 262147 bytes",
  },
  {
    name: "an expanded value over the kernel's limit in bytes, not characters",
    mutate: (c) => {
      svc(c, "beat").env!.BIG = "€".repeat(32000);
      svc(c, "worker").env!.BIG = "${{beat.BIG}}".repeat(4);
    },
    line: "railyard:services.worker.env.BIG: expected NAME=value of at most 131072 bytes",
    contains: "got 384005 bytes",
  },
  {
    name: "a cycle through many services",
    mutate: (c) => {
      const ring = services(c);
      for (let i = 0; i < 40; i++) ring[`r${i}`] = { kind: "worker", image: svc(c, "beat").image, env: { A: `\${{r${(i + 1) % 40}.A}}`, B: `\${{r${(i + 7) % 40}.B}}` } };
    },
    line: "railyard:services.r0.env.A: expected references without a cycle between services",
    contains: "got the cycle r0 → r1 →",
  },
  { name: "an absolute build context", mutate: (c) => (delete svc(c, "beat").image, (svc(c, "beat").build = { context: "/etc" })), line: "railyard:services.beat.build.context: expected a build context path relative to the project directory", contains: 'got "/etc"' },
  { name: "a build context that leaves the project", mutate: (c) => (delete svc(c, "beat").image, (svc(c, "beat").build = { context: "examples/../../.." })), line: "railyard:services.beat.build.context: expected a build context path inside the project directory" },
  { name: "a Dockerfile outside the project", mutate: (c) => (delete svc(c, "beat").image, (svc(c, "beat").build = { context: ".", dockerfile: "../Dockerfile" })), line: "railyard:services.beat.build.dockerfile: expected a Dockerfile path inside the project directory" },
  { name: "a health path longer than the gate takes", mutate: (c) => ((svc(c, "api").healthcheck as Record<string, unknown>).path = `/${"a".repeat(3000)}`), line: "railyard:services.api.healthcheck.path: expected an HTTP path of at most 1024 characters" },
  { name: "a secret env var the shell cannot assign", mutate: (c) => (svc(c, "beat").env!.UID = "${{secrets.SECRET_KEY}}", (svc(c, "beat").startCommand = "celery beat")), line: "railyard:services.beat.env.UID: expected a variable name the shell assigns as given" },
  { name: "a registry port out of range", mutate: (c) => (svc(c, "beat").image = `registry.example.com:99999/a@sha256:${"1".repeat(64)}`), line: "railyard:services.beat.image: expected an image whose registry is a host name with an optional port from 1 to 65535" },
  { name: "a database image with a registry port out of range", mutate: (c) => (db(c, "redis").image = "localhost:0/redis:7"), line: "railyard:databases.redis.image: expected a registry that is a host name with an optional port from 1 to 65535" },
  {
    name: "more than 100 domains on a service",
    mutate: (c) => (svc(c, "api").domains = Array.from({ length: 101 }, (_, i) => `d${i}.example.com`)),
    line: "railyard:services.api.domains: expected at most 100 domains",
  },
  {
    name: "a migration job whose command line would pass Linux's 128 KiB",
    mutate: (c) => {
      for (let i = 0; i < 5; i++) svc(c, "api").env![`BIG${i}`] = "x".repeat(30000);
    },
    line: "railyard:services.api.env: expected plain env and preDeployCommand of at most 102400 bytes for a service with a preDeployCommand",
  },
  {
    name: "quotes that grow the migration command line",
    mutate: (c) => {
      for (let i = 0; i < 4; i++) svc(c, "api").env![`Q${i}`] = "'".repeat(30000);
    },
    line: "railyard:services.api.env: expected plain env and preDeployCommand of at most 102400 bytes",
  },
  { name: "a secret env var bash keeps for itself", mutate: (c) => (svc(c, "api").env!.RANDOM = "${{secrets.SECRET_KEY}}"), line: "railyard:services.api.env.RANDOM: expected a variable name the shell assigns as given" },
  { name: "a data dir with a trailing slash", mutate: (c) => (host(c).dataDir = "/srv/railyard/"), line: "railyard:host.dataDir: expected an absolute path such as /srv/railyard" },
  { name: "the root as data dir", mutate: (c) => (host(c).dataDir = "/"), line: "railyard:host.dataDir: expected an absolute path" },
  { name: "a data dir too long for the scripts", mutate: (c) => (host(c).dataDir = `/${"a".repeat(1100)}`), line: "railyard:host.dataDir: expected an absolute path of at most 900 characters" },
  { name: "a registry port with a leading zero", mutate: (c) => (svc(c, "beat").image = `registry.example.com:05000/a@sha256:${"1".repeat(64)}`), line: "railyard:services.beat.image: expected an image whose registry is a host name" },
  { name: "a registry host with an underscore", mutate: (c) => (svc(c, "beat").image = `my_reg.example.com/a@sha256:${"1".repeat(64)}`), line: "railyard:services.beat.image: expected an image whose registry is a host name" },
  { name: "a build context that does not exist", mutate: (c) => (delete svc(c, "beat").image, (svc(c, "beat").build = { context: "./nope" })), line: "railyard:services.beat.build.context: expected an existing directory in the project directory", contains: 'got "./nope", which is not one' },
  { name: "a file as build context", mutate: (c) => (delete svc(c, "beat").image, (svc(c, "beat").build = { context: "package.json" })), line: "railyard:services.beat.build.context: expected an existing directory" },
  { name: "a Dockerfile that does not exist", mutate: (c) => (delete svc(c, "beat").image, (svc(c, "beat").build = { context: "examples/app", dockerfile: "examples/app/Nope" })), line: "railyard:services.beat.build.dockerfile: expected an existing file" },
  { name: "more than 100 file secrets", mutate: (c) => (svc(c, "api").secrets = Array.from({ length: 101 }, (_, i) => `S${i}`)), line: "railyard:services.api.secrets: expected at most 100 secrets" },
  {
    name: "more than 100 redirects",
    mutate: (c) => (edge(c).redirects = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`r${i}.example.com`, "staging.example.com"]))),
    line: "railyard:edge.redirects: expected at most 100 redirects",
  },
  { name: "memory over 1024G", mutate: (c) => (svc(c, "api").resources = { memory: "2048G" }), line: "railyard:services.api.resources.memory: expected at most 1024G", contains: 'got "2048G"' },
  { name: "memory that would overflow", mutate: (c) => (svc(c, "api").resources = { memory: "99999999999999999999G" }), line: "railyard:services.api.resources.memory: expected a memory size" },
  { name: "CPUs over 64", mutate: (c) => (svc(c, "api").resources = { cpus: 1e21 }), line: "railyard:services.api.resources.cpus: expected at most 64 CPUs" },
  { name: "a body limit over 10G", mutate: (c) => (edge(c).maxRequestBody = "11G"), line: "railyard:edge.maxRequestBody: expected at most 10G" },
  { name: "a zero migration timeout", mutate: (c) => (deploy(c).migrationTimeout = "0s"), line: "railyard:deploy.migrationTimeout: expected a duration of at least 1s" },
  { name: "a gate interval under a second", mutate: (c) => (deploy(c).healthCheckInterval = "500ms"), line: "railyard:deploy.healthCheckInterval: expected a duration of at least 1s" },
  { name: "a zero log size", mutate: (c) => ((c["railyard:logs"] as Record<string, unknown>).maxSize = "0m"), line: "railyard:logs.maxSize: expected a log size" },
  { name: "a log size over 10g", mutate: (c) => ((c["railyard:logs"] as Record<string, unknown>).maxSize = "20g"), line: "railyard:logs.maxSize: expected a log size of at most 10g" },
  { name: "an edge port on the SSH port", mutate: (c) => (edge(c).httpsPort = 22), line: "railyard:edge.httpsPort: expected a port other than the host's SSH port 22", contains: "got 22" },
  { name: "an edge port on a moved SSH port", mutate: (c) => ((host(c).port = 2222), (edge(c).httpPort = 2222)), line: "railyard:edge.httpPort: expected a port other than the host's SSH port 2222" },
  { name: "an IPv4 octet over 255", mutate: (c) => (host(c).address = "203.0.113.300"), line: "railyard:host.address: expected an IPv4 address of four octets from 0 to 255", contains: 'got "203.0.113.300"' },
  { name: "a postgres user of the server's own", mutate: (c) => (db(c, "postgres").user = "pg_monitor"), line: "railyard:databases.postgres.user: expected an app user other than pg_…", contains: 'got "pg_monitor"' },
  { name: "a postgres template database", mutate: (c) => (db(c, "postgres").database = "template1"), line: "railyard:databases.postgres.database: expected an app database other than template0, template1, pg_…" },
  { name: "mysql's own schema as the app database", mutate: (c) => ((c["railyard:databases"] as Record<string, unknown>).mysql = { engine: "mysql", database: "information_schema" }), line: "railyard:databases.mysql.database: expected an app database other than mysql, sys, information_schema, performance_schema" },
  { name: "mongo's admin database", mutate: (c) => ((c["railyard:databases"] as Record<string, unknown>).mongo = { engine: "mongo", database: "admin" }), line: "railyard:databases.mongo.database: expected an app database other than admin, local, config" },
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

  it.each([...cases, ...hardening])("$name", async (c) => {
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

  it("prints the README's example: a reference problem in an entry that also fails the schema is reported too", async () => {
    const { plain, secret } = fresh();
    svc(plain, "api").port = 70000;
    svc(plain, "api").env!.DATABASE_URL = "${{postgress.DATABASE_URL}}";
    const { message, registered } = await failure(plain, secret);
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const example = /### Config errors[\s\S]*?```\n([\s\S]*?)```/.exec(readme)?.[1].trim();
    expect(example, "the README's config-error example").toBeDefined();
    expect(message).toBe(example);
    expect(registered).toBe(0);
  });

  it("accepts a host key pasted whole from ssh-keyscan, and pins only the key", async () => {
    const { plain, secret } = fresh();
    const key = String(host(plain).hostKey);
    host(plain).hostKey = `203.0.113.10 ${key}`;
    const run = await runStack("staging", plain, secret);
    const bootstrap = run.resources.find((r) => r.type === "command:remote:Command" && r.name === "host-bootstrap");
    expect((reveal(bootstrap?.inputs.connection) as Record<string, unknown>).hostKey).toBe(key);
    host(plain).hostKey = `[203.0.113.10]:2222 ${key}`;
    expect((await runStack("staging", plain, secret)).resources.length).toBeGreaterThan(10);
  });

  it("needs the Cloudflare API token, as a secret, when railyard manages the zone", async () => {
    const { plain, secret } = fresh();
    const token = secret["cloudflare:apiToken"];
    delete secret["cloudflare:apiToken"];
    const missing = await failure(plain, secret);
    expect(missing.message).toContain("cloudflare:apiToken: expected the Cloudflare API token for edge.cloudflare (pulumi config set --secret cloudflare:apiToken");
    expect(missing.registered).toBe(0);
    plain["cloudflare:apiToken"] = token;
    const plainText = await failure(plain, secret);
    expect(plainText.message).toContain("cloudflare:apiToken: expected a secret value (pulumi config set --secret cloudflare:apiToken");
    expect(plainText.message).not.toContain(String(token));
  });

  it("escapes control characters and invisible direction marks in what it prints", async () => {
    const { plain, secret } = fresh();
    svc(plain, "api").domains = ["evil\u001b]0;pwned\u0007.example.com"];
    svc(plain, "beat").env!["X\u202eY"] = "1";
    host(plain).address = "host\u009b2J";
    const { message } = await failure(plain, secret);
    expect(message).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(message).toContain("\\u001b]0;pwned\\u0007");
    expect(message).toContain('railyard:services.beat.env["X\\u202eY"]');
    expect(message).toContain("host\\u009b2J");
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
