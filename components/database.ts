/**
 * Database: a Railway-like database plugin (postgres, mysql, mongo, redis) as a single-replica Swarm service.
 * Its data lives in a named volume that Pulumi never deletes; its password (generated, or an entry of
 * railyard:secrets named by passwordSecret) reaches the container only as a Swarm secret; it is updated
 * stop-first and health-checked with the engine's own client.
 * Postgres, MySQL and Mongo apply the password only when they initialise an empty volume, so the password
 * railyard holds could drift from the one the volume keeps (a lost state regenerates it). A new password is
 * therefore set in the running database before the update that mounts it (`<name>-password-rotate`), and after
 * the database settles `<name>-password-check` signs in with it over the apps' network, failing `pulumi up`
 * before any service that uses the database is updated (services depend on this component). Redis reads the
 * secret on every start: it needs neither.
 * Services reference its `variables` (DATABASE_URL, PGHOST, …); the ones holding the password are secret Outputs.
 * On one node its spec declares no placement (the volume is always there); on several it is pinned to the node
 * that holds its volume, with the platforms the provider's create adds to a placement ignored (lib/placement.ts),
 * or the next `pulumi up` would restart it. Any change to its declaration restarts it, since the provider sends env in map order; nothing
 * outside the database's own entry, the stack's log settings and railyard itself feeds that declaration.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { DatabaseNames } from "../config/names";
import type { DatabaseConfig } from "../config/schema";
import { databaseNodeCommand } from "../commands/nodes";
import { passwordCheckCommand, PasswordArgs, passwordRotateCommand, passwordStdin } from "../commands/password";
import { PLUGINS } from "../databases";
import { ContainerInputs, DatabasePlugin, endpointOf, PASSWORD_LENGTH, PASSWORD_SECRET_FILE, PASSWORD_SECRET_PATH } from "../databases/plugin";
import { Placement, placed, placedOptions } from "../lib/placement";
import { fixedName, LogSettings, logDriver, railyardLabels, resourceLimits, secretFile, serviceImage, swarmSecret } from "../lib/swarmSpec";
import { settleGate } from "./settleGate";
import type { Host } from "./host";

export interface DatabaseArgs {
  /** Its derived names (config/names.ts): Swarm service (also its DNS name), volume, password secret. */
  names: DatabaseNames;
  /** The stack file's entry: engine, image (default per engine), user, database, limits. */
  config: DatabaseConfig;
  host: Host;
  /** The stack's app secrets (secret Outputs): passwordSecret names one. */
  secrets: Record<string, pulumi.Output<string>>;
  stack: string;
  logs: LogSettings;
  /**
   * Where its task may run: the node that holds its volume (lib/placement.ts databasePlacement), given only when
   * the stack declares nodes. @default none (the spec declares no placement: on one node the volume is always there)
   */
  placement?: Placement;
  /** What its service and commands wait for besides the host (the nodes' labels on a stack with nodes). @default [] */
  dependsOn?: pulumi.Resource[];
}

