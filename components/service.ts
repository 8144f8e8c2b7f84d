/**
 * Service: a Railway-like service (web, worker or scheduler) as a Swarm service. Image pinned by digest, or built on
 * the host from a build context. Updates roll start-first (a scheduler's stop-first: never two at once) with
 * `failure_action: rollback` and a monitor window; tasks run under Docker's init, so SIGTERM reaches the app;
 * the health gate (components/healthGate.ts) waits for the release and rolls it back when it fails; Swarm's own
 * rollback stays as a backstop. A preDeployCommand runs first as a one-off job from the new image. Env values that hold
 * secrets (database passwords, app secrets) arrive as Swarm secret files and are exported by the start command;
 * the rest are plain env.
 */
import { createHash } from "node:crypto";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { commandHealthcheck, envSecretFile, httpHealthcheck, startCommand } from "../commands/container";
import { migrateCommand, migrationStdin } from "../commands/migrate";
import type { EnvVar, ServiceEnvPlan } from "../config/env";
import type { ServiceNames } from "../config/names";
import { registryFor } from "../config/registry";
import type { ServiceConfig } from "../config/schema";
import { jobPlacement, Placement, placed, placedOptions } from "../lib/placement";
import { fixedName, LogSettings, logDriver, railyardLabels, resourceLimits, secretFile, serviceImage, swarmSecret } from "../lib/swarmSpec";
import { durationMs, goDuration } from "../lib/units";
import type { Database } from "./database";
import type { Host } from "./host";

export interface ServiceArgs {
  /** Its derived names (config/names.ts): Swarm service (also its DNS name), migration job, secrets. */
  names: ServiceNames;
  /** The stack file's entry (kind, image or build, startCommand, replicas, port, healthcheck, …). */
  config: ServiceConfig;
  /** The service's env with references expanded (see config/env.ts). */
  env: ServiceEnvPlan;
  host: Host;
  /** The stack's databases, whose variables the env refers to. */
  databases: Record<string, Database>;
  /** The stack's app secrets (secret Outputs). */
  secrets: Record<string, pulumi.Output<string>>;
  /** Services this one refers to; they deploy first. */
  dependsOn?: pulumi.Resource[];
  stack: string;
  logs: LogSettings;
  /**
   * Services scaled to 0 while the preDeployCommand runs (pauseDuringMigration): Swarm name and stop grace period
   * in whole seconds (the migration step's outer timeout leaves room for them to stop).
   */
  pause: { service: string; stopGraceSeconds: number }[];
  /** Seconds the preDeployCommand may run (railyard:deploy.migrationTimeout). */
  migrationTimeoutSeconds: number;
  /** Must finish before the migration runs (the pre-deploy backups). */
  beforeMigration?: pulumi.Resource[];
  /**
   * The migrations that pause this service (pauseDuringMigration of other services): its update waits for them, so
   * `pulumi up` never rolls it while a job runs, nor starts it beside the one the job restored.
   */
  afterMigrations?: pulumi.Resource[];
  /**
   * Where its tasks may run (lib/placement.ts appPlacement; its migration job then runs on the main host), given only when the stack
   * declares nodes. Not part of the release (RAILYARD_RELEASE): Swarm moves tasks for a placement without a new
   * release. @default none (the spec declares no placement, as on one node)
   */
  placement?: Placement;
}

export class Service extends pulumi.ComponentResource {
  readonly service: docker.Service;
  /** The image reference the tasks run (a digest). */
  readonly image: pulumi.Output<string>;
  /**
   * The release: a hash of the whole declared task template (image, command, env, secrets, limits, health check,
   * restart policy, logging), carried by every task in its env as RAILYARD_RELEASE. The health gate tells the
   * release's tasks from any other by it, also after a rollback. (Not a container label: the provider replaces a
   * service whose container labels change.)
   */
  readonly release: pulumi.Output<string>;
  /** The preDeployCommand's job, when there is one: services it pauses are updated after it. */
  readonly migration?: pulumi.Resource;

