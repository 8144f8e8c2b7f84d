/**
 * The test bed's model of what the Docker provider sends (test/engine/provider/send.ts): the spec
 * createServiceSpec builds from what ResourceData.Get holds on Create and on Update, Go's time.ParseDuration,
 * and the Docker client's rewriting of the image (tag on create and update, registry pin on create only).
 */
import { describe, expect, test } from "vitest";
import { EngineService, EngineServiceSpec, flattenService } from "./engine/provider/flatten";
import { planService, tfConfig } from "./engine/provider/plan";
import {
  clientCreate,
  clientUpdate,
  goParseDuration,
  imageWithDigestString,
  plannedValues,
  providerSpec,
  RegistryModel,
  SendOptions,
} from "./engine/provider/send";
import { mockNetworkName } from "./harness";
import { resolveDeclared } from "./engine/spec";
import { TfObject } from "./engine/provider/schema";

const S = 1e9;
const NET_ID = "w7lfpvw4r43120g8lvy9p3yu3";
const SECRET_ID = "bqu6czq1j038z7c7klwuuf5l9";
const IMAGE = "registry.example/railyard/web:1.2.3";
const DIGEST = `sha256:${"c".repeat(64)}`;

/** A small declared docker.Service, as test/harness.ts captures its inputs: no health check, no placement, no ports. */
function declared(): Record<string, unknown> & { taskSpec: Record<string, unknown> & { containerSpec: Record<string, unknown> } } {
  return {
    name: "psend-web",
    labels: [{ label: "railyard.stack", value: "psend" }],
    mode: { replicated: { replicas: 2 } },
    taskSpec: {
      containerSpec: {
        image: IMAGE,
        commands: ["web"],
        env: { A: "1", B: "2", C: "3" },
        secrets: [{ secretId: SECRET_ID, secretName: "psend-sec", fileName: "app_secret" }],
        privileges: { credentialSpec: { file: "spec.json" } },
      },
      networksAdvanceds: [{ id: NET_ID }],
      restartPolicy: { condition: "on-failure" },
      logDriver: { name: "json-file", options: { "max-size": "10m" } },
    },
    updateConfig: {},
  };
}

const sent = (d: unknown, opts: SendOptions = {}): EngineServiceSpec => providerSpec(plannedValues(tfConfig(d)), opts);
const container = (spec: EngineServiceSpec) => spec.TaskTemplate.ContainerSpec ?? {};

