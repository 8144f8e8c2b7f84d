/**
 * The inputs the program gives pulumi-docker's `docker.Service`, and the Engine API ServiceSpec the provider
 * sends for them (the model in ./provider: tfConfig, plannedValues, providerSpec), with the bed's substitutions.
 */
import { mockNetworkId, reveal } from "../harness";
import { EngineServiceSpec, TfState } from "./provider/flatten";
import { tfConfig } from "./provider/plan";
import { plannedValues, providerSpec, SendOptions } from "./provider/send";

export interface DeclaredService {
  name: string;
  labels?: { label: string; value: string }[];
  mode: { replicated: { replicas: number } };
  taskSpec: {
    containerSpec: {
      image: string;
      commands?: string[];
      env?: Record<string, string>;
      secrets?: { secretId: string; secretName: string; fileName: string; fileMode?: number }[];
      configs?: { configId: string; configName: string; fileName: string; fileMode?: number }[];
      mounts?: { type: string; source: string; target: string }[];
      healthcheck?: { tests: string[]; interval: string; timeout: string; retries: number; startPeriod: string };
      stopGracePeriod?: string;
    };
    networksAdvanceds: { id: string }[];
    placement?: { constraints: string[] };
    restartPolicy: { condition: string; delay?: string; maxAttempts?: number; window?: string };
    resources?: { limits: { nanoCpus?: number; memoryBytes?: number } };
    logDriver: { name: string; options: Record<string, string> };
  };
  endpointSpec?: { mode: string; ports?: { targetPort: number; publishedPort: number; protocol: string; publishMode: string }[] };
  convergeConfig?: { delay: string; timeout: string };
  updateConfig: UpdateLike;
  rollbackConfig?: UpdateLike;
}

interface UpdateLike {
  parallelism: number;
  delay?: string;
  failureAction: string;
  monitor: string;
  maxFailureRatio?: string;
  order: string;
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Nanoseconds in a Go duration string ("96000ms", "2m", "1h30m"). */
export function goDurationNs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) throw new Error(`not a Go duration: ${value}`);
  return parts.reduce((sum, p) => sum + Math.round(Number(p[1]) * UNIT_NS[p[2]]), 0);
}

/** The network a declared ID names: the mocked engine's ID for a network becomes its name (Swarm resolves it). */
function networkTarget(id: string): string {
  const suffix = mockNetworkId("");
  return id.endsWith(suffix) ? id.slice(0, -suffix.length) : id;
}

export interface SecretRef {
  id: string;
  name: string;
}

/** What the bed puts in place of the declaration's: the test image, the secrets and configs created on the engine. */
export interface BedSubstitutes {
  /** The test image in place of the declared one (kept when not given). */
  image?: string;
  secret: (declaredId: string) => SecretRef;
  /** The secret mapper when not given. */
  config?: (declaredId: string) => SecretRef;
  /** The engine's network ID for a declared (mocked) one; by default the network's name, which Swarm resolves. */
  network?: (declaredId: string) => string;
}

/** A declared secret or config reference (the inputs' id and name fields) pointed at the engine's. */
function onEngine<T>(ref: T, id: keyof T, name: keyof T, map: (declaredId: string) => SecretRef): T {
  const real = map(String(ref[id]));
  return { ...ref, [id]: real.id, [name]: real.name };
}

/**
 * The declared inputs as the bed applies them: the substitutes in place of the image, secret and config
 * references, a mocked network ID turned into the network's name (Swarm resolves it). Secrets revealed.
 */
export function resolveDeclared(raw: unknown, bed: BedSubstitutes): Record<string, unknown> {
  const d = revealDeep(raw) as DeclaredService;
  const c = d.taskSpec.containerSpec;
  const config = bed.config ?? bed.secret;
  return {
    ...d,
    taskSpec: {
      ...d.taskSpec,
      containerSpec: {
        ...c,
        image: bed.image ?? c.image,
        secrets: c.secrets?.map((s) => onEngine(s, "secretId", "secretName", bed.secret)),
        configs: c.configs?.map((s) => onEngine(s, "configId", "configName", config)),
      },
      networksAdvanceds: d.taskSpec.networksAdvanceds.map((n) => ({ ...n, id: (bed.network ?? networkTarget)(n.id) })),
    },
  };
}

/**
 * What the real provider passes the Docker client for a declared service (./provider/send.ts): createServiceSpec
 * of what its Create reads, or with `state` (the service as last read back) what its Update reads. The client's
 * own rewriting (clientCreate, clientUpdate) is not applied.
 */
export function toProviderSpec(raw: unknown, bed: BedSubstitutes, opts: SendOptions & { state?: TfState } = {}): EngineServiceSpec {
  return providerSpec(plannedValues(tfConfig(resolveDeclared(raw, bed)), opts.state), opts);
}

/** toProviderSpec on create, as the JSON body of the Engine API request. */
export function toServiceSpec(
  raw: unknown,
  image: string,
  secret: (declaredId: string) => SecretRef,
  config: (declaredId: string) => SecretRef = secret,
): Record<string, unknown> {
  return { ...toProviderSpec(raw, { image, secret, config }) };
}

/** The declared inputs with every secret marker replaced by its value (the provider sends the values). */
export function revealDeep(v: unknown): unknown {
  const plain = reveal(v);
  if (Array.isArray(plain)) return plain.map(revealDeep);
  if (typeof plain === "object" && plain !== null) {
    return Object.fromEntries(Object.entries(plain).map(([k, x]) => [k, revealDeep(x)]));
  }
  return plain;
}
