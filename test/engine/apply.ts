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
import { Captured, mockSecretName, reveal, StackRun } from "../harness";
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
    const step = r.type === "command:local:Command" || r.type === "docker:index/service:Service";
    if (only && step && !only(r.name)) continue;
    const began = Date.now();
    if (r.type === "command:local:Command") {
      const substitute = (text: string) => substitutes.reduce((line, [declared, test]) => line.split(declared).join(test), text);
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
      try {
        // Asynchronous, so load generated by the same test process keeps flowing while the step runs.
        const running = execFileAsync("bash", ["-c", create], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
        // A command's secret input arrives on stdin, as @pulumi/command feeds it.
        // A command that exits before reading its stdin (a refusal) must not fail the bed with EPIPE: its exit code tells.
        running.child.stdin?.on("error", () => undefined);
        running.child.stdin?.end(r.inputs.stdin === undefined ? "" : String(reveal(r.inputs.stdin)));
        await running;
      } catch (e) {
        result.durations[r.name] = Date.now() - began;
        const err = e as { code?: number; stdout?: string; stderr?: string };
        throw new CommandFailed(r.name, typeof err.code === "number" ? err.code : -1, `${err.stdout ?? ""}${err.stderr ?? ""}`, result);
      }
      commandState.set(r.name, applied);
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
      const step = await applyService(r.inputs, image(r.name), refsFrom(secrets, configs));
      result.actions[r.name] = step.action;
      if (step.plan) result.plans[r.name] = step.plan;
      if (step.action === "none") result.outcome[r.name] = "unchanged";
      else if (opts.converge === false) result.outcome[r.name] = "not waited";
      else result.outcome[r.name] = await convergeLikeProvider(name, step.action === "update" ? "update" : "create", r.inputs.convergeConfig);
      result.durations[r.name] = Date.now() - began;
    }
  }
  return result;
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
  commandState.clear();
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
