/**
 * The plan the real provider makes on the next `pulumi up` of a docker.Service: a port of
 * terraform-plugin-sdk v2's schemaMap.Diff (helper/schema/schema.go: diff, diffString, diffList, diffMap,
 * diffSet, Schema.finalizeDiff), of the field readers it diffs through (field_reader_config.go
 * ConfigFieldReader: defaults; field_reader_map.go MapFieldReader and field_reader.go readObjectField: zero
 * values; ResourceData.diffChange: a value that does not exist is nil) and of the set identity
 * (set.go, serialize.go: HashResource/HashSchema/HashString over SerializeResourceForHash, crc32 as in
 * internal/helper/hashcode). Ported from hashicorp/terraform-plugin-sdk v2.40.1, the version the provider's go.mod
 * names. Pulumi builds the provider against its fork, pulumi/terraform-plugin-sdk (which commit pulumi-docker 5.2.0
 * pins was not checked): those functions are the same, but for comment and name spelling, in the fork's
 * upstream-v2.38.1 branch and in v2.33.0. The resource has no CustomizeDiff.
 *
 * Of the SDK's PlanResourceChange it keeps: a change of any attribute that RequiresNew makes a replacement
 * (requiresReplace), otherwise any change an update, and a diff whose entries change nothing is no change
 * (ValuesSDKEquivalent: removing "" or 0 is not a change). Values are all known (no previews of unknowns).
 */
import { revealDeep } from "../spec";
import { EngineService, FlattenOptions, flattenService, formatFloatShortest, TfState } from "./flatten";
import { defaultValue, pulumiName, SERVICE_SCHEMA, STATE_ONLY, TfAttr, TfBlock, TfObject, TfValue } from "./schema";

export type TfConfig = TfObject;

export interface PlannedChange {
  path: string;
  old: string;
  new: string;
  requiresNew: boolean;
  /** ResourceAttrDiff.NewRemoved: the attribute goes away. */
  removed?: true;
  /** ResourceAttrDiff.NewComputed: the provider would compute it ("known after apply"). */
  computed?: true;
}

export interface Plan {
  action: "none" | "update" | "replace";
  changes: PlannedChange[];
  /**
   * Every attribute schemaMap.Diff listed, including removals of a zero value that PlanResourceChange counts as
   * no change (ValuesSDKEquivalent): empty means no change on either of the bridge's diff paths.
   */
  raw: string[];
}

// ---- Pulumi inputs → Terraform config. ----

const STRING_ELEM: TfAttr = { type: "string" };