  constructor(name: string, args: ServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:Service", name, {}, opts);
    const childOpts = {
      parent: this,
      provider: args.host.provider,
      dependsOn: [args.host.ready, ...(args.dependsOn ?? [])],
    };
    // The image and the Swarm secrets wait for the host alone, not for the services this one refers to: the
    // release's key (components/release.ts) needs every image and release before the first migration may run.
    const inputOpts = { ...childOpts, dependsOn: [args.host.ready] };
    this.image = args.config.build
      ? builtImage(name, args, inputOpts).repoDigest
      : serviceImage(`${name}-image`, args.config.image ?? "", inputOpts);
    const labels = railyardLabels(args.stack, args.config.kind, name);
    const plain: Record<string, pulumi.Input<string>> = {};
    const secretRefs: docker.types.input.ServiceTaskSpecContainerSpecSecret[] = [];
    for (const [variable, v] of Object.entries(args.env.vars)) {
      const value = envValue(v, args);
      if (!v.secret) {
        plain[variable] = value;
        continue;
      }
      const secret = swarmSecret(args.names.envSecret(variable), value, labels, inputOpts);
      secretRefs.push(secretFile(secret, envSecretFile(variable)));
    }
    for (const secretName of args.config.secrets) {
      const secret = swarmSecret(args.names.fileSecret(secretName), args.secrets[secretName], labels, inputOpts);
      secretRefs.push(secretFile(secret, secretName));
    }
    const secretVars = Object.keys(args.env.vars).filter((v) => args.env.vars[v].secret);
    const migration =
      args.config.preDeployCommand === undefined
        ? undefined
        : migrationJob(name, args, this.image, plain, secretRefs, secretVars, {
            ...childOpts,
            dependsOn: [...childOpts.dependsOn, ...args.host.scriptsReady, ...(args.beforeMigration ?? [])],
          });
    this.migration = migration;
    const declared = swarmService(name, args, this.image, plain, secretRefs, secretVars, {
      ...childOpts,
      dependsOn: [...childOpts.dependsOn, ...(migration ? [migration] : []), ...(args.afterMigrations ?? [])],
    });
    this.service = declared.service;
    this.release = declared.release;
    this.registerOutputs({ serviceName: args.names.swarm, image: this.image, release: this.release });
  }
}

/**
 * The preDeployCommand as a one-off Swarm job from the NEW image with the service's network, env and secrets,
 * run before the service is updated (it depends on this); re-run whenever the image changes. A failure fails
 * `pulumi up` before any task is replaced.
 */
function migrationJob(
  name: string,
  args: ServiceArgs,
  image: pulumi.Output<string>,
  env: Record<string, pulumi.Input<string>>,
  secrets: docker.types.input.ServiceTaskSpecContainerSpecSecret[],
  secretVars: string[],
  opts: pulumi.CustomResourceOptions,
): pulumi.CustomResource {
  const onRegistry = (img: string) => {
    const r = registryFor(img, args.host.registry);
    return r && { server: r.server, username: r.username };
  };
  const files = secrets.map((s) => pulumi.all([s.secretName, s.fileName]).apply(([n, f]) => ({ name: n ?? "", file: f })));
  // With nodes, the job runs on the main host (lib/placement.ts jobPlacement), where its script can stop it.
  const constraints = pulumi.output(args.placement === undefined ? [] : (jobPlacement().constraints ?? []));
  const create = pulumi.all([image, pulumi.output(env), pulumi.all(files), constraints]).apply(([img, plainEnv, secretFiles, onNodes]) =>
    migrateCommand(args.host.scriptPath("railyard-migrate.sh"), {
      stack: args.stack,
      job: args.names.migrationJob,
      image: img,
      network: args.host.network,
      env: plainEnv,
      secrets: secretFiles,
      secretVars,
      command: args.config.preDeployCommand ?? "",
      timeoutSeconds: args.migrationTimeoutSeconds,
      pause: args.pause,
      stateDir: `${args.host.stackDir}/state`,
      labels: { "railyard.stack": args.stack, "railyard.role": "migration", "railyard.name": name },
      registry: onRegistry(img),
      ...(onNodes === undefined || onNodes.length === 0 ? {} : { constraints: onNodes }),
    }),
  );
  // The registry's password reaches the job's pull over stdin only (a secret in the state, never on the line).
  const registry = args.host.registry;
  const stdin = registry && pulumi.all([image, registry.password]).apply(([img, pw]) => (onRegistry(img) ? migrationStdin(pw) : ""));
  return args.host.run(`${name}-migrate`, { create, triggers: [image], ...(stdin === undefined ? {} : { stdin }) }, opts);
}

/** Joins an env var's parts: literal text, database variables and app secrets. */
function envValue(v: EnvVar, args: ServiceArgs): pulumi.Output<string> {
  const parts = v.parts.map((part): pulumi.Input<string> => {
    if (part.kind === "text") return part.text;
    if (part.kind === "secret") return args.secrets[part.name];
    return args.databases[part.database].variables[part.variable];
  });
  const joined = pulumi.concat(...parts);
  return v.secret ? pulumi.secret(joined) : joined;
}

