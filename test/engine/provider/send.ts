/**
 * What the real provider sends to the engine when it creates or updates a docker_service: a port of
 * createServiceSpec and the mappers it calls (createServiceLabels, createServiceTaskSpec, createContainerSpec,
 * createResources, createGenericResources, createRestartPolicy, createPlacement, createServiceAdvancedNetworks,
 * createLogDriver, createServiceMode, createServiceUpdateConfig/RollbackConfig, createUpdateOrRollbackConfig,
 * createServiceEndpointSpec, portSetToServicePorts, extraHostsSetToServiceExtraHosts, stringSetToPlacementPrefs,
 * mapSetToPlacementPlatforms) in internal/provider/resource_docker_service_structures.go, with labelSetToMap
 * (helpers.go) and stringListToStringSlice, stringSetToStringSlice, stringSetToMapStringString,
 * mapTypeMapValsToString and mapTypeMapValsToStringSlice (resource_docker_container_structures.go) of
 * kreuzwerker/terraform-provider-docker v4.5.0 (commit 5074970c); Go's time.ParseDuration (src/time/format.go).
 *
 * `d` is what terraform-plugin-sdk v2's ResourceData.Get returns while Create or Update runs (plannedValues):
 * every attribute of every block present, with its value, default or zero value. The provider reads keys with
 * `if value, ok := raw[k]; ok`, which is therefore always true: it sends an empty Healthcheck, DNSConfig,
 * Resources, Placement and RestartPolicy, Init false, Isolation "default" and a StopGracePeriod of 0 for a
 * service that declares none of them. The result is the swarm.ServiceSpec value it builds (a field it assigns is
 * here, even when empty; one it leaves nil is absent); the client's JSON encoding drops the empty ones tagged
 * omitempty, which the engine cannot tell from absent.
 *
 * Then the Docker Go client rewrites the spec (github.com/docker/docker v28.5.2, the provider's go.mod,
 * client/service_create.go and client/service_update.go): clientCreate and clientUpdate.
 */
import { familiarImage } from "../../../lib/imageRef";
import {
  EngineContainerSpec,
  EngineEndpointSpec,
  EngineGenericResource,
  EngineMount,
  EngineServiceSpec,
  EngineTaskSpec,
  EngineUpdateConfig,
  TfState,
} from "./flatten";
import { readValue, TfConfig } from "./plan";
import { parseGoFloat, SERVICE_SCHEMA, TfAttr, TfBlock, TfObject, TfValue } from "./schema";

/**
 * Go's map iteration order is random: "declared" sends env in the order the map holds it, "rotated" with the
 * first key moved to the end (an order that differs from the last apply's, as a later run may well produce).
 */
export type EnvOrder = "declared" | "rotated";

export interface SendOptions {
  envOrder?: EnvOrder;
  /** The client's API version (supportsServiceContainerInit compares it as a string with "1.37"). */
  apiVersion?: string;
}

// ---- What ResourceData.Get holds while Create or Update runs. ----

function isObject(v: TfValue | undefined): v is TfObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The values createServiceSpec reads: on Create (no state) the config with its defaults, every other attribute
 * its zero value (an Optional+Computed one the config leaves out is unknown in the plan, and an unknown reads as
 * the zero value); on Update the prior state with the plan applied: what the config sets, the config's value
 * (lists of blocks element by element); an Optional+Computed attribute it leaves out, the state's value (the
 * diff keeps it); any other, its default or zero value. Sets are in Set.List() order (plan.ts readValue).
 * Computed attributes inside set elements would keep nothing of the state: the schema has none.
 */
export function plannedValues(config: TfConfig, state?: TfState): TfObject {
  return plannedBlock(SERVICE_SCHEMA, config, state);
}

function plannedBlock(block: TfBlock, config: TfObject, state: TfObject | undefined): TfObject {
  return Object.fromEntries(Object.entries(block).map(([name, attr]) => [name, plannedAttr(attr, config[name], state, name)]));
}