describe("createServiceSpec of what Create reads", () => {
  test("every attribute is in the map it reads, so unset blocks and durations are sent empty or zero", () => {
    expect(sent(declared())).toStrictEqual({
      Name: "psend-web",
      Labels: { "railyard.stack": "psend" },
      Mode: { Replicated: { Replicas: 2 } },
      TaskTemplate: {
        ContainerSpec: {
          Image: IMAGE,
          Labels: {},
          Command: ["web"],
          Args: [],
          Hostname: "",
          Env: ["A=1", "B=2", "C=3"],
          Dir: "",
          User: "",
          Groups: [],
          // registry is assigned to File after file: an unset registry empties it.
          Privileges: { CredentialSpec: { File: "" } },
          ReadOnly: false,
          Mounts: [],
          StopSignal: "",
          // ParseDuration("") fails: 0, and a pointer, so it is sent.
          StopGracePeriod: 0,
          Healthcheck: {},
          Hosts: [],
          DNSConfig: {},
          Secrets: [{ SecretID: SECRET_ID, File: { Name: "app_secret", UID: "0", GID: "0", Mode: 0o444 }, SecretName: "psend-sec" }],
          Configs: [],
          Isolation: "default",
          Sysctls: {},
          Init: false,
        },
        Resources: {},
        // delay, max_attempts and window are in the map too: sent as 0 (a window of 0, not Swarm's default).
        RestartPolicy: { Condition: "on-failure", Delay: 0, MaxAttempts: 0, Window: 0 },
        Placement: {},
        ForceUpdate: 0,
        Runtime: "",
        Networks: [{ Target: NET_ID, Aliases: [], DriverOpts: {} }],
        LogDriver: { Name: "json-file", Options: { "max-size": "10m" } },
      },
      // An empty update_config block: the schema defaults (monitor 5s, max_failure_ratio "0.0" as float32).
      UpdateConfig: { Parallelism: 1, Delay: 0, FailureAction: "pause", Monitor: 5 * S, MaxFailureRatio: 0, Order: "stop-first" },
      // Computed and unset on create: GetOk is false, so an empty endpoint spec (Swarm picks vip).
      EndpointSpec: {},
    });
  });

  test("env is a list built from a Go map: 'declared' keeps the map's order, 'rotated' moves the first key last", () => {
    expect(container(sent(declared())).Env).toEqual(["A=1", "B=2", "C=3"]);
    expect(container(sent(declared(), { envOrder: "rotated" })).Env).toEqual(["B=2", "C=3", "A=1"]);
    const d = declared();
    d.taskSpec.containerSpec.env = { "": "x", K: "v" };
    expect(container(sent(d)).Env).toEqual(["K=v"]);
  });

  test("labels through GetOk: none declared is nil (no Labels), not an empty map", () => {
    const spec = sent({ ...declared(), labels: undefined });
    expect("Labels" in spec).toBe(false);
    expect("RollbackConfig" in sent(declared())).toBe(false);
  });

  test("mode left out: Computed, so nothing is set (Swarm's default of one replica)", () => {
    expect(sent({ ...declared(), mode: undefined }).Mode).toEqual({});
    expect(sent({ ...declared(), mode: { global: true } }).Mode).toEqual({ Global: {} });
  });

  test("dns_config's loop tests the container_spec list, which always has its one element: a declared block is sent", () => {
    const d = declared();
    d.taskSpec.containerSpec.dnsConfig = { nameservers: ["10.0.0.2"] };
    expect(container(sent(d)).DNSConfig).toEqual({ Nameservers: ["10.0.0.2"], Search: [], Options: [] });
  });

  test("a health check, ports and a grace period declared: durations parsed, port defaults filled in", () => {
    const d = declared();
    d.taskSpec.containerSpec.healthcheck = { tests: ["CMD", "true"], interval: "1m30s" };
    d.taskSpec.containerSpec.stopGracePeriod = "1.5s";
    const spec = sent({ ...d, endpointSpec: { ports: [{ targetPort: 80 }] } });
    expect(container(spec).Healthcheck).toEqual({ Test: ["CMD", "true"], Interval: 90 * S, Timeout: 0, StartPeriod: 0, Retries: 0 });
    expect(container(spec).StopGracePeriod).toBe(1.5 * S);
    expect(spec.EndpointSpec).toEqual({ Mode: "", Ports: [{ Name: "", Protocol: "tcp", TargetPort: 80, PublishedPort: 0, PublishMode: "ingress" }] });
  });

  test("sets go out in Set.List() order (by hash code), whatever order they were declared in", () => {
    const refs = ["a", "b", "c"].map((n) => ({ secretId: `id-${n}`, secretName: n, fileName: n }));
    const order = (list: typeof refs) => {
      const d = declared();
      d.taskSpec.containerSpec.secrets = list;
      return (container(sent(d)).Secrets ?? []).map((s) => s.SecretName);
    };
    expect(order([...refs].reverse())).toEqual(order(refs));
    expect([...order(refs)].sort()).toEqual(["a", "b", "c"]);
  });

  test("a network with neither id nor name is the provider's error", () => {
    const d = declared();
    d.taskSpec.networksAdvanceds = [{ aliases: ["web"] }];
    expect(() => sent(d)).toThrow("network 'name' or 'id' must be specified");
  });
});

