/**
 * npm run lock -- --stack production [--status | --acquire --message M [--wait 10m] | --release [--token T] [--force]]
 *
 * The stack's host lock (what keeps deploys, rollbacks and host rollbacks of one stack from interleaving), through
 * host/railyard-release.sh on the host (over ssh with the host key pinned from the stack file, or here for a
 * `mode: local` host). --status (the default) prints the holder or "unlocked". --acquire takes it by hand (kind
 * manual: deploys and rollbacks are refused meanwhile, naming you and the message) and prints the token that
 * releases it. --release lets go of the lock with that token; --force releases any lock (a stale one an
 * interrupted run left), noted in the audit log. Who takes it: RAILYARD_WHO, GITHUB_ACTOR, the git author of HEAD
 * or the OS user.
 *
 * Exit codes: 0 done; 2 bad arguments or stack file; 75 locked by someone else (or, to --release, not yours);
 * 255 ssh failed; otherwise railyard-release.sh's.
 */
import * as crypto from "node:crypto";
import { releaseCli } from "../commands/release";
import { CliError, durationOption, parseOptions, projectRoot, readStackHost, runMain, runOnHost, scriptPath, stackOption, whoAmI, helpAsked } from "./stackHost";

export const USAGE = `Usage: npm run lock -- --stack STACK [--status | --acquire --message TEXT [--wait DURATION] | --release [--token T] [--force]]
  --status            who holds the stack's host lock, or "unlocked" (the default)
  --acquire           take it by hand (deploys and rollbacks are refused meanwhile); prints the token to release it
  --release --token T release the lock taken with token T
  --release --force   release whoever's lock (a stale one); an audit line records it`;

export type LockArgs =
  | { stack: string; action: "status" }
  | { stack: string; action: "acquire"; message: string; waitSeconds?: number }
  | { stack: string; action: "release"; token?: string; force: boolean };

const TOKEN = /^[A-Za-z0-9._-]{1,128}$/;

export function parseArgs(argv: string[]): LockArgs {
  const p = parseOptions(argv, {
    "--stack": "value", "--status": "switch", "--acquire": "switch", "--release": "switch",
    "--message": "value", "--wait": "value", "--token": "value", "--force": "switch",
  }, USAGE);
  const stack = stackOption(p);
  const actions = ["--status", "--acquire", "--release"].filter((a) => p.switches.has(a));
  if (actions.length > 1) throw new CliError(`${actions.join(" and ")} do not go together: one action at a time`, 2);
  const action = actions[0] ?? "--status";
  const stray = (allowed: string[]) => {
    const extra = ["--message", "--wait", "--token", "--force"].filter((o) => !allowed.includes(o) && (p.values.has(o) || p.switches.has(o)));
    if (extra.length > 0) throw new CliError(`${extra[0]} does not go with ${action}`, 2);
  };
  if (action === "--status") {
    stray([]);
    return { stack, action: "status" };
  }
  if (action === "--acquire") {
    stray(["--message", "--wait"]);
    const message = p.values.get("--message");
    if (message === undefined || message.trim() === "") throw new CliError("--acquire needs --message (why: shown to whoever meets the lock)", 2);
    if (message.length > 500 || /[\u0000-\u001f\u007f]/.test(message)) throw new CliError("--message must be one line of at most 500 characters", 2);
    const wait = durationOption(p, "--wait");
    return { stack, action: "acquire", message, ...(wait !== undefined ? { waitSeconds: wait } : {}) };
  }
  stray(["--token", "--force"]);
  const token = p.values.get("--token");
  if (token !== undefined && !TOKEN.test(token)) throw new CliError(`--token must be the token --acquire printed (letters, digits, . _ -), got ${JSON.stringify(token)}`, 2);
  const force = p.switches.has("--force");
  if (token === undefined && !force) throw new CliError("--release needs --token T (the token --acquire printed) or --force (any holder's lock)", 2);
  return { stack, action: "release", force, ...(token !== undefined ? { token } : {}) };
}

/** railyard-release.sh's `lock` words for the action. */
export function lockWords(a: LockArgs, who: string, token: string): string[] {
  switch (a.action) {
    case "status":
      return ["lock", "status"];
    case "acquire":
      return ["lock", "acquire", "--who", who, "--kind", "manual", "--message", a.message, "--token", token, ...(a.waitSeconds !== undefined ? ["--wait", String(a.waitSeconds)] : [])];
    case "release":
      return ["lock", "release", ...(a.token !== undefined ? ["--token", a.token] : []), ...(a.force ? ["--force", "--who", who] : [])];
  }
}

export async function main(argv: string[], root = projectRoot()): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const cli = parseArgs(argv);
  const h = readStackHost(cli.stack, root);
  const token = crypto.randomBytes(16).toString("hex");
  const who = cli.action === "status" ? "" : whoAmI(root);
  const { code } = await runOnHost(h.host, releaseCli(scriptPath(h, "railyard-release.sh"), h.stackDir, h.prefix, lockWords(cli, who, token)));
  if (code === 0 && cli.action === "acquire") {
    console.log(`lock: ${cli.stack} is locked by ${who}; release it with: npm run lock -- --stack ${cli.stack} --release --token ${token}`);
  }
  return code;
}

if (require.main === module) runMain("lock", () => main(process.argv.slice(2)));
