/**
 * Runs the policy pack over a captured graph through @pulumi/policy's own analyzer functions (the ones its gRPC
 * server answers the Pulumi CLI with): each resource through `analyze`, the whole graph through `analyzeStack`.
 * Requests are built as the CLI builds them (protobuf Struct properties, secrets in Pulumi's wire form, URNs with
 * the parent's type chain), so the library's deserialisation, secret unwrapping, unknown-value proxy,
 * not-applicable handling and enforcement levels all run for real. Two things stand in for the CLI: the per-stack
 * config file's enforcement levels are applied here ("all", then each policy's own key, as `pulumi preview
 * --policy-pack-config` documents), and `analyzeStack` gets the resources' inputs (under mocks, the outputs of
 * most resources are their inputs).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { EnforcementLevel, Policies } from "@pulumi/policy";
import * as grpc from "@grpc/grpc-js";
import * as analyzer from "@pulumi/pulumi/proto/analyzer_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { Captured, ROOT } from "./harness";

interface Response {
  getDiagnosticsList(): analyzer.AnalyzeDiagnostic[];
  getNotApplicableList(): analyzer.PolicyNotApplicable[];
}
type Rpc = (call: { request: unknown }, callback: (err: unknown, res?: Response) => void) => Promise<void>;
/** The two calls a preview makes of a policy pack. */
export interface Analyzer {
  analyze(req: analyzer.AnalyzeRequest): Promise<Response>;
  analyzeStack(req: analyzer.AnalyzeStackRequest): Promise<Response>;
}
interface Server {
  makeAnalyzeRpcFun(pack: string, version: string, level: EnforcementLevel, policies: Policies): Rpc;
  makeAnalyzeStackRpcFun(pack: string, version: string, level: EnforcementLevel, policies: Policies): Rpc;
}
// The library's server functions are internal (no types): the same module its PolicyPack serves.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const server = require("@pulumi/policy/server") as Server;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Struct } = require("google-protobuf/google/protobuf/struct_pb") as { Struct: { fromJavaScript(v: Record<string, unknown>): never } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Empty } = require("google-protobuf/google/protobuf/empty_pb") as { Empty: new () => Empty };
type Empty = never;

export const PACK = "railyard";
/** A value that a preview cannot know yet, as the engine sends it. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface Violation {
  policy: string;
  message: string;
  level: EnforcementLevel;
  /** The resource's name when the violation names one (by URN). */
  resource?: string;
}
export interface Analysis {
  violations: Violation[];
  /** Policy name → reasons it did not apply. */
  notApplicable: Map<string, string[]>;
}

const LEVELS: Record<number, EnforcementLevel> = { 0: "advisory", 1: "mandatory", 2: "disabled", 3: "remediate" };

/** A `--policy-pack-config` file: per policy (or "all") a level, or a level and the policy's properties. */
export type PackConfig = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)>;

export function packConfig(stack: string): PackConfig {
  return JSON.parse(fs.readFileSync(path.join(ROOT, "policy", "config", `${stack}.json`), "utf8")) as PackConfig;
}

/** Each policy with the level a config file gives it: its own key, else "all", else its own or the pack's. */
export function configured(policies: Policies, config: PackConfig, packLevel: EnforcementLevel): Policies {
  const level = (v: PackConfig[string] | undefined) => (typeof v === "string" ? v : v?.enforcementLevel);
  return policies.map((p) => ({ ...p, enforcementLevel: level(config[p.name]) ?? level(config.all) ?? p.enforcementLevel ?? packLevel }));
}

function urns(stack: string, resources: Captured[]): Map<Captured, string> {
  // A parent is a component (custom resources have none as children here); names alone can repeat across types.
  const components = new Map(resources.filter((r) => r.type.startsWith("railyard:")).map((r) => [r.name, r]));
  const qualified = (r: Captured): string => {
    const parent = r.parent === undefined ? undefined : components.get(r.parent);
    return parent && parent !== r ? `${qualified(parent)}$${r.type}` : r.type;
  };
  return new Map(resources.map((r) => [r, `urn:pulumi:${stack}::railyard::${qualified(r)}::${r.name}`]));
}

function options(r: Captured): analyzer.AnalyzerResourceOptions {
  const o = new analyzer.AnalyzerResourceOptions();
  o.setProtect(r.protect ?? false);
  o.setAliasesList(r.aliases ?? []);
  if (r.deleteBeforeReplace !== undefined) {
    o.setDeletebeforereplacedefined(true);
    o.setDeletebeforereplace(r.deleteBeforeReplace);
  }
  return o;
}

/** What `analyze` and `analyzeStack` both receive of a resource. */
function describe<T extends analyzer.AnalyzeRequest | analyzer.AnalyzerResource>(msg: T, r: Captured, urn: string): T {
  msg.setType(r.type);
  msg.setUrn(urn);
  msg.setName(r.name);
  msg.setProperties(Struct.fromJavaScript(r.inputs));
  msg.setOptions(options(r));
  return msg;
}

function call(rpc: Rpc, request: unknown): Promise<Response> {
  return new Promise((resolve, reject) => {
    void rpc({ request }, (err, res) => (err || !res ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)));
  });
}

