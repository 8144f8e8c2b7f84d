/**
 * npm run audit -- --stack production [--lines N]
 *
 * The last N lines (default 20) of the stack's audit log on the host (`<time> <who> <stack> <what> <release>
 * <commit>`, one per deploy, rollback, host rollback, failed release and forced lock release), read by
 * host/railyard-release.sh over ssh with the host key pinned from the stack file, or here for a `mode: local` host.
 *
 * Exit codes: 0 printed; 2 bad arguments or stack file; 255 ssh failed; otherwise railyard-release.sh's.
 */
import { releaseCli } from "../commands/release";
import { intOption, parseOptions, projectRoot, readStackHost, runMain, runOnHost, scriptPath, stackOption, helpAsked } from "./stackHost";

export const USAGE = `Usage: npm run audit -- --stack STACK [--lines N]
  The last N (default 20, at most 10000) lines of the stack's audit log: <time> <who> <stack> <what> <release> <commit>`;

export function parseArgs(argv: string[]): { stack: string; lines: number } {
  const p = parseOptions(argv, { "--stack": "value", "--lines": "value" }, USAGE);
  return { stack: stackOption(p), lines: intOption(p, "--lines", 1, 10000) ?? 20 };
}

export async function main(argv: string[], root = projectRoot()): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const cli = parseArgs(argv);
  const h = readStackHost(cli.stack, root);
  return (await runOnHost(h.host, releaseCli(scriptPath(h, "railyard-release.sh"), h.stackDir, h.prefix, ["audit", "--lines", String(cli.lines)]))).code;
}

if (require.main === module) runMain("audit", () => main(process.argv.slice(2)));
