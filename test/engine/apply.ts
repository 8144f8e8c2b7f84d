/**
 * Applies what the program declared (under mocks) to the real engine, in registration order, the way the
 * provider's cycle would: the bootstrap command runs for real, volumes and secrets are created, each service is
 * read back, planned against its declaration and then left alone, updated, replaced or created as the provider
 * would (serviceStep.ts), and waited on as the provider waits on its `convergeConfig` (converge.ts). This
 * emulates `pulumi up`'s effect on the engine; it is not `pulumi up`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Captured, mockCommandStdout, mockSecretName, reveal, StackRun } from "../harness";
import { providerConverge } from "./converge";
import { engine, filters } from "./engineApi";
import type { Plan } from "./provider/plan";
import { applyService, EngineRefs, forgetServices, planOnly, StepResult } from "./serviceStep";
import { bedRelease, DeclaredService, declaredRelease, revealDeep, SecretRef } from "./spec";

export interface ApplyResult {
  /** Declared resource name → Swarm service name. */
  services: Record<string, string>;
  /**
   * Per service with convergeConfig, what the provider's wait reports (./converge.ts): "converged", or
   * "failed: <its error>" (Swarm rolled back or paused before it looked, or the timeout); "unchanged" when the
   * provider's plan against the engine's read-back was empty (Pulumi calls nothing); per service without (the health gate waits for those): "applied"; per host command: "ok", or "unchanged" when its
   * create line and triggers are those it last ran with (Pulumi runs it again only when they change).
   */
  outcome: Record<string, string>;
  /** Milliseconds each applied command or service took (a failed command included). */
  durations: Record<string, number>;
  /** Per service, what `pulumi up` did with it after planning against the engine's read-back (./serviceStep.ts). */
  actions: Record<string, StepResult["action"]>;
  /** Per service already on the engine, the plan the provider made. */
  plans: Record<string, Plan>;
}

export interface ApplyOptions {
  /**
   * false: do not wait for services with a convergeConfig ("not waited"), for tests of what is declared and
   * planned rather than of what runs (images that cannot pass their health check here, such as Mongo's).
   */
  converge?: boolean;
  /**
   * Run `command:remote:Command` resources for real over SSH (their connection: host, port, user, privateKey, and
   * the hostKey pinned in a known_hosts file of their own), stdin fed as @pulumi/command feeds it. Without it they
   * are skipped (no SSH host answers in the single-engine tests).
   */
  ssh?: boolean;
  /**
   * Commands (local or remote) the bed ran earlier and that this run no longer declares are deleted as Pulumi deletes
   * removed resources: after everything else, their `delete` line (with the inputs they last ran with), newest first.
   */
  deleteRemoved?: boolean;
}

/** A host command failed: `pulumi up` stops there (its dependents are not applied). */
export class CommandFailed extends Error {
  constructor(
    readonly resource: string,
    readonly exitCode: number,
    readonly output: string,
    readonly partial: ApplyResult,
  ) {
    super(`${resource} exited ${exitCode}:\n${output}`);
  }
}

export interface SwarmTask {
  ID: string;
  DesiredState: string;
  Status: { State: string; ContainerStatus?: { ContainerID?: string } };
  Spec: { ContainerSpec: { Image: string } };
}

const execFileAsync = promisify(execFile);
/**
 * The bed's state of the host commands it ran, as Pulumi's state keeps them: per resource name, the create line
 * and triggers it last ran with (a failed run keeps the previous ones). Going back to an earlier release's line is
 * a change, as it is for Pulumi, which compares with the last inputs only.
 */
const commandState = new Map<string, string>();
/**
 * The real stdout of each command the bed ran (one trailing newline dropped, as @pulumi/command does), put in
 * place of its placeholder (runStack's `commandStdout`) in the commands that use it: a join token, a node ID.
 */
const commandStdout = new Map<string, string>();
/** Commands the bed created that have a `delete`, with what deleting them runs, in creation order. */
const deletable = new Map<string, DeleteStep>();
interface DeleteStep {
  type: string;
  line: string;
  stdin: string;
  connection?: SshConnection;
}

interface SshConnection {
  host: string;
  port?: number;
  user?: string;
  privateKey?: string;
  hostKey?: string;
}

/** Replaces the stdout placeholders of the commands that ran with their real stdout. */
function withStdout(text: string): string {
  let out = text;
  for (const [name, stdout] of commandStdout) out = out.split(mockCommandStdout(name)).join(stdout);
  return out;
}

