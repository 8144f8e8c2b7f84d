/**
 * npm run logs -- --stack production --service api [--since 10m] [--follow] [--tail N]
 *
 * A service's logs (`docker service logs`, every task, with timestamps) on the stack's host, over ssh with the
 * host key pinned from the stack file, or here for a `mode: local` host. NAME is a service, database or the edge
 * (`edge`, `front`) of the stack file: its Swarm service is <prefix>-NAME.
 *
 * Exit codes: 0 done; 2 bad arguments or stack file; 255 ssh failed; otherwise docker's own code (1: no such
 * service).
 */
import { swarmName } from "../config/names";
import { shellJoin } from "../lib/shell";
import { CliError, intOption, NAME, parseOptions, projectRoot, readStackHost, runMain, runOnHost, stackOption, helpAsked } from "./stackHost";

export const USAGE = `Usage: npm run logs -- --stack STACK --service NAME [--since TIME] [--follow] [--tail N]
  NAME     a service, database or edge service of the stack file (its Swarm service is <prefix>-NAME)
  --since  10m, 2h, 1h30m, or a UTC time such as 2026-11-20T14:30:00Z: only lines since then
  --follow keep printing new lines (Ctrl-C stops)
  --tail N only the last N lines of each task (1 to 100000)`;

export interface LogsArgs {
  stack: string;
  service: string;
  since?: string;
  follow: boolean;
  tail?: number;
}

const SINCE = /^(([1-9][0-9]{0,5}[smh])+|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?Z)?)$/;

export function parseArgs(argv: string[]): LogsArgs {
  const p = parseOptions(argv, { "--stack": "value", "--service": "value", "--since": "value", "--follow": "switch", "--tail": "value" }, USAGE);
  const stack = stackOption(p);
  const service = p.values.get("--service");
  if (service === undefined) throw new CliError("--service is required (a service, database or edge service of the stack file)", 2);
  if (!NAME.test(service)) throw new CliError(`--service must be a railyard name (a-z, 0-9, inner -, at most 63, starting with a letter), got ${JSON.stringify(service)}`, 2);
  const out: LogsArgs = { stack, service, follow: p.switches.has("--follow") };
  const since = p.values.get("--since");
  if (since !== undefined) {
    if (!SINCE.test(since)) throw new CliError(`--since must be a duration (10m, 2h, 1h30m) or a UTC time (2026-11-20T14:30:00Z), got ${JSON.stringify(since)}`, 2);
    out.since = since;
  }
  const tail = intOption(p, "--tail", 1, 100000);
  if (tail !== undefined) out.tail = tail;
  return out;
}

/** The host's command line: `docker service logs` of the Swarm service, timestamps on. */
export function logsCommand(swarm: string, o: { since?: string; follow: boolean; tail?: number }): string {
  return shellJoin([
    "docker", "service", "logs", "--timestamps",
    ...(o.since !== undefined ? ["--since", o.since] : []),
    ...(o.tail !== undefined ? ["--tail", String(o.tail)] : []),
    ...(o.follow ? ["--follow"] : []),
    swarm,
  ]);
}

export async function main(argv: string[], root = projectRoot()): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const cli = parseArgs(argv);
  const h = readStackHost(cli.stack, root);
  // A followed log over ssh gets a terminal, so Ctrl-C here also stops it on the host.
  const tty = cli.follow && process.stdout.isTTY === true;
  return (await runOnHost(h.host, logsCommand(swarmName(h.prefix, cli.service), cli), { tty })).code;
}

if (require.main === module) runMain("logs", () => main(process.argv.slice(2)));