function builtImage(name: string, args: ServiceArgs, opts: pulumi.CustomResourceOptions): docker.Image {
  const build = args.config.build;
  if (!build) throw new Error(`railyard: service ${name} has no build context`);
  return new docker.Image(
    `${name}-image`,
    {
      imageName: `railyard/${args.names.swarm}:latest`,
      build: { context: build.context, dockerfile: build.dockerfile, target: build.target, args: build.args },
      skipPush: true,
    },
    opts,
  );
}

/**
 * Monitor long enough to see a task fail its health check: the configured window or a full cycle of (hung)
 * probes, printed as the provider reads it back.
 */
function monitorWindow(config: ServiceConfig): string {
  const h = config.healthcheck;
  const needed = h ? durationMs(h.startPeriod) + (durationMs(h.interval) + durationMs(h.timeout)) * (h.retries + 1) : 0;
  return goDuration(Math.max(durationMs(config.update.monitor), needed));
}

/** The env var that names a task's release. */
export const RELEASE_VAR = "RAILYARD_RELEASE";

/** The first 12 hex digits of the SHA-256 of a task template's JSON: the release's name. */
export function releaseHash(taskSpec: unknown): string {
  return createHash("sha256").update(JSON.stringify(taskSpec)).digest("hex").slice(0, 12);
}

/**
 * How tasks are replaced. Web services and workers start the new task first (no capacity lost); a scheduler stops
 * the old one first, in updates and rollbacks alike, so two never run at once.
 */
function updateOrder(config: ServiceConfig): "start-first" | "stop-first" {
  return config.kind === "scheduler" ? "stop-first" : "start-first";
}

function swarmService(
  name: string,
  args: ServiceArgs,
  image: pulumi.Input<string>,
  env: Record<string, pulumi.Input<string>>,
  secrets: docker.types.input.ServiceTaskSpecContainerSpecSecret[],
  secretVars: string[],
  opts: pulumi.CustomResourceOptions,
): { service: docker.Service; release: pulumi.Output<string> } {
  const c = args.config;
  const h = c.healthcheck;
  const update = {
    parallelism: c.update.parallelism,
    delay: c.update.delay,
    monitor: monitorWindow(c),
    // One decimal, as the provider reads it back (the config allows no more).
    maxFailureRatio: c.update.maxFailureRatio.toFixed(1),
    order: updateOrder(c),
  };
  const containerSpec = {
    image,
    commands: c.startCommand === undefined ? undefined : startCommand(c.startCommand, secretVars),
    env,
    secrets,
    healthcheck: h && {
      tests: h.path !== undefined && c.port !== undefined ? httpHealthcheck(c.port, h.path) : commandHealthcheck(h.command ?? "", secretVars),
      interval: h.interval,
      timeout: h.timeout,
      retries: h.retries,
      startPeriod: h.startPeriod,
    },
    stopGracePeriod: c.stopGracePeriod,
    // Docker's init (tini) as PID 1 forwards SIGTERM to the app: an app that installs its handler late, or never
    // (PID 1 ignores signals it has no handler for), still stops at once instead of living out the grace period.
    init: true,
  };
  const taskSpec = {
    containerSpec,
    networksAdvanceds: [{ id: args.host.networkId }],
    restartPolicy: {
      condition: c.restartPolicy.condition,
      maxAttempts: c.restartPolicy.maxAttempts,
      delay: c.restartPolicy.delay,
      window: c.restartPolicy.window,
    },
    resources: resourceLimits(c.resources),
    logDriver: logDriver(args.logs),
  };
  const release = pulumi.output(taskSpec).apply(releaseHash);
  const service = new docker.Service(
    name,
    {
      name: args.names.swarm,
      labels: railyardLabels(args.stack, c.kind, name),
      mode: { replicated: { replicas: c.replicas } },
      taskSpec: {
        ...taskSpec,
        containerSpec: { ...containerSpec, env: { ...env, [RELEASE_VAR]: release } },
        ...placed(args.placement),
      },
      // dnsrr: the service name resolves to its tasks' addresses, no IPVS virtual IP (the edge uses tasks.<name>).
      endpointSpec: { mode: "dnsrr" },
      updateConfig: { ...update, failureAction: "rollback" },
      // A rollback restores every task at once (start-first keeps capacity): no monitor window between batches.
      rollbackConfig: { ...update, parallelism: 0, failureAction: "pause" },
    },
    placedOptions(fixedName(opts), args.placement),
  );
  return { service, release };
}
