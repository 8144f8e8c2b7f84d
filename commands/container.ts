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
 * `command` preceded by shell steps that set each secret env var from its Swarm secret file and export it. A
 * plain assignment keeps the substitution's exit status, so a missing or unreadable file stops the chain instead
 * of running the command with an empty value. The `x` printed after the file's content and removed again keeps
 * its trailing newlines, which command substitution would strip (a PEM key ends in one).
 */
export function withSecretEnv(command: string, secretVars: readonly string[]): string {
  const exports = secretVars.map((v) => `${v}="$(cat /run/secrets/${envSecretFile(v)} && printf x)" && ${v}="\${${v}%x}" && export ${v}`);
  return [...exports, command].join(" && ");
}

/**
 * The container command for a start command: `/bin/sh -c` with the secret env exported first, then `exec` of
 * the start command so it runs as PID 1 and receives SIGTERM.
 */
export function startCommand(command: string, secretVars: readonly string[]): string[] {
  return ["/bin/sh", "-c", withSecretEnv(`exec ${command}`, secretVars)];
}

/** Docker HEALTHCHECK test for an HTTP path: curl, or wget where the image has no curl. */
export function httpHealthcheck(port: number, path: string): string[] {
  const url = shellQuote(`http://127.0.0.1:${port}${path}`);
  return ["CMD-SHELL", `curl -fsS -o /dev/null ${url} || wget -q -O /dev/null ${url}`];
}

/**
 * Docker HEALTHCHECK test for a command run by the container's shell. Health checks run through `docker exec`
 * and see only the spec's env, so the secret env is exported for them too.
 */
export function commandHealthcheck(command: string, secretVars: readonly string[] = []): string[] {
  return ["CMD-SHELL", withSecretEnv(command, secretVars)];
}
