/**
 * The test bed's model of the Docker provider's next `pulumi up` of a docker.Service (test/engine/provider):
 * Go's duration and float printing, the read-back of engine JSON, and terraform-plugin-sdk's diff rules, on
 * hand-written engine fixtures shaped like `docker service inspect` output of Docker 20.10.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { ROOT } from "./harness";
import {
  EngineService,
  flattenService,
  formatFailureRatio,
  formatFloatFixed,
  formatFloatShortest,
  goDurationString,
  mapStringSliceToMap,
  shortDur,
} from "./engine/provider/flatten";
import { PLACEMENT_IGNORE } from "../lib/placement";
import { hashcodeString, ignoredAttributeKey, Plan, planAgainstEngine, planService, tfConfig, withStateOnly } from "./engine/provider/plan";
import { parseGoFloat, pulumiName, SERVICE_SCHEMA, suppressEquivalentFloatRatio, TfBlock } from "./engine/provider/schema";

const NS = 1;
const MS = 1e6;
const S = 1e9;
const NET_ID = "w7lfpvw4r43120g8lvy9p3yu3";
const SECRET_ID = "bqu6czq1j038z7c7klwuuf5l9";
const IMAGE = "registry.example/railyard/web:1.2.3@sha256:" + "a".repeat(64);
/** Pulumi's secret marker, as the harness captures a secret input. */
const secret = (value: string) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });

/** A service as the engine returns it after the provider created it from `declared()` (shapes from `docker service inspect`). */
function engineService(): EngineService {
  return {
    ID: "x64ychb4embm36d5b448bckpp",
    Version: { Index: 7715 },
    Spec: {
      Name: "pmodel-web",
      Labels: { "railyard.stack": "pmodel", "railyard.role": "web" },
      TaskTemplate: {
        ContainerSpec: {
          Image: IMAGE,
          Command: ["/bin/sh", "-c", "exec web"],
          Env: ["B=2", "A=1", "DATABASE_URL=postgres://app:pw@db:5432/app?sslmode=disable"],
          Init: false,
          StopGracePeriod: 30 * S,
          Healthcheck: { Test: ["CMD-SHELL", "wget -qO- localhost/health"], Interval: 5 * S, Timeout: 3 * S, StartPeriod: 96 * S, Retries: 3 },
          DNSConfig: {},
          Secrets: [{ File: { Name: "app_secret", UID: "0", GID: "0", Mode: 292 }, SecretID: SECRET_ID, SecretName: "pmodel-sec" }],
          Isolation: "default",
        },
        Resources: { Limits: { NanoCPUs: 500_000_000, MemoryBytes: 268_435_456 } },
        RestartPolicy: { Condition: "on-failure", Delay: 5 * S, MaxAttempts: 3, Window: 120 * S },
        Placement: {},
        Networks: [{ Target: NET_ID }],
        LogDriver: { Name: "json-file", Options: { "max-size": "10m" } },
        ForceUpdate: 0,
        Runtime: "container",
      },
      Mode: { Replicated: { Replicas: 2 } },
      UpdateConfig: { Parallelism: 1, Delay: 10 * S, FailureAction: "rollback", Monitor: 30 * S, MaxFailureRatio: 0.2, Order: "start-first" },
      RollbackConfig: { Parallelism: 0, FailureAction: "pause", Monitor: 30 * S, MaxFailureRatio: 0.2, Order: "start-first" },
      EndpointSpec: { Mode: "dnsrr" },
    },
    Endpoint: { Spec: {} },
  };
}

