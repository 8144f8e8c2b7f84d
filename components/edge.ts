/**
 * Edge: the way in from the internet. Two Swarm services on the stack's network:
 * - `<prefix>-edge`: Caddy (replicas, start-first), its Caddyfile a Swarm config named by its content, so a
 *   changed Caddyfile rolls new Caddy tasks in before the old ones leave. It routes each domain to
 *   `tasks.<service>`, redirects, adds security headers, logs JSON, and terminates TLS.
 * - `<prefix>-front`: HAProxy holding the host's ports (host mode) and passing TCP to the Caddy tasks. Swarm
 *   cannot start a second task on a node whose host-mode port is taken (measured: the update stays pending
 *   with "host-mode port already in use"), so whatever holds the ports rolls stop-first. The front is that
 *   one: its config names only the Caddy tasks and ports, so it almost never changes.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { httpHealthcheck } from "../commands/container";
import type { EdgePlan } from "../config/edge";
import type { EdgeNames } from "../config/names";
import { durationMs } from "../lib/units";
import { Placement, placed, placedOptions } from "../lib/placement";
import { contentNamedConfig, fixedName, LogSettings, logDriver, railyardLabels, resourceLimits, secretFile, serviceImage, swarmSecret } from "../lib/swarmSpec";
import { caddyfile, EDGE_CERT_FILE, EDGE_HEALTH_PORT, EDGE_KEY_FILE } from "../render/caddyfile";
import { haproxyConfig } from "../render/haproxy";
import { settleGate } from "./settleGate";
import type { Host } from "./host";

export interface EdgeCertificate {
  /** PEM certificate chain (e.g. from Cloudflare's Origin CA). */
  certPem: pulumi.Input<string>;
  /** PEM private key (secret). */
  keyPem: pulumi.Input<string>;
}

export interface EdgeArgs {
  /** Routes, redirects, TLS mode and settings (config/edge.ts). */
  plan: EdgePlan;
  host: Host;
  /** The stack prefix (labels). */
  stack: string;
  /** Its derived names (config/names.ts): the Caddy and front services, volume, configs. */
  names: EdgeNames;
  logs: LogSettings;
  /** Required when plan.tls is "cloudflare": the certificate Caddy serves. */
  certificate?: EdgeCertificate;
  /** What must exist first (the routed services, so their DNS names resolve). */
  dependsOn?: pulumi.Resource[];
  /**
   * Where Caddy and the front may run: the nodes that hold the public address (lib/placement.ts edgePlacement;
   * the front's host-mode ports must be on them), given only when the stack declares nodes.
   * @default none (the specs declare no placement, as on one node)
   */
  placement?: Placement;
}

const CONFIG_DIR = "/etc/railyard";
/** Inside the containers the edge always listens on 80 and 443; the front maps the host's ports onto them. */
const HTTP = 80;
const HTTPS = 443;

export class Edge extends pulumi.ComponentResource {
  readonly caddy: docker.Service;
  readonly front: docker.Service;
  /** Swarm's own verdict on each update of the two (railyard-gate.sh --settle), after convergeConfig. */
  readonly gates: pulumi.CustomResource[];
  /** The Caddyfile the edge runs (plain text; it holds no secret). */
  readonly caddyfile: string;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:Edge", name, {}, opts);
    if (args.plan.tls === "cloudflare" && !args.certificate) throw new Error("railyard: edge.tls cloudflare needs the Origin CA certificate");
    const childOpts = { parent: this, provider: args.host.provider, dependsOn: [args.host.ready, ...(args.dependsOn ?? [])] };
    this.caddyfile = caddyfile(args.plan);
    this.caddy = caddyService(name, args, this.caddyfile, childOpts);
    this.front = frontService(name, args, childOpts);
    this.gates = [settleGate(name, args.host, this.caddy, args.names.caddy, this), settleGate(`${name}-front`, args.host, this.front, args.names.front, this)];
    this.registerOutputs({ caddy: this.caddy.name, front: this.front.name });
  }
}

