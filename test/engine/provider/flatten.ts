/**
 * What the real provider writes to state when it reads a docker_service back from the engine: a port of
 * resourceDockerServiceReadRefreshFunc (internal/provider/resource_docker_service_funcs.go) and of the
 * flatteners, shortDur and mapStringSliceToMap (internal/provider/resource_docker_service_structures.go),
 * mapToLabelSet (helpers.go) and mapTypeMapValsToStringSlice (resource_docker_container_structures.go) of
 * kreuzwerker/terraform-provider-docker v4.5.0 (commit 5074970c). Go's time.Duration.String and
 * strconv.FormatFloat(x, 'f', prec, 64) are ported exactly (integer and exact-binary arithmetic).
 *
 * The result holds what each flattener passes to d.Set (sets as arrays, maps as objects); the zero values the
 * SDK's ResourceData.State() fills into list and set elements are the planner's business (plan.ts).
 */
import { engine } from "../engineApi";
import { TfObject, TfValue } from "./schema";

/** The state of a docker_service as the provider's Read leaves it. */
export type TfState = TfObject;

// ---- The Engine API's Service JSON (v1.41), the fields the provider reads. Absent = Go's zero value / nil. ----

export interface EngineService {
  ID: string;
  Version?: { Index: number };
  Spec: EngineServiceSpec;
  Endpoint?: { Spec?: EngineEndpointSpec; Ports?: EnginePort[] };
}

export interface EngineServiceSpec {
  Name: string;
  Labels?: Record<string, string>;
  TaskTemplate: EngineTaskSpec;
  Mode?: { Replicated?: { Replicas?: number }; Global?: Record<string, never> };
  UpdateConfig?: EngineUpdateConfig;
  RollbackConfig?: EngineUpdateConfig;
  EndpointSpec?: EngineEndpointSpec;
}

export interface EngineUpdateConfig {
  Parallelism?: number;
  Delay?: number;
  FailureAction?: string;
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: string;
}

export interface EngineEndpointSpec {
  Mode?: string;
  Ports?: EnginePort[];
}

export interface EnginePort {
  Name?: string;
  Protocol?: string;
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: string;
}

export interface EngineTaskSpec {
  ContainerSpec?: EngineContainerSpec;
  Resources?: {
    Limits?: { NanoCPUs?: number; MemoryBytes?: number; Pids?: number };
    Reservations?: { NanoCPUs?: number; MemoryBytes?: number; GenericResources?: EngineGenericResource[] };
  };
  RestartPolicy?: { Condition?: string; Delay?: number; MaxAttempts?: number; Window?: number };
  Placement?: {
    Constraints?: string[];
    Preferences?: { Spread?: { SpreadDescriptor: string } }[];
    MaxReplicas?: number;
    Platforms?: { Architecture?: string; OS?: string }[];
  };
  Networks?: { Target: string; Aliases?: string[]; DriverOpts?: Record<string, string> }[];
  LogDriver?: { Name?: string; Options?: Record<string, string> };
  ForceUpdate?: number;
  Runtime?: string;
}

export interface EngineGenericResource {
  NamedResourceSpec?: { Kind: string; Value: string };
  DiscreteResourceSpec?: { Kind: string; Value: number };
}

export interface EngineFileReference {
  File?: { Name?: string; UID?: string; GID?: string; Mode?: number };
}

export interface EngineContainerSpec {
  Image?: string;
  Labels?: Record<string, string>;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Groups?: string[];
  Privileges?: {
    CredentialSpec?: { File?: string; Registry?: string; Config?: string };
    SELinuxContext?: { Disable?: boolean; User?: string; Role?: string; Type?: string; Level?: string };
  };
  ReadOnly?: boolean;
  Mounts?: EngineMount[];
  StopSignal?: string;
  StopGracePeriod?: number;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  Hosts?: string[];
  DNSConfig?: { Nameservers?: string[]; Search?: string[]; Options?: string[] };
  Secrets?: (EngineFileReference & { SecretID: string; SecretName?: string })[];
  Configs?: (EngineFileReference & { ConfigID: string; ConfigName?: string })[];
  Isolation?: string;
  Init?: boolean;
  Sysctls?: Record<string, string>;
  CapabilityAdd?: string[];
  CapabilityDrop?: string[];
}

