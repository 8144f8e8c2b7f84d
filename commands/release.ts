/**
 * Command builders for host/railyard-release.sh, the host's release store (Kamal style: pure functions returning
 * one shell line; every value is one quoted word, so nothing in it is expanded). `begin` takes the stack's host
 * lock before a release changes anything; `record` writes the release's record once its gates passed; the other
 * subcommands (list, show, live, check-images, lock, audit) are what the operator CLIs run through `releaseCli`.
 * The script works by hand with --help.
 */
import { shellJoin } from "../lib/shell";

/** What a release record keeps of one service (the script adds its Swarm spec, read back from the engine). */
export interface RecordedService {
  /** Swarm service name. */
  swarm: string;
  /** The image reference the tasks run. */
  image: string;
  /** RAILYARD_RELEASE: 12 hex digits. */
  release: string;
  /** Whether the service has a preDeployCommand (a migration ran when its image changed). */
  migration: boolean;
  /** railyard-gate.sh's arguments for this release (gateArgv). */
  gate: string[];
}

export type ReleaseKind = "deploy" | "rollback";

/** Who released what: the options begin and record share. */
export interface ReleaseContext {
  /** `<dataDir>/<prefix>` on the host. */
  stackDir: string;
  /** The stack's prefix. */
  stack: string;
  /** The release's content key (64 hex): the deploy lock's token. */
  token: string;
  /** Who released (the script makes it one word: other characters become `_`, at most 64). */
  who: string;
  /** The commit released (hex), or "". */
  commit: string;
  kind: ReleaseKind;
  /** The release a rollback goes back to. */
  rollbackOf?: number;
}

export interface BeginArgs extends ReleaseContext {
  /** Shown to whoever meets the lock. */
  message: string;
  /** The lock a rollback CLI already holds for this run (begin then proceeds under it). */
  lockToken?: string;
  /** How long to wait for a rollback or manual lock to be released, in seconds (default: not at all). */
  waitSeconds?: number;
}

export interface RecordArgs extends ReleaseContext {
  /** Records kept (railyard:deploy.releasesKept); the live one and its rollback target always are. */
  keep: number;
  services: Record<string, RecordedService>;
  /** The stack file as deployed (secrets only as `secure:` ciphertext), or null. */
  config: string | null;
}

/**
 * The longest stack file a record carries (characters). The record goes to the host as one command line, which a
 * remote shell takes whole only up to 128 KiB (one argument of `bash -c`); base64 adds a third.
 */
export const RECORD_CONFIG_MAX = 65_536;
/** The longest record line sent (bytes), under the 128 KiB a single argument may have. */
const RECORD_LINE_MAX = 120_000;

/** Seconds `record` may take: a spec per service, a keeper container per service, pruning. */
export const RECORD_TIMEOUT_SECONDS = 600;
/** Seconds `begin` may take beyond its --wait. */
export const BEGIN_MARGIN_SECONDS = 60;