/** The Pulumi inputs of that service, as test/harness.ts captures them. */
function declared() {
  return {
    name: "pmodel-web",
    labels: [
      { label: "railyard.stack", value: "pmodel" },
      { label: "railyard.role", value: "web" },
    ],
    mode: { replicated: { replicas: 2 } },
    taskSpec: {
      containerSpec: {
        image: IMAGE,
        commands: ["/bin/sh", "-c", "exec web"],
        env: { A: "1", B: "2", DATABASE_URL: "postgres://app:pw@db:5432/app?sslmode=disable" } as Record<string, unknown>,
        secrets: [{ secretId: SECRET_ID, secretName: "pmodel-sec", fileName: "app_secret" }] as Record<string, unknown>[],
        healthcheck: { tests: ["CMD-SHELL", "wget -qO- localhost/health"], interval: "5s", timeout: "3s", retries: 3, startPeriod: "1m36s" },
        stopGracePeriod: "30s",
      },
      networksAdvanceds: [{ id: NET_ID }] as Record<string, unknown>[],
      restartPolicy: { condition: "on-failure", maxAttempts: 3, delay: "5s", window: "2m" },
      resources: { limits: { nanoCpus: 500_000_000, memoryBytes: 268_435_456 } } as Record<string, unknown> | undefined,
      logDriver: { name: "json-file", options: { "max-size": "10m" } },
      placement: undefined as Record<string, unknown> | undefined,
    },
    endpointSpec: { mode: "dnsrr" },
    updateConfig: { parallelism: 1, delay: "10s", failureAction: "rollback", monitor: "30s", maxFailureRatio: "0.2", order: "start-first" },
    rollbackConfig: { parallelism: 0, failureAction: "pause", monitor: "30s", maxFailureRatio: "0.2", order: "start-first" },
    convergeConfig: undefined as Record<string, unknown> | undefined,
    auth: undefined as Record<string, unknown> | undefined,
  };
}

const plan = (d: unknown, api: EngineService = engineService()): Plan => planService(tfConfig(d), flattenService(api));
const paths = (p: Plan) => p.changes.map((c) => c.path);

describe("Go's time.Duration.String and the provider's shortDur", () => {
  test.each([
    [0, "0s"],
    [500 * MS, "500ms"],
    [1.5 * S, "1.5s"],
    [30 * S, "30s"],
    [60 * S, "1m"],
    [96 * S, "1m36s"],
    [3600 * S, "1h"],
    [5400 * S, "1h30m"],
    [90 * S, "1m30s"],
    [96000 * MS, "1m36s"],
    [3601 * S, "1h0m1s"],
    [60.5 * S, "1m0.5s"],
    [1500 * NS, "1.5\u00b5s"],
    [999 * NS, "999ns"],
    [1234567 * NS, "1.234567ms"],
    [7200 * S + 0.25 * S, "2h0m0.25s"],
  ])("%d ns reads back as %s", (ns, text) => {
    expect(shortDur(ns)).toBe(text);
  });

  test("Duration.String itself keeps the zero units that shortDur trims", () => {
    expect(goDurationString(60 * S)).toBe("1m0s");
    expect(goDurationString(3600 * S)).toBe("1h0m0s");
    expect(goDurationString(-90 * S)).toBe("-1m30s");
    expect(goDurationString(1000 * NS)).toBe("1\u00b5s");
  });
});

describe("strconv.FormatFloat(float64(float32(x)), 'f', 1, 64)", () => {
  test.each([
    [0, "0.0"],
    [0.2, "0.2"],
    [0.1, "0.1"],
    [0.25, "0.2"], // exactly halfway in binary: Go rounds half to even (JavaScript's toFixed gives 0.3)
    [0.75, "0.8"],
    [0.15, "0.2"], // float32(0.15) is 0.15000000596…
    [0.05, "0.1"],
    [1, "1.0"],
  ])("max_failure_ratio %d reads back as %s", (ratio, text) => {
    expect(formatFailureRatio(ratio)).toBe(text);
  });

  test("the exact decimal of the double is rounded, not JavaScript's shortest form", () => {
    expect(formatFloatFixed(2.5, 0)).toBe("2");
    expect(formatFloatFixed(1.5, 0)).toBe("2");
    expect(formatFloatFixed(1.005, 2)).toBe("1.00"); // 1.00499999999999989…
    expect(formatFloatFixed(-0.04, 1)).toBe("-0.0");
  });

  test("the shortest forms (precision -1) a float attribute would be hashed ('g') and compared ('f') in", () => {
    expect([1e6, 100000, 0.0001, 0.00001, 123456789, 1.5, -2.5e-7].map((v) => formatFloatShortest(v, "g"))).toEqual([
      "1e+06",
      "100000",
      "0.0001",
      "1e-05",
      "1.23456789e+08",
      "1.5",
      "-2.5e-07",
    ]);
    expect([1e21, 1e-7, 0.1, 250].map((v) => formatFloatShortest(v, "f"))).toEqual(["1000000000000000000000", "0.0000001", "0.1", "250"]);
  });
});