export interface EngineMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** A secret or config reference as the engine holds it (id and name). */
export interface Reference {
  id: string;
  name: string;
}

/**
 * The test bed runs other images and creates networks, secrets and configs under other ids and names than the
 * declaration's (mocked) ones: these map what the engine holds back to what the real provider would have read.
 */
export interface FlattenOptions {
  image?: (engineImage: string) => string;
  network?: (engineTarget: string) => string;
  secret?: (engine: Reference) => Reference;
  config?: (engine: Reference) => Reference;
  /**
   * The API version the provider's client negotiated (supportsServiceContainerInit compares it as a string with
   * "1.37"); the engine here speaks 1.41.
   */
  apiVersion?: string;
}

// ---- Go's time.Duration.String (src/time/time.go) and the provider's shortDur. ----

/** fmtFrac: the fraction of v/10^prec without trailing zeros (no point when it is zero), and v/10^prec. */
function fmtFrac(v: bigint, prec: number): [string, bigint] {
  let digits = "";
  let print = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    print = print || digit !== 0n;
    if (print) digits = `${digit}${digits}`;
    v /= 10n;
  }
  return [print ? `.${digits}` : "", v];
}

/** time.Duration(ns).String(): "1h2m3.5s", "1.5s", "500ms", "1.2µs" (U+00B5), "0s". */
export function goDurationString(ns: number | bigint): string {
  const d = BigInt(ns);
  const neg = d < 0n;
  let u = neg ? -d : d;
  let s: string;
  if (u < 1_000_000_000n) {
    if (u === 0n) return "0s";
    const [prec, unit] = u < 1_000n ? [0, "ns"] : u < 1_000_000n ? [3, "\u00b5s"] : [6, "ms"];
    const [frac, whole] = fmtFrac(u, prec);
    s = `${whole}${frac}${unit}`;
  } else {
    const [frac, seconds] = fmtFrac(u, 9);
    s = `${seconds % 60n}${frac}s`;
    u = seconds / 60n;
    if (u > 0n) {
      s = `${u % 60n}m${s}`;
      u /= 60n;
      if (u > 0n) s = `${u}h${s}`;
    }
  }
  return neg ? `-${s}` : s;
}

/** shortDur: Duration.String() without a trailing "m0s", then without a trailing "h0m" ("1m", "1h", but "1h0m1s"). */
export function shortDur(ns: number | bigint): string {
  let s = goDurationString(ns);
  if (s.endsWith("m0s")) s = s.slice(0, -2);
  if (s.endsWith("h0m")) s = s.slice(0, -2);
  return s;
}

// ---- strconv.FormatFloat(v, 'f', prec, 64): bigFtoa's exact decimal, rounded half to even. ----

/** A finite double as mantissa × 2^exponent, both exact. */
function decompose(v: number): [bigint, number] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return exponent === 0 ? [fraction, -1074] : [fraction | (1n << 52n), exponent - 1075];
}

/** strconv.FormatFloat(v, 'f', prec, 64): the exact binary value rounded to prec decimals, an exact half to even. */
export function formatFloatFixed(v: number, prec: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const neg = v < 0 || Object.is(v, -0);
  const [mantissa, exponent] = decompose(Math.abs(v));
  const scaled = mantissa * 10n ** BigInt(prec);
  let q: bigint;
  if (exponent >= 0) {
    q = scaled << BigInt(exponent);
  } else {
    const den = 1n << BigInt(-exponent);
    q = scaled / den;
    const twice = (scaled % den) * 2n;
    if (twice > den || (twice === den && q % 2n === 1n)) q += 1n;
  }
  const digits = q.toString().padStart(prec + 1, "0");
  const whole = digits.slice(0, digits.length - prec);
  return `${neg ? "-" : ""}${whole}${prec > 0 ? `.${digits.slice(digits.length - prec)}` : ""}`;
}

