/**
 * Host: the machine a stack runs on. Over SSH (a VPS, host key pinned) or the local engine (dev). Gives the
 * Docker provider every other resource uses, and runs the idempotent bootstrap: swarm init, overlay network,
 * host directories. Everything on the host depends on `ready`.
 */
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { BootstrapArgs, bootstrapFromFile, bootstrapFromStdin, networkIdCommand } from "../commands/bootstrap";
import type { RegistryConfig } from "../config/registry";
import type { HostConfig } from "../config/schema";
import { dockerSshHost, knownHostsLine, sshOptions, writeSshFiles } from "../lib/sshFiles";

const HOST_DIR = path.join(__dirname, "..", "host");
export const BOOTSTRAP_SCRIPT = path.join(HOST_DIR, "railyard-bootstrap.sh");
/** The library every host script sources from its own folder (fed before the bootstrap on its stdin). */
export const HOST_LIB = path.join(HOST_DIR, "railyard-lib.sh");
/**
 * Scripts the release steps call on the host, and the library they source beside them (uploaded to
 * <stackDir>/scripts over SSH; run in place locally).
 */
export const HOST_SCRIPTS = [
  "railyard-lib.sh",
  "railyard-s3.sh",
  "railyard-backup.sh",
  "railyard-restore.sh",
  "railyard-drill.sh",
  "railyard-migrate.sh",
  "railyard-gate.sh",
  "railyard-dbpass.sh",
  "railyard-status.sh",
  "railyard-run.sh",
  "railyard-releases.sh",
  "railyard-release.sh",
  "railyard-rollback.sh",
] as const;
/** Scripts uploaded only to the main host of a stack with railyard:nodes (a single-node stack's next `pulumi up` stays empty). */
export const NODE_SCRIPTS = ["railyard-nodes.sh"] as const;
export type HostScript = (typeof HOST_SCRIPTS)[number] | (typeof NODE_SCRIPTS)[number];
/** Seconds the bootstrap may take before it is stopped and reported as failed. */
const BOOTSTRAP_TIMEOUT_S = 300;
/** Seconds the network check may take. */
const NETWORK_LOOKUP_TIMEOUT_S = 30;

export interface HostArgs {
  /** The stack's name on the host (its prefix): names the host directories `<dataDir>/<stack>`. */
  stack: string;
  /** Where the engine is: `{ mode: "ssh", address, port, user, hostKey }` or `{ mode: "local" }`. */
  target: HostConfig;
  /** SSH private key (a secret). Required for ssh targets. */
  privateKey?: pulumi.Input<string>;
  /** Name of the stack's attachable overlay network, created by the bootstrap. */
  network: string;
  /** The private registry the host pulls from (railyard:registry), if any. */
  registry?: RegistryConfig;
  /** The stack declares railyard:nodes: the bootstrap expects a swarm of several nodes (else it refuses one). @default false */
  multiNode?: boolean;
  /** The overlay network encrypted (railyard:encryptNetwork). @default false */
  encryptNetwork?: boolean;
}

