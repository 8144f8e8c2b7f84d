/**
 * What the operator's commands (restore, rollback, audit, lock, status, logs, exec) share: the stack file's host
 * target and prefix (its non-secret keys only), the ssh command line with the host key pinned from the stack file
 * (in a temporary known_hosts), running a host command over ssh or locally for a `mode: local` host, and a small
 * argument parser whose errors name the argument at fault.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { releaseContext } from "../config/releaseContext";

export const ROOT = path.join(__dirname, "..");

/** Where the stack files are: RAILYARD_PROJECT_DIR (as for the program), else this checkout. */
export function projectRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.RAILYARD_PROJECT_DIR || ROOT;
}

/** A problem the operator can fix: printed as "<command>: <message>", exit `code`. */
export class CliError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

/** The host's data folder when the stack file names none (config/schema.ts: railyard:host.dataDir). */
export const DEFAULT_DATA_DIR = "/var/lib/railyard";

export type HostTarget =
  | { mode: "local"; dataDir: string }
  | { mode: "ssh"; address: string; port: number; user: string; hostKey: string; dataDir: string };

export type Yaml = Record<string, unknown>;
export const obj = (v: unknown): Yaml | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Yaml) : undefined);
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** A railyard name: stacks, services, databases (a DNS label, lower-case, starting with a letter). */
export const NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The prefix and the host target of a stack file's config (a parsed Pulumi.<stack>.yaml's `config`). */
export function hostOf(config: Yaml, stack: string): { prefix: string; host: HostTarget } {
  const where = `Pulumi.${stack}.yaml`;
  const prefix = str(config["railyard:prefix"]) ?? stack;
  const host = obj(config["railyard:host"]);
  const mode = str(host?.mode) ?? "ssh";
  const dataDir = str(host?.dataDir) ?? DEFAULT_DATA_DIR;
  if (mode === "local") return { prefix, host: { mode: "local", dataDir } };
  const address = str(host?.address);
  const hostKey = str(host?.hostKey);
  if (!address || !hostKey) throw new CliError(`${where}: railyard:host needs address and hostKey (the pinned host key) for ssh`, 2);
  const port = host?.port === undefined ? 22 : Number(host.port);
  return { prefix, host: { mode: "ssh", address, port, user: str(host?.user) ?? "root", hostKey, dataDir } };
}

export interface StackFile {
  /** The file's path: <root>/Pulumi.<stack>.yaml. */
  file: string;
  text: string;
  /** Its `config` map, parsed. */
  config: Yaml;
}

export function readStackFile(stack: string, root = ROOT): StackFile {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new CliError(`no stack file ${file} (--stack ${stack})`, 2);
  const text = fs.readFileSync(file, "utf8");
  return { file, text, config: obj(obj(parse(text))?.config) ?? {} };
}

/** A stack's host as the day-two commands reach it: its prefix, target and `<dataDir>/<prefix>`. */
export interface StackHost {
  stack: string;
  prefix: string;
  host: HostTarget;
  stackDir: string;
}

export function readStackHost(stack: string, root = ROOT): StackHost {
  const { prefix, host } = hostOf(readStackFile(stack, root).config, stack);
  return { stack, prefix, host, stackDir: `${host.dataDir}/${prefix}` };
}

/** Where a host script is: this checkout's host/ for a local host, `<stackDir>/scripts/` on an ssh host. */
export function scriptPath(h: StackHost, script: string): string {
  return h.host.mode === "local" ? path.join(ROOT, "host", script) : `${h.stackDir}/scripts/${script}`;
}

/** The known_hosts line pinning the stack file's host key (its host field, if any, replaced by the address). */
export function knownHostsLine(address: string, port: number, hostKey: string): string {
  const parts = hostKey.trim().split(/\s+/);
  const key = parts[0].startsWith("ssh-") || parts[0].startsWith("ecdsa-") ? parts : parts.slice(1);
  const host = port === 22 ? address : `[${address}]:${port}`;
  return `${host} ${key.slice(0, 2).join(" ")}`;
}

/** ssh to the host, its key pinned; `tty` asks for a terminal (an interactive exec, a followed log). */
export function sshArgv(host: Extract<HostTarget, { mode: "ssh" }>, knownHosts: string, remote: string, tty = false): string[] {
  return [
    "ssh", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes", ...(tty ? ["-t"] : []), "-p", String(host.port), `${host.user}@${host.address}`, remote,
  ];
}

export interface RunOptions {
  /** "inherit": the operator's stdin passes through; a string or a stream is written to it; default none. */
  stdin?: "inherit" | string | NodeJS.ReadableStream;
  /** A terminal on the host (ssh -t). */
  tty?: boolean;
  /** Keep stdout (returned) instead of passing it through. */
  capture?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
}

/** The argv that runs `remote` (one shell line) on the host: bash here for a local host, ssh otherwise. */
export function hostArgv(host: HostTarget, remote: string, knownHosts: string, tty = false): string[] {
  return host.mode === "local" ? ["bash", "-c", remote] : sshArgv(host, knownHosts, remote, tty);
}