export class Database extends pulumi.ComponentResource {
  readonly plugin: DatabasePlugin;
  readonly service: docker.Service;
  readonly volume: docker.Volume;
  /** Swarm's own verdict on each update (railyard-gate.sh --settle), after convergeConfig. */
  readonly gate: pulumi.CustomResource;
  /** Sets a new password in the running database before the update that mounts it (none for Redis). */
  readonly rotation?: pulumi.CustomResource;
  /**
   * With a placement: before the service is updated, its data's node is checked (railyard-nodes.sh database-node):
   * a changed `node` without `moveFrom` naming the old one fails instead of starting it on an empty volume.
   */
  readonly nodeCheck?: pulumi.CustomResource;
  /** After the gate: the password railyard holds opens the database over the apps' network (none for Redis). */
  readonly check?: pulumi.CustomResource;
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
    const childOpts = { parent: this, provider: args.host.provider, dependsOn: [args.host.ready, ...(args.dependsOn ?? [])] };
    const password = databasePassword(name, args, this);
    const secret = swarmSecret(args.names.passwordSecret, password, railyardLabels(args.stack, "database", name), childOpts);
    this.volume = new docker.Volume(
      `${name}-data`,
      { name: args.names.volume, labels: railyardLabels(args.stack, "database", name) },
      { ...childOpts, retainOnDelete: true },
    );
    const step: PasswordArgs = { name, service: args.names.swarm, engine: plugin.engine, user: endpoint.user, database: endpoint.database };
    const script = args.host.scriptPath("railyard-dbpass.sh");
    const stdin = password.apply(passwordStdin);
    // Run again whenever the password changes: a new value is a new auto-named Swarm secret.
    this.rotation = plugin.passwordFromSecretOnStart
      ? undefined
      : args.host.run(
          `${name}-password-rotate`,
          { create: passwordRotateCommand(script, step), stdin, triggers: [secret.name] },
          { parent: this, dependsOn: [...args.host.scriptsReady, secret] },
        );
    this.nodeCheck = args.placement === undefined ? undefined : nodeCheck(name, args, this);
    this.service = databaseService(name, args, plugin, inputs, secret, this.volume, {
      ...childOpts,
      dependsOn: [...childOpts.dependsOn, ...(this.rotation ? [this.rotation] : []), ...(this.nodeCheck ? [this.nodeCheck] : [])],
    });
    this.gate = settleGate(name, args.host, this.service, args.names.swarm, this);
    // Also when the service is created anew (a stack deployed again over its kept volume).
    this.check = plugin.passwordFromSecretOnStart
      ? undefined
      : args.host.run(
          `${name}-password-check`,
          { create: passwordCheckCommand(script, { ...step, network: args.host.network }), stdin, triggers: [secret.name, this.service.id] },
          { parent: this, dependsOn: [...args.host.scriptsReady, this.gate] },
        );
    this.variables = Object.fromEntries(
      plugin.variables.map((v) => [
        v.name,
        v.secret
          ? pulumi.secret(password.apply((pw) => v.value({ ...endpoint, password: pw })))
          : pulumi.output(v.value({ ...endpoint, password: "" })),
      ]),
    );
    this.connectionUrl = this.variables[plugin.variables[0].name];
    this.registerOutputs({ serviceName: args.names.swarm, connectionUrl: this.connectionUrl });
  }
}

/**
 * The password: the railyard:secrets entry passwordSecret names (the config checked it exists), or one generated
 * and kept in the Pulumi state, regenerated whenever passwordVersion changes (a keeper only when set, so stacks
 * that never set it keep theirs).
 */
function databasePassword(name: string, args: DatabaseArgs, parent: pulumi.Resource): pulumi.Output<string> {
  const chosen = args.config.passwordSecret;
  if (chosen !== undefined) {
    if (!Object.hasOwn(args.secrets, chosen)) throw new Error(`railyard: databases.${name}.passwordSecret names ${chosen}, which railyard:secrets does not hold`);
    return pulumi.secret(args.secrets[chosen]);
  }
  const version = args.config.passwordVersion;
  return new random.RandomPassword(
    `${name}-password`,
    { length: PASSWORD_LENGTH, special: false, ...(version === undefined ? {} : { keepers: { passwordVersion: String(version) } }) },
    { parent },
  ).result;
}

/** Seconds the node check may take. */
const NODE_CHECK_TIMEOUT_S = 60;

/** The data's node checked before the update (run again whenever node or moveFrom changes). */
function nodeCheck(name: string, args: DatabaseArgs, parent: Database): pulumi.CustomResource {
  const check = { service: args.names.swarm, node: args.config.node, moveFrom: args.config.moveFrom };
  return args.host.run(
    `${name}-node-check`,
    {
      create: databaseNodeCommand(args.host.scriptPath("railyard-nodes.sh"), check, NODE_CHECK_TIMEOUT_S),
      triggers: [check.node, check.moveFrom ?? ""],
    },
    { parent, dependsOn: [...args.host.scriptsReady, ...(args.dependsOn ?? [])] },
  );
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
        ...placed(args.placement),
      },
      endpointSpec: { mode: "dnsrr" },
      updateConfig: { parallelism: 1, order: "stop-first", failureAction: "pause", monitor: "30s" },
      convergeConfig: { delay: "2s", timeout: "5m" },
    },
    placedOptions(fixedName(opts), args.placement),
  );
}