function record(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${path}: expected an object, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

function array(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${path}: expected a list, got ${JSON.stringify(v)}`);
  return v;
}

function configPrimitive(attr: TfAttr, v: unknown, path: string): TfValue {
  const ok =
    (attr.type === "string" && typeof v === "string") ||
    (attr.type === "int" && typeof v === "number" && Number.isInteger(v)) ||
    (attr.type === "float" && typeof v === "number") ||
    (attr.type === "bool" && typeof v === "boolean");
  if (!ok) throw new Error(`${path}: expected a ${attr.type}, got ${JSON.stringify(v)}`);
  return v as TfValue;
}

function configValue(attr: TfAttr, v: unknown, path: string): TfValue {
  if (attr.type === "map") {
    return Object.fromEntries(Object.entries(record(v, path)).map(([k, x]) => [k, configPrimitive(attr.elem ?? STRING_ELEM, x, `${path}.${k}`)]));
  }
  if (attr.type !== "list" && attr.type !== "set") return configPrimitive(attr, v, path);
  const block = attr.block;
  if (block) {
    // A MaxItems-1 block is a plain object on the Pulumi side and a list of one in Terraform.
    const items = attr.maxItems === 1 ? [v] : array(v, path);
    return items.map((item, i) => configBlock(block, item, `${path}.${i}`));
  }
  return array(v, path).map((x, i) => configPrimitive(attr.elem ?? STRING_ELEM, x, `${path}.${i}`));
}

function configBlock(block: TfBlock, v: unknown, path: string): TfObject {
  const obj = record(v, path);
  const names = new Map(Object.entries(block).map(([name, attr]) => [pulumiName(name, attr), name]));
  for (const [k, x] of Object.entries(obj)) {
    if (x !== undefined && x !== null && !names.has(k)) throw new Error(`${path ? `${path}.` : ""}${k}: not a docker.Service input`);
  }
  const out: TfObject = {};
  for (const [name, attr] of Object.entries(block)) {
    const x = obj[pulumiName(name, attr)];
    if (x === undefined || x === null) continue;
    const value = configValue(attr, x, path ? `${path}.${name}` : name);
    // hcl2shim.ConfigValueFromHCL2Block skips a nested block list with no elements (an absent block).
    if (attr.block && Array.isArray(value) && value.length === 0) continue;
    out[name] = value;
  }
  return out;
}

/** The Terraform config of declared docker.Service inputs (Pulumi names, secrets revealed). */
export function tfConfig(declared: unknown): TfConfig {
  const config = configBlock(SERVICE_SCHEMA, revealDeep(declared), "");
  // Pulumi would auto-name the service (name plus a random suffix): a name the model cannot know.
  if (config.name === undefined) throw new Error("name: not declared (Pulumi would auto-name the service; the model does not)");
  return config;
}

// ---- Values as the field readers return them. ----

type Primitive = string | number | boolean;

/** A *schema.Set: elements by hash code. */
class TfSet {
  readonly items = new Map<string, Value>();
  readonly raws = new Map<string, TfValue | undefined>();
  /** Set.listCode: the codes sorted as strings. */
  codes(): string[] {
    return [...this.items.keys()].sort(compareGoStrings);
  }
  /** Set.add: the first element with a code stays. */
  add(code: string, item: Value, raw: TfValue | undefined): void {
    if (this.items.has(code)) return;
    this.items.set(code, item);
    this.raws.set(code, raw);
  }
}

type Value = Primitive | Value[] | TfSet | { [k: string]: Value };

/** Go's sort.Strings order (bytes). */
function compareGoStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** ValueType.Zero(). */
function zero(attr: TfAttr): Primitive {
  return attr.type === "bool" ? false : attr.type === "int" || attr.type === "float" ? 0 : "";
}

export type Side = "state" | "config";

/**
 * A whole value as a reader returns it: ValueOrZero all the way down (readObjectField fills every field of an
 * element); the config reader also gives a primitive its schema default (ConfigFieldReader.readPrimitive).
 */
function normalize(side: Side, attr: TfAttr, raw: TfValue | undefined): Value {
  switch (attr.type) {
    case "list": {
      const items = Array.isArray(raw) ? raw : [];
      return items.map((item) => normalizeElem(side, attr, item));
    }
    case "set": {
      const set = new TfSet();
      for (const item of Array.isArray(raw) ? raw : []) {
        const v = normalizeElem(side, attr, item);
        set.add(setCode(attr, v), v, item);
      }
      return set;
    }
    case "map":
      return Object.fromEntries(Object.entries(isObject(raw) ? raw : {}).map(([k, v]) => [k, weakString(v)]));
    default: {
      if (raw !== undefined && !Array.isArray(raw) && typeof raw !== "object") return raw;
      const d = side === "config" ? defaultValue(attr) : undefined;
      return d ?? zero(attr);
    }
  }
}

function normalizeElem(side: Side, attr: TfAttr, item: TfValue | undefined): Value {
  const block = attr.block;
  if (!block) return normalize(side, attr.elem ?? STRING_ELEM, item);
  const obj = isObject(item) ? item : {};
  return Object.fromEntries(Object.entries(block).map(([k, a]) => [k, normalize(side, a, obj[k])]));
}

function isObject(v: TfValue | undefined): v is TfObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// ---- Set identity: SerializeResourceForHash / SerializeValueForHash and hashcode.String (crc32). ----

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** hashcode.String: crc32.ChecksumIEEE of the UTF-8 bytes (never negative as a 64-bit Go int). */
export function hashcodeString(s: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(s, "utf8")) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function serializeValue(attr: TfAttr, val: Value | undefined): string {
  if (val === undefined) return ";";
  let body: string;
  if (val instanceof TfSet) {
    body = `{${val.codes().map((c) => serializeMember(attr, val.items.get(c))).join("")}}`;
  } else if (Array.isArray(val)) {
    body = `(${val.map((v) => serializeMember(attr, v)).join("")})`;
  } else if (typeof val === "object") {
    const keys = Object.keys(val).sort(compareGoStrings);
    body = `[${keys.map((k) => `${k}:${serializePrimitive(val[k])};`).join("")}]`;
  } else {
    body = attr.type === "bool" ? (val ? "1" : "0") : attr.type === "float" && typeof val === "number" ? formatFloatShortest(val, "g") : String(val);
  }
  return `${body};`;
}

function serializePrimitive(v: Value): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : formatFloatShortest(v, "g");
  if (typeof v === "string") return v;
  throw new Error(`unknown value type in TypeMap: ${JSON.stringify(v)}`);
}

/** serializeCollectionMemberForHash. */
function serializeMember(attr: TfAttr, v: Value | undefined): string {
  if (attr.block) return `<${serializeResource(attr.block, v)}>;`;
  return serializeValue(attr.elem ?? STRING_ELEM, v);
}

function serializeResource(block: TfBlock, val: Value | undefined): string {
  if (val === undefined || typeof val !== "object" || Array.isArray(val) || val instanceof TfSet) return "";
  const keys = Object.keys(block).sort(compareGoStrings);
  const allComputed = keys.every((k) => !block[k].optional && !block[k].required);
  return keys
    .filter((k) => allComputed || block[k].optional || block[k].required)
    .map((k) => `${k}:${serializeValue(block[k], val[k])}`)
    .join("");
}

/** The code of a set element: the schema's Set function, or HashResource / HashSchema of its Elem. */
function setCode(attr: TfAttr, v: Value): string {
  if (attr.block) return String(hashcodeString(serializeResource(attr.block, v)));
  if (attr.hashString) return String(hashcodeString(String(v)));
  return String(hashcodeString(serializeValue(attr.elem ?? STRING_ELEM, v)));
}

// ---- Readers: where a value is read from, and whether it exists there. ----

/**
 * A place in the state (MapFieldReader over the state ResourceData.State() wrote: top-level attributes exist
 * when the Read set them, everything inside an existing list or set element exists, zero-filled) or in the config
 * (ConfigFieldReader: a primitive exists when configured or defaulted, even at a list index past the end; nothing
 * exists under a set element the config does not have).
 */
interface Node {
  side: Side;
  raw: TfValue | undefined;
  /** state: whether the enclosing element exists (the root's children: whether the key is there). */
  exists: boolean;
  /** config: under a set code the config does not have. */
  lost: boolean;
}

function rootNode(side: Side, obj: TfObject): Node {
  return { side, raw: obj, exists: true, lost: false };
}

function field(node: Node, name: string, root: boolean): Node {
  const raw = isObject(node.raw) ? node.raw[name] : undefined;
  return { ...node, raw, exists: root ? raw !== undefined : node.exists };
}

function listIndex(node: Node, attr: TfAttr, i: number): Node {
  const items = read(node, attr);
  const raw = Array.isArray(node.raw) ? node.raw[i] : undefined;
  return { ...node, raw, exists: Array.isArray(items) && i < items.length };
}

function setElement(node: Node, attr: TfAttr, code: string): Node {
  const set = read(node, attr);
  const has = set instanceof TfSet && set.items.has(code);
  return { ...node, raw: has ? set.raws.get(code) : undefined, exists: has, lost: node.lost || !has };
}

/** FieldReadResult.Value when Exists, else nil (ResourceData.diffChange). */
function read(node: Node, attr: TfAttr): Value | undefined {
  if (node.side === "state") return node.exists ? normalize("state", attr, node.raw) : undefined;
  if (node.lost) return undefined;
  const primitive = attr.type !== "list" && attr.type !== "set" && attr.type !== "map";
  if (node.raw === undefined && !(primitive && defaultValue(attr) !== undefined)) return undefined;
  return normalize("config", attr, node.raw);
}

// ---- schemaMap.Diff. ----

interface AttrDiff {
  old: string;
  new: string;
  newRemoved: boolean;
  newComputed: boolean;
  requiresNew: boolean;
}

type Diffs = Map<string, AttrDiff>;

/** mapstructure.WeakDecode(v, &string): bools as "1"/"0", ints in decimal, floats as FormatFloat(f, 'f', -1, 64), nil as "". */
function weakString(v: Value | TfValue | undefined): string {
  if (v === undefined) return "";
  if (typeof v === "boolean") return v ? "1" : "0";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : formatFloatShortest(v, "f");
  if (typeof v === "string") return v;
  throw new Error(`not a primitive: ${JSON.stringify(v)}`);
}

/** Schema.finalizeDiff (customized = false, as diffChange returns). */
function finalizeDiff(attr: TfAttr, d: AttrDiff): AttrDiff | undefined {
  if (attr.type === "bool") {
    const norm = (s: string) => (s === "0" ? "false" : s === "1" ? "true" : s);
    d = { ...d, old: norm(d.old), new: norm(d.new) };
  }
  if (attr.computed && !d.newRemoved && d.new === "") d = { ...d, newComputed: true };
  if (attr.forceNew) d = { ...d, requiresNew: d.old !== d.new || d.newComputed };
  if (d.newRemoved) return d;
  if (attr.computed) {
    // A computed attribute with an old value and no new one: "let it go".
    if (d.old !== "" && d.new === "") return undefined;
    if (d.new === "" && !d.newComputed) d = { ...d, newComputed: true };
  }
  return d;
}

const change = (old: string, neu: string, newRemoved = false, newComputed = false): AttrDiff => ({
  old,
  new: neu,
  newRemoved,
  newComputed,
  requiresNew: false,
});

function diffString(k: string, attr: TfAttr, o: Node, n: Node, all: boolean, out: Diffs): void {
  const ov = read(o, attr);
  const nv = read(n, attr);
  const nraw = nv === undefined && ov !== undefined ? zero(attr) : nv;
  const os = weakString(ov);
  const ns = weakString(nraw);
  // The resource has an id, so equal values are no diff.
  if (os === ns && !all) return;
  const removed = ov !== undefined && nv === undefined;
  if (removed && attr.computed) return;
  const d = finalizeDiff(attr, change(os, ns, removed));
  if (d) out.set(k, d);
}

/** reflect.DeepEqual on the read values: a *schema.Set holds a func, so nothing holding one is deeply equal. */
function deepEqual(a: Value | undefined, b: Value | undefined): boolean {
  if (a instanceof TfSet || b instanceof TfSet) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (typeof a === "object" || typeof b === "object") {
    if (typeof a !== "object" || typeof b !== "object") return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return a === b;
}

/** The "#" or "%" count of a collection, finalized as a TypeInt with the collection's Computed and ForceNew. */
function countDiff(k: string, attr: TfAttr, d: AttrDiff, out: Diffs): void {
  const counted = finalizeDiff({ type: "int", computed: attr.computed, forceNew: attr.forceNew }, d);
  if (counted) out.set(k, counted);
  else out.delete(k);
}

function diffList(k: string, attr: TfAttr, o: Node, n: Node, all: boolean, out: Diffs): void {
  const ov = read(o, attr);
  const nv = read(n, attr);
  // An old value and no new one, and computed: nothing changed.
  if (ov !== undefined && nv === undefined && attr.computed) return;
  const os = Array.isArray(ov) ? ov : [];
  const vs = Array.isArray(nv) ? nv : [];
  if (!all && nv !== undefined && deepEqual(os, vs)) return;
  const changed = os.length !== vs.length;
  const computed = os.length === 0 && vs.length === 0 && attr.computed === true;
  if (changed || computed || all) {
    countDiff(`${k}.#`, attr, change(computed ? "" : String(os.length), computed ? "" : String(vs.length)), out);
  }
  const maxLen = Math.max(os.length, vs.length);
  for (let i = 0; i < maxLen; i++) diffElement(`${k}.${i}`, attr, listIndex(o, attr, i), listIndex(n, attr, i), all, out);
}