/** The shortest decimal digits that round-trip (as Go's and JavaScript's printers find them) and the decimal point's place. */
function shortestDigits(v: number): { digits: string; dp: number } {
  const [mantissa, exponent] = Math.abs(v).toExponential().split("e");
  return { digits: mantissa.replace(".", ""), dp: Number(exponent) + 1 };
}

/** strconv.FormatFloat(v, fmt, -1, 64) for 'f' and 'g' (the shortest round-tripping digits). */
export function formatFloatShortest(v: number, fmt: "f" | "g"): string {
  if (!Number.isFinite(v)) return formatFloatFixed(v, 0);
  const sign = v < 0 || Object.is(v, -0) ? "-" : "";
  const { digits, dp } = v === 0 ? { digits: "0", dp: 1 } : shortestDigits(v);
  const exp = dp - 1;
  // %e when the exponent is < -4 or >= the precision, which is 6 for the shortest form.
  if (fmt === "g" && (exp < -4 || exp >= 6)) {
    const e = Math.abs(exp);
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ""}e${exp < 0 ? "-" : "+"}${e < 10 ? `0${e}` : e}`;
  }
  if (dp <= 0) return `${sign}0.${"0".repeat(-dp)}${digits}`;
  if (dp >= digits.length) return `${sign}${digits}${"0".repeat(dp - digits.length)}`;
  return `${sign}${digits.slice(0, dp)}.${digits.slice(dp)}`;
}

/** flattenServiceUpdateOrRollbackConfig's max_failure_ratio: FormatFloat(float64(float32), 'f', 1, 64). */
export function formatFailureRatio(ratio: number): string {
  return formatFloatFixed(Math.fround(ratio), 1);
}

// ---- Small helpers of the provider. ----

/** mapStringSliceToMap: "k=v=w" → k: "v=w"; an empty entry is skipped; a later key wins. */
export function mapStringSliceToMap(entries: string[]): Record<string, string> {
  const mapped: Record<string, string> = {};
  for (const v of entries) {
    if (v.length === 0) continue;
    const [key, ...rest] = v.split("=");
    mapped[key] = rest.join("=");
  }
  return mapped;
}

/** mapToLabelSet. */
function labelSet(labels: Record<string, string> | undefined): TfValue[] {
  return Object.entries(labels ?? {}).map(([label, value]) => ({ label, value }));
}

/** mapTypeMapValsToStringSlice: "k=v" for each non-empty key. */
function keyValueList(m: Record<string, string> | undefined): string[] {
  return Object.entries(m ?? {})
    .filter(([k]) => k.length > 0)
    .map(([k, v]) => `${k}=${v}`);
}

const nonEmpty = <T>(xs: T[] | undefined): xs is T[] => xs !== undefined && xs.length > 0;
const hasKeys = (m: Record<string, string> | undefined): m is Record<string, string> => m !== undefined && Object.keys(m).length > 0;

// ---- The flatteners. ----

function flattenPrivileges(p: NonNullable<EngineContainerSpec["Privileges"]>): TfValue[] {
  const m: TfObject = {};
  if (p.CredentialSpec) m.credential_spec = [{ file: p.CredentialSpec.File ?? "", registry: p.CredentialSpec.Registry ?? "" }];
  if (p.SELinuxContext) {
    const c = p.SELinuxContext;
    m.se_linux_context = [{ disable: c.Disable ?? false, user: c.User ?? "", role: c.Role ?? "", type: c.Type ?? "", level: c.Level ?? "" }];
  }
  return [m];
}

function flattenMount(v: EngineMount): TfObject {
  const m: TfObject = { target: v.Target ?? "", source: v.Source ?? "", type: v.Type ?? "", read_only: v.ReadOnly ?? false };
  if (v.BindOptions) m.bind_options = [v.BindOptions.Propagation ? { propagation: v.BindOptions.Propagation } : {}];
  if (v.VolumeOptions) {
    const o = v.VolumeOptions;
    const item: TfObject = { no_copy: o.NoCopy ?? false, labels: labelSet(o.Labels) };
    if (o.DriverConfig) {
      if (o.DriverConfig.Name) item.driver_name = o.DriverConfig.Name;
      item.driver_options = { ...(o.DriverConfig.Options ?? {}) };
    }
    m.volume_options = [item];
  }
  if (v.TmpfsOptions) m.tmpfs_options = [{ size_bytes: v.TmpfsOptions.SizeBytes ?? 0, mode: (v.TmpfsOptions.Mode ?? 0) & 0o777 }];
  return m;
}

function flattenHealthcheck(h: NonNullable<EngineContainerSpec["Healthcheck"]>): TfValue[] {
  const m: TfObject = {};
  if (nonEmpty(h.Test)) m.test = [...h.Test];
  m.interval = shortDur(h.Interval ?? 0);
  m.timeout = shortDur(h.Timeout ?? 0);
  m.start_period = shortDur(h.StartPeriod ?? 0);
  m.retries = h.Retries ?? 0;
  return [m];
}

/** flattenServiceHosts: "ip host" split on spaces (Go panics on an entry without a space). */
function flattenHost(v: string): TfObject {
  const split = v.split(" ");
  if (split.length < 2) throw new Error(`flattenServiceHosts: "${v}" has no space (the provider panics: index out of range)`);
  return { ip: split[0], host: split[1] };
}

function flattenDnsConfig(d: NonNullable<EngineContainerSpec["DNSConfig"]>): TfValue[] {
  const m: TfObject = {};
  if (nonEmpty(d.Nameservers)) m.nameservers = [...d.Nameservers];
  if (nonEmpty(d.Search)) m.search = [...d.Search];
  if (nonEmpty(d.Options)) m.options = [...d.Options];
  return [m];
}

/** flattenServiceSecrets / flattenServiceConfigs. */
function flattenFileReference(kind: "secret" | "config", ref: Reference, file: EngineFileReference["File"]): TfObject {
  const m: TfObject = { [`${kind}_id`]: ref.id };
  if (ref.name.length > 0) m[`${kind}_name`] = ref.name;
  if (file) {
    m.file_name = file.Name ?? "";
    if (file.UID) m.file_uid = file.UID;
    if (file.GID) m.file_gid = file.GID;
    m.file_mode = file.Mode ?? 0;
  }
  return m;
}

function flattenContainerSpec(c: EngineContainerSpec, opts: FlattenOptions): TfValue[] {
  const m: TfObject = {};
  if (c.Image) m.image = opts.image ? opts.image(c.Image) : c.Image;
  if (hasKeys(c.Labels)) m.labels = labelSet(c.Labels);
  if (nonEmpty(c.Command)) m.command = [...c.Command];
  if (nonEmpty(c.Args)) m.args = [...c.Args];
  if (c.Hostname) m.hostname = c.Hostname;
  if (nonEmpty(c.Env)) m.env = mapStringSliceToMap(c.Env);
  if (c.User) m.user = c.User;
  if (c.Dir) m.dir = c.Dir;
  if (nonEmpty(c.Groups)) m.groups = [...c.Groups];
  if (c.Privileges) m.privileges = flattenPrivileges(c.Privileges);
  if (c.ReadOnly) m.read_only = true;
  if (nonEmpty(c.Mounts)) m.mounts = c.Mounts.map(flattenMount);
  if (c.StopSignal) m.stop_signal = c.StopSignal;
  if (c.StopGracePeriod !== undefined) m.stop_grace_period = shortDur(c.StopGracePeriod);
  if (c.Healthcheck) m.healthcheck = flattenHealthcheck(c.Healthcheck);
  if (nonEmpty(c.Hosts)) m.hosts = c.Hosts.map(flattenHost);
  if (c.DNSConfig) m.dns_config = flattenDnsConfig(c.DNSConfig);
  if (nonEmpty(c.Secrets)) {
    m.secrets = c.Secrets.map((s) => {
      const engineRef = { id: s.SecretID, name: s.SecretName ?? "" };
      return flattenFileReference("secret", opts.secret ? opts.secret(engineRef) : engineRef, s.File);
    });
  }
  if (nonEmpty(c.Configs)) {
    m.configs = c.Configs.map((s) => {
      const engineRef = { id: s.ConfigID, name: s.ConfigName ?? "" };
      return flattenFileReference("config", opts.config ? opts.config(engineRef) : engineRef, s.File);
    });
  }
  if (c.Isolation) m.isolation = c.Isolation;
  if (hasKeys(c.Sysctls)) m.sysctl = { ...c.Sysctls };
  if (nonEmpty(c.CapabilityAdd)) m.cap_add = [...c.CapabilityAdd];
  if (nonEmpty(c.CapabilityDrop)) m.cap_drop = [...c.CapabilityDrop];
  // supportsServiceContainerInit: client != nil && client.ClientVersion() >= "1.37" (a string comparison).
  if ((opts.apiVersion ?? "1.41") >= "1.37" && c.Init !== undefined) m.init = c.Init;
  return [m];
}

function flattenResources(r: NonNullable<EngineTaskSpec["Resources"]>): TfValue[] {
  const limits: TfValue[] = r.Limits ? [{ nano_cpus: r.Limits.NanoCPUs ?? 0, memory_bytes: r.Limits.MemoryBytes ?? 0 }] : [];
  const reservation: TfValue[] = r.Reservations
    ? [
        {
          nano_cpus: r.Reservations.NanoCPUs ?? 0,
          memory_bytes: r.Reservations.MemoryBytes ?? 0,
          generic_resources: flattenGenericResources(r.Reservations.GenericResources ?? []),
        },
      ]
    : [];
  return [{ limits, reservation }];
}

function flattenGenericResources(rs: EngineGenericResource[]): TfValue[] {
  if (rs.length === 0) return [];
  const named = rs.flatMap((g) => (g.NamedResourceSpec ? [`${g.NamedResourceSpec.Kind}=${g.NamedResourceSpec.Value}`] : []));
  const discrete = rs.flatMap((g) => (g.DiscreteResourceSpec ? [`${g.DiscreteResourceSpec.Kind}=${g.DiscreteResourceSpec.Value}`] : []));
  return [{ named_resources_spec: named, discrete_resources_spec: discrete }];
}

function flattenRestartPolicy(p: NonNullable<EngineTaskSpec["RestartPolicy"]>): TfValue[] {
  const m: TfObject = {};
  if (p.Condition) m.condition = p.Condition;
  if (p.Delay !== undefined) m.delay = shortDur(p.Delay);
  if (p.MaxAttempts !== undefined) m.max_attempts = p.MaxAttempts;
  if (p.Window !== undefined) m.window = shortDur(p.Window);
  return [m];
}

function flattenPlacement(p: NonNullable<EngineTaskSpec["Placement"]>): TfValue[] {
  const m: TfObject = {};
  if (nonEmpty(p.Constraints)) m.constraints = [...p.Constraints];
  if (nonEmpty(p.Preferences)) {
    m.prefs = p.Preferences.map((pref) => {
      if (!pref.Spread) throw new Error("flattenPlacementPrefs: a preference without Spread (the provider dereferences nil)");
      return pref.Spread.SpreadDescriptor;
    });
  }
  if (nonEmpty(p.Platforms)) m.platforms = p.Platforms.map((x) => ({ architecture: x.Architecture ?? "", os: x.OS ?? "" }));
  m.max_replicas = p.MaxReplicas ?? 0;
  return [m];
}

function flattenTaskSpec(t: EngineTaskSpec, opts: FlattenOptions): TfValue[] {
  const m: TfObject = {};
  if (t.ContainerSpec) m.container_spec = flattenContainerSpec(t.ContainerSpec, opts);
  if (t.Resources) m.resources = flattenResources(t.Resources);
  if (t.RestartPolicy) m.restart_policy = flattenRestartPolicy(t.RestartPolicy);
  if (t.Placement) m.placement = flattenPlacement(t.Placement);
  m.force_update = t.ForceUpdate ?? 0;
  if (t.Runtime) m.runtime = t.Runtime;
  if (nonEmpty(t.Networks)) {
    m.networks_advanced = t.Networks.map((n) => {
      const e: TfObject = { id: opts.network ? opts.network(n.Target) : n.Target, driver_opts: keyValueList(n.DriverOpts) };
      if (nonEmpty(n.Aliases)) e.aliases = [...n.Aliases];
      return e;
    });
  }
  if (t.LogDriver) {
    const l: TfObject = { name: t.LogDriver.Name ?? "" };
    if (hasKeys(t.LogDriver.Options)) l.options = { ...t.LogDriver.Options };
    m.log_driver = [l];
  }
  return [m];
}

function flattenServiceMode(mode: EngineServiceSpec["Mode"]): TfValue[] {
  const m: TfObject = {};
  if (mode?.Replicated) m.replicated = [mode.Replicated.Replicas === undefined ? {} : { replicas: mode.Replicated.Replicas }];
  m.global = mode?.Global !== undefined;
  return [m];
}

function flattenUpdateOrRollback(u: EngineUpdateConfig | undefined): TfValue[] {
  if (!u) return [];
  return [
    {
      parallelism: u.Parallelism ?? 0,
      delay: shortDur(u.Delay ?? 0),
      failure_action: u.FailureAction ?? "",
      monitor: shortDur(u.Monitor ?? 0),
      max_failure_ratio: formatFailureRatio(u.MaxFailureRatio ?? 0),
      order: u.Order ?? "",
    },
  ];
}

function flattenPorts(ports: EnginePort[] | undefined): TfValue[] {
  return (ports ?? []).map((p) => ({
    name: p.Name ?? "",
    protocol: p.Protocol ?? "",
    target_port: p.TargetPort ?? 0,
    published_port: p.PublishedPort ?? 0,
    publish_mode: p.PublishMode ?? "",
  }));
}

/** Whether the read would proceed: the refresh function answers "pending" while neither endpoint mode is set. */
export function exposesEndpoint(api: EngineService): boolean {
  return (api.Endpoint?.Spec?.Mode ?? "") !== "" || (api.Spec.EndpointSpec?.Mode ?? "") !== "";
}

/**
 * resourceDockerServiceReadRefreshFunc: the attributes the Read sets. auth and converge_config are not read
 * (they keep what the last apply wrote: see withStateOnly in plan.ts).
 */
export function flattenService(api: EngineService, opts: FlattenOptions = {}): TfState {
  if (!exposesEndpoint(api)) {
    throw new Error(`service ${api.ID} exposes no endpoint spec yet: the provider's read waits ('pending') and fails after 30s`);
  }
  const state: TfState = {
    name: api.Spec.Name,
    labels: labelSet(api.Spec.Labels),
    task_spec: flattenTaskSpec(api.Spec.TaskTemplate, opts),
    mode: flattenServiceMode(api.Spec.Mode),
    update_config: flattenUpdateOrRollback(api.Spec.UpdateConfig),
    rollback_config: flattenUpdateOrRollback(api.Spec.RollbackConfig),
  };
  // The runtime endpoint (its ports as published) when it has a mode, else the spec's.
  const endpointMode = api.Endpoint?.Spec?.Mode ?? "";
  state.endpoint_spec =
    endpointMode !== ""
      ? [{ mode: endpointMode, ports: flattenPorts(api.Endpoint?.Ports) }]
      : [{ mode: api.Spec.EndpointSpec?.Mode ?? "", ports: flattenPorts(api.Spec.EndpointSpec?.Ports) }];
  return state;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * GETs the service from the engine and flattens it, waiting like the provider's read (up to 30 s, 2 s apart)
 * while the engine exposes no endpoint mode. A missing service rejects (the provider would drop it from state).
 */
export async function readBack(nameOrId: string, opts: FlattenOptions = {}): Promise<TfState> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const api = await engine<EngineService>("GET", `/services/${encodeURIComponent(nameOrId)}`);
    if (exposesEndpoint(api) || Date.now() >= deadline) return flattenService(api, opts);
    await sleep(2_000);
  }
}
