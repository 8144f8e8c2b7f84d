/**
 * Applies what the program declared (under mocks) to the real engine, in registration order, the way the
 * provider's create/update path would: the bootstrap command runs for real, volumes and secrets are created,
 * services are created or updated through the Engine API, and each is waited on as the provider waits on its
 * `convergeConfig` (converge.ts). This emulates `pulumi up`'s effect on the engine; it is not `pulumi up`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import { Captured, mockSecretName, reveal, StackRun } from "../harness";
import { providerConverge } from "./converge";
import { engine, filters } from "./engineApi";
import { DeclaredService, revealDeep, SecretRef, toServiceSpec } from "./spec";

export interface ApplyResult {
  /** Declared resource name → Swarm service name. */
  services: Record<string, string>;
  /**
   * Per service with convergeConfig, what the provider's wait reports (./converge.ts): "converged", or
   * "failed: <its error>" (Swarm rolled back or paused before it looked, or the timeout); "unchanged" when the
   * update changed nothing; per service without (the health gate waits for those): "applied"; per host command: "ok".
   */
  outcome: Record<string, string>;
  /** Milliseconds each applied command or service took (a failed command included). */
  durations: Record<string, number>;
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

interface SwarmService {
  ID: string;
  Version: { Index: number };
  Spec: { Mode: { Replicated: { Replicas: number } }; TaskTemplate: { ContainerSpec: ContainerLike } };
  UpdateStatus?: { State: string; Message?: string; StartedAt?: string };
}

interface ContainerLike {
  Image?: string;
  Command?: string[];
  Env?: string[];
  Configs?: { ConfigName: string }[];
  Secrets?: { SecretName: string }[];
}

export interface SwarmTask {
  ID: string;
  DesiredState: string;
  Status: { State: string; ContainerStatus?: { ContainerID?: string } };
  Spec: { ContainerSpec: { Image: string } };
}

const execFileAsync = promisify(execFile);
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
 * with one the provider's own wait (./converge.ts): "converged", or "failed: <the provider's error>". An update
 * that changed nothing Swarm keeps (its Spec equals its PreviousSpec) is "unchanged": Pulumi would not have
 * called the provider at all (the bed re-sends every service; waiting 7 s on each would model nothing).
 */
async function convergeLikeProvider(name: string, phase: "create" | "update", cfg: unknown): Promise<string> {
  if (!cfg) return "applied";
  if (phase === "update") {
    const s = await engine<{ Spec: unknown; PreviousSpec?: unknown }>("GET", `/services/${name}`);
    if (JSON.stringify(s.Spec) === JSON.stringify(s.PreviousSpec)) return "unchanged";
  }
  const r = await providerConverge(name, phase, cfg as { delay: string; timeout: string });
  return r.outcome === "converged" ? "converged" : `failed: ${r.error}`;
}

/**
 * Applies a stack run. `image(name)` gives the test image for a declared service (the only substitution);
 * `only(name)`, when given, limits the commands and services run to those a real update would touch (secrets,
 * configs and volumes are content-named or idempotent, so they are always looked up or created).
 * Returns per service whether it converged or was rolled back.
 */
export async function applyStack(run: StackRun, image: (name: string) => string, only?: (name: string) => boolean): Promise<ApplyResult> {
  const secrets = new Map<string, SecretRef>();
  const configs = new Map<string, SecretRef>();
  const result: ApplyResult = { services: {}, outcome: {}, durations: {} };
  // Commands name the declared images (migration job, gate): they get the same substitutes as the services.
  const substitutes = run.resources
    .filter((r) => r.type === "docker:index/service:Service")
    .map((r) => [String((revealDeep(r.inputs) as DeclaredService).taskSpec.containerSpec.image), image(r.name)] as const)
    .sort((a, b) => b[0].length - a[0].length) as [string, string][];
  for (const r of run.resources) {
    // `only`: the resources a real `pulumi up` would change (it skips the unchanged ones).
    const step = r.type === "command:local:Command" || r.type === "docker:index/service:Service";
    if (only && step && !only(r.name)) continue;
    const began = Date.now();
    if (r.type === "command:local:Command") {
      const create = substitutes.reduce((line, [declared, test]) => line.split(declared).join(test), String(reveal(r.inputs.create)));
      try {
        // Asynchronous, so load generated by the same test process keeps flowing while the step runs.
        await execFileAsync("bash", ["-c", create], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
      } catch (e) {
        result.durations[r.name] = Date.now() - began;
        const err = e as { code?: number; stdout?: string; stderr?: string };
        throw new CommandFailed(r.name, typeof err.code === "number" ? err.code : -1, `${err.stdout ?? ""}${err.stderr ?? ""}`, result);
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
      const declared = (kind: string, map: Map<string, SecretRef>) => (id: string) => {
        const found = map.get(id);
        if (!found) throw new Error(`service ${r.name} refers to undeclared ${kind} ${id}`);
        return found;
      };
      const spec = toServiceSpec(r.inputs, image(r.name), declared("secret", secrets), declared("config", configs));
      const name = String(spec.Name);
      result.services[r.name] = name;
      const existing = await engine<SwarmService>("GET", `/services/${name}`).catch(() => undefined);
      if (existing) {
        await engine("POST", `/services/${existing.ID}/update?version=${existing.Version.Index}`, spec);
      } else {
        await engine("POST", "/services/create", spec);
      }
      result.outcome[r.name] = await convergeLikeProvider(name, existing ? "update" : "create", r.inputs.convergeConfig);
      result.durations[r.name] = Date.now() - began;
    }
  }
  return result;
}

/** Removes what the tests created for a stack prefix: services, secrets, volumes, the network. */
export async function teardown(prefix: string, network: string): Promise<void> {
  const label = filters({ label: [`railyard.stack=${prefix}`] });
  for (const s of await engine<{ ID: string }[]>("GET", `/services?filters=${label}`)) await engine("DELETE", `/services/${s.ID}`);
  const containers = filters({ name: [`${prefix}-`] });
  for (let i = 0; i < 60 && (await engine<unknown[]>("GET", `/containers/json?all=1&filters=${containers}`)).length > 0; i++) await sleep(500);
  await sleep(1000);
  for (const s of await engine<{ ID: string }[]>("GET", `/secrets?filters=${label}`)) await engine("DELETE", `/secrets/${s.ID}`).catch(() => undefined);
  for (const c of await engine<{ ID: string }[]>("GET", `/configs?filters=${label}`)) await engine("DELETE", `/configs/${c.ID}`).catch(() => undefined);
  const vols = await engine<{ Volumes: { Name: string }[] | null }>("GET", `/volumes?filters=${filters({ name: [`${prefix}-`] })}`);
  for (const v of vols.Volumes ?? []) await engine("DELETE", `/volumes/${v.Name}`).catch(() => undefined);
  await engine("DELETE", `/networks/${network}`).catch(() => undefined);
}
