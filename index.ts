/**
 * railyard: a stack's story. The stack file is read and checked once (every problem at once, before any
 * resource exists); the host is bootstrapped and more machines join its swarm (railyard:nodes: then everything is
 * placed by node labels); databases come up; services follow in reference order.
 * The edge (Caddy behind a host-port front, Cloudflare DNS and certificate) comes last, in front of the
 * routed services; each release then passes its health gate or is rolled back. A release takes the host's lock
 * before any migration or gate runs, and is recorded on the host once every gate passed.
 */
import * as pulumi from "@pulumi/pulumi";
import { CloudflareZone } from "./components/cloudflareZone";
import { Backups } from "./components/backups";
import { Database } from "./components/database";
import { Edge } from "./components/edge";
import { HealthGate } from "./components/healthGate";
import { PreDeployBackup } from "./components/preDeployBackup";
import { Host } from "./components/host";
import { Node } from "./components/node";
import { Release } from "./components/release";
import { Service } from "./components/service";
import { backupsOutput } from "./config/backups";
import { publicUrls, serviceEdgeProbe } from "./config/edge";
import { deployOrder, pausedBy } from "./config/env";
import { loadStackConfig } from "./config/load";
import { releaseContext } from "./config/releaseContext";
import { recordedStackFile } from "./config/stackFile";
import { durationMs } from "./lib/units";
import { appPlacement, databasePlacement, edgePlacement } from "./lib/placement";

const config = loadStackConfig();
// Who releases which commit (the environment of this `pulumi up`), checked before any resource exists too.
const context = releaseContext(process.env, process.env.RAILYARD_PROJECT_DIR || process.cwd());

const host = new Host("host", {
  stack: config.prefix,
  target: config.host,
  privateKey: config.sshPrivateKey,
  network: config.network,
  registry: config.registry,
  multiNode: Object.keys(config.nodes).length > 0,
  encryptNetwork: config.encryptNetwork,
});

// More machines join the host's swarm (railyard:nodes); with them, everything is placed by node labels.
// (The config check refuses nodes without railyard:sshPrivateKey, in every mode.)
const nodes = Object.entries(config.nodes).map(
  ([name, node]) => new Node(`node-${name}`, { name, config: node, host, privateKey: config.sshPrivateKey ?? "" }),
);
const multiNode = nodes.length > 0;
const placed = nodes.map((n) => n.ready);

const databases: Record<string, Database> = {};
for (const [name, db] of Object.entries(config.databases)) {
  databases[name] = new Database(name, {
    names: config.names.databases[name],
    config: db,
    host,
    secrets: config.secrets,
    stack: config.prefix,
    logs: config.logs,
    placement: multiNode ? databasePlacement(db.node) : undefined,
    dependsOn: placed,
  });
}

// The release: `begin` takes the host lock before any pre-deploy dump, migration, service update or gate runs;
// `record` follows the gates. A stack without services has nothing to release.
const stackFile = recordedStackFile(config.stack);
if (stackFile.why !== undefined) pulumi.log.warn(`railyard: this release records no stack file (${stackFile.why}): a rollback to it cannot restore its config`);
const releaseComponent =
  Object.keys(config.services).length > 0
    ? new Release("release", {
        host,
        stack: config.prefix,
        keep: config.deploy.releasesKept,
        stackFile: stackFile.text,
        context,
        webhook: config.deploy.webhookSecret === undefined ? undefined : config.secrets[config.deploy.webhookSecret],
      })
    : undefined;
const locked = releaseComponent ? [releaseComponent.begin] : [];

const databaseEntries = Object.fromEntries(Object.entries(config.databases).map(([n, db]) => [n, { serviceName: config.names.databases[n].swarm, config: db }]));

// Dumps leave the host for the bucket on their schedules; weekly drills prove the newest one restores.
const bucketBackups =
  config.backups &&
  new Backups("backups", {
    plan: config.backups,
    host,
    stack: config.prefix,
    databases: databaseEntries,
    dependsOn: Object.values(databases),
  });

// Production's pre-deploy backups (per the seeds): every database dumped before any migration runs.
const backup = config.deploy.preDeployBackup
  ? new PreDeployBackup("backup", {
      host,
      databases: databaseEntries,
      keep: config.deploy.backupRetention,
      release: Object.entries(config.services).map(([n, s]) => s.image ?? n),
      dependsOn: [...Object.values(databases), ...locked],
      bucket:
        bucketBackups && config.backups?.preDeployToBucket
          ? { target: bucketBackups.target, stack: config.prefix, databases: config.backups.databases, ready: bucketBackups.ready, timeoutSeconds: bucketBackups.timeoutSeconds }
          : undefined,
    })
  : undefined;

