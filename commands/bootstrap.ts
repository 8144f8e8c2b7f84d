/**
 * Command builders for the host bootstrap (Kamal style: pure functions that return shell commands).
 * The script itself lives in host/railyard-bootstrap.sh, usable by hand; these build the line that runs it.
 */
import { shellJoin } from "../lib/shell";

export interface BootstrapArgs {
  stack: string;
  network: string;
  dataDir: string;
  /** Address for `docker swarm init --advertise-addr`, when the host has several. */
  advertiseAddress?: string;
}

/** The script's arguments, in a fixed order. */
export function bootstrapArgs(a: BootstrapArgs): string[] {
  const args = ["--stack", a.stack, "--network", a.network, "--data-dir", a.dataDir];
  if (a.advertiseAddress) args.push("--advertise-addr", a.advertiseAddress);
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
