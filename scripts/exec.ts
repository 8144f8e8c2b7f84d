/**
 * npm run exec -- --stack production --service api [--reuse] [--timeout 10m] -- alembic current
 *
 * A one-off command in a live service's image, env, secrets and network, on the stack's host (over ssh with the
 * host key pinned from the stack file, or here for a `mode: local` host): host/railyard-run.sh makes a Swarm job
 * from the service's own task spec — like the migration job — streams its output, returns its exit code and
 * removes the job afterwards, also when interrupted. With --reuse the command runs in a running task of the
 * service instead (`docker exec`; stdin passed through, a terminal when this one is). Nothing printed holds a
 * secret: the spec is never shown, secret env vars are exported inside the container only.
 *
 * Exit codes: the command's own; 2 bad arguments or stack file; 74 jq or curl missing on the host; 80 no such
 * service (or no running task for --reuse); 81 the job could not start; 82 --timeout passed; 255 ssh failed.
 */
import { swarmName } from "../config/names";
import { shellJoin } from "../lib/shell";
import {
  CliError, durationOption, helpAsked, NAME, parseOptions, projectRoot, readStackHost, runMain, runOnHost, scriptPath, stackOption,
} from "./stackHost";

export const USAGE = `Usage: npm run exec -- --stack STACK --service NAME [--reuse] [--timeout DURATION] -- COMMAND [ARG]...
  Runs COMMAND with the live service's image, env, secrets and network, as a one-off Swarm job (removed after);
  its output is streamed and its exit code returned. The job reads no stdin.
  --reuse            run it in a running task of the service instead (docker exec: stdin and a terminal pass
                     through, e.g. an interactive shell)
  --timeout DURATION stop the job after 90s, 10m, 1h… (exit 82)`;

export interface ExecArgs {
  stack: string;
  service: string;
  reuse: boolean;
  timeoutSeconds?: number;
  command: string[];
}

export function parseArgs(argv: string[]): ExecArgs {
  const p = parseOptions(argv, { "--stack": "value", "--service": "value", "--reuse": "switch", "--timeout": "value" }, USAGE, true);
  const stack = stackOption(p);
  const service = p.values.get("--service");
  if (service === undefined) throw new CliError("--service is required (a service or database of the stack file)", 2);
  if (!NAME.test(service)) throw new CliError(`--service must be a railyard name (a-z, 0-9, inner -, at most 63, starting with a letter), got ${JSON.stringify(service)}`, 2);
  if (p.rest.length === 0) throw new CliError("the command is missing: put it after -- (npm run exec -- --stack S --service api -- alembic current)", 2);
  const out: ExecArgs = { stack, service, reuse: p.switches.has("--reuse"), command: p.rest };
  const timeout = durationOption(p, "--timeout", 999999);
  if (timeout !== undefined) {
    if (out.reuse) throw new CliError("--timeout goes with a job, not --reuse", 2);
    out.timeoutSeconds = timeout;
  }
  return out;
}

/** host/railyard-run.sh's command line. */
export function runCommand(script: string, o: { swarm: string; stack: string; reuse: boolean; tty: boolean; timeoutSeconds?: number; command: string[] }): string {
  return shellJoin([
    "bash", script, "--service", o.swarm, "--stack", o.stack,
    ...(o.timeoutSeconds !== undefined ? ["--timeout", String(o.timeoutSeconds)] : []),
    ...(o.reuse ? ["--reuse", ...(o.tty ? ["--tty"] : [])] : []),
    "--", ...o.command,
  ]);
}

export async function main(argv: string[], root = projectRoot()): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const cli = parseArgs(argv);
  const h = readStackHost(cli.stack, root);
  // A terminal over ssh when this is one: Ctrl-C then reaches the host script, which removes the job.
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const line = runCommand(scriptPath(h, "railyard-run.sh"), { swarm: swarmName(h.prefix, cli.service), stack: h.prefix, reuse: cli.reuse, tty: cli.reuse && tty, timeoutSeconds: cli.timeoutSeconds, command: cli.command });
  // Ctrl-C reaches the host script too (same process group here, the terminal over ssh -t): it removes the job and
  // exits 130, which is what this process then returns.
  const ignore = () => undefined;
  process.on("SIGINT", ignore);
  try {
    return (await runOnHost(h.host, line, { stdin: cli.reuse ? "inherit" : undefined, tty })).code;
  } finally {
    process.off("SIGINT", ignore);
  }
}

if (require.main === module) runMain("exec", () => main(process.argv.slice(2)));