describe("time.ParseDuration", () => {
  test.each([
    ["0", 0],
    ["1m", 60 * S],
    ["1h30m", 5400 * S],
    ["1.5s", 1.5 * S],
    [".5s", 0.5 * S],
    ["1.s", S],
    ["-2ms", -2e6],
    ["+3us", 3000],
    ["4\u00b5s", 4000],
    ["4\u03bcs", 4000],
    ["1h0m1s", 3601 * S],
    ["0.000000001s", 1],
    ["-0s", 0],
  ])("%s is %d ns", (text, ns) => {
    expect(goParseDuration(text)).toBe(ns);
  });

  test.each(["", "1", "s", ".s", "1d", "1 s", "-", "9999999999h", "1toString"])("%j is an error (the provider sends 0)", (text) => {
    expect(goParseDuration(text)).toBeUndefined();
  });
});

/** A service as the engine returns it after a create (placement pinned to the registry's platforms, a port published). */
function engineService(): EngineService {
  return {
    ID: "x64ychb4embm36d5b448bckpp",
    Spec: {
      Name: "psend-web",
      Labels: { "railyard.stack": "psend", "railyard.old": "1" },
      TaskTemplate: {
        ContainerSpec: { Image: IMAGE, Hostname: "old-host", StopGracePeriod: 10 * S, Init: true, DNSConfig: {}, Isolation: "default" },
        Resources: { Limits: { NanoCPUs: 500_000_000 } },
        Placement: { Platforms: [{ Architecture: "amd64", OS: "linux" }] },
        Networks: [{ Target: NET_ID }],
        Runtime: "container",
      },
      Mode: { Replicated: { Replicas: 2 } },
      EndpointSpec: { Mode: "vip", Ports: [{ Protocol: "tcp", TargetPort: 80, PublishMode: "ingress" }] },
    },
    Endpoint: { Spec: { Mode: "vip" }, Ports: [{ Protocol: "tcp", TargetPort: 80, PublishedPort: 30001, PublishMode: "ingress" }] },
  };
}

