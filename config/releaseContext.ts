/**
 * Who releases what, read once from the environment of the `pulumi up` (CI or a laptop): who, the commit, and what
 * kind of release it is (a deploy, or a rollback run by `npm run rollback` under the lock it already holds). Every
 * bad value is reported at once, each naming its variable; git is asked without a shell, and when it cannot answer
 * (no repository, no git) the next fallback is used.
 */
import { execFileSync } from "node:child_process";
import * as os from "node:os";
import type { ReleaseKind } from "../commands/release";
import { DURATION_PATTERN, durationMs } from "../lib/units";
import { terminalSafe } from "./problems";

export interface ReleaseContext {
  /** RAILYARD_WHO, else GITHUB_ACTOR, else the author of git HEAD, else the OS user. */
  who: string;
  /** GITHUB_SHA, else git HEAD, else "" (lower-case hex). */
  commit: string;
  /** RAILYARD_RELEASE_KIND. @default "deploy" */
  kind: ReleaseKind;
  /** RAILYARD_ROLLBACK_OF: the release a rollback goes back to (set with kind rollback, and only then). */
  rollbackOf?: number;
  /** RAILYARD_LOCK_TOKEN: the host lock the rollback CLI holds for this run. */
  lockToken?: string;
  /** RAILYARD_LOCK_WAIT: how long begin waits for another holder's lock (whole seconds, or a duration such as 10m). */
  waitSeconds?: number;
}

/** Runs git in `dir` (no shell); undefined when it fails or prints nothing. */
export type Git = (args: string[], dir: string) => string | undefined;

export const runGit: Git = (args, dir) => {
  try {
    const out = execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 }).trim();
    return out === "" ? undefined : out;
  } catch {
    return undefined;
  }
};

const WHO_MAX = 128;
/** Printable text: no control characters (C0, DEL, C1) nor line separators. */
const PRINTABLE = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/;
const COMMIT = /^[0-9a-f]{7,64}$/;
const TOKEN = /^[A-Za-z0-9._-]{1,128}$/;
const MAX_WAIT_S = 86400;
const MAX_RELEASE = 999999;

export class ReleaseContextError extends Error {
  constructor(readonly problems: string[]) {
    super(`railyard: the release's environment is not usable:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  }
}

const okWho = (v: string) => v.length <= WHO_MAX && PRINTABLE.test(v);

/**
 * The release context from `env`; `dir` is where git looks (the project). Throws ReleaseContextError listing
 * every variable with a bad value.
 */
export function releaseContext(env: NodeJS.ProcessEnv, dir: string, git: Git = runGit): ReleaseContext {
  const problems: string[] = [];
  const bad = (variable: string, expected: string, value: string) =>
    problems.push(`${variable}: expected ${expected}, got ${terminalSafe(JSON.stringify(value))}`);
  const set = (variable: string) => (env[variable] === undefined || env[variable] === "" ? undefined : env[variable]);

  const whoVar = ["RAILYARD_WHO", "GITHUB_ACTOR"].find((v) => set(v) !== undefined);
  let who: string | undefined;
  if (whoVar) {
    const value = set(whoVar) ?? "";
    if (okWho(value)) who = value;
    else bad(whoVar, `a name of printable characters (at most ${WHO_MAX})`, value);
  }
  who ??= [git(["log", "-1", "--format=%an"], dir), osUser()].find((v): v is string => v !== undefined && okWho(v)) ?? "unknown";

  let commit = "";
  const sha = set("GITHUB_SHA");
  if (sha !== undefined) {
    if (COMMIT.test(sha)) commit = sha;
    else bad("GITHUB_SHA", "a commit hash (7 to 64 lower-case hex digits)", sha);
  } else {
    const head = git(["rev-parse", "HEAD"], dir);
    if (head !== undefined && COMMIT.test(head)) commit = head;
  }

  const kindValue = set("RAILYARD_RELEASE_KIND") ?? "deploy";
  const kind: ReleaseKind = kindValue === "rollback" ? "rollback" : "deploy";
  if (kindValue !== "deploy" && kindValue !== "rollback") bad("RAILYARD_RELEASE_KIND", "deploy or rollback", kindValue);

  const of = set("RAILYARD_ROLLBACK_OF");
  let rollbackOf: number | undefined;
  if (of !== undefined) {
    if (/^[1-9][0-9]{0,5}$/.test(of)) rollbackOf = Number(of);
    else bad("RAILYARD_ROLLBACK_OF", `a release number (1 to ${MAX_RELEASE})`, of);
  }
  if (kindValue === "rollback" && of === undefined) problems.push("RAILYARD_ROLLBACK_OF: expected the release a rollback goes back to (RAILYARD_RELEASE_KIND is rollback), got nothing");
  if (kindValue !== "rollback" && of !== undefined) bad("RAILYARD_ROLLBACK_OF", "nothing unless RAILYARD_RELEASE_KIND is rollback", of);

  const token = set("RAILYARD_LOCK_TOKEN");
  if (token !== undefined && !TOKEN.test(token)) bad("RAILYARD_LOCK_TOKEN", "1 to 128 of A-Z a-z 0-9 . _ -", token);

  const wait = set("RAILYARD_LOCK_WAIT");
  const waitSeconds = wait === undefined ? undefined : seconds(wait);
  if (wait !== undefined && waitSeconds === undefined) bad("RAILYARD_LOCK_WAIT", `whole seconds or a duration such as 10m (at most ${MAX_WAIT_S / 3600}h)`, wait);

  if (problems.length > 0) throw new ReleaseContextError(problems);
  return {
    who,
    commit,
    kind,
    ...(rollbackOf === undefined ? {} : { rollbackOf }),
    ...(token === undefined ? {} : { lockToken: token }),
    ...(waitSeconds === undefined ? {} : { waitSeconds }),
  };
}

/** Whole seconds from "600" or a duration ("10m"), rounded up; undefined when not one, or over a day. */
function seconds(value: string): number | undefined {
  const s = /^[0-9]{1,9}$/.test(value) ? Number(value) : DURATION_PATTERN.test(value) ? Math.ceil(durationMs(value) / 1000) : undefined;
  return s !== undefined && s <= MAX_WAIT_S ? s : undefined;
}

function osUser(): string | undefined {
  try {
    return os.userInfo().username || undefined;
  } catch {
    return undefined;
  }
}