/** A list or set element: each field of a block, or the primitive with the element schema copied with the collection's ForceNew. */
function diffElement(k: string, attr: TfAttr, o: Node, n: Node, all: boolean, out: Diffs): void {
  const block = attr.block;
  if (!block) {
    diff(k, withForceNew(attr.elem ?? STRING_ELEM, attr.forceNew), o, n, all, out);
    return;
  }
  for (const [k2, a2] of sortedEntries(block)) diff(`${k}.${k2}`, a2, field(o, k2, false), field(n, k2, false), all, out);
}

function withForceNew(elem: TfAttr, forceNew: true | undefined): TfAttr {
  const { forceNew: _ignored, ...rest } = elem;
  return forceNew ? { ...rest, forceNew } : rest;
}

function diffMap(k: string, attr: TfAttr, o: Node, n: Node, all: boolean, out: Diffs): void {
  const ov = read(o, attr);
  const nv = read(n, attr);
  const stateMap = new Map(Object.entries(asStringMap(ov)));
  const configMap = asStringMap(nv);
  const stateExists = ov !== undefined;
  const oldLen = stateMap.size;
  const newLen = Object.keys(configMap).length;
  let changed = oldLen !== newLen;
  if (oldLen !== 0 && newLen === 0 && attr.computed) changed = false;
  const computed = oldLen === 0 && newLen === 0 && attr.computed === true && !stateExists;
  if (changed || computed) {
    countDiff(`${k}.%`, attr, change(computed ? "" : String(oldLen), computed ? "" : String(newLen)), out);
  }
  if (nv === undefined && attr.computed) return;
  for (const key of Object.keys(configMap).sort(compareGoStrings)) {
    const v = configMap[key];
    const old = stateMap.get(key);
    stateMap.delete(key);
    if (old === v && !all) continue;
    const d = finalizeDiff(attr, change(old ?? "", v));
    if (d) out.set(`${k}.${key}`, d);
  }
  for (const [key, v] of [...stateMap].sort(([a], [b]) => compareGoStrings(a, b))) {
    const d = finalizeDiff(attr, change(v, "", true));
    if (d) out.set(`${k}.${key}`, d);
  }
}

