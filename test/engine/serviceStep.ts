/**
 * One docker.Service through the real provider's cycle, on the real engine: read the service back and flatten
 * it (./provider/flatten.ts), plan against the declaration (./provider/plan.ts), then do what `pulumi up` would:
 * nothing when the plan is empty, an update (the provider's spec for what its Update reads, the Docker client's
 * rewriting, env in another map order), or a replacement (delete first, then create: railyard sets
 * deleteBeforeReplace); a service not on the engine is created (the provider's spec, then the client's registry
 * pin and platforms). The engine runs local test images, which stand for the declared image everywhere (a new
 * test image is a new release). No registry answers here, so the client's rewriting of the declared image is
 * checked instead: the bed fails when the client would send another image than the one declared (a tag it pins,
 * a spelling it normalises), since the next `pulumi up` would then see a change.
 */
import { createHash } from "node:crypto";
import { engine, filters } from "./engineApi";
import { EngineService, EngineServiceSpec, flattenService, TfState } from "./provider/flatten";
import { Plan, planService, TfConfig, tfConfig, withStateOnly } from "./provider/plan";
import { clientCreate, clientUpdate, EnvOrder, plannedValues, providerSpec, RegistryModel } from "./provider/send";
import { mockNetworkName } from "../harness";
import { DeclaredService, resolveDeclared, revealDeep, SecretRef } from "./spec";

/** The bed's "Pulumi state" of auth and convergeConfig, which the provider never reads back: the last declaration per Swarm service. */
const lastDeclared = new Map<string, Record<string, unknown>>();

/** Forgets what the bed applied for a stack prefix (after its teardown, the next application is a first deploy). */
export function forgetServices(prefix: string): void {
  for (const name of [...lastDeclared.keys()]) if (name.startsWith(`${prefix}-`)) lastDeclared.delete(name);
}

/** References the bed resolves: the engine's secrets and configs in place of the mocked ones. */
export interface EngineRefs {
  secret: (declaredId: string) => SecretRef;
  config: (declaredId: string) => SecretRef;
}

export interface StepResult {
  action: "create" | "update" | "replace" | "none";
  /** The plan against the engine's read-back (none for a create). */
  plan?: Plan;
}

type OnEngine = EngineService & { Version: { Index: number } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A registry for the declared images: a digest-pinned image resolves to its own digest, a tag to a digest
 * derived from its name (a real registry answers with the image's); the platforms are the test image's.
 */
async function modelRegistry(testImage: string): Promise<RegistryModel> {
  const i = await engine<{ Architecture: string; Os: string }>("GET", `/images/${encodeURIComponent(testImage)}/json`);
  return {
    digest: (image) => /@(sha256:[a-f0-9]{64})$/.exec(image)?.[1] ?? `sha256:${createHash("sha256").update(image).digest("hex")}`,
    platforms: [{ Architecture: i.Architecture, OS: i.Os }],
  };
}

function withImage(spec: EngineServiceSpec, image: string): EngineServiceSpec {
  return { ...spec, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Image: image } } };
}

async function waitGone(id: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const left = await engine<unknown[]>("GET", `/containers/json?all=1&filters=${filters({ label: [`com.docker.swarm.service.id=${id}`] })}`);
    if (left.length === 0) return;
    await sleep(500);
  }
  throw new Error(`the tasks of service ${id} did not go away`);
}

/** The engine's ID of each network the service names by a mocked ID (the bootstrap made the network of that name). */
async function networkIds(raw: unknown): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const { id } of (revealDeep(raw) as DeclaredService).taskSpec.networksAdvanceds) {
    ids.set(id, (await engine<{ Id: string }>("GET", `/networks/${mockNetworkName(id)}`)).Id);
  }
  return ids;
}

/** The declaration with the engine's references and the test image, its TF config, and the service on the engine. */
async function look(
  raw: unknown,
  testImage: string,
  refs: EngineRefs,
): Promise<{ name: string; declared: Record<string, unknown>; config: TfConfig; existing?: OnEngine }> {
  const networks = await networkIds(raw);
  const declared = resolveDeclared(raw, { ...refs, image: testImage, network: (id) => networks.get(id) ?? id });
  const name = String(declared.name);
  const existing = await engine<OnEngine>("GET", `/services/${name}`).catch(() => undefined);
  return { name, declared, config: tfConfig(declared), existing };
}

/** What the provider reads back for the service (state-only fields from the last declaration applied). */
function readBack(name: string, existing: EngineService): TfState {
  return withStateOnly(flattenService(existing), lastDeclared.get(name));
}

/**
 * The client's create-time rewriting of the DECLARED image (registry pin, platforms): the platforms it would
 * set, after checking it would keep the image as declared.
 */
async function registryPlacement(raw: unknown, spec: EngineServiceSpec, testImage: string): Promise<EngineServiceSpec> {
  const image = String((revealDeep(raw) as DeclaredService).taskSpec.containerSpec.image);
  const real = clientCreate(withImage(spec, image), await modelRegistry(testImage));
  const sent = String(real.TaskTemplate.ContainerSpec?.Image);
  if (sent !== image) throw new Error(`the Docker client would create ${String(spec.Name)} with ${sent}, not the declared ${image}: the next pulumi up would update it`);
  return withImage(real, testImage);
}

/**
 * Applies one declared service (Pulumi-shaped inputs) running `testImage`: what `pulumi up` would do with it,
 * and the plan it made. An update sends env in another order than declared (`envOrder`), as the provider may:
 * it builds the list from a Go map, whose order is random. `ignoreChanges`: the resource's option (its diffs are dropped).
 */
export async function applyService(
  raw: unknown,
  testImage: string,
  refs: EngineRefs,
  envOrder: EnvOrder = "rotated",
  ignoreChanges: string[] = [],
): Promise<StepResult> {
  const { name, declared, config, existing } = await look(raw, testImage, refs);
  let plan: Plan | undefined;
  if (existing) {
    const current = readBack(name, existing);
    plan = planService(config, current, ignoreChanges);
    if (plan.action === "none") return { action: "none", plan };
    if (plan.action === "update") {
      const spec = clientUpdate(providerSpec(plannedValues(config, current), { envOrder }));
      await engine("POST", `/services/${existing.ID}/update?version=${existing.Version.Index}`, spec);
      lastDeclared.set(name, declared);
      return { action: "update", plan };
    }
    await engine("DELETE", `/services/${existing.ID}`);
    await waitGone(existing.ID);
  }
  await engine("POST", "/services/create", await registryPlacement(raw, providerSpec(plannedValues(config)), testImage));
  lastDeclared.set(name, declared);
  return { action: existing ? "replace" : "create", plan };
}

/** The plan `pulumi up` would make for a declared service now, without applying it (undefined: not on the engine). */
export async function planOnly(raw: unknown, testImage: string, refs: EngineRefs): Promise<Plan | undefined> {
  const { name, config, existing } = await look(raw, testImage, refs);
  return existing && planService(config, readBack(name, existing));
}