function plannedAttr(attr: TfAttr, configured: TfValue | undefined, state: TfObject | undefined, name: string): TfValue {
  if (configured === undefined) return attr.computed && state ? readValue("state", attr, state[name]) : readValue("config", attr, undefined);
  const block = attr.block;
  if (attr.type === "list" && block && state && Array.isArray(configured)) {
    const prior = state[name];
    const priorItems = Array.isArray(prior) ? prior : [];
    return configured.map((item, i) => {
      const before = priorItems[i];
      return plannedBlock(block, isObject(item) ? item : {}, isObject(before) ? before : undefined);
    });
  }
  return readValue("config", attr, configured);
}

// ---- Reading d as the provider's type assertions do (a value of another type panics there). ----

function wrongType(key: string, want: string, v: TfValue): Error {
  return new Error(`${key}: ${JSON.stringify(v)} is not ${want} (the provider's type assertion panics)`);
}

function str(o: TfObject, key: string): string {
  const v = o[key];
  if (v === undefined) return "";
  if (typeof v !== "string") throw wrongType(key, "a string", v);
  return v;
}

function int(o: TfObject, key: string): number {
  const v = o[key];
  if (v === undefined) return 0;
  if (typeof v !== "number" || !Number.isInteger(v)) throw wrongType(key, "an int", v);
  return v;
}

function bool(o: TfObject, key: string): boolean {
  const v = o[key];
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw wrongType(key, "a bool", v);
  return v;
}

/** A list ([]interface{}) or a set (*schema.Set's List()). */
function items(o: TfObject, key: string): TfValue[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw wrongType(key, "a list", v);
  return v;
}

/** The elements of a list or set of blocks (map[string]interface{} each). */
function elements(o: TfObject, key: string): TfObject[] {
  return items(o, key).map((v) => {
    if (!isObject(v)) throw wrongType(key, "a list of blocks", v);
    return v;
  });
}

/** stringListToStringSlice and stringSetToStringSlice (Get never yields nil elements). */
function strings(o: TfObject, key: string): string[] {
  return items(o, key).map((v) => {
    if (typeof v !== "string") throw wrongType(key, "a list of strings", v);
    return v;
  });
}

/** mapTypeMapValsToString. */
function stringMap(o: TfObject, key: string): Record<string, string> {
  const v = o[key];
  if (v === undefined) return {};
  if (!isObject(v)) throw wrongType(key, "a map", v);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === "string" ? x : String(x)]));
}

/** ResourceData.GetOk: the value exists and is not its type's zero value (an empty list, set or map is). */
function getOk(d: TfObject, key: string): boolean {
  const v = d[key];
  if (v === undefined) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return v !== "" && v !== 0 && v !== false;
}

/**
 * A block of at most one element, as the mappers turn it into a struct: built from the element when there is
 * one (their loops assign every field for each element, so the last one's values stand), else nil.
 */
function single<T>(list: TfObject[], build: (element: TfObject) => T): T | undefined {
  return list.length === 0 ? undefined : build(list[list.length - 1]);
}

/** uint32(x) of a Go int: wraps. */
const uint32 = (x: number): number => x >>> 0;

/** uint64(x) of a Go int: a negative int wraps to above 2^63, which this model does not represent. */
function uint64(x: number, key: string): number {
  if (x < 0) throw new Error(`${key}: ${x} becomes uint64 ${2n ** 64n + BigInt(x)} in the provider (not modelled)`);
  return x;
}

// ---- Go's time.ParseDuration (src/time/format.go), in nanoseconds. ----

const UNIT_NS = new Map<string, bigint>([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n],
  ["\u03bcs", 1_000n],
  ["ms", 1_000_000n],
  ["s", 1_000_000_000n],
  ["m", 60_000_000_000n],
  ["h", 3_600_000_000_000n],
]);
const MAX_UINT63 = 1n << 63n;