/** A map as read (normalize made its values strings, as mapstructure.WeakDecode into map[string]string does). */
function asStringMap(v: Value | undefined): Record<string, string> {
  if (v === undefined || typeof v !== "object" || Array.isArray(v) || v instanceof TfSet) return {};
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
}

function diffSet(k: string, attr: TfAttr, o: Node, n: Node, all: boolean, out: Diffs): void {
  const ov = read(o, attr);
  const nv = read(n, attr);
  if (ov !== undefined && nv === undefined && attr.computed) return;
  const os = ov instanceof TfSet ? ov : new TfSet();
  const ns = nv instanceof TfSet ? nv : new TfSet();
  const nSet = nv !== undefined;
  const oldCodes = os.codes();
  const newCodes = ns.codes();
  if (!all && nSet && oldCodes.join(",") === newCodes.join(",")) return;
  if (attr.computed && !nSet) {
    // d.GetOk(k + ".#"): the state's count (the config has none), "ok" only when it exists and is not zero.
    const count = ov instanceof TfSet ? ov.items.size : 0;
    countDiff(`${k}.#`, attr, change(count > 0 ? String(count) : "", "", false, true), out);
    return;
  }
  if (oldCodes.length !== newCodes.length || all) {
    countDiff(`${k}.#`, attr, change(String(oldCodes.length), String(newCodes.length)), out);
  }
  // The removed elements, then every element of the new set, each diffed in full.
  const removed = oldCodes.filter((c) => !ns.items.has(c));
  for (const code of [...removed, ...newCodes]) diffElement(`${k}.${code}`, attr, setElement(o, attr, code), setElement(n, attr, code), true, out);
}