describe("flattening what the engine returns", () => {
  test("env is read back as a map: the first '=' splits, later entries win, empty ones are skipped", () => {
    expect(mapStringSliceToMap(["A=1", "URL=x?a=b", "", "A=2", "FLAG"])).toEqual({ A: "2", URL: "x?a=b", FLAG: "" });
  });

  test("a network is read back as its id (the engine's Target) only", () => {
    const state = flattenService(engineService());
    const task = (state.task_spec as Record<string, unknown>[])[0];
    expect(task.networks_advanced).toEqual([{ id: NET_ID, driver_opts: [] }]);
  });

  test("ports come from Endpoint when it has a mode (the published port as assigned), else from the spec", () => {
    const api = engineService();
    api.Spec.EndpointSpec = { Mode: "vip", Ports: [{ Protocol: "tcp", TargetPort: 80, PublishMode: "ingress" }] };
    expect(flattenService(api).endpoint_spec).toEqual([
      { mode: "vip", ports: [{ name: "", protocol: "tcp", target_port: 80, published_port: 0, publish_mode: "ingress" }] },
    ]);
    api.Endpoint = { Spec: { Mode: "vip" }, Ports: [{ Protocol: "tcp", TargetPort: 80, PublishedPort: 30001, PublishMode: "ingress" }] };
    expect(flattenService(api).endpoint_spec).toEqual([
      { mode: "vip", ports: [{ name: "", protocol: "tcp", target_port: 80, published_port: 30001, publish_mode: "ingress" }] },
    ]);
  });

  test("a service exposing no endpoint mode is not read (the provider's read stays pending)", () => {
    const api = engineService();
    api.Spec.EndpointSpec = {};
    expect(() => flattenService(api)).toThrow(/pending/);
  });

  test("the image, network and secret mappers turn the bed's engine objects back into the declared ones", () => {
    const api = engineService();
    api.Spec.TaskTemplate.ContainerSpec = { ...api.Spec.TaskTemplate.ContainerSpec, Image: "railyard-test/app-v1:5e3454628f58" };
    api.Spec.TaskTemplate.Networks = [{ Target: "bednetid" }];
    expect(plan(declared(), api).action).toBe("replace");
    const mapped = planAgainstEngine(declared(), api, { image: () => IMAGE, network: (t) => (t === "bednetid" ? NET_ID : t) });
    expect(mapped).toMatchObject({ action: "none", changes: [], raw: [] });
  });
});