/** time.ParseDuration: nanoseconds ("1.5s", ".5s", "1.s", "-2ms", "0"), or undefined where Go errs ("", "1", "1d", overflow). */
export function goParseDuration(orig: string): number | undefined {
  let s = orig;
  let neg = false;
  if (s !== "" && (s[0] === "-" || s[0] === "+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") return undefined;
  let d = 0n;
  while (s !== "") {
    if (!/^[0-9.]/.test(s)) return undefined;
    // leadingInt: [0-9]*, an error past 1<<63.
    const whole = /^[0-9]*/.exec(s)?.[0] ?? "";
    let v = 0n;
    for (const c of whole) {
      if (v > MAX_UINT63 / 10n) return undefined;
      v = v * 10n + BigInt(c);
      if (v > MAX_UINT63) return undefined;
    }
    s = s.slice(whole.length);
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s.startsWith(".")) {
      s = s.slice(1);
      // leadingFraction: digits past what fits are consumed and ignored.
      const frac = /^[0-9]*/.exec(s)?.[0] ?? "";
      let overflow = false;
      for (const c of frac) {
        if (overflow) continue;
        if (f > (MAX_UINT63 - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(c);
        if (y > MAX_UINT63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = frac.length > 0;
      s = s.slice(frac.length);
    }
    if (whole.length === 0 && !post) return undefined;
    const unitText = /^[^0-9.]*/.exec(s)?.[0] ?? "";
    if (unitText === "") return undefined;
    s = s.slice(unitText.length);
    const unit = UNIT_NS.get(unitText);
    if (unit === undefined) return undefined;
    if (v > MAX_UINT63 / unit) return undefined;
    v *= unit;
    if (f > 0n) {
      // float64(f) * (float64(unit) / scale), truncated: nanosecond-accurate for fractions of hours.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX_UINT63) return undefined;
    }
    d += v;
    if (d > MAX_UINT63) return undefined;
  }
  if (neg) return d === 0n ? 0 : -Number(d);
  if (d > MAX_UINT63 - 1n) return undefined;
  return Number(d);
}

/** `parsed, _ := time.ParseDuration(s)`: an error leaves 0. */
const duration = (s: string): number => goParseDuration(s) ?? 0;

// ---- The mappers. ----

/** labelSetToMap: the set's elements in order, a later element's value winning for the same label. */
function labelSetToMap(labels: TfObject[]): Record<string, string> {
  return Object.fromEntries(labels.map((l) => [str(l, "label"), str(l, "value")]));
}

/** mapTypeMapValsToStringSlice: "k=v" for each non-empty key, in Go's (random) map order. */
function envSlice(env: Record<string, string>, order: EnvOrder): string[] {
  const keys = Object.keys(env);
  const ordered = order === "rotated" && keys.length > 1 ? [...keys.slice(1), keys[0]] : keys;
  return ordered.filter((k) => k.length > 0).map((k) => `${k}=${env[k]}`);
}

function createPrivileges(list: TfObject[]): EngineContainerSpec["Privileges"] {
  return single(list, (p) => {
    const privileges: NonNullable<EngineContainerSpec["Privileges"]> = {};
    // file is assigned to File, then registry is too: File holds the registry ("" when unset), file is never sent.
    const credential = single(elements(p, "credential_spec"), (c) => ({ File: str(c, "registry") }));
    if (credential) privileges.CredentialSpec = credential;
    const selinux = single(elements(p, "se_linux_context"), (c) => ({
      Disable: bool(c, "disable"),
      User: str(c, "user"),
      Role: str(c, "role"),
      Type: str(c, "type"),
      Level: str(c, "level"),
    }));
    if (selinux) privileges.SELinuxContext = selinux;
    return privileges;
  });
}

function createMount(m: TfObject): EngineMount {
  const mount: EngineMount = { Type: str(m, "type"), Target: str(m, "target"), Source: str(m, "source"), ReadOnly: bool(m, "read_only") };
  const bind = single(elements(m, "bind_options"), (b) => ({ Propagation: str(b, "propagation") }));
  if (bind) mount.BindOptions = bind;
  const volume = single(elements(m, "volume_options"), (v) => ({
    NoCopy: bool(v, "no_copy"),
    Labels: labelSetToMap(elements(v, "labels")),
    // driver_name is always in the map, so DriverConfig always exists.
    DriverConfig: { Name: str(v, "driver_name"), Options: stringMap(v, "driver_options") },
  }));
  if (volume) mount.VolumeOptions = volume;
  const tmpfs = single(elements(m, "tmpfs_options"), (t) => ({ SizeBytes: int(t, "size_bytes"), Mode: uint32(int(t, "mode")) }));
  if (tmpfs) mount.TmpfsOptions = tmpfs;
  return mount;
}

/** An empty HealthConfig, filled in when the block is there. */
function createHealthcheck(list: TfObject[]): NonNullable<EngineContainerSpec["Healthcheck"]> {
  const health = single(list, (h) => ({
    Test: strings(h, "test"),
    Interval: duration(str(h, "interval")),
    Timeout: duration(str(h, "timeout")),
    StartPeriod: duration(str(h, "start_period")),
    Retries: int(h, "retries"),
  }));
  return health ?? {};
}

/** An empty DNSConfig; the mapper tests the length of the container_spec list (always 1 here), not of dns_config. */
function createDnsConfig(containerSpecs: TfObject[], list: TfObject[]): NonNullable<EngineContainerSpec["DNSConfig"]> {
  const dns = containerSpecs.length === 0 ? undefined : single(list, (c) => ({ Nameservers: strings(c, "nameservers"), Search: strings(c, "search"), Options: strings(c, "options") }));
  return dns ?? {};
}

function fileTarget(r: TfObject) {
  return { Name: str(r, "file_name"), UID: str(r, "file_uid"), GID: str(r, "file_gid"), Mode: uint32(int(r, "file_mode")) };
}

/** createContainerSpec. */
function createContainerSpec(list: TfObject[], opts: SendOptions): EngineContainerSpec {
  const spec = single(list, (c) => {
    const out: EngineContainerSpec = {
      Image: str(c, "image"),
      Labels: labelSetToMap(elements(c, "labels")),
      Command: strings(c, "command"),
      Args: strings(c, "args"),
      Hostname: str(c, "hostname"),
      Env: envSlice(stringMap(c, "env"), opts.envOrder ?? "declared"),
      Dir: str(c, "dir"),
      User: str(c, "user"),
      Groups: strings(c, "groups"),
      Privileges: createPrivileges(elements(c, "privileges")),
      ReadOnly: bool(c, "read_only"),
      Mounts: elements(c, "mounts").map(createMount),
      StopSignal: str(c, "stop_signal"),
      // ParseDuration("") fails: an unset stop_grace_period is sent as 0.
      StopGracePeriod: duration(str(c, "stop_grace_period")),
      Healthcheck: createHealthcheck(elements(c, "healthcheck")),
      Hosts: elements(c, "hosts").map((h) => `${str(h, "ip")} ${str(h, "host")}`),
      DNSConfig: createDnsConfig(list, elements(c, "dns_config")),
      Secrets: elements(c, "secrets").map((r) => ({ SecretID: str(r, "secret_id"), File: fileTarget(r), SecretName: str(r, "secret_name") })),
      Configs: elements(c, "configs").map((r) => ({ ConfigID: str(r, "config_id"), File: fileTarget(r), ConfigName: str(r, "config_name") })),
      Isolation: str(c, "isolation"),
      Sysctls: stringMap(c, "sysctl"),
    };
    if (!out.Privileges) delete out.Privileges;
    // Appended one by one to a nil slice: nil (absent) when empty.
    const capAdd = strings(c, "cap_add");
    if (capAdd.length > 0) out.CapabilityAdd = capAdd;
    const capDrop = strings(c, "cap_drop");
    if (capDrop.length > 0) out.CapabilityDrop = capDrop;
    if ((opts.apiVersion ?? "1.41") >= "1.37") out.Init = bool(c, "init");
    return out;
  });
  return spec ?? {};
}

/** createGenericResources: "kind=value" split on every "=" (the second part is the value; no "=" panics). */
function createGenericResources(list: TfObject[]): EngineGenericResource[] {
  const out: EngineGenericResource[] = [];
  const split = (s: string, key: string): [string, string] => {
    const parts = s.split("=");
    if (parts.length < 2) throw new Error(`${key}: "${s}" has no "=" (the provider panics: index out of range)`);
    return [parts[0], parts[1]];
  };
  for (const g of list) {
    for (const s of strings(g, "named_resources_spec")) {
      const [Kind, Value] = split(s, "named_resources_spec");
      out.push({ NamedResourceSpec: { Kind, Value } });
    }
    for (const s of strings(g, "discrete_resources_spec")) {
      const [Kind, text] = split(s, "discrete_resources_spec");
      // strconv.ParseInt(text, 10, 64), an error ignored (0).
      out.push({ DiscreteResourceSpec: { Kind, Value: /^[+-]?[0-9]+$/.test(text) ? Number(text) : 0 } });
    }
  }
  return out;
}

function createResources(list: TfObject[]): NonNullable<EngineTaskSpec["Resources"]> {
  const resources = single(list, (r) => {
    const out: NonNullable<EngineTaskSpec["Resources"]> = {};
    const limits = single(elements(r, "limits"), (l) => ({ NanoCPUs: int(l, "nano_cpus"), MemoryBytes: int(l, "memory_bytes") }));
    if (limits) out.Limits = limits;
    const reservation = single(elements(r, "reservation"), (l) => ({
      NanoCPUs: int(l, "nano_cpus"),
      MemoryBytes: int(l, "memory_bytes"),
      GenericResources: createGenericResources(elements(l, "generic_resources")),
    }));
    if (reservation) out.Reservations = reservation;
    return out;
  });
  return resources ?? {};
}

/** createRestartPolicy: the first element; every duration and max_attempts sent (0 when unset). */
function createRestartPolicy(list: TfObject[]): NonNullable<EngineTaskSpec["RestartPolicy"]> {
  if (list.length === 0) return {};
  const p = list[0];
  return {
    Condition: str(p, "condition"),
    Delay: duration(str(p, "delay")),
    MaxAttempts: uint64(int(p, "max_attempts"), "max_attempts"),
    Window: duration(str(p, "window")),
  };
}

function createPlacement(list: TfObject[]): NonNullable<EngineTaskSpec["Placement"]> {
  const placement = single(list, (p) => ({
    Constraints: strings(p, "constraints"),
    Preferences: strings(p, "prefs").map((SpreadDescriptor) => ({ Spread: { SpreadDescriptor } })),
    Platforms: elements(p, "platforms").map((x) => ({ Architecture: str(x, "architecture"), OS: str(x, "os") })),
    MaxReplicas: uint64(int(p, "max_replicas"), "max_replicas"),
  }));
  return placement ?? {};
}

/** stringSetToMapStringString: "k=v" split once; an entry without "=" is skipped. */
function driverOpts(entries: string[]): Record<string, string> {
  return Object.fromEntries(
    entries.flatMap((e) => {
      const at = e.indexOf("=");
      return at < 0 ? [] : [[e.slice(0, at), e.slice(at + 1)]];
    }),
  );
}

function createServiceAdvancedNetworks(list: TfObject[]): NonNullable<EngineTaskSpec["Networks"]> {
  return list.map((n) => {
    const target = str(n, "id") || str(n, "name");
    if (target === "") throw new Error("network 'name' or 'id' must be specified");
    return { Target: target, Aliases: strings(n, "aliases"), DriverOpts: driverOpts(strings(n, "driver_opts")) };
  });
}

/** createLogDriver: the first element, or nil. */
function createLogDriver(list: TfObject[]): EngineTaskSpec["LogDriver"] {
  if (list.length === 0) return undefined;
  return { Name: str(list[0], "name"), Options: stringMap(list[0], "options") };
}

function createServiceTaskSpec(d: TfObject, opts: SendOptions): EngineTaskSpec {
  const task = single(getOk(d, "task_spec") ? elements(d, "task_spec") : [], (t) => {
    const out: EngineTaskSpec = {
      ContainerSpec: createContainerSpec(elements(t, "container_spec"), opts),
      Resources: createResources(elements(t, "resources")),
      RestartPolicy: createRestartPolicy(elements(t, "restart_policy")),
      Placement: createPlacement(elements(t, "placement")),
      ForceUpdate: uint64(int(t, "force_update"), "force_update"),
      Runtime: str(t, "runtime"),
      Networks: createServiceAdvancedNetworks(elements(t, "networks_advanced")),
    };
    const logDriver = createLogDriver(elements(t, "log_driver"));
    if (logDriver) out.LogDriver = logDriver;
    return out;
  });
  return task ?? {};
}

/** createServiceMode: Replicated when the replicated block is there (replicas always set), Global when global is true. */
function createServiceMode(d: TfObject): NonNullable<EngineServiceSpec["Mode"]> {
  const mode = single(getOk(d, "mode") ? elements(d, "mode") : [], (m) => {
    const out: NonNullable<EngineServiceSpec["Mode"]> = {};
    const replicated = single(elements(m, "replicated"), (r) => ({ Replicas: uint64(int(r, "replicas"), "replicas") }));
    if (replicated) out.Replicated = replicated;
    if (bool(m, "global")) out.Global = {};
    return out;
  });
  return mode ?? {};
}

/** createUpdateOrRollbackConfig: the first element; max_failure_ratio through ParseFloat (error: 0) and float32. */
function createUpdateOrRollbackConfig(list: TfObject[]): EngineUpdateConfig {
  if (list.length === 0) return {};
  const c = list[0];
  return {
    Parallelism: uint64(int(c, "parallelism"), "parallelism"),
    Delay: duration(str(c, "delay")),
    FailureAction: str(c, "failure_action"),
    Monitor: duration(str(c, "monitor")),
    // Go's ParseFloat returns ±Inf with its range error (json.Marshal would then fail): not modelled, 0 here.
    MaxFailureRatio: Math.fround(parseGoFloat(str(c, "max_failure_ratio")) ?? 0),
    Order: str(c, "order"),
  };
}

function createServiceEndpointSpec(d: TfObject): EngineEndpointSpec {
  const spec = single(getOk(d, "endpoint_spec") ? elements(d, "endpoint_spec") : [], (e) => ({
    Mode: str(e, "mode"),
    Ports: elements(e, "ports").map((p) => ({
      Name: str(p, "name"),
      Protocol: str(p, "protocol"),
      TargetPort: uint32(int(p, "target_port")),
      PublishedPort: uint32(int(p, "published_port")),
      PublishMode: str(p, "publish_mode"),
    })),
  }));
  return spec ?? {};
}

/** createServiceSpec: the swarm.ServiceSpec the provider passes to ServiceCreate or ServiceUpdate. */
export function providerSpec(d: TfObject, opts: SendOptions = {}): EngineServiceSpec {
  const spec: EngineServiceSpec = { Name: str(d, "name"), TaskTemplate: createServiceTaskSpec(d, opts), Mode: createServiceMode(d) };
  // createServiceLabels: d.GetOk, so no labels are nil (not an empty map).
  if (getOk(d, "labels")) spec.Labels = labelSetToMap(elements(d, "labels"));
  if (getOk(d, "update_config")) spec.UpdateConfig = createUpdateOrRollbackConfig(elements(d, "update_config"));
  if (getOk(d, "rollback_config")) spec.RollbackConfig = createUpdateOrRollbackConfig(elements(d, "rollback_config"));
  spec.EndpointSpec = createServiceEndpointSpec(d);
  return spec;
}

// ---- The Docker Go client (client/service_create.go, client/service_update.go). ----

/** distribution/reference's grammar (regexp.go). */
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const NAME = `(?:${HOST}(?::[0-9]+)?/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const REFERENCE = new RegExp(`^(${NAME})(?::([\\w][\\w.-]{0,127}))?(?:@(${DIGEST}))?$`);
const ANCHORED_DIGEST = new RegExp(`^${DIGEST}$`);
/** go-digest's Validate: the algorithms it knows and their hex lengths (lowercase). */
const DIGEST_HEX: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** reference.ParseNormalizedNamed: undefined where it errors, else whether the reference has a tag and a digest. */
export function parseNormalizedNamed(image: string): { tagged: boolean; digested: boolean } | undefined {
  if (/^[a-f0-9]{64}$/.test(image)) return undefined;
  const slash = image.indexOf("/");
  const first = slash < 0 ? "" : image.slice(0, slash);
  const hub = slash < 0 || (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first);
  const remainder = hub ? image : image.slice(slash + 1);
  const colon = remainder.indexOf(":");
  const remote = colon < 0 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) return undefined;
  const full = hub ? `docker.io/${remainder.includes("/") ? "" : "library/"}${remainder}` : image;
  const m = REFERENCE.exec(full);
  if (!m || m[1].length > 255) return undefined;
  if (m[3] !== undefined) {
    const [algorithm, hex] = m[3].split(":");
    if (DIGEST_HEX[algorithm] !== hex.length || !/^[a-f0-9]+$/.test(hex)) return undefined;
  }
  return { tagged: m[2] !== undefined, digested: m[3] !== undefined };
}

/** imageWithTagString: the familiar form with `:latest` on a bare name ("" where the reference does not parse). */
export function imageWithTagString(image: string): string {
  return parseNormalizedNamed(image) ? familiarImage(image) : "";
}

/**
 * imageWithDigestString: a reference without a digest gets `@digest` in its familiar form (a tag stays, none is
 * added: the client tagged the image before); anything else is unchanged.
 */
export function imageWithDigestString(image: string, digest: string): string {
  const ref = parseNormalizedNamed(image);
  if (!ref || ref.digested || !ANCHORED_DIGEST.test(digest)) return image;
  const familiar = familiarImage(image);
  return `${ref.tagged ? familiar : familiar.slice(0, -":latest".length)}@${digest}`;
}

/** What DistributionInspect would answer for an image: its digest (undefined: the query fails) and platforms. */
export interface RegistryModel {
  digest(image: string): string | undefined;
  platforms: { Architecture: string; OS: string }[];
}

/** validateServiceSpec (the plugin-spec checks aside: the provider never sends one). */
function validateServiceSpec(spec: EngineServiceSpec): void {
  const runtime = spec.TaskTemplate.Runtime ?? "";
  if (spec.TaskTemplate.ContainerSpec && runtime !== "" && runtime !== "container") throw new Error("mismatched runtime with container spec");
}

function withTaggedImage(task: EngineTaskSpec): EngineTaskSpec {
  if (!task.ContainerSpec) return task;
  const tagged = imageWithTagString(task.ContainerSpec.Image ?? "");
  return tagged === "" ? task : { ...task, ContainerSpec: { ...task.ContainerSpec, Image: tagged } };
}

/** resolveContainerSpecImage / imageDigestAndPlatforms: pin by digest and set the registry's platforms ("arm" cleared). */
function resolveContainerSpecImage(task: EngineTaskSpec, registry: RegistryModel): EngineTaskSpec {
  const container = task.ContainerSpec;
  if (!container) return task;
  const image = container.Image ?? "";
  const digest = registry.digest(image);
  // A failed query: a warning, nothing changed.
  if (digest === undefined) return task;
  const resolved: EngineTaskSpec = { ...task, ContainerSpec: { ...container, Image: imageWithDigestString(image, digest) } };
  const platforms = registry.platforms.map((p) => ({ Architecture: p.Architecture.toLowerCase() === "arm" ? "" : p.Architecture, OS: p.OS }));
  if (platforms.length > 0) resolved.Placement = { ...(task.Placement ?? {}), Platforms: platforms };
  return resolved;
}

/**
 * client.ServiceCreate as the provider calls it (QueryRegistry: true): an empty ContainerSpec for a container
 * runtime without one, the image in its familiar form with a tag, then pinned by the registry's digest, and
 * Placement.Platforms replaced by the registry's platforms.
 */
export function clientCreate(spec: EngineServiceSpec, registry: RegistryModel): EngineServiceSpec {
  const runtime = spec.TaskTemplate.Runtime ?? "";
  const task = !spec.TaskTemplate.ContainerSpec && (runtime === "" || runtime === "container") ? { ...spec.TaskTemplate, ContainerSpec: {} } : spec.TaskTemplate;
  validateServiceSpec({ ...spec, TaskTemplate: task });
  return { ...spec, TaskTemplate: resolveContainerSpecImage(withTaggedImage(task), registry) };
}

/** client.ServiceUpdate as the provider calls it (no QueryRegistry): the image in its familiar form with a tag, nothing pinned. */
export function clientUpdate(spec: EngineServiceSpec): EngineServiceSpec {
  validateServiceSpec(spec);
  return { ...spec, TaskTemplate: withTaggedImage(spec.TaskTemplate) };
}
