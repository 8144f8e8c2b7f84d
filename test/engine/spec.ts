/**
 * The inputs the program gives pulumi-docker's `docker.Service`, and the bed's substitutions in them (the spec
 * the provider sends for them is ./provider/send.ts's, applied by ./serviceStep.ts).
 */
import { createHash } from "node:crypto";
import { RELEASE_VAR } from "../../components/service";
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

/**
 * The release's name on the bed: the declared one stands for the declared image, so a test image in its place
 * (a new release on the bed, with the declaration unchanged) makes another release.
 */
export function bedRelease(declared: string, testImage: string): string {
  return createHash("sha256").update(`${declared} ${testImage}`).digest("hex").slice(0, 12);
}

/** The declared release, if the service carries one. */
export function declaredRelease(d: DeclaredService): string | undefined {
  return d.taskSpec.containerSpec.env?.[RELEASE_VAR];
}

/**
 * The declared inputs as the bed applies them: the substitutes in place of the image (and the release that goes
 * with it), secret, config and network references. Secrets revealed.
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
        ...(c.env?.[RELEASE_VAR] && bed.image && { env: { ...c.env, [RELEASE_VAR]: bedRelease(c.env[RELEASE_VAR], bed.image) } }),
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
