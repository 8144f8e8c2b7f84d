/**
 * Command builders for the host bootstrap (Kamal style: pure functions that return shell commands).
 * The script itself lives in host/railyard-bootstrap.sh, usable by hand; these build the line that runs it.
 */
import type { NodeLabel } from "../config/nodes";
import { shellJoin } from "../lib/shell";

export interface BootstrapArgs {
  stack: string;
  network: string;
  dataDir: string;
  /** Address for `docker swarm init --advertise-addr`, when the host has several. */
  advertiseAddress?: string;
  /** What may run on the main host (its railyard.<label> node labels). @default the script's: data, edge, app */
  labels?: NodeLabel[];
  /** The stack declares railyard:nodes: a swarm of more than one node is expected. @default false */
  multiNode?: boolean;
  /** A new overlay network is encrypted; an existing one must match. @default false */
  encryptNetwork?: boolean;
}

/** The script's arguments, in a fixed order. */
export function bootstrapArgs(a: BootstrapArgs): string[] {
  const args = ["--stack", a.stack, "--network", a.network, "--data-dir", a.dataDir];
  if (a.advertiseAddress) args.push("--advertise-addr", a.advertiseAddress);
  if (a.labels !== undefined) args.push("--node-labels", a.labels.join(","));
  if (a.multiNode) args.push("--multi-node");
  if (a.encryptNetwork) args.push("--encrypted");
  return args;
}

/** Runs the script fed on standard input (remote hosts: nothing needs uploading first), stopped after `timeoutSeconds`. */
export function bootstrapFromStdin(a: BootstrapArgs, timeoutSeconds: number): string {
  return shellJoin(["timeout", String(timeoutSeconds), "bash", "-s", "--", ...bootstrapArgs(a)]);
}

/** Runs the script from a path (the local engine in dev), stopped after `timeoutSeconds`. */
export function bootstrapFromFile(scriptPath: string, a: BootstrapArgs, timeoutSeconds: number): string {
  return shellJoin(["timeout", String(timeoutSeconds), "bash", scriptPath, ...bootstrapArgs(a)]);
}

/** Prints the ID of the stack's network (the bootstrap made it), failing when it does not exist. */
export function networkIdCommand(network: string, timeoutSeconds: number): string {
  return shellJoin(["timeout", String(timeoutSeconds), "docker", "network", "inspect", "--format", "{{.Id}}", network]);
}