function caddyService(name: string, args: EdgeArgs, text: string, opts: pulumi.CustomResourceOptions): docker.Service {
  const labels = railyardLabels(args.stack, "edge", name);
  const config = contentNamedConfig(`${name}-caddyfile`, args.names.caddyfileConfig, text, labels, opts);
  const secrets = args.certificate
    ? [
        secretFile(swarmSecret(`${name}-cert`, args.certificate.certPem, labels, opts), EDGE_CERT_FILE),
        { ...secretFile(swarmSecret(`${name}-key`, args.certificate.keyPem, labels, opts), EDGE_KEY_FILE), fileMode: 0o400 },
      ]
    : [];
  // ACME account and certificates (and the internal CA) survive task replacement and a stack's removal.
  const data = new docker.Volume(`${name}-data`, { name: args.names.volume, labels }, { ...opts, retainOnDelete: true });
  const update = { parallelism: 1, delay: "0s", monitor: "10s", maxFailureRatio: "0.0", order: "start-first" };
  return new docker.Service(
    name,
    {
      name: args.names.caddy,
      labels,
      mode: { replicated: { replicas: args.plan.settings.replicas } },
      taskSpec: {
        containerSpec: {
          image: serviceImage(`${name}-image`, args.plan.settings.image, opts),
          commands: ["caddy", "run", "--config", `${CONFIG_DIR}/Caddyfile`, "--adapter", "caddyfile"],
          env: { XDG_DATA_HOME: "/data", XDG_CONFIG_HOME: "/config" },
          configs: [{ configId: config.id, configName: config.name, fileName: `${CONFIG_DIR}/Caddyfile`, fileMode: 0o444 }],
          secrets,
          mounts: [{ type: "volume", source: data.name, target: "/data" }],
          healthcheck: {
            tests: httpHealthcheck(EDGE_HEALTH_PORT, "/healthz"),
            interval: "1s",
            timeout: "2s",
            retries: 3,
            startPeriod: "10s",
          },
          stopGracePeriod: "15s",
        },
        networksAdvanceds: [{ id: args.host.networkId }],
        restartPolicy: { condition: "any", maxAttempts: 10, delay: "2s", window: "2m" },
        resources: resourceLimits(args.plan.settings.resources),
        logDriver: logDriver(args.logs),
        ...placed(args.placement),
      },
      endpointSpec: { mode: "dnsrr" },
      updateConfig: { ...update, failureAction: "rollback" },
      rollbackConfig: { ...update, failureAction: "pause" },
      convergeConfig: { delay: "2s", timeout: "5m" },
    },
    placedOptions(fixedName(opts), args.placement),
  );
}

function frontService(name: string, args: EdgeArgs, opts: pulumi.CustomResourceOptions): docker.Service {
  const s = args.plan.settings;
  const labels = railyardLabels(args.stack, "front", name);
  const listen = args.plan.tls === "off" ? [HTTP] : [HTTP, HTTPS];
  const text = haproxyConfig({ upstream: args.names.caddyTasks, ports: listen, idleSeconds: Math.round(durationMs(s.timeouts.idle) / 1000) });
  const config = contentNamedConfig(`${name}-front-config`, args.names.frontConfig, text, labels, opts);
  const published = (target: number) => (target === HTTP ? s.httpPort : s.httpsPort);
  // Host-mode ports on one node: the old task must leave before the new one can bind (stop-first).
  const update = { parallelism: 1, delay: "0s", monitor: "5s", maxFailureRatio: "0.0", order: "stop-first" };
  return new docker.Service(
    `${name}-front`,
    {
      name: args.names.front,
      labels,
      mode: { replicated: { replicas: 1 } },
      taskSpec: {
        containerSpec: {
          image: serviceImage(`${name}-front-image`, s.frontImage, opts),
          commands: ["haproxy", "-W", "-db", "-f", `${CONFIG_DIR}/haproxy.cfg`],
          configs: [{ configId: config.id, configName: config.name, fileName: `${CONFIG_DIR}/haproxy.cfg`, fileMode: 0o444 }],
          stopGracePeriod: "10s",
        },
        networksAdvanceds: [{ id: args.host.networkId }],
        restartPolicy: { condition: "any", maxAttempts: 0, delay: "1s", window: "0s" },
        logDriver: logDriver(args.logs),
        ...placed(args.placement),
      },
      endpointSpec: {
        mode: "dnsrr",
        ports: listen.map((target) => ({ targetPort: target, publishedPort: published(target), protocol: "tcp", publishMode: "host" })),
      },
      updateConfig: { ...update, failureAction: "rollback" },
      rollbackConfig: { ...update, failureAction: "pause" },
      convergeConfig: { delay: "2s", timeout: "5m" },
    },
    placedOptions(fixedName(opts), args.placement),
  );
}