describe("the plan of the next `pulumi up`", () => {
  test("the declaration the service was created from plans nothing", () => {
    expect(plan(declared())).toMatchObject({ action: "none", changes: [], raw: [] });
  });

  test("a network declared by name is replaced: the read-back set element has only the id", () => {
    const d = declared();
    d.taskSpec.networksAdvanceds = [{ name: "railyard" }];
    const p = plan(d);
    expect(p.action).toBe("replace");
    const element = (attr: string) => expect.stringMatching(new RegExp(`^task_spec\\.0\\.networks_advanced\\.\\d+\\.${attr}$`));
    expect(p.changes).toEqual([
      expect.objectContaining({ path: element("id"), old: NET_ID, requiresNew: true, removed: true }),
      expect.objectContaining({ path: element("name"), old: "", new: "railyard", requiresNew: true }),
    ]);
  });

  test("a network declared by the id the engine holds plans nothing", () => {
    const d = declared();
    d.taskSpec.networksAdvanceds = [{ id: NET_ID }];
    expect(plan(d).action).toBe("none");
  });

  test("'30000ms' declared against '30s' read back is an update", () => {
    const d = declared();
    d.taskSpec.containerSpec.stopGracePeriod = "30000ms";
    const p = plan(d);
    expect(p).toMatchObject({
      action: "update",
      changes: [{ path: "task_spec.0.container_spec.0.stop_grace_period", old: "30s", new: "30000ms", requiresNew: false }],
    });
  });

  test("env in another order (and a value given as a secret) plans nothing", () => {
    const d = declared();
    d.taskSpec.containerSpec.env = { DATABASE_URL: secret("postgres://app:pw@db:5432/app?sslmode=disable"), B: "2", A: "1" };
    expect(plan(d).action).toBe("none");
  });

  test("a changed env value updates that key only", () => {
    const d = declared();
    d.taskSpec.containerSpec.env = { ...d.taskSpec.containerSpec.env, B: "3" };
    expect(plan(d)).toEqual({ action: "update", changes: [{ path: "task_spec.0.container_spec.0.env.B", old: "2", new: "3", requiresNew: false }], raw: ["task_spec.0.container_spec.0.env.B"] });
  });

  test("a secret declared without uid, gid and mode is the read-back element once the defaults fill in", () => {
    const d = declared();
    d.taskSpec.containerSpec.secrets = [{ secretId: SECRET_ID, secretName: "pmodel-sec", fileName: "app_secret" }];
    expect(plan(d).action).toBe("none");
    d.taskSpec.containerSpec.secrets = [{ ...d.taskSpec.containerSpec.secrets[0], fileUid: "0", fileGid: "0", fileMode: 292 }];
    expect(plan(d).action).toBe("none");
  });

  test("a secret with another mode is one element removed and one added (an update: the fields are not ForceNew)", () => {
    const d = declared();
    d.taskSpec.containerSpec.secrets = [{ secretId: SECRET_ID, secretName: "pmodel-sec", fileName: "app_secret", fileMode: 0o400 }];
    const p = plan(d);
    expect(p.action).toBe("update");
    const modes = p.changes.filter((c) => c.path.endsWith(".file_mode"));
    expect(modes).toEqual([
      // A removed field's New is the zero value (diffString: nraw = Type.Zero()).
      expect.objectContaining({ old: "292", new: "0", removed: true, requiresNew: false }),
      expect.objectContaining({ old: "", new: "256", requiresNew: false }),
    ]);
    expect(new Set(modes.map((c) => c.path.split(".")[5])).size).toBe(2);
  });

  test("max_failure_ratio: '0.2' (and '0.20') against '0.2' plans nothing", () => {
    const d = declared();
    expect(plan(d).action).toBe("none");
    d.updateConfig.maxFailureRatio = "0.20";
    expect(plan(d).action).toBe("none");
  });

  test("max_failure_ratio: '0.25' is stored as float32 0.25, read back as '0.2', and 0.25 != 0.2: an update on every up", () => {
    const d = declared();
    d.updateConfig.maxFailureRatio = "0.25";
    const api = engineService();
    api.Spec.UpdateConfig = { ...api.Spec.UpdateConfig, MaxFailureRatio: 0.25 };
    expect(plan(d, api)).toMatchObject({
      action: "update",
      changes: [{ path: "update_config.0.max_failure_ratio", old: "0.2", new: "0.25", requiresNew: false }],
    });
  });

  test("suppressEquivalentFloatRatio compares the parsed floats", () => {
    expect(suppressEquivalentFloatRatio("k", "0.2", "0.20")).toBe(true);
    expect(suppressEquivalentFloatRatio("k", "0.0", "0")).toBe(true);
    expect(suppressEquivalentFloatRatio("k", "0.2", "0.25")).toBe(false);
    expect(suppressEquivalentFloatRatio("k", "0.2", "x")).toBe(false);
    expect(parseGoFloat("1e-1")).toBe(0.1);
    expect(parseGoFloat("0x1p-2")).toBe(0.25);
    expect(parseGoFloat("1_0")).toBeUndefined();
  });

  test("resources left out of the config keep the read-back limits (Optional+Computed)", () => {
    const d = declared();
    d.taskSpec.resources = undefined;
    expect(plan(d).action).toBe("none");
  });

  test("a reservation the engine holds but the config (which sets resources) lacks is an update", () => {
    const api = engineService();
    api.Spec.TaskTemplate.Resources = { ...api.Spec.TaskTemplate.Resources, Reservations: {} };
    expect(plan(declared(), api)).toMatchObject({
      action: "update",
      changes: [{ path: "task_spec.0.resources.0.reservation.#", old: "1", new: "0", requiresNew: false }],
    });
  });

  test("placement with constraints against read-back platforms is an update of the platforms count", () => {
    const d = declared();
    d.taskSpec.placement = { constraints: ["node.role==manager"] };
    const api = engineService();
    api.Spec.TaskTemplate.Placement = { Constraints: ["node.role==manager"], Platforms: [{ Architecture: "amd64", OS: "linux" }] };
    const p = plan(d, api);
    expect(p.action).toBe("update");
    expect(p.changes).toContainEqual({ path: "task_spec.0.placement.0.platforms.#", old: "1", new: "0", requiresNew: false });
    expect(p.changes.every((c) => c.path.startsWith("task_spec.0.placement.0.platforms."))).toBe(true);
  });

  test("with PLACEMENT_IGNORE the read-back platforms plan nothing; a constraint change still updates", () => {
    expect(ignoredAttributeKey(PLACEMENT_IGNORE[0])).toBe("task_spec.0.placement.0.platforms");
    const d = declared();
    d.taskSpec.placement = { constraints: ["node.labels.railyard.app==true"] };
    const api = engineService();
    api.Spec.TaskTemplate.Placement = { Constraints: ["node.labels.railyard.app==true"], Platforms: [{ Architecture: "amd64", OS: "linux" }, { Architecture: "arm64", OS: "linux" }] };
    const state = flattenService(api);
    expect(planService(tfConfig(d), state).action, "without the ignore").toBe("update");
    expect(planService(tfConfig(d), state, PLACEMENT_IGNORE)).toEqual({ action: "none", changes: [], raw: [] });
    expect(planAgainstEngine(d, api, { ignoreChanges: PLACEMENT_IGNORE }).action).toBe("none");
    d.taskSpec.placement = { constraints: ["node.labels.railyard.node==host"] };
    const moved = planService(tfConfig(d), state, PLACEMENT_IGNORE);
    expect(moved.action).toBe("update");
    expect(moved.changes.map((c) => c.path).every((p) => p.startsWith("task_spec.0.placement.0.constraints."))).toBe(true);
    expect(() => ignoredAttributeKey("taskSpec.placement.nope")).toThrow(/nope is not a docker.Service input/);
  });

  test("a replicas change is an update: mode's ForceNew applies to its count only", () => {
    const d = declared();
    d.mode.replicated.replicas = 3;
    expect(plan(d)).toEqual({ action: "update", changes: [{ path: "mode.0.replicated.0.replicas", old: "2", new: "3", requiresNew: false }], raw: ["mode.0.replicated.0.replicas"] });
  });

  test("a ForceNew set of strings passes ForceNew to its elements: a new alias replaces", () => {
    const d = declared();
    d.taskSpec.networksAdvanceds = [{ id: NET_ID, aliases: ["web"] }];
    expect(plan(d).action).toBe("replace");
    // Same count: the alias element itself carries the set's ForceNew.
    const api = engineService();
    api.Spec.TaskTemplate.Networks = [{ Target: NET_ID, Aliases: ["api"] }];
    const aliases = plan(d, api).changes.filter((c) => /\.aliases\.\d+$/.test(c.path));
    expect(aliases).toEqual([
      expect.objectContaining({ old: "api", requiresNew: true, removed: true }),
      expect.objectContaining({ old: "", new: "web", requiresNew: true }),
    ]);
  });

  test("labels left out of the config plan nothing (Optional+Computed); a changed label is an update", () => {
    const d = declared();
    expect(plan({ ...d, labels: undefined }).action).toBe("none");
    const p = plan({ ...d, labels: [d.labels[0], { label: "railyard.role", value: "worker" }] });
    expect(p.action).toBe("update");
    expect(paths(p).every((x) => x.startsWith("labels."))).toBe(true);
  });

  test("rollback_config left out while the engine holds one is an update (not Computed)", () => {
    const p = plan({ ...declared(), rollbackConfig: undefined });
    expect(p.action).toBe("update");
    expect(p.changes).toContainEqual({ path: "rollback_config.#", old: "1", new: "0", requiresNew: false });
  });

  test("converge_config and auth are never read back: the state holds the previous declaration's", () => {
    const d = { ...declared(), convergeConfig: { delay: "7s", timeout: "5m" } };
    expect(planAgainstEngine(d, engineService(), { previous: d }).action).toBe("none");
    // Defaults filled in on both sides: {} declared before equals the defaults declared now.
    const defaults = { ...d, convergeConfig: { delay: "7s", timeout: "3m" } };
    expect(planAgainstEngine(defaults, engineService(), { previous: { ...d, convergeConfig: {} } }).action).toBe("none");
    const added = planAgainstEngine(d, engineService(), { previous: declared() });
    expect(added.action).toBe("update");
    expect(added.changes).toContainEqual({ path: "converge_config.#", old: "0", new: "1", requiresNew: false });
    const auth = { ...declared(), auth: { serverAddress: "registry.example", username: "ci", password: secret("pw") } };
    expect(planAgainstEngine(auth, engineService(), { previous: declared() }).action).toBe("replace");
    expect(planAgainstEngine(auth, engineService(), { previous: auth }).action).toBe("none");
  });

  test("withStateOnly replaces whatever the state had for them", () => {
    const state = withStateOnly({ converge_config: [{ delay: "1s", timeout: "1s" }] }, { ...declared(), convergeConfig: { timeout: "5m" } });
    expect(state.converge_config).toEqual([{ delay: "7s", timeout: "5m" }]);
    expect(withStateOnly({ converge_config: [] }, undefined)).toEqual({});
  });
});

