/**
 * The inputs the program gives pulumi-docker's `docker.Service`, and the bed's substitutions in them (the spec
 * the provider sends for them is ./provider/send.ts's, applied by ./serviceStep.ts).
 */
import { createHash } from "node:crypto";
import { reveal } from "../harness";

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
      init?: boolean;
      labels?: { label: string; value: string }[];
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
  /** The engine's network ID for a declared (mocked) one. */
  network: (declaredId: string) => string;
}

/** A declared secret or config reference (the inputs' id and name fields) pointed at the engine's. */
function onEngine<T>(ref: T, id: keyof T, name: keyof T, map: (declaredId: string) => SecretRef): T {
  const real = map(String(ref[id]));
  return { ...ref, [id]: real.id, [name]: real.name };
}

/** The container label that names a service's release (components/service.ts). */
export const RELEASE_LABEL = "railyard.release";

/**
 * The release label's value on the bed: the declared one stands for the declared image, so a test image in its
 * place (a new release on the bed, with the declaration unchanged) makes another release.
 */
export function bedRelease(declared: string, testImage: string): string {
  return createHash("sha256").update(`${declared} ${testImage}`).digest("hex").slice(0, 12);
}

/** The declared release label's value, if the service carries one. */
export function declaredRelease(d: DeclaredService): string | undefined {
  return d.taskSpec.containerSpec.labels?.find((l) => l.label === RELEASE_LABEL)?.value;
}

/**
 * The declared inputs as the bed applies them: the substitutes in place of the image (and the release label
 * that goes with it), secret, config and network references. Secrets revealed.
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
        ...(c.labels && { labels: c.labels.map((l) => (l.label === RELEASE_LABEL && bed.image ? { ...l, value: bedRelease(l.value, bed.image) } : l)) }),
        secrets: c.secrets?.map((s) => onEngine(s, "secretId", "secretName", bed.secret)),
        configs: c.configs?.map((s) => onEngine(s, "configId", "configName", config)),
      },
      networksAdvanceds: d.taskSpec.networksAdvanceds.map((n) => ({ ...n, id: bed.network(n.id) })),
    },
  };
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
