/**
 * The docker_service resource schema as data: a port of resourceDockerService() in
 * internal/provider/resource_docker_service.go of kreuzwerker/terraform-provider-docker v4.5.0 (commit 5074970c),
 * with labelSchema/labelSchemaUpdatable (newLabelSchema) from helpers.go and suppressEquivalentFloatRatio from
 * validators.go. Every attribute is here, not only the ones railyard sets. Descriptions and ValidateDiagFuncs
 * (plan-time validation, not diffing) are left out; Deprecated and ConflictsWith do not affect a diff either.
 *
 * `pulumi` names the property pulumi-docker 5.2.0 gives the attribute where it is not the camelCase of the
 * Terraform name (the bridge pluralises lists and sets: command → commands, networks_advanced →
 * networksAdvanceds); test/provider-model.test.ts checks every name against node_modules/@pulumi/docker.
 */

export type TfType = "string" | "int" | "bool" | "float" | "list" | "set" | "map";

/** schema.SchemaDiffSuppressFunc without the *ResourceData (the one suppress function here does not read it). */
export type DiffSuppressFunc = (key: string, oldValue: string, newValue: string) => boolean;

export interface TfAttr {
  type: TfType;
  required?: true;
  optional?: true;
  computed?: true;
  forceNew?: true;
  /** Schema.Default. */
  default?: string | number | boolean;
  /** Schema.DefaultFunc = schema.EnvDefaultFunc(env, fallback). */
  envDefault?: { env: string; fallback: string };
  maxItems?: number;
  /** Schema.Set = schema.HashString (otherwise ZeroValue's default: HashSchema or HashResource). */
  hashString?: true;
  diffSuppress?: DiffSuppressFunc;
  /** Elem = &schema.Resource{...}: a nested block. */
  block?: TfBlock;
  /** Elem = &schema.Schema{...}: primitive elements (a TypeMap without Elem holds strings). */
  elem?: TfAttr;
  /** The Pulumi property name, where it is not camelCase(name). */
  pulumi?: string;
}

export interface TfBlock {
  [name: string]: TfAttr;
}

/** A value in Terraform's shape: lists and sets as arrays, blocks and maps as objects. */
export type TfValue = string | number | boolean | TfValue[] | TfObject;
export interface TfObject {
  [name: string]: TfValue;
}

/** Go's strconv.ParseFloat(s, 64) for decimal, hexadecimal and inf/nan forms; undefined where Go returns an error. */
export function parseGoFloat(s: string): number | undefined {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
  if (special) return special[2].toLowerCase() === "nan" ? NaN : special[1] === "-" ? -Infinity : Infinity;
  const hex = /^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)[pP]([+-]?\d+)$/.exec(s);
  let v: number;
  if (hex) {
    if (hex[2] === "" && hex[3] === "") return undefined;
    const mantissa = parseInt(`${hex[2]}${hex[3]}` || "0", 16) / 16 ** hex[3].length;
    v = (hex[1] === "-" ? -1 : 1) * mantissa * 2 ** Number(hex[4]);
  } else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) {
    v = Number(s);
  } else {
    return undefined;
  }
  // Go reports a range error (and returns ±Inf) for a finite literal out of float64's range.
  return Number.isFinite(v) ? v : undefined;
}

/** validators.go suppressEquivalentFloatRatio: the diff is suppressed when both parse and are the same float64. */
export const suppressEquivalentFloatRatio: DiffSuppressFunc = (_key, oldValue, newValue) => {
  const o = parseGoFloat(oldValue);
  const n = parseGoFloat(newValue);
  if (o === undefined || n === undefined) return false;
  return o === n;
};

const STRING_ELEM: TfAttr = { type: "string" };

type Flags = Omit<TfAttr, "type">;
type PrimitiveType = "string" | "int" | "bool";

