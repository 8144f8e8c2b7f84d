/**
 * Translates the inputs the program gives pulumi-docker's `docker.Service` into the Engine API's ServiceSpec
 * (the fields the provider sends on create/update). Durations become nanoseconds, label lists become maps.
 */
import { mockNetworkId, reveal } from "../harness";

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

function updateSpec(u: UpdateLike | undefined) {
  if (!u) return undefined;
  return {
    Parallelism: u.parallelism,
    Delay: goDurationNs(u.delay),
    FailureAction: u.failureAction,
    Monitor: goDurationNs(u.monitor),
    MaxFailureRatio: u.maxFailureRatio === undefined ? undefined : Number(u.maxFailureRatio),
    Order: u.order,
  };
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

/**
 * The Engine API ServiceSpec for a declared service. `image` replaces the image reference (the test images);
 * `secret` maps the declared secret reference to the secret really created on the engine.
 */
export function toServiceSpec(
  raw: unknown,
  image: string,
  secret: (declaredId: string) => SecretRef,
  config: (declaredId: string) => SecretRef = secret,
): Record<string, unknown> {
  const d = revealDeep(raw) as DeclaredService;
  const c = d.taskSpec.containerSpec;
  const h = c.healthcheck;
  return {
    Name: d.name,
    Labels: Object.fromEntries((d.labels ?? []).map((l) => [l.label, l.value])),
    Mode: { Replicated: { Replicas: d.mode.replicated.replicas } },
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Command: c.commands,
        Env: Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v}`),
        Secrets: (c.secrets ?? []).map((s) => {
          const real = secret(s.secretId);
          return { SecretID: real.id, SecretName: real.name, File: { Name: s.fileName, UID: "0", GID: "0", Mode: s.fileMode ?? 0o444 } };
        }),
        Configs: (c.configs ?? []).map((s) => {
          const real = config(s.configId);
          return { ConfigID: real.id, ConfigName: real.name, File: { Name: s.fileName, UID: "0", GID: "0", Mode: s.fileMode ?? 0o444 } };
        }),
        Mounts: (c.mounts ?? []).map((m) => ({ Type: m.type, Source: m.source, Target: m.target })),
        HealthCheck: h && {
          Test: h.tests,
          Interval: goDurationNs(h.interval),
          Timeout: goDurationNs(h.timeout),
          Retries: h.retries,
          StartPeriod: goDurationNs(h.startPeriod),
        },
        StopGracePeriod: goDurationNs(c.stopGracePeriod),
      },
      Networks: d.taskSpec.networksAdvanceds.map((n) => ({ Target: networkTarget(n.id) })),
      Placement: d.taskSpec.placement && { Constraints: d.taskSpec.placement.constraints },
      RestartPolicy: {
        Condition: d.taskSpec.restartPolicy.condition,
        Delay: goDurationNs(d.taskSpec.restartPolicy.delay),
        MaxAttempts: d.taskSpec.restartPolicy.maxAttempts,
        Window: goDurationNs(d.taskSpec.restartPolicy.window),
      },
      Resources: d.taskSpec.resources && {
        Limits: { NanoCPUs: d.taskSpec.resources.limits.nanoCpus, MemoryBytes: d.taskSpec.resources.limits.memoryBytes },
      },
      LogDriver: { Name: d.taskSpec.logDriver.name, Options: d.taskSpec.logDriver.options },
    },
    EndpointSpec: d.endpointSpec && {
      Mode: d.endpointSpec.mode,
      Ports: d.endpointSpec.ports?.map((p) => ({ Protocol: p.protocol, TargetPort: p.targetPort, PublishedPort: p.publishedPort, PublishMode: p.publishMode })),
    },
    UpdateConfig: updateSpec(d.updateConfig),
    RollbackConfig: updateSpec(d.rollbackConfig),
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
