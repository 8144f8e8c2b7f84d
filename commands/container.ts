/**
 * Builders for what runs inside a service's containers: the start command (with secret env exported from
 * Swarm secret files first) and the HTTP health probe. Pure functions, tested by exact strings.
 */
import { shellQuote } from "../lib/shell";

/** Where a secret env var's value is mounted inside the container. */
export function envSecretFile(variable: string): string {
  return `env_${variable}`;
}

/**
 * The container command for a start command: `/bin/sh -c` with each secret env var exported from its
 * Swarm secret file, then `exec` of the start command so it runs as PID 1 and receives SIGTERM.
 */
export function startCommand(command: string, secretVars: readonly string[]): string[] {
  const exports = secretVars.map((v) => `export ${v}="$(cat /run/secrets/${envSecretFile(v)})"`);
  return ["/bin/sh", "-c", [...exports, `exec ${command}`].join(" && ")];
}

/** Docker HEALTHCHECK test for an HTTP path: curl, or wget where the image has no curl. */
export function httpHealthcheck(port: number, path: string): string[] {
  const url = shellQuote(`http://127.0.0.1:${port}${path}`);
  return ["CMD-SHELL", `curl -fsS -o /dev/null ${url} || wget -q -O /dev/null ${url}`];
}

/** Docker HEALTHCHECK test for a command run by the container's shell. */
export function commandHealthcheck(command: string): string[] {
  return ["CMD-SHELL", command];
}