/** Constructors, so the data reads like the Go literal: an Optional or Required primitive, a list or set of strings, a block list. */
const optional = (type: PrimitiveType, flags: Flags = {}): TfAttr => ({ type, optional: true, ...flags });
const required = (type: PrimitiveType, flags: Flags = {}): TfAttr => ({ type, required: true, ...flags });
const strings = (type: "list" | "set", flags: Flags = {}): TfAttr => ({ type, optional: true, elem: STRING_ELEM, ...flags });
const blocks = (type: "list" | "set", block: TfBlock, flags: Flags = {}): TfAttr => ({ type, optional: true, block, ...flags });
/** An Optional TypeList with MaxItems 1. */
const single = (block: TfBlock, flags: Flags = {}): TfAttr => blocks("list", block, { maxItems: 1, ...flags });
/** A Required TypeList with MaxItems 1. */
const requiredSingle = (block: TfBlock): TfAttr => ({ type: "list", required: true, maxItems: 1, block });
const COMPUTED = { computed: true } as const;
const FORCE_NEW = { forceNew: true } as const;

/** helpers.go newLabelSchema(forceNew). */
function labelBlock(forceNew: boolean): TfBlock {
  const f = forceNew ? FORCE_NEW : {};
  return { label: required("string", f), value: required("string", f) };
}

/** The secrets and configs blocks differ only in the id and name attribute names. */
function fileReferenceBlock(kind: "secret" | "config"): TfBlock {
  return {
    [`${kind}_id`]: required("string"),
    [`${kind}_name`]: optional("string"),
    file_name: required("string"),
    file_uid: optional("string", { default: "0" }),
    file_gid: optional("string", { default: "0" }),
    file_mode: optional("int", { default: 0o444 }),
  };
}

/** update_config and rollback_config have the same attributes and defaults. */
function updateOrRollbackBlock(): TfBlock {
  return {
    parallelism: optional("int", { default: 1 }),
    delay: optional("string", { default: "0s" }),
    failure_action: optional("string", { default: "pause" }),
    monitor: optional("string", { default: "5s" }),
    max_failure_ratio: optional("string", { default: "0.0", diffSuppress: suppressEquivalentFloatRatio }),
    order: optional("string", { default: "stop-first" }),
  };
}

const mountsBlock: TfBlock = {
  target: required("string"),
  source: optional("string"),
  type: required("string"),
  read_only: optional("bool"),
  bind_options: single({ propagation: optional("string", { default: "rprivate" }) }),
  volume_options: single({
    no_copy: optional("bool"),
    labels: blocks("set", labelBlock(true)),
    driver_name: optional("string"),
    driver_options: { type: "map", optional: true, elem: STRING_ELEM },
  }),
  tmpfs_options: single({ size_bytes: optional("int"), mode: optional("int") }),
};

const privilegesBlock: TfBlock = {
  credential_spec: single({ file: optional("string"), registry: optional("string") }),
  se_linux_context: single({
    disable: optional("bool"),
    user: optional("string"),
    role: optional("string"),
    type: optional("string"),
    level: optional("string"),
  }),
};

const containerSpecBlock: TfBlock = {
  image: required("string"),
  labels: blocks("set", labelBlock(true)),
  command: strings("list", { pulumi: "commands" }),
  args: strings("list"),
  hostname: optional("string"),
  env: { type: "map", optional: true, elem: STRING_ELEM },
  dir: optional("string"),
  user: optional("string"),
  groups: strings("list"),
  privileges: single(privilegesBlock),
  read_only: optional("bool"),
  mounts: blocks("set", mountsBlock),
  stop_signal: optional("string"),
  stop_grace_period: optional("string", COMPUTED),
  healthcheck: single(
    {
      test: strings("list", { pulumi: "tests" }),
      interval: optional("string", { default: "0s" }),
      timeout: optional("string", { default: "0s" }),
      start_period: optional("string", { default: "0s" }),
      retries: optional("int", { default: 0 }),
    },
    COMPUTED,
  ),
  hosts: blocks("set", { ip: required("string", FORCE_NEW), host: required("string", FORCE_NEW) }, FORCE_NEW),
  dns_config: single(
    {
      nameservers: { type: "list", required: true, elem: STRING_ELEM },
      search: strings("list", { pulumi: "searches" }),
      options: strings("list"),
    },
    COMPUTED,
  ),
  secrets: blocks("set", fileReferenceBlock("secret")),
  configs: blocks("set", fileReferenceBlock("config")),
  isolation: optional("string", { default: "default" }),
  sysctl: { type: "map", optional: true, forceNew: true },
  cap_add: strings("list", { pulumi: "capAdds" }),
  cap_drop: strings("list", { pulumi: "capDrops" }),
  init: optional("bool", COMPUTED),
};