function sortedEntries(block: TfBlock): [string, TfAttr][] {
  return Object.entries(block).sort(([a], [b]) => compareGoStrings(a, b));
}

/** schemaMap.diff: the type's diff, then the DiffSuppressFunc (a suppressed change inside a set becomes a no-op). */
function diff(k: string, attr: TfAttr, o: Node, n: Node, all: boolean, out: Diffs): void {
  const local: Diffs = new Map();
  if (attr.type === "list") diffList(k, attr, o, n, all, local);
  else if (attr.type === "set") diffSet(k, attr, o, n, all, local);
  else if (attr.type === "map") diffMap(k, attr, o, n, all, local);
  else diffString(k, attr, o, n, all, local);
  for (const [key, d] of local) {
    if (attr.diffSuppress && attr.diffSuppress(key, d.old, d.new)) {
      if (!all) continue;
      out.set(key, change(d.old, d.old));
      continue;
    }
    out.set(key, d);
  }
}

/** Whether an attribute diff changes the planned state (removing a zero value does not: ValuesSDKEquivalent). */
function changesSomething(d: AttrDiff): boolean {
  if (d.newComputed) return true;
  if (d.newRemoved) return !["", "0", "false"].includes(d.old);
  return d.old !== d.new;
}

/**
 * The Terraform attribute key of a Pulumi property path given to ignoreChanges, as pulumi-terraform-bridge's
 * visitor names it (pkg/tfbridge/diff.go computeIgnoreChanges): a MaxItems-1 block, an object on the Pulumi side,
 * is the list's element 0 (taskSpec.placement.platforms is task_spec.0.placement.0.platforms). Paths with list
 * indexes or map keys are not modelled.
 */