/**
 * Runs a command line as @pulumi/command would: locally with bash, or over SSH to its connection (the host key
 * pinned: the only known_hosts entry; batch mode, so a refused key fails instead of asking). Asynchronous, so load
 * generated by the same test process keeps flowing while it runs. Resolves to its stdout; rejects as execFile does.
 */
async function runCommand(line: string, stdin: string, connection?: SshConnection): Promise<string> {
  let dir: string | undefined;
  let argv: [string, string[]] = ["bash", ["-c", line]];
  if (connection) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-bed-ssh-"));
    const port = connection.port ?? 22;
    const key = path.join(dir, "key");
    fs.writeFileSync(key, String(reveal(connection.privateKey) ?? ""), { mode: 0o600 });
    const known = path.join(dir, "known_hosts");
    fs.writeFileSync(known, `${port === 22 ? connection.host : `[${connection.host}]:${port}`} ${String(connection.hostKey ?? "")}\n`);
    argv = [
      "ssh",
      [
        "-i", key, "-o", "IdentitiesOnly=yes", "-o", `UserKnownHostsFile=${known}`, "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-o", "LogLevel=ERROR",
        "-p", String(port), `${connection.user ?? "root"}@${connection.host}`, "--", line,
      ],
    ];
  }
  try {
    const running = execFileAsync(argv[0], argv[1], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
    // A command that exits before reading its stdin (a refusal) must not fail the bed with EPIPE: its exit code tells.
    running.child.stdin?.on("error", () => undefined);
    running.child.stdin?.end(stdin);
    return (await running).stdout;
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Swarm config as the provider creates it: under its declared (content-hashed) name, reused when it exists. */
async function createConfig(r: Captured): Promise<SecretRef> {
  const name = String(r.inputs.name);
  const found = (await engine<{ ID: string }[]>("GET", `/configs?filters=${filters({ name: [name] })}`)).find(() => true);
  if (found) return { id: found.ID, name };
  const labels = Object.fromEntries(((r.inputs.labels ?? []) as { label: string; value: string }[]).map((l) => [l.label, l.value]));
  const created = await engine<{ ID: string }>("POST", "/configs/create", { Name: name, Data: String(r.inputs.data), Labels: labels });
  return { id: created.ID, name };
}

async function createSecret(r: Captured): Promise<SecretRef> {
  const data = String(reveal(r.inputs.data));
  // Same inputs, same secret (as Pulumi keeps an unchanged resource); new data, a new auto-named secret.
  const name = `${r.name}-${createHash("sha256").update(data).digest("hex").slice(0, 7)}`;
  const existing = await engine<{ ID: string }[]>("GET", `/secrets?filters=${filters({ name: [name] })}`);
  const found = existing.find(() => true);
  if (found) return { id: found.ID, name };
  const labels = Object.fromEntries(((r.inputs.labels ?? []) as { label: string; value: string }[]).map((l) => [l.label, l.value]));
  const created = await engine<{ ID: string }>("POST", "/secrets/create", { Name: name, Data: data, Labels: labels });
  return { id: created.ID, name };
}

export async function tasks(service: string, desired = "running"): Promise<SwarmTask[]> {
  return engine<SwarmTask[]>("GET", `/tasks?filters=${filters({ service: [service], "desired-state": [desired] })}`);
}

/**
 * What `pulumi up` waits for after a service's create or update: without a convergeConfig nothing ("applied");
 * with one the provider's own wait (./converge.ts): "converged", or "failed: <the provider's error>".
 */
async function convergeLikeProvider(name: string, phase: "create" | "update", cfg: unknown): Promise<string> {
  if (!cfg) return "applied";
  const r = await providerConverge(name, phase, cfg as { delay: string; timeout: string });
  return r.outcome === "converged" ? "converged" : `failed: ${r.error}`;
}

/**
 * Applies a stack run. `image(name)` gives the test image for a declared service (the only substitution);
 * `only(name)`, when given, limits the commands and services run to those a real update would touch (secrets,
 * configs and volumes are content-named or idempotent, so they are always looked up or created).
 * Returns per service whether it converged or was rolled back.
 */
export async function applyStack(
  run: StackRun,
  image: (name: string) => string,
  only?: (name: string) => boolean,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const secrets = new Map<string, SecretRef>();
  const configs = new Map<string, SecretRef>();
  const result: ApplyResult = { services: {}, outcome: {}, durations: {}, actions: {}, plans: {} };
  // Commands name the declared images (migration job, gate): they get the same substitutes as the services.
  // So do the gates' release labels (a test image makes another release).
  const substitutes = run.resources
    .filter((r) => r.type === "docker:index/service:Service")
    .flatMap((r) => {
      const d = revealDeep(r.inputs) as DeclaredService;
      const release = declaredRelease(d);
      return [[String(d.taskSpec.containerSpec.image), image(r.name)] as const, ...(release ? [[release, bedRelease(release, image(r.name))] as const] : [])];
    })
    .sort((a, b) => b[0].length - a[0].length) as [string, string][];
  for (const r of run.resources) {
    // `only`: the resources a real `pulumi up` would change (it skips the unchanged ones).
    const remote = r.type === "command:remote:Command" && opts.ssh === true;
    const step = r.type === "command:local:Command" || remote || r.type === "docker:index/service:Service";
    if (only && step && !only(r.name)) continue;
    const began = Date.now();
    if (r.type === "command:local:Command" || remote) {
      const substitute = (text: string) => withStdout(substitutes.reduce((line, [declared, test]) => line.split(declared).join(test), text));
      // A release record carries its services as base64 JSON (images, releases, gate argv): substituted inside too.
      const create = substitute(String(reveal(r.inputs.create))).replace(
        /(--services-b64 )([A-Za-z0-9+/=]+)/,
        (_m, flag: string, b64: string) => flag + Buffer.from(substitute(Buffer.from(b64, "base64").toString("utf8")), "utf8").toString("base64"),
      );
      // Pulumi runs a command again only when its inputs changed (a new test image stands for a new release).
      const applied = `${create}\n${substitute(JSON.stringify(revealDeep(r.inputs.triggers) ?? null))}`;
      if (commandState.get(r.name) === applied) {
        result.outcome[r.name] = "unchanged";
        continue;
      }
      // A command's secret input arrives on stdin, as @pulumi/command feeds it.
      const stdin = r.inputs.stdin === undefined ? "" : substitute(String(reveal(r.inputs.stdin)));
      const connection = remote ? (revealDeep(r.inputs.connection) as SshConnection) : undefined;
      try {
        const stdout = await runCommand(create, stdin, connection);
        commandStdout.set(r.name, stdout.replace(/\n$/, ""));
      } catch (e) {
        result.durations[r.name] = Date.now() - began;
        const err = e as { code?: number; stdout?: string; stderr?: string };
        throw new CommandFailed(r.name, typeof err.code === "number" ? err.code : -1, `${err.stdout ?? ""}${err.stderr ?? ""}`, result);
      }
      commandState.set(r.name, applied);
      if (r.inputs.delete !== undefined) {
        deletable.delete(r.name);
        deletable.set(r.name, { type: r.type, line: substitute(String(reveal(r.inputs.delete))), stdin, connection });
      }
      result.outcome[r.name] = "ok";
      result.durations[r.name] = Date.now() - began;
    } else if (r.type === "docker:index/volume:Volume") {
      await engine("POST", "/volumes/create", { Name: r.inputs.name, Labels: { "railyard.test": "1" } });
    } else if (r.type === "docker:index/secret:Secret") {
      const created = await createSecret(r);
      secrets.set(`${r.name}-id`, created);
      substitutes.push([mockSecretName(r.name), created.name]);
    } else if (r.type === "docker:index/serviceConfig:ServiceConfig") {
      configs.set(`${r.name}-id`, await createConfig(r));
    } else if (r.type === "docker:index/service:Service") {
      const name = String((revealDeep(r.inputs) as DeclaredService).name);
      result.services[r.name] = name;
      const step = await applyService(r.inputs, image(r.name), refsFrom(secrets, configs), undefined, r.ignoreChanges);
      result.actions[r.name] = step.action;
      if (step.plan) result.plans[r.name] = step.plan;
      if (step.action === "none") result.outcome[r.name] = "unchanged";
      else if (opts.converge === false) result.outcome[r.name] = "not waited";
      else result.outcome[r.name] = await convergeLikeProvider(name, step.action === "update" ? "update" : "create", r.inputs.convergeConfig);
      result.durations[r.name] = Date.now() - began;
    }
  }
  if (opts.deleteRemoved) await deleteRemovedCommands(run, result);
  return result;
}

/**
 * Deletes the commands the bed created that `run` no longer declares, newest first (Pulumi deletes a removed
 * resource after its dependents): each runs its `delete` line with the inputs it last ran with. Outcome "deleted".
 */
async function deleteRemovedCommands(run: StackRun, result: ApplyResult): Promise<void> {
  const declared = new Set(run.resources.map((r) => r.name));
  const removed = [...commandState.keys()].filter((name) => !declared.has(name)).reverse();
  const order = [...deletable.keys()];
  removed.sort((a, b) => order.indexOf(b) - order.indexOf(a));
  for (const name of removed) {
    const began = Date.now();
    const step = deletable.get(name);
    if (step) {
      try {
        await runCommand(step.line, step.stdin, step.connection);
      } catch (e) {
        result.durations[name] = Date.now() - began;
        const err = e as { code?: number; stdout?: string; stderr?: string };
        throw new CommandFailed(name, typeof err.code === "number" ? err.code : -1, `${err.stdout ?? ""}${err.stderr ?? ""}`, result);
      }
    }
    commandState.delete(name);
    commandStdout.delete(name);
    deletable.delete(name);
    result.outcome[name] = "deleted";
    result.durations[name] = Date.now() - began;
  }
}

/** Forgets the bed's state of the commands it ran (as for a new stack), without deleting anything. */
export function forgetCommands(): void {
  commandState.clear();
  commandStdout.clear();
  deletable.clear();
}

/**
 * The plan `pulumi up` would make for each declared service of a stack run against what the engine runs now,
 * without changing any service (undefined: not on the engine). Secrets and configs are looked up by content
 * (created when new, as the run would create them first).
 */
export async function planStack(run: StackRun, image: (name: string) => string): Promise<Record<string, Plan | undefined>> {
  const refs = await engineRefs(run);
  const plans: Record<string, Plan | undefined> = {};
  for (const r of run.resources.filter((x) => x.type === "docker:index/service:Service")) {
    plans[r.name] = await planOnly(r.inputs, image(r.name), refs);
  }
  return plans;
}

/** The engine's secrets and configs of a stack run, by their mocked IDs (created when new, as the run would create them). */
export async function engineRefs(run: StackRun): Promise<EngineRefs> {
  const secrets = new Map<string, SecretRef>();
  const configs = new Map<string, SecretRef>();
  for (const r of run.resources) {
    if (r.type === "docker:index/secret:Secret") secrets.set(`${r.name}-id`, await createSecret(r));
    if (r.type === "docker:index/serviceConfig:ServiceConfig") configs.set(`${r.name}-id`, await createConfig(r));
  }
  return refsFrom(secrets, configs);
}

/** Lookups of the engine's secrets and configs by mocked ID; an ID the run did not declare is an error. */
function refsFrom(secrets: Map<string, SecretRef>, configs: Map<string, SecretRef>): EngineRefs {
  const lookup = (kind: string, map: Map<string, SecretRef>) => (id: string) => {
    const found = map.get(id);
    if (!found) throw new Error(`a service refers to undeclared ${kind} ${id}`);
    return found;
  };
  return { secret: lookup("secret", secrets), config: lookup("config", configs) };
}

/**
 * Removes what the tests created for a stack prefix: services, secrets, volumes, the network; and forgets the
 * bed's state of what it applied, so the next application starts as a first deploy.
 */
export async function teardown(prefix: string, network: string): Promise<void> {
  forgetCommands();
  forgetServices(prefix);
  const label = filters({ label: [`railyard.stack=${prefix}`] });
  for (const s of await engine<{ ID: string }[]>("GET", `/services?filters=${label}`)) await engine("DELETE", `/services/${s.ID}`);
  // The release store's keepers of the stack's images: created, never started, so no service removal takes them.
  const keepers = filters({ label: [`railyard.stack=${prefix}`, "railyard.role=keep"] });
  for (const c of await engine<{ Id: string }[]>("GET", `/containers/json?all=1&filters=${keepers}`)) {
    await engine("DELETE", `/containers/${c.Id}?force=1`).catch(() => undefined);
  }
  const containers = filters({ name: [`${prefix}-`] });
  for (let i = 0; i < 60 && (await engine<unknown[]>("GET", `/containers/json?all=1&filters=${containers}`)).length > 0; i++) await sleep(500);
  await sleep(1000);
  for (const s of await engine<{ ID: string }[]>("GET", `/secrets?filters=${label}`)) await engine("DELETE", `/secrets/${s.ID}`).catch(() => undefined);
  for (const c of await engine<{ ID: string }[]>("GET", `/configs?filters=${label}`)) await engine("DELETE", `/configs/${c.ID}`).catch(() => undefined);
  const vols = await engine<{ Volumes: { Name: string }[] | null }>("GET", `/volumes?filters=${filters({ name: [`${prefix}-`] })}`);
  for (const v of vols.Volumes ?? []) await engine("DELETE", `/volumes/${v.Name}`).catch(() => undefined);
  await engine("DELETE", `/networks/${network}`).catch(() => undefined);
}
