/**
 * Database: a Railway-like database plugin (postgres, mysql, mongo, redis) as a single-replica Swarm service.
 * Its data lives in a named volume that Pulumi never deletes; its password is generated and reaches the
 * container only as a Swarm secret; it is updated stop-first and health-checked with the engine's own client.
 * Services reference its `variables` (DATABASE_URL, PGHOST, …); the ones holding the password are secret Outputs.
 * Its spec declares no placement: on one node the volume is always there, and a declared placement would make
 * the next `pulumi up` restart it (the provider's create adds the registry's platforms to it, which its next
 * diff removes). Any change to its declaration restarts it, since the provider sends env in map order; nothing
 * outside the database's own entry, the stack's log settings and railyard itself feeds that declaration.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { DatabaseNames } from "../config/names";
import type { DatabaseConfig } from "../config/schema";
import { PLUGINS } from "../databases";
import { ContainerInputs, DatabasePlugin, endpointOf, PASSWORD_LENGTH, PASSWORD_SECRET_FILE, PASSWORD_SECRET_PATH } from "../databases/plugin";
import { fixedName, LogSettings, logDriver, railyardLabels, resourceLimits, secretFile, serviceImage, swarmSecret } from "../lib/swarmSpec";
import { settleGate } from "./settleGate";
import type { Host } from "./host";

export interface DatabaseArgs {
  /** Its derived names (config/names.ts): Swarm service (also its DNS name), volume, password secret. */
  names: DatabaseNames;
  /** The stack file's entry: engine, image (default per engine), user, database, limits. */
  config: DatabaseConfig;
  host: Host;
  stack: string;
  logs: LogSettings;
}

export class Database extends pulumi.ComponentResource {
  readonly plugin: DatabasePlugin;
  readonly service: docker.Service;
  readonly volume: docker.Volume;
  /** Swarm's own verdict on each update (railyard-gate.sh --settle), after convergeConfig. */
  readonly gate: pulumi.CustomResource;
  /** Variables services may reference; those holding the password are secret. */
  readonly variables: Record<string, pulumi.Output<string>>;
  /** The connection URL (secret). */
  readonly connectionUrl: pulumi.Output<string>;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:Database", name, {}, opts);
    this.plugin = PLUGINS[args.config.engine];
    const plugin = this.plugin;
    const endpoint = endpointOf(plugin, args.names.swarm, args.config);
    const inputs: ContainerInputs = { user: endpoint.user, database: endpoint.database, passwordFile: PASSWORD_SECRET_PATH };
    const childOpts = { parent: this, provider: args.host.provider, dependsOn: [args.host.ready] };
    const password = new random.RandomPassword(`${name}-password`, { length: PASSWORD_LENGTH, special: false }, { parent: this });
    const secret = swarmSecret(args.names.passwordSecret, password.result, railyardLabels(args.stack, "database", name), childOpts);
    this.volume = new docker.Volume(
      `${name}-data`,
      { name: args.names.volume, labels: railyardLabels(args.stack, "database", name) },
      { ...childOpts, retainOnDelete: true },
    );
    this.service = databaseService(name, args, plugin, inputs, secret, this.volume, childOpts);
    this.gate = settleGate(name, args.host, this.service, args.names.swarm, this);
    this.variables = Object.fromEntries(
      plugin.variables.map((v) => [
        v.name,
        v.secret
          ? pulumi.secret(password.result.apply((pw) => v.value({ ...endpoint, password: pw })))
          : pulumi.output(v.value({ ...endpoint, password: "" })),
      ]),
    );
    this.connectionUrl = this.variables[plugin.variables[0].name];
    this.registerOutputs({ serviceName: args.names.swarm, connectionUrl: this.connectionUrl });
  }
}

function databaseService(
  name: string,
  args: DatabaseArgs,
  plugin: DatabasePlugin,
  inputs: ContainerInputs,
  secret: docker.Secret,
  volume: docker.Volume,
  opts: pulumi.CustomResourceOptions,
): docker.Service {
  return new docker.Service(
    name,
    {
      name: args.names.swarm,
      labels: railyardLabels(args.stack, "database", name),
      mode: { replicated: { replicas: 1 } },
      taskSpec: {
        containerSpec: {
          image: serviceImage(`${name}-image`, args.config.image ?? plugin.defaultImage, opts),
          commands: plugin.command?.(inputs),
          env: plugin.containerEnv(inputs),
          secrets: [secretFile(secret, PASSWORD_SECRET_FILE)],
          mounts: [{ type: "volume", source: volume.name, target: plugin.dataPath }],
          healthcheck: { tests: plugin.healthcheck(inputs), interval: "5s", timeout: "5s", retries: 5, startPeriod: "1m" },
          stopGracePeriod: args.config.stopGracePeriod,
        },
        networksAdvanceds: [{ id: args.host.networkId }],
        // Every field declared: the provider sends an unset one as 0 and reads it back ("0s"), which would differ.
        restartPolicy: { condition: "any", delay: "5s", maxAttempts: 0, window: "0s" },
        resources: resourceLimits(args.config.resources),
        logDriver: logDriver(args.logs),
      },
      endpointSpec: { mode: "dnsrr" },
      updateConfig: { parallelism: 1, order: "stop-first", failureAction: "pause", monitor: "30s" },
      convergeConfig: { delay: "2s", timeout: "5m" },
    },
    fixedName(opts),
  );
}
