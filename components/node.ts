/**
 * Node: one more machine in the stack's swarm (railyard:nodes). The main host reads the join token (a secret:
 * kept secret in the state, never logged, handed to the node on stdin only) and its own address; the node joins
 * over SSH (host key pinned); the main host then labels it, sets its role and availability. Removing the node
 * from the stack file undoes it in reverse: drain and demote, leave, `docker node rm` (README: More than one
 * machine). Everything placed by node labels depends on `ready`.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  applyNodeCommand,
  forgetNodeCommand,
  joinCommand,
  joinTokenCommand,
  leaveCommand,
  managerAddressCommand,
  retireNodeCommand,
} from "../commands/nodes";
import type { NodeConfig } from "../config/nodes";
import { Host, scriptStdin, sshConnection } from "./host";

/** Seconds a lookup on the main host may take. */
const LOOKUP_TIMEOUT_S = 30;
/** Seconds the join (engine and port checks, the join itself) or the leave may take on the node. */
const JOIN_TIMEOUT_S = 300;
/** Seconds `forget` waits for a node that left to show as down before removing it. */
const FORGET_WAIT_S = 120;

export interface NodeArgs {
  /** The node's name under railyard:nodes: its Swarm label railyard.node=<name>. */
  name: string;
  /** The node as loaded (address, port, user, hostKey, role, labels, drain). */
  config: NodeConfig;
  /** The main host: a manager, it reads the token and runs railyard-nodes.sh. */
  host: Host;
  /** The SSH private key (a secret): the same as the main host's, railyard:sshPrivateKey. */
  privateKey: pulumi.Input<string>;
  /**
   * How long a drain may take before it fails, listing the tasks still on the node (a drain: true node, and a
   * node being removed). @default 600
   */
  drainTimeoutSeconds?: number;
}

export class Node extends pulumi.ComponentResource {
  /** The command that sets the node's labels, role and availability: placed services depend on it. */
  readonly ready: pulumi.Resource;
  /** The node's swarm ID. */
  readonly nodeId: pulumi.Output<string>;

  constructor(name: string, args: NodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:Node", name, {}, opts);
    if (!args.host.multiNode) throw new Error(`railyard: node ${args.name} needs a Host created with multiNode: true (it uploads railyard-nodes.sh)`);
    const drainSeconds = args.drainTimeoutSeconds ?? 600;
    const manager = lookUpManager(name, this, args);
    const token = readJoinToken(name, this, args.host);
    const join = joinSwarm(name, this, args, manager, token);
    this.nodeId = join.stdout.apply(lastLine);
    this.ready = applyState(name, this, args, this.nodeId, drainSeconds, join);
    this.registerOutputs({ nodeId: this.nodeId });
  }
}

/** The last line printed, trimmed (the scripts print their one value last); "" when nothing was (yet). */
function lastLine(text: string | undefined): string {
  return (text ?? "").trim().split("\n").pop()?.trim() ?? "";
}

/**
 * The manager's address as other nodes reach it. Its `delete` removes the node from the swarm once it has left
 * (Pulumi deletes the join, which depends on this command, first).
 */
function lookUpManager(name: string, parent: Node, args: NodeArgs): pulumi.Output<string> {
  const cmd = args.host.run(
    `${name}-manager`,
    {
      create: managerAddressCommand(LOOKUP_TIMEOUT_S),
      delete: forgetNodeCommand(args.host.scriptPath("railyard-nodes.sh"), args.name, FORGET_WAIT_S),
      triggers: [args.name],
    },
    { parent, dependsOn: args.host.scriptsReady },
  );
  return cmd.stdout.apply(lastLine);
}

/** The worker join token: stdout kept secret and not logged. Every node joins as a worker; a manager is promoted after. */
function readJoinToken(name: string, parent: Node, host: Host): pulumi.Output<string> {
  const cmd = host.run(`${name}-token`, { create: joinTokenCommand(LOOKUP_TIMEOUT_S), triggers: [], secretOutput: true }, { parent, dependsOn: [host.ready] });
  return pulumi.secret(cmd.stdout);
}

/**
 * On the node, over SSH: railyard-lib.sh and railyard-node.sh on stdin, the token on the line after them. No
 * triggers: a new address or port re-runs the join there as an update (the same machine under another address is
 * already a member). A replacement would run the old resource's leave after the new join, on what may well be the
 * same machine; another machine's predecessor is disowned by the labels' apply instead (railyard-nodes.sh).
 */
function joinSwarm(
  name: string,
  parent: Node,
  args: NodeArgs,
  manager: pulumi.Output<string>,
  token: pulumi.Output<string>,
): command.remote.Command {
  const n = args.config;
  const connection = sshConnection(n, args.privateKey);
  const script = scriptStdin("railyard-node.sh");
  return new command.remote.Command(
    `${name}-join`,
    {
      connection,
      create: manager.apply((m) => joinCommand({ name: args.name, manager: m, advertiseAddress: n.advertiseAddress }, JOIN_TIMEOUT_S)),
      delete: leaveCommand(args.name, JOIN_TIMEOUT_S),
      stdin: pulumi.secret(pulumi.interpolate`${script}${token}\n`),
      triggers: [],
      addPreviousOutputInEnv: false,
      logging: "stdoutAndStderr",
    },
    { parent, dependsOn: [args.host.ready] },
  );
}

/** Labels, role and availability, set from the main host; its `delete` drains and demotes before the node leaves. */
function applyState(
  name: string,
  parent: Node,
  args: NodeArgs,
  id: pulumi.Output<string>,
  drainSeconds: number,
  join: command.remote.Command,
): pulumi.Resource {
  const script = args.host.scriptPath("railyard-nodes.sh");
  const n = args.config;
  return args.host.run(
    `${name}-labels`,
    {
      create: id.apply((nodeId) => applyNodeCommand(script, { name: args.name, id: nodeId, labels: n.labels, role: n.role, drain: n.drain }, drainSeconds)),
      delete: id.apply((nodeId) => retireNodeCommand(script, args.name, nodeId, drainSeconds)),
      triggers: [],
    },
    { parent, dependsOn: [join, ...args.host.scriptsReady] },
  );
}