describe("plannedValues: what d.Get holds", () => {
  test("on create: the config with defaults and zero values; Optional+Computed attributes unset are zero", () => {
    const d = plannedValues(tfConfig(declared()));
    const task = (d.task_spec as TfObject[])[0];
    const c = (task.container_spec as TfObject[])[0];
    expect(c).toMatchObject({ hostname: "", stop_grace_period: "", init: false, isolation: "default", healthcheck: [], dns_config: [], env: { A: "1", B: "2", C: "3" } });
    expect(c.secrets).toEqual([{ secret_id: SECRET_ID, secret_name: "psend-sec", file_name: "app_secret", file_uid: "0", file_gid: "0", file_mode: 0o444 }]);
    expect(task).toMatchObject({ resources: [], placement: [], force_update: 0, runtime: "" });
    expect(d).toMatchObject({ endpoint_spec: [], rollback_config: [], converge_config: [] });
    expect(d.update_config).toEqual([{ parallelism: 1, delay: "0s", failure_action: "pause", monitor: "5s", max_failure_ratio: "0.0", order: "stop-first" }]);
  });

  test("on update: Optional+Computed attributes the config leaves out keep the state's value, others take the config's", () => {
    const state = flattenService(engineService());
    const d = declared();
    d.taskSpec.containerSpec.stopGracePeriod = "30s";
    const config = tfConfig({ ...d, labels: undefined, endpointSpec: { ports: [{ targetPort: 80 }] } });
    const planned = plannedValues(config, state);
    const task = (planned.task_spec as TfObject[])[0];
    const c = (task.container_spec as TfObject[])[0];
    // Computed, unset: the state's (init, placement with the registry's platforms, resources, runtime, labels, mode).
    expect(c.init).toBe(true);
    expect(task.placement).toEqual([{ constraints: [], prefs: [], max_replicas: 0, platforms: [{ architecture: "amd64", os: "linux" }] }]);
    expect(task.resources).toEqual([{ limits: [{ nano_cpus: 500_000_000, memory_bytes: 0 }], reservation: [] }]);
    expect(task.runtime).toBe("container");
    expect(planned.labels).toHaveLength(2);
    // Set by the config: its value; not Computed and unset: zero (hostname is dropped).
    expect(c).toMatchObject({ stop_grace_period: "30s", hostname: "" });
    // A list of blocks element by element: the published port is Computed, so the state's; mode is the state's.
    expect(planned.endpoint_spec).toEqual([
      { mode: "vip", ports: [{ name: "", protocol: "tcp", target_port: 80, published_port: 30001, publish_mode: "ingress" }] },
    ]);
    const spec = providerSpec(planned);
    expect(spec.TaskTemplate.Placement).toEqual({ Constraints: [], Preferences: [], Platforms: [{ Architecture: "amd64", OS: "linux" }], MaxReplicas: 0 });
    expect(spec.Labels).toEqual({ "railyard.old": "1", "railyard.stack": "psend" });
    expect(spec.EndpointSpec?.Ports?.[0].PublishedPort).toBe(30001);
  });

  /** The declaration without privileges and with a restart delay: what reads back after a create from what it sent. */
  const roundTrip = (restartPolicy: Record<string, unknown>, privileges?: Record<string, unknown>) => {
    const d = declared();
    d.taskSpec.restartPolicy = restartPolicy;
    d.taskSpec.containerSpec.privileges = privileges;
    const state = flattenService({ ID: "x", Spec: sent(d), Endpoint: { Spec: { Mode: "vip" } } });
    return planService(tfConfig(d), state);
  };

  test("what the provider reads back after a create from the spec it sent plans nothing (restart window declared)", () => {
    expect(roundTrip({ condition: "on-failure", delay: "5s", window: "0s" })).toEqual({ action: "none", changes: [], raw: [] });
  });

  test("a restart_policy without window: sent as 0, read back as '0s', planned as its removal on every up", () => {
    expect(roundTrip({ condition: "on-failure", delay: "5s" })).toMatchObject({
      action: "update",
      changes: [{ path: "task_spec.0.restart_policy.0.window", old: "0s", new: "", requiresNew: false, removed: true }],
    });
  });

  test("a credential_spec file is never sent (registry overwrites it): planned again on every up", () => {
    expect(roundTrip({ condition: "on-failure", delay: "5s", window: "0s" }, { credentialSpec: { file: "spec.json" } })).toMatchObject({
      action: "update",
      changes: [{ path: "task_spec.0.container_spec.0.privileges.0.credential_spec.0.file", old: "", new: "spec.json", requiresNew: false }],
    });
  });
});