/** Runs one shell line on the host; stderr passes through. Resolves to its exit code (255: ssh failed). */
export async function runOnHost(host: HostTarget, remote: string, opts: RunOptions = {}): Promise<RunResult> {
  let tmp: string | undefined;
  let knownHosts = "";
  if (host.mode === "ssh") {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-ssh-"));
    knownHosts = path.join(tmp, "known_hosts");
    fs.writeFileSync(knownHosts, `${knownHostsLine(host.address, host.port, host.hostKey)}\n`, { mode: 0o600 });
  }
  try {
    const argv = hostArgv(host, remote, knownHosts, opts.tty);
    const stdinMode = opts.stdin === "inherit" ? "inherit" : opts.stdin === undefined ? "ignore" : "pipe";
    const child = spawn(argv[0], argv.slice(1), { stdio: [stdinMode, opts.capture ? "pipe" : "inherit", "inherit"] });
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => void (stdout += c));
    // The host may stop reading early (a refused argument, a failed step): the writer then stops quietly.
    child.stdin?.on("error", () => undefined);
    if (typeof opts.stdin === "string" && opts.stdin !== "inherit") child.stdin?.end(opts.stdin);
    else if (opts.stdin !== undefined && typeof opts.stdin !== "string" && child.stdin) opts.stdin.pipe(child.stdin);
    const code = await new Promise<number>((resolve) => {
      child.on("error", () => resolve(127));
      child.on("close", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    return { code, stdout };
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Who the operator is, found as the program finds who released: RAILYARD_WHO, GITHUB_ACTOR, git author, OS user. */
export function whoAmI(root: string): string {
  return releaseContext({ RAILYARD_WHO: process.env.RAILYARD_WHO, GITHUB_ACTOR: process.env.GITHUB_ACTOR }, root).who;
}

// ---- arguments ----

/** What an option takes: a value, or nothing (a switch). */
export type OptionSpec = Record<string, "value" | "switch">;

export interface Parsed {
  values: Map<string, string>;
  switches: Set<string>;
  /** The words after `--` (when `rest` is allowed). */
  rest: string[];
}

/**
 * Parses `argv` by `spec`; an option given twice, a value missing or an unknown argument is a CliError (exit 2)
 * naming it, the usage after an unknown one. With `rest`, the words after `--` are returned as they are.
 */
export function parseOptions(argv: string[], spec: OptionSpec, usage: string, rest = false): Parsed {
  const out: Parsed = { values: new Map(), switches: new Set(), rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--" && rest) {
      out.rest = argv.slice(i + 1);
      break;
    }
    const kind = Object.prototype.hasOwnProperty.call(spec, a) ? spec[a] : undefined;
    if (kind === undefined) throw new CliError(`unknown argument ${JSON.stringify(a)}\n${usage}`, 2);
    if (out.values.has(a) || out.switches.has(a)) throw new CliError(`${a} is given twice`, 2);
    if (kind === "switch") {
      out.switches.add(a);
      continue;
    }
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new CliError(`${a} needs a value`, 2);
    out.values.set(a, v);
    i++;
  }
  return out;
}

/** Whether --help or -h is asked (before a `--`): the usage is then printed on stdout. */
export function helpAsked(argv: string[], usage: string): boolean {
  const own = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  if (!own.includes("--help") && !own.includes("-h")) return false;
  console.log(usage);
  return true;
}

/** --stack, required, a railyard name. */
export function stackOption(p: Parsed): string {
  const v = p.values.get("--stack");
  if (v === undefined) throw new CliError("--stack is required (the stack file Pulumi.<stack>.yaml)", 2);
  if (!NAME.test(v)) throw new CliError(`--stack must be a railyard name (a-z, 0-9, inner -, at most 63, starting with a letter), got ${JSON.stringify(v)}`, 2);
  return v;
}

/** A whole number option from `min` to `max`, or undefined when absent. */
export function intOption(p: Parsed, option: string, min: number, max: number): number | undefined {
  const v = p.values.get(option);
  if (v === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,9})$/.test(v) || +v < min || +v > max) throw new CliError(`${option} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`, 2);
  return +v;
}

/** A duration option (90, 90s, 10m, 2h) in seconds, or undefined when absent. */
export function durationOption(p: Parsed, option: string, maxSeconds = 86400): number | undefined {
  const v = p.values.get(option);
  if (v === undefined) return undefined;
  const m = /^([1-9][0-9]{0,5})([smh]?)$/.exec(v);
  const seconds = m ? +m[1] * ({ "": 1, s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2]] : NaN;
  if (!(seconds <= maxSeconds)) throw new CliError(`${option} must be a duration such as 90s, 10m or 1h (at most ${maxSeconds} s), got ${JSON.stringify(v)}`, 2);
  return seconds;
}

/** Runs a CLI's main: its exit code, a CliError printed as "<name>: message" with its code, anything else 1. */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(e instanceof CliError ? e.code : 1);
    },
  );
}