export class Host extends pulumi.ComponentResource {
  /** Docker provider for this host's engine. */
  readonly provider: docker.Provider;
  /** The bootstrap command; resources on the host depend on it. */
  readonly ready: pulumi.Resource;
  /** The overlay network services and databases attach to. */
  readonly network: string;
  /**
   * Its ID, looked up once the network exists: services attach by ID, the form the provider reads back (by name,
   * every `pulumi up` would replace every service).
   */
  readonly networkId: pulumi.Output<string>;
  /** The stack's folder on the host (backups, scripts, builds). */
  readonly stackDir: string;
  /** SSH connection for remote commands; undefined for the local engine. */
  readonly connection?: command.types.input.remote.ConnectionArgs;
  /** What a command calling a host script must wait for: the bootstrap and the scripts' upload. */
  readonly scriptsReady: pulumi.Resource[];
  /** The private registry: the provider sends its credentials with pulls from it, migration jobs get them on stdin. */
  readonly registry?: RegistryConfig;
  /** The stack declares railyard:nodes (the nodes' script is on the host; Node needs it). */
  readonly multiNode: boolean;

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:Host", name, {}, opts);
    this.network = args.network;
    this.registry = args.registry;
    this.multiNode = args.multiNode ?? false;
    this.stackDir = `${args.target.dataDir}/${args.stack}`;
    const bootstrap: BootstrapArgs = {
      stack: args.stack,
      network: args.network,
      dataDir: args.target.dataDir,
      advertiseAddress: args.target.advertiseAddress,
      labels: args.target.labels,
      multiNode: args.multiNode,
      encryptNetwork: args.encryptNetwork,
    };
    if (args.target.mode === "ssh") {
      if (args.privateKey === undefined) throw new Error(`railyard: host ${name} needs privateKey for ssh`);
      this.connection = sshConnection(args.target, args.privateKey);
      this.provider = sshProvider(name, this, args.stack, args.target, args.privateKey, args.registry);
      this.ready = remoteBootstrap(name, this, this.connection, bootstrap);
      const scripts = this.multiNode ? [...HOST_SCRIPTS, ...NODE_SCRIPTS] : HOST_SCRIPTS;
      this.scriptsReady = [this.ready, ...uploadScripts(name, this, this.connection, this.stackDir, this.ready, scripts)];
    } else {
      this.provider = new docker.Provider(`${name}-docker`, { host: localDockerHost(process.env), ...registryAuth(args.registry) }, { parent: this });
      this.ready = localBootstrap(name, this, bootstrap);
      this.scriptsReady = [this.ready];
    }
    this.networkId = lookUpNetwork(name, this, args);
    this.registerOutputs({ network: this.network, networkId: this.networkId, stackDir: this.stackDir });
  }

  /** Where a host script is: uploaded under <stackDir>/scripts over SSH, in this checkout locally. */
  scriptPath(script: HostScript): string {
    return this.connection ? `${this.stackDir}/scripts/${script}` : path.join(HOST_DIR, script);
  }

  /**
   * A command run on the host (over SSH with the pinned host key, or locally in dev) when created and whenever
   * `triggers` change. `create` must hold no secret value: it is stored in the state and may be logged; a secret
   * goes on `stdin` (kept as a secret in the state, never on a command line). `delete` runs when the resource
   * is removed from the stack (undoing what `create` put on the host). `secretOutput`: what the command prints
   * is a secret (a join token): stdout is kept as a secret in the state and is not logged.
   */
  run(
    name: string,
    args: {
      create: pulumi.Input<string>;
      triggers: pulumi.Input<unknown>[];
      stdin?: pulumi.Input<string>;
      delete?: pulumi.Input<string>;
      secretOutput?: boolean;
    },
    opts: pulumi.CustomResourceOptions,
  ): command.remote.Command | command.local.Command {
    const common = {
      create: args.create,
      triggers: args.triggers,
      ...(args.delete === undefined ? {} : { delete: args.delete }),
      ...(args.stdin === undefined ? {} : { stdin: pulumi.secret(args.stdin) }),
      addPreviousOutputInEnv: false,
      logging: args.secretOutput ? ("stderr" as const) : ("stdoutAndStderr" as const),
    };
    const options = args.secretOutput ? { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "stdout"] } : opts;
    return this.connection
      ? new command.remote.Command(name, { ...common, connection: this.connection }, options)
      : new command.local.Command(name, common, options);
  }
}

type SshTarget = Extract<HostConfig, { mode: "ssh" }>;

/**
 * The network's ID from the engine, looked up after a command that checks the network exists (the bootstrap
 * made it). The lookup waits on that command rather than on the bootstrap: the bootstrap is replaced whenever
 * its script changes, and a lookup that waited on it would be unknown in such a preview, which would then show
 * every service as replaced. This command changes only with the stack and network names.
 */
function lookUpNetwork(name: string, parent: Host, args: HostArgs): pulumi.Output<string> {
  const exists = parent.run(
    `${name}-network`,
    { create: networkIdCommand(args.network, NETWORK_LOOKUP_TIMEOUT_S), triggers: [args.stack, args.network] },
    { parent, dependsOn: [parent.ready] },
  );
  return docker.getNetworkOutput({ name: args.network }, { parent, provider: parent.provider, dependsOn: [exists] }).id;
}

/** Uploads each host script to <stackDir>/scripts (CopyToRemote), replaced when its content changes. */
function uploadScripts(
  name: string,
  parent: Host,
  connection: command.types.input.remote.ConnectionArgs,
  stackDir: string,
  ready: pulumi.Resource,
  scripts: readonly HostScript[],
): command.remote.CopyToRemote[] {
  return scripts.map((script) => {
    const file = path.join(HOST_DIR, script);
    return new command.remote.CopyToRemote(
      `${name}-script-${script.replace(/\.sh$/, "")}`,
      {
        connection,
        source: new pulumi.asset.FileAsset(file),
        remotePath: `${stackDir}/scripts/${script}`,
        triggers: [createHash("sha256").update(fs.readFileSync(file)).digest("hex")],
      },
      { parent, dependsOn: [ready] },
    );
  });
}

/** SSH to a machine of the stack (the main host, or a node joining its swarm), its host key pinned when given. */
export function sshConnection(
  t: Pick<SshTarget, "address" | "port" | "user" | "hostKey">,
  privateKey: pulumi.Input<string>,
): command.types.input.remote.ConnectionArgs {
  return {
    host: t.address,
    port: t.port,
    user: t.user,
    privateKey: pulumi.secret(privateKey),
    hostKey: t.hostKey,
    dialErrorLimit: 3,
    perDialTimeout: 30,
  };
}