const STACK = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ABS_PATH = /^\/([A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)?\/?$/;
const KEY = /^[0-9a-f]{64}$/;
const TOKEN = /^[A-Za-z0-9._-]{1,128}$/;
const COMMIT = /^([0-9a-f]{4,64})?$/;
const RELEASE = /^[0-9a-f]{12}$/;

function refuse(what: string, value: unknown): never {
  throw new Error(`railyard: release command: ${what}, got ${JSON.stringify(value)}`);
}

function checkText(name: string, value: string, max: number): void {
  if (value.includes("\0") || value.length > max) refuse(`${name} must be text without NUL, at most ${max} characters`, value);
}

function checkCommon(stackDir: string, stack: string): void {
  if (!ABS_PATH.test(stackDir) || /(^|\/)\.\.(\/|$)/.test(stackDir)) refuse("stackDir must be an absolute path (letters, digits, . _ -)", stackDir);
  if (!STACK.test(stack)) refuse("stack must be a lower-case name (a-z, 0-9, inner -, at most 63)", stack);
}

function contextWords(c: ReleaseContext): string[] {
  checkCommon(c.stackDir, c.stack);
  if (!KEY.test(c.token)) refuse("token must be a release key (64 lower-case hex digits)", c.token);
  if (c.who.length === 0) refuse("who must not be empty", c.who);
  checkText("who", c.who, 1024);
  if (!COMMIT.test(c.commit)) refuse("commit must be lower-case hex (4 to 64 digits) or empty", c.commit);
  if (c.kind !== "deploy" && c.kind !== "rollback") refuse("kind must be deploy or rollback", c.kind);
  if (c.rollbackOf !== undefined && !(Number.isInteger(c.rollbackOf) && c.rollbackOf >= 1 && c.rollbackOf <= 999999)) {
    refuse("rollbackOf must be a release number (1 to 999999)", c.rollbackOf);
  }
  if ((c.kind === "rollback") !== (c.rollbackOf !== undefined)) refuse("rollbackOf is given with kind rollback, and only then", c.rollbackOf ?? null);
  return [
    "--token", c.token, "--who", c.who, "--commit", c.commit, "--kind", c.kind,
    ...(c.rollbackOf !== undefined ? ["--rollback-of", String(c.rollbackOf)] : []),
  ];
}

function script(scriptPath: string, stackDir: string, stack: string): string[] {
  return ["bash", scriptPath, "--stack-dir", stackDir, "--stack", stack];
}

/** Takes the stack's host lock for the release (or proceeds under the rollback CLI's) and notes it as pending. */
export function beginCommand(scriptPath: string, b: BeginArgs): string {
  const words = contextWords(b);
  checkText("message", b.message, 1024);
  if (b.lockToken !== undefined && !TOKEN.test(b.lockToken)) refuse("lockToken must be 1 to 128 of A-Z a-z 0-9 . _ -", b.lockToken);
  if (b.waitSeconds !== undefined && !(Number.isInteger(b.waitSeconds) && b.waitSeconds >= 0 && b.waitSeconds <= 86400)) {
    refuse("waitSeconds must be whole seconds, 0 to 86400", b.waitSeconds);
  }
  words.push("--message", b.message);
  if (b.lockToken !== undefined) words.push("--lock-token", b.lockToken);
  if (b.waitSeconds !== undefined) words.push("--wait", String(b.waitSeconds));
  const limit = (b.waitSeconds ?? 0) + BEGIN_MARGIN_SECONDS;
  return shellJoin(["timeout", String(limit), ...script(scriptPath, b.stackDir, b.stack), "begin", ...words]);
}

function checkService(name: string, s: RecordedService): void {
  if (!STACK.test(name)) refuse("a service name must be lower-case (a-z, 0-9, inner -)", name);
  if (!STACK.test(s.swarm)) refuse(`services.${name}.swarm must be a Swarm service name`, s.swarm);
  if (s.image.length === 0 || /[\s\0]/.test(s.image)) refuse(`services.${name}.image must be an image reference`, s.image);
  if (!RELEASE.test(s.release)) refuse(`services.${name}.release must be 12 lower-case hex digits`, s.release);
  if (typeof s.migration !== "boolean") refuse(`services.${name}.migration must be true or false`, s.migration);
  for (const w of s.gate) checkText(`services.${name}.gate`, w, 4096);
}

/** The services as record's --services-b64 takes them: JSON in service-name order, base64. */
export function servicesPayload(services: Record<string, RecordedService>): string {
  const ordered: Record<string, RecordedService> = {};
  for (const name of Object.keys(services).sort()) {
    const s = services[name];
    checkService(name, s);
    ordered[name] = { swarm: s.swarm, image: s.image, release: s.release, migration: s.migration, gate: [...s.gate] };
  }
  return Buffer.from(JSON.stringify(ordered), "utf8").toString("base64");
}

/**
 * Records the release whose gates passed: the record (with each service's Swarm spec), the live pointer, an
 * audit line, keepers for its images, pruning, the webhook; releases the deploy lock. Prints {"seq":N,"at":"…"}.
 */
export function recordCommand(scriptPath: string, r: RecordArgs): string {
  const words = contextWords(r);
  if (!(Number.isInteger(r.keep) && r.keep >= 1 && r.keep <= 100)) refuse("keep must be 1 to 100", r.keep);
  if (Object.keys(r.services).length === 0) refuse("a release records at least one service", r.services);
  words.push("--keep", String(r.keep), "--services-b64", servicesPayload(r.services));
  if (r.config !== null) {
    checkText("config", r.config, RECORD_CONFIG_MAX);
    words.push("--config-b64", Buffer.from(r.config, "utf8").toString("base64"));
  }
  const line = shellJoin(["timeout", String(RECORD_TIMEOUT_SECONDS), ...script(scriptPath, r.stackDir, r.stack), "record", ...words]);
  const bytes = Buffer.byteLength(line, "utf8");
  if (bytes > RECORD_LINE_MAX) refuse(`the record line must be at most ${RECORD_LINE_MAX} bytes (a remote shell takes one line of 128 KiB): the stack file and services make it`, bytes);
  return line;
}

/** One of the store's other subcommands (list, show N, live, check-images N, lock …, audit …) for the stack. */
export function releaseCli(scriptPath: string, stackDir: string, stack: string, args: string[]): string {
  checkCommon(stackDir, stack);
  if (args.length === 0) refuse("a subcommand is needed", args);
  for (const a of args) checkText("an argument", a, 4096);
  return shellJoin([...script(scriptPath, stackDir, stack), ...args]);
}