describe("the Docker client's rewriting", () => {
  const registry = (digest: string | undefined, platforms: RegistryModel["platforms"] = [{ Architecture: "amd64", OS: "linux" }]): RegistryModel => ({
    digest: () => digest,
    platforms,
  });
  const withImage = (image: string, placement?: EngineServiceSpec["TaskTemplate"]["Placement"]): EngineServiceSpec => ({
    Name: "s",
    TaskTemplate: { ContainerSpec: { Image: image }, ...(placement ? { Placement: placement } : {}) },
  });
  const pinned = `registry.example/app:1@sha256:${"a".repeat(64)}`;

  test.each([
    ["web", "web:latest", `web:latest@${DIGEST}`],
    ["docker.io/library/postgres:16", "postgres:16", `postgres:16@${DIGEST}`],
    ["index.docker.io/acme/api", "acme/api:latest", `acme/api:latest@${DIGEST}`],
    ["localhost:5000/app", "localhost:5000/app:latest", `localhost:5000/app:latest@${DIGEST}`],
    [`postgres@sha256:${"b".repeat(64)}`, `postgres@sha256:${"b".repeat(64)}`, `postgres@sha256:${"b".repeat(64)}`],
    [pinned, pinned, pinned],
    ["registry.example/App:1", "registry.example/App:1", "registry.example/App:1"],
    [`web@sha256:${"a".repeat(63)}`, `web@sha256:${"a".repeat(63)}`, `web@sha256:${"a".repeat(63)}`],
  ])("%s: %s on update, %s on create", (image, onUpdate, onCreate) => {
    expect(clientUpdate(withImage(image)).TaskTemplate.ContainerSpec?.Image).toBe(onUpdate);
    expect(clientCreate(withImage(image), registry(DIGEST)).TaskTemplate.ContainerSpec?.Image).toBe(onCreate);
  });

  test("create sets Placement.Platforms to the registry's (replacing any; arm's architecture cleared), even for a pinned image", () => {
    const spec = clientCreate(withImage(pinned, { Constraints: ["node.role==manager"], Platforms: [{ Architecture: "s390x", OS: "linux" }] }), registry(DIGEST, [
      { Architecture: "amd64", OS: "linux" },
      { Architecture: "arm", OS: "linux" },
    ]));
    expect(spec.TaskTemplate.Placement).toEqual({
      Constraints: ["node.role==manager"],
      Platforms: [
        { Architecture: "amd64", OS: "linux" },
        { Architecture: "", OS: "linux" },
      ],
    });
    expect(clientCreate(withImage("web"), registry(DIGEST, [])).TaskTemplate.Placement).toBeUndefined();
  });

  test("a registry that does not answer: a warning only, the image tagged and nothing pinned", () => {
    const spec = clientCreate(withImage("web", {}), registry(undefined));
    expect(spec.TaskTemplate).toEqual({ ContainerSpec: { Image: "web:latest" }, Placement: {} });
  });

  test("update never asks the registry: the placement stays as sent", () => {
    const spec = withImage("web", { Platforms: [] });
    expect(clientUpdate(spec)).toEqual({ Name: "s", TaskTemplate: { ContainerSpec: { Image: "web:latest" }, Placement: { Platforms: [] } } });
  });

  test("create adds an empty container spec for the container runtime, and refuses a container spec with another runtime", () => {
    expect(clientCreate({ Name: "s", TaskTemplate: {} }, registry(undefined)).TaskTemplate).toEqual({ ContainerSpec: {} });
    expect(() => clientCreate({ Name: "s", TaskTemplate: { ContainerSpec: {}, Runtime: "plugin" } }, registry(DIGEST))).toThrow("mismatched runtime");
    expect(() => clientUpdate({ Name: "s", TaskTemplate: { ContainerSpec: {}, Runtime: "plugin" } })).toThrow("mismatched runtime");
  });

  test("imageWithDigestString adds no tag (the client tagged the image first); a malformed digest changes nothing", () => {
    expect(imageWithDigestString("docker.io/library/web", DIGEST)).toBe(`web@${DIGEST}`);
    expect(imageWithDigestString("web:1", "sha256:xyz")).toBe("web:1");
  });
});

describe("the bed's spec (test/engine/spec.ts resolveDeclared, then the provider's create spec, as serviceStep.ts sends it)", () => {
  test("is the provider's create spec of the declaration with the test image, engine secrets and the engine's network", () => {
    const d = { ...declared(), taskSpec: { ...declared().taskSpec, networksAdvanceds: [{ id: "psend-net-network-id" }] } };
    const bed = { image: "railyard-test/app-v1:abc", secret: () => ({ id: "engine-secret-id", name: "psend-sec-1234567" }), network: mockNetworkName };
    const spec = sent(resolveDeclared(d, bed));
    const expected = sent(declared());
    const c = expected.TaskTemplate.ContainerSpec ?? {};
    expect(spec).toStrictEqual({
      ...expected,
      TaskTemplate: {
        ...expected.TaskTemplate,
        ContainerSpec: {
          ...c,
          Image: "railyard-test/app-v1:abc",
          Secrets: [{ SecretID: "engine-secret-id", File: { Name: "app_secret", UID: "0", GID: "0", Mode: 0o444 }, SecretName: "psend-sec-1234567" }],
        },
        Networks: [{ Target: "psend-net", Aliases: [], DriverOpts: {} }],
      },
    });
  });
});