export function ignoredAttributeKey(path: string): string {
  let block = SERVICE_SCHEMA;
  const keys: string[] = [];
  const steps = path.split(".");
  steps.forEach((step, i) => {
    const found = Object.entries(block).find(([name, attr]) => pulumiName(name, attr) === step);
    if (!found) throw new Error(`ignoreChanges ${path}: ${step} is not a docker.Service input here`);
    const [name, attr] = found;
    keys.push(name);
    if (i === steps.length - 1) return;
    if (!attr.block || attr.maxItems !== 1) throw new Error(`ignoreChanges ${path}: only paths through single blocks are modelled`);
    keys.push("0");
    block = attr.block;
  });
  return keys.join(".");
}

/**
 * schemaMap.Diff of a config against a state, as the plan of an existing resource. `ignoreChanges` (Pulumi property
 * paths): the bridge drops each ignored attribute's diff and every diff under it (pkg/tfshim/sdk-v2/instance_diff.go
 * processIgnoreChanges) before the plan is made of what is left.
 */
export function planService(config: TfConfig, state: TfState, ignoreChanges: string[] = []): Plan {
  const out: Diffs = new Map();
  const o = rootNode("state", state);
  const n = rootNode("config", config);
  for (const [k, attr] of sortedEntries(SERVICE_SCHEMA)) diff(k, attr, field(o, k, true), field(n, k, true), false, out);
  for (const ignored of ignoreChanges.map(ignoredAttributeKey)) {
    for (const key of [...out.keys()]) if (key === ignored || key.startsWith(`${ignored}.`)) out.delete(key);
  }
  const changes: PlannedChange[] = [...out]
    .filter(([, d]) => changesSomething(d) || d.requiresNew)
    .map(([path, d]) => ({
      path,
      old: d.old,
      new: d.new,
      requiresNew: d.requiresNew,
      ...(d.newRemoved ? { removed: true as const } : {}),
      ...(d.newComputed ? { computed: true as const } : {}),
    }));
  const material = [...out.values()].some(changesSomething);
  const action = !material ? "none" : [...out.values()].some((d) => d.requiresNew) ? "replace" : "update";
  return { action, changes: material ? changes : [], raw: [...out.keys()] };
}

// ---- What the Read does not set. ----

function toTfValue(v: Value): TfValue {
  if (v instanceof TfSet) return v.codes().map((c) => toTfValue(v.items.get(c) as Value));
  if (Array.isArray(v)) return v.map(toTfValue);
  if (typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toTfValue(x)]));
  return v;
}

/**
 * A value as a field reader returns it (send.ts's plannedValues): "config" with the schema defaults filled in,
 * "state" with zero values; every field of a block present (ValueOrZero), a set as Set.List() gives it (its
 * elements once each, ordered by their codes as strings).
 */
export function readValue(side: Side, attr: TfAttr, raw: TfValue | undefined): TfValue {
  return toTfValue(normalize(side, attr, raw));
}

/**
 * The state with auth and converge_config as the last apply wrote them: the previous declaration's values with
 * defaults filled in (the provider's Read never sets them). `previous` undefined: never declared.
 */
export function withStateOnly(state: TfState, previous: unknown): TfState {
  const prev = previous === undefined ? {} : tfConfig(previous);
  const out: TfState = { ...state };
  for (const name of STATE_ONLY) {
    delete out[name];
    const raw = prev[name];
    if (raw !== undefined) out[name] = toTfValue(normalize("config", SERVICE_SCHEMA[name], raw));
  }
  return out;
}

/**
 * The plan of `declared` against the engine's service as the provider would read it back. `previous` is the
 * declaration the service was last applied with (for auth and converge_config, which are never read back).
 */
export function planAgainstEngine(
  declared: unknown,
  engineService: EngineService,
  opts: FlattenOptions & { previous?: unknown; ignoreChanges?: string[] } = {},
): Plan {
  return planService(tfConfig(declared), withStateOnly(flattenService(engineService, opts), opts.previous), opts.ignoreChanges);
}