// A service that a migration pauses is updated after that migration (never while its job runs).
const pausers = pausedBy(Object.fromEntries(Object.entries(config.services).map(([n, s]) => [n, s.pauseDuringMigration])));
const services: Record<string, Service> = {};
for (const name of deployOrder(config.env, pausers)) {
  services[name] = new Service(name, {
    names: config.names.services[name],
    config: config.services[name],
    env: config.env[name],
    host,
    databases,
    secrets: config.secrets,
    // Its migration and update wait for the host lock (its image and secrets do not: the release's key needs them).
    dependsOn: [...config.env[name].databases.map((d) => databases[d]), ...config.env[name].services.map((s) => services[s]), ...locked, ...placed],
    stack: config.prefix,
    logs: config.logs,
    placement: multiNode ? appPlacement() : undefined,
    pause: config.services[name].pauseDuringMigration.map((n) => ({
      service: config.names.services[n].swarm,
      stopGraceSeconds: Math.ceil(durationMs(config.services[n].stopGracePeriod) / 1000),
    })),
    // The job script counts whole seconds: a limit such as 1500ms rounds up, never down to nothing.
    migrationTimeoutSeconds: Math.ceil(durationMs(config.deploy.migrationTimeout) / 1000),
    beforeMigration: backup?.commands,
    afterMigrations: (pausers[name] ?? []).flatMap((p) => services[p].migration ?? []),
  });
}

const zone =
  config.edge?.dnsTarget !== undefined && config.edge.settings.cloudflare
    ? new CloudflareZone("cloudflare", {
        zoneId: config.edge.settings.cloudflare.zoneId,
        hostnames: config.edge.hostnames,
        target: config.edge.dnsTarget,
        originCertificate: config.edge.tls === "cloudflare",
      })
    : undefined;

const edge =
  config.edge &&
  new Edge("edge", {
    plan: config.edge,
    host,
    stack: config.prefix,
    names: config.names.edge,
    logs: config.logs,
    certificate: zone?.certificate,
    placement: multiNode ? edgePlacement() : undefined,
    dependsOn: [...config.edge.routes.map((r) => services[r.service]), ...placed],
  });

// Each release passes its health gate (through the edge for routed services) or is rolled back.
const gates: Record<string, HealthGate> = {};
for (const [name, service] of Object.entries(services)) {
  const c = config.services[name];
  const path = c.healthcheck?.path;
  gates[name] = new HealthGate(name, {
    host,
    serviceName: config.names.services[name].swarm,
    image: service.image,
    release: service.release,
    spec: service.service.taskSpec,
    probe: path !== undefined && c.port !== undefined ? { port: c.port, path } : undefined,
    // A service scaled to 0 has no task to answer through the edge: only its (empty) set of tasks is checked.
    edge: path !== undefined && config.edge && c.replicas > 0 ? serviceEdgeProbe(config.edge, name, path) : undefined,
    attempts: config.deploy.healthCheckAttempts,
    intervalSeconds: durationMs(config.deploy.healthCheckInterval) / 1000,
    dependsOn: [service, ...(edge ? [edge] : []), ...locked],
  });
}

// Recorded once every gate passed: each service's image, release and gate, so a rollback can gate alike.
releaseComponent?.complete({
  services: Object.fromEntries(
    Object.entries(services).map(([name, s]) => [
      name,
      { swarm: config.names.services[name].swarm, image: s.image, release: s.release, migration: s.migration !== undefined, gate: gates[name].gate },
    ]),
  ),
  after: Object.values(gates),
});

export const environment = config.environment;
export const network = host.network;
export const swarmServices = Object.fromEntries(
  [...Object.entries(config.names.databases), ...Object.entries(config.names.services)].map(([n, names]) => [n, names.swarm]),
);
export const images = Object.fromEntries(Object.entries(services).map(([n, s]) => [n, s.image]));
export const databaseUrls = pulumi.secret(Object.fromEntries(Object.entries(databases).map(([n, d]) => [n, d.connectionUrl])));
export const deploy = config.deploy;
/** Each routed domain (and path prefix) → its service, and where each answers. */
export const domains = config.edge ? Object.fromEntries(config.edge.routes.map((r) => [`${r.domain}${r.path === "/" ? "" : r.path}`, r.service])) : {};
export const urls = config.edge ? publicUrls(config.edge) : [];
export const edgeService = edge?.caddy.name;
/** Where and when dumps go, and the drills (no key, no webhook URL). */
export const backups = config.backups && backupsOutput(config.backups);
/** The release this run recorded: its number and time on the host, key, who, commit, kind and images (no secret). */
export const release = releaseComponent?.summary;