/** `policies` (levels as `config` gives them) behind the library's own analyzer functions, in this process. */
export function inProcess(policies: Policies, config: PackConfig = {}, packLevel: EnforcementLevel = "mandatory"): Analyzer {
  const set = configured(policies, config, packLevel);
  const one = server.makeAnalyzeRpcFun(PACK, "0.1.0", packLevel, set);
  const all = server.makeAnalyzeStackRpcFun(PACK, "0.1.0", packLevel, set);
  return { analyze: (req) => call(one, req), analyzeStack: (req) => call(all, req) };
}

/** Runs `policies` (levels as `config` gives them) over a stack's captured resources, as a preview would. */
export function analyze(stack: string, resources: Captured[], policies: Policies, config: PackConfig = {}, packLevel: EnforcementLevel = "mandatory"): Promise<Analysis> {
  return analyzeWith(inProcess(policies, config, packLevel), stack, resources);
}

/** Sends a stack's captured resources to `pack`: each custom resource to `analyze`, then all to `analyzeStack`. */
export async function analyzeWith(pack: Analyzer, stack: string, resources: Captured[]): Promise<Analysis> {
  const byUrn = urns(stack, resources);
  const names = new Map([...byUrn].map(([r, u]) => [u, r.name]));
  const components = new Map(resources.filter((r) => r.type.startsWith("railyard:")).map((r) => [r.name, r]));
  const found: Analysis = { violations: [], notApplicable: new Map() };
  // A resource policy's diagnostic carries no URN: the CLI attaches the resource it asked about (`about`).
  const collect = (res: Response, about?: string) => {
    for (const d of res.getDiagnosticsList()) {
      found.violations.push({ policy: d.getPolicyname(), message: d.getMessage(), level: LEVELS[d.getEnforcementlevel()], resource: names.get(d.getUrn()) ?? about });
    }
    for (const n of res.getNotApplicableList()) found.notApplicable.set(n.getPolicyName(), [...(found.notApplicable.get(n.getPolicyName()) ?? []), n.getReason()]);
  };
  const all: analyzer.AnalyzerResource[] = [];
  for (const r of resources) {
    const urn = byUrn.get(r) ?? "";
    // Every resource policy here matches a custom resource type; components take part in the stack analysis.
    if (!r.type.startsWith("railyard:")) collect(await pack.analyze(describe(new analyzer.AnalyzeRequest(), r, urn)), r.name);
    const res = describe(new analyzer.AnalyzerResource(), r, urn);
    const parent = r.parent === undefined ? undefined : components.get(r.parent);
    if (parent && parent !== r) res.setParent(byUrn.get(parent) ?? "");
    res.setDependenciesList(
      r.dependsOn.flatMap((d) => {
        const dep = components.get(d) ?? resources.find((x) => x.name === d);
        return dep ? [byUrn.get(dep) ?? ""] : [];
      }),
    );
    all.push(res);
  }
  const stackReq = new analyzer.AnalyzeStackRequest();
  stackReq.setResourcesList(all);
  collect(await pack.analyzeStack(stackReq));
  return found;
}

/** A policy pack served as the Pulumi CLI runs one: its own process, answering the analyzer protocol over gRPC. */
export interface ServedPack extends Analyzer {
  info(): Promise<analyzer.AnalyzerInfo>;
  /** The CLI's `--policy-pack-config`: "all", then each policy's own key, sent as one level per policy. */
  configure(config: PackConfig, policyNames: string[]): Promise<void>;
  stop(): void;
}

/**
 * Starts the pack in `dir` the way Pulumi's Node.js language host does (`@pulumi/pulumi/cmd/run-policy-pack`, which
 * loads the TypeScript entry point and prints the port of the gRPC server the PolicyPack starts).
 */
export async function servePack(dir: string): Promise<ServedPack> {
  const child = spawn(process.execPath, [path.dirname(require.resolve("@pulumi/pulumi/cmd/run-policy-pack")), "127.0.0.1:0", "."], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the pack printed no port in 30 s: ${err}`)), 30_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => reject(new Error(`the pack exited with ${code}: ${err}`)));
  });
  const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const unary =
    <Q, R>(method: (req: Q, cb: (e: grpc.ServiceError | null, r: R) => void) => unknown) =>
    (req: Q) =>
      new Promise<R>((resolve, reject) => method.call(client, req, (e, r) => (e ? reject(e) : resolve(r))));
  const LEVEL_CODES: Record<EnforcementLevel, analyzer.EnforcementLevel> = { advisory: 0, mandatory: 1, disabled: 2, remediate: 3 };
  return {
    analyze: unary(client.analyze),
    analyzeStack: unary(client.analyzeStack),
    info: () => unary<Empty, analyzer.AnalyzerInfo>(client.getAnalyzerInfo)(new Empty()),
    configure: async (config, names) => {
      const req = new analyzer.ConfigureAnalyzerRequest();
      for (const p of configured(names.map((name) => ({ name, description: "" })), config, "mandatory")) {
        const c = new analyzer.PolicyConfig();
        c.setEnforcementlevel(LEVEL_CODES[p.enforcementLevel ?? "mandatory"]);
        const own = config[p.name];
        const { enforcementLevel: _, ...properties } = typeof own === "object" ? own : {};
        c.setProperties(Struct.fromJavaScript(properties));
        req.getPolicyconfigMap().set(p.name, c);
      }
      await unary<analyzer.ConfigureAnalyzerRequest, unknown>(client.configure)(req);
    },
    stop: () => {
      client.close();
      child.kill();
    },
  };
}