const resourcesBlock: TfBlock = {
  limits: single({ nano_cpus: optional("int"), memory_bytes: optional("int") }),
  reservation: single({
    nano_cpus: optional("int"),
    memory_bytes: optional("int"),
    generic_resources: single({
      named_resources_spec: strings("set", { pulumi: "namedResourcesSpecs" }),
      discrete_resources_spec: strings("set", { pulumi: "discreteResourcesSpecs" }),
    }),
  }),
};

const taskSpecBlock: TfBlock = {
  container_spec: requiredSingle(containerSpecBlock),
  resources: single(resourcesBlock, COMPUTED),
  restart_policy: single(
    { condition: optional("string"), delay: optional("string"), max_attempts: optional("int"), window: optional("string") },
    COMPUTED,
  ),
  placement: single(
    {
      constraints: strings("set", { hashString: true }),
      prefs: strings("set", { hashString: true }),
      max_replicas: optional("int"),
      platforms: blocks("set", { architecture: required("string"), os: required("string") }),
    },
    COMPUTED,
  ),
  force_update: optional("int", COMPUTED),
  runtime: optional("string", COMPUTED),
  networks_advanced: blocks(
    "set",
    {
      name: optional("string", FORCE_NEW),
      id: optional("string", FORCE_NEW),
      aliases: strings("set", { forceNew: true, hashString: true }),
      driver_opts: strings("set", FORCE_NEW),
    },
    { pulumi: "networksAdvanceds" },
  ),
  log_driver: single({ name: required("string"), options: { type: "map", optional: true, elem: STRING_ELEM } }),
};

/** resourceDockerService().Schema. */
export const SERVICE_SCHEMA: TfBlock = {
  auth: single(
    {
      server_address: required("string", FORCE_NEW),
      username: optional("string", { forceNew: true, envDefault: { env: "DOCKER_REGISTRY_USER", fallback: "" } }),
      password: optional("string", { forceNew: true, envDefault: { env: "DOCKER_REGISTRY_PASS", fallback: "" } }),
    },
    FORCE_NEW,
  ),
  name: required("string", FORCE_NEW),
  labels: blocks("set", labelBlock(false), COMPUTED),
  task_spec: requiredSingle(taskSpecBlock),
  mode: single(
    { replicated: single({ replicas: optional("int", { default: 1 }) }, COMPUTED), global: optional("bool", { default: false }) },
    { computed: true, forceNew: true },
  ),
  update_config: single(updateOrRollbackBlock()),
  rollback_config: single(updateOrRollbackBlock()),
  endpoint_spec: single(
    {
      mode: optional("string", COMPUTED),
      ports: blocks("list", {
        name: optional("string"),
        protocol: optional("string", { default: "tcp" }),
        target_port: required("int"),
        published_port: optional("int", COMPUTED),
        publish_mode: optional("string", { default: "ingress" }),
      }),
    },
    COMPUTED,
  ),
  converge_config: single({ delay: optional("string", { default: "7s" }), timeout: optional("string", { default: "3m" }) }),
};

/** The attributes the provider's Read never sets (their state is whatever the last apply wrote). */
export const STATE_ONLY = ["auth", "converge_config"] as const;

/** The Pulumi property name of an attribute. */
export function pulumiName(name: string, attr: TfAttr): string {
  return attr.pulumi ?? name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** schema.Schema.DefaultValue(): Default, else DefaultFunc (EnvDefaultFunc: a non-empty variable, else the fallback). */
export function defaultValue(attr: TfAttr, env: NodeJS.ProcessEnv = process.env): string | number | boolean | undefined {
  if (attr.default !== undefined) return attr.default;
  if (attr.envDefault) {
    const v = env[attr.envDefault.env];
    return v !== undefined && v !== "" ? v : attr.envDefault.fallback;
  }
  return undefined;
}