describe("the config conversion and the schema", () => {
  test("an input the docker.Service does not have is an error, not a silently ignored attribute", () => {
    expect(() => tfConfig({ ...declared(), taskSpec: { ...declared().taskSpec, networks: [] } })).toThrow(/networks: not a docker.Service input/);
    expect(() => tfConfig({ ...declared(), mode: { replicated: { replicas: "2" } } })).toThrow(/mode\.0\.replicated\.0\.replicas: expected a int/);
    expect(() => tfConfig({ ...declared(), name: undefined })).toThrow(/auto-name/);
  });

  test("MaxItems-1 blocks become lists of one, lists stay lists, secrets are revealed", () => {
    const c = tfConfig({ ...declared(), endpointSpec: { mode: "vip", ports: [{ targetPort: 80 }] } });
    expect(c.mode).toEqual([{ replicated: [{ replicas: 2 }] }]);
    expect(c.endpoint_spec).toEqual([{ mode: "vip", ports: [{ target_port: 80 }] }]);
    const d = declared();
    d.taskSpec.containerSpec.env = { K: secret("v") };
    expect(tfConfig(d).task_spec).toMatchObject([{ container_spec: [{ env: { K: "v" } }] }]);
  });

  test("hashcode.String is crc32 (IEEE)", () => {
    expect(hashcodeString("hello")).toBe(907060870);
    expect(hashcodeString("")).toBe(0);
  });

  test("every attribute's Pulumi name, shape and optionality match @pulumi/docker's ServiceArgs", () => {
    const dir = path.join(ROOT, "node_modules/@pulumi/docker");
    const dts = ["types/input.d.ts", "service.d.ts"].map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
    const interfaces = parseInterfaces(dts.join("\n"));
    const problems: string[] = [];
    const walk = (block: TfBlock, iface: string) => {
      const props = interfaces.get(iface);
      if (!props) return problems.push(`no interface ${iface}`);
      const names = Object.entries(block).map(([n, a]) => pulumiName(n, a));
      expect([...props.keys()].sort()).toEqual(names.sort());
      for (const [name, attr] of Object.entries(block)) {
        const prop = props.get(pulumiName(name, attr));
        if (!prop) continue;
        const isList = /\[\]/.test(prop.type);
        const wantList = (attr.type === "list" || attr.type === "set") && attr.maxItems !== 1;
        if (isList !== wantList) problems.push(`${iface}.${name}: list ${isList}, schema says ${wantList}`);
        const optional = !attr.required || (iface === "ServiceArgs" && name === "name");
        if (prop.optional !== optional) problems.push(`${iface}.${name}: optional ${prop.optional}`);
        if (attr.block) walk(attr.block, /inputs\.(\w+)/.exec(prop.type)?.[1] ?? `? ${prop.type}`);
      }
      return undefined;
    };
    walk(SERVICE_SCHEMA, "ServiceArgs");
    expect(problems).toEqual([]);
  });

  test("every docker.Service the staging stack declares converts to a Terraform config", async () => {
    const { runStack, stackFile, testSecrets } = await import("./harness");
    const run = await runStack("staging", stackFile("staging"), testSecrets("staging"));
    const services = run.resources.filter((r) => r.type === "docker:index/service:Service");
    expect(services.length).toBeGreaterThan(0);
    for (const s of services) {
      expect(tfConfig(s.inputs).task_spec).toHaveLength(1);
    }
  }, 120_000);
});

/** `export interface Name { prop?: type; }` → properties with their type text and whether they are optional. */
function parseInterfaces(dts: string): Map<string, Map<string, { type: string; optional: boolean }>> {
  const out = new Map<string, Map<string, { type: string; optional: boolean }>>();
  for (const m of dts.matchAll(/export interface (\w+) \{\n([\s\S]*?)\n\}/g)) {
    const props = new Map<string, { type: string; optional: boolean }>();
    const body = m[2].replace(/\/\*\*[\s\S]*?\*\//g, "");
    for (const p of body.matchAll(/^ {4}(\w+)(\??): ([\s\S]*?);$/gm)) props.set(p[1], { type: p[3], optional: p[2] === "?" });
    out.set(m[1], props);
  }
  return out;
}
