/**
 * npm run status -- --stack production
 *
 * The stack's live release (number, kind, who, when, commit) and per service its image, release, running/desired
 * tasks and their state and health, as host/railyard-status.sh reads them on the host from docker (over ssh with
 * the host key pinned from the stack file, or here for a `mode: local` host). Read-only; no env value but
 * RAILYARD_RELEASE and no secret is printed.
 *
 * Exit codes: 0 printed; 2 bad arguments or stack file; 74 jq missing on the host; 255 ssh failed.
 */
import { shellJoin } from "../lib/shell";
import { parseOptions, projectRoot, readStackHost, runMain, runOnHost, scriptPath, stackOption, helpAsked } from "./stackHost";

export const USAGE = `Usage: npm run status -- --stack STACK
  The live release, and per service: image, release, running/desired tasks, their states and health.`;

export function parseArgs(argv: string[]): { stack: string } {
  return { stack: stackOption(parseOptions(argv, { "--stack": "value" }, USAGE)) };
}

/** host/railyard-status.sh's command line. */
export function statusCommand(script: string, stackDir: string, stack: string): string {
  return shellJoin(["bash", script, "--stack-dir", stackDir, "--stack", stack]);
}

export async function main(argv: string[], root = projectRoot()): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const h = readStackHost(parseArgs(argv).stack, root);
  return (await runOnHost(h.host, statusCommand(scriptPath(h, "railyard-status.sh"), h.stackDir, h.prefix))).code;
}

if (require.main === module) runMain("status", () => main(process.argv.slice(2)));