/**
 * The provider's credentials for the registry. It sends them with a service's create and update only when the
 * service's image is on that registry (kreuzwerker v4 fromRegistryAuth: the image's host equals the address), with
 * RemoteImage pulls from it, and with builds.
 */
export function registryAuth(registry: RegistryConfig | undefined): Pick<docker.ProviderArgs, "registryAuth"> {
  if (registry === undefined) return {};
  return { registryAuth: [{ address: registry.server, username: registry.username, password: pulumi.secret(registry.password) }] };
}

function sshProvider(
  name: string,
  parent: Host,
  stack: string,
  t: SshTarget,
  privateKey: pulumi.Input<string>,
  registry: RegistryConfig | undefined,
): docker.Provider {
  const files = pulumi
    .output(privateKey)
    .apply((key) => writeSshFiles(stack, key, t.hostKey ? knownHostsLine(t.address, t.port, t.hostKey) : undefined));
  return new docker.Provider(
    `${name}-docker`,
    { host: dockerSshHost(t.user, t.address, t.port), sshOpts: files.apply(sshOptions), ...registryAuth(registry) },
    { parent },
  );
}

/** The engine's default socket, used when DOCKER_HOST is not set. */
export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/**
 * The local engine's address: DOCKER_HOST when set (npm run dev:up resolves the docker CLI's current context into
 * it, so its `docker info` check, this provider and the local commands reach one engine), else the default socket.
 * Given explicitly: left unset, the provider would read DOCKER_HOST itself but let DOCKER_CONTEXT override it.
 */
export function localDockerHost(env: NodeJS.ProcessEnv): string {
  const value = env.DOCKER_HOST;
  if (value === undefined || value === "") return DEFAULT_DOCKER_HOST;
  const bad = (why: string) =>
    new Error(
      `railyard: DOCKER_HOST: expected unix:///<socket path>, tcp://<host>[:<port>] or ssh://[<user>@]<host>[:<port>] (${why}), got ${JSON.stringify(value)}`,
    );
  if (/[\s\x00-\x1f\x7f]/.test(value)) throw bad("no spaces or control characters");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad("not a URL");
  }
  if (url.search || url.hash || url.password) throw bad("no query, fragment or password");
  switch (url.protocol) {
    case "unix:":
      if (url.host || !/^\/[^/]/.test(url.pathname) || url.pathname.endsWith("/")) throw bad("an absolute socket path");
      return value;
    case "tcp:":
    case "ssh:":
      if (!url.hostname || !["", "/"].includes(url.pathname)) throw bad("a host and nothing after the port");
      if (url.protocol === "tcp:" && url.username) throw bad("no user in a tcp address");
      return value;
    default:
      throw bad(`unsupported scheme ${url.protocol}`);
  }
}

/**
 * The remote bootstrap's stdin: the library, then the script (`bash -s` has no folder to source the library
 * from; the script finds its functions defined).
 */
export function bootstrapStdin(): string {
  return scriptStdin(path.basename(BOOTSTRAP_SCRIPT));
}

/** The bootstrap's trigger: library and script (the local bootstrap sources the library too). */
function scriptHash(): string {
  return createHash("sha256").update(bootstrapStdin()).digest("hex");
}

function remoteBootstrap(
  name: string,
  parent: Host,
  connection: command.types.input.remote.ConnectionArgs,
  args: BootstrapArgs,
): command.remote.Command {
  return new command.remote.Command(
    `${name}-bootstrap`,
    {
      connection,
      create: bootstrapFromStdin(args, BOOTSTRAP_TIMEOUT_S),
      stdin: bootstrapStdin(),
      triggers: [scriptHash(), args.stack, args.network, args.dataDir, args.advertiseAddress ?? ""],
      addPreviousOutputInEnv: false,
      logging: "stdoutAndStderr",
    },
    { parent },
  );
}

/** A host script fed on stdin after the library (`bash -s` has no folder to source it from). */
export function scriptStdin(script: string): string {
  return `${fs.readFileSync(HOST_LIB, "utf8")}\n${fs.readFileSync(path.join(HOST_DIR, script), "utf8")}`;
}

function localBootstrap(name: string, parent: Host, args: BootstrapArgs): command.local.Command {
  return new command.local.Command(
    `${name}-bootstrap`,
    {
      create: bootstrapFromFile(BOOTSTRAP_SCRIPT, args, BOOTSTRAP_TIMEOUT_S),
      triggers: [scriptHash(), args.stack, args.network, args.dataDir, args.advertiseAddress ?? ""],
      addPreviousOutputInEnv: false,
      logging: "stdoutAndStderr",
    },
    { parent },
  );
}
