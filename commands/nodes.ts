/**
 * Command builders for the nodes of a stack's swarm (Kamal style: pure functions returning whole command lines,
 * `timeout` included). railyard-node.sh runs ON a joining node, fed on stdin; railyard-nodes.sh and the
 * lookups run on the main host (a manager). The join token never appears here: it travels on stdin.
 */
import type { NodeConfig, NodeLabel } from "../config/nodes";
import { shellJoin } from "../lib/shell";

/** The swarm's manager port (`docker swarm init` listens there). */
export const SWARM_PORT = 2377;

/** The main host's address as other nodes reach it: what `docker swarm init` advertises. */
export function managerAddressCommand(timeoutSeconds: number): string {
  return shellJoin(["timeout", String(timeoutSeconds), "docker", "info", "--format", "{{.Swarm.NodeAddr}}"]);
}

/** The worker join token (a secret: its command's stdout is kept secret and never logged). Managers are promoted after joining. */
export function joinTokenCommand(timeoutSeconds: number): string {
  return shellJoin(["timeout", String(timeoutSeconds), "docker", "swarm", "join-token", "-q", "worker"]);
}

/** `HOST:PORT` for a manager address as Docker writes it (an IPv6 address in brackets). */
export function managerEndpoint(address: string, port = SWARM_PORT): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

export interface JoinArgs {
  /** The node's name under railyard:nodes. */
  name: string;
  /** The manager's address (from managerAddressCommand), without a port. */
  manager: string;
  advertiseAddress?: string;
}

/** railyard-node.sh join, fed on stdin after railyard-lib.sh, with the token on the line after the script. */
export function joinCommand(a: JoinArgs, timeoutSeconds: number): string {
  const args = ["join", "--name", a.name, "--manager", managerEndpoint(a.manager)];
  if (a.advertiseAddress) args.push("--advertise-addr", a.advertiseAddress);
  return shellJoin(["timeout", String(timeoutSeconds), "bash", "-s", "--", ...args]);
}

/** railyard-node.sh leave, fed on stdin as the join (a manager must have been demoted before). */
export function leaveCommand(name: string, timeoutSeconds: number): string {
  return shellJoin(["timeout", String(timeoutSeconds), "bash", "-s", "--", "leave", "--name", name]);
}

export interface NodeStateArgs {
  name: string;
  /** The node's swarm ID (the join's stdout). */
  id: string;
  labels: readonly NodeLabel[];
  role: NodeConfig["role"];
  drain: boolean;
}

/**
 * railyard-nodes.sh apply: labels, role, availability (a drain waits for the node to empty, at most
 * `drainSeconds`); the whole command stops after `drainSeconds` plus a minute.
 */
export function applyNodeCommand(script: string, a: NodeStateArgs, drainSeconds: number): string {
  return shellJoin([
    "timeout", String(drainSeconds + 60), "bash", script, "apply", "--name", a.name, "--id", a.id,
    "--labels", a.labels.join(","), "--role", a.role, "--availability", a.drain ? "drain" : "active", "--timeout", String(drainSeconds),
  ]);
}

/** railyard-nodes.sh retire: drain, wait until no task runs there, demote a manager (before the node leaves). */
export function retireNodeCommand(script: string, name: string, id: string, drainSeconds: number): string {
  return shellJoin(["timeout", String(drainSeconds + 60), "bash", script, "retire", "--name", name, "--id", id, "--timeout", String(drainSeconds)]);
}

/** railyard-nodes.sh forget: once the node has left, `docker node rm` it (waiting at most `waitSeconds` to see it down). */
export function forgetNodeCommand(script: string, name: string, waitSeconds: number): string {
  return shellJoin(["timeout", String(waitSeconds + 60), "bash", script, "forget", "--name", name, "--timeout", String(waitSeconds)]);
}

export interface DatabaseNodeArgs {
  /** The database's Swarm service name. */
  service: string;
  /** railyard:databases.<db>.node. */
  node: string;
  /** railyard:databases.<db>.moveFrom, during a move. */
  moveFrom?: string;
}

/**
 * railyard-nodes.sh database-node: fails (exit 34) when the running database's data is on another node than
 * `node` and `moveFrom` does not name that node (it would start on an empty volume). Run before its update.
 */
export function databaseNodeCommand(script: string, a: DatabaseNodeArgs, timeoutSeconds: number): string {
  const args = ["database-node", "--service", a.service, "--node", a.node];
  if (a.moveFrom !== undefined) args.push("--move-from", a.moveFrom);
  return shellJoin(["timeout", String(timeoutSeconds), "bash", script, ...args]);
}
