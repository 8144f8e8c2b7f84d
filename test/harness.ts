/**
 * Runs the real program (index.ts) under Pulumi mocks with a stack's config, and captures every resource it
 * registers: type, name, inputs (secret values keep Pulumi's secret marker), parent and explicit dependsOn.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as runtimeSettings from "@pulumi/pulumi/runtime/settings";
import { vi } from "vitest";
import { parse } from "yaml";
import * as testCa from "./testCa";

export const ROOT = path.join(__dirname, "..");
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export interface Captured {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  dependsOn: string[];
  parent?: string;
  /** Names given in `aliases` (earlier names of the resource). */
  aliases?: string[];
  /** Whether a replacement deletes the old resource first. */
  deleteBeforeReplace?: boolean;
  /** Property paths given in `ignoreChanges` (the engine bed's plan drops their diffs, as the bridge does). */
  ignoreChanges?: string[];
  /** Resource options a policy pack or a reviewer asks about: protect, and retainOnDelete (no analyzer sees it). */
  protect?: boolean;
  retainOnDelete?: boolean;
  /** Set once the mock monitor saw the registration (inputs are final). */
  registered: boolean;
}

export interface StackRun {
  resources: Captured[];
  /** Stack outputs, resolved (secrets unwrapped). */
  outputs: Record<string, unknown>;
  /** The program's exports as Outputs, to ask whether they are secret. */
  exports: Record<string, unknown>;
}

export type ConfigMap = Record<string, unknown>;

/** The `config:` block of Pulumi.<stack>.yaml. */
export function stackFile(stack: string): ConfigMap {
  const doc = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: ConfigMap };
  return doc.config;
}

/** The secrets a stack needs, as `pulumi config set --secret` would hold them. */
export const TEST_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAtest\n-----END OPENSSH PRIVATE KEY-----\n";
export function testSecrets(stack: string): ConfigMap {
  if (stack === "dev") return {};
  return {
    "railyard:sshPrivateKey": TEST_PRIVATE_KEY,
    "railyard:secrets": {
      SECRET_KEY: "s3cr3t-key-value",
      PAT_ENCRYPTION_KEY: "pat-key-value",
      SMTP_PASSWORD: "smtp-pass-value",
      BACKUP_UPLOADER_ACCESS_KEY_ID: "uploader-key-id-value",
      BACKUP_UPLOADER_SECRET_ACCESS_KEY: "uploader-secret-value",
      BACKUP_READER_ACCESS_KEY_ID: "reader-key-id-value",
      BACKUP_READER_SECRET_ACCESS_KEY: "reader-secret-value",
      BACKUP_WEBHOOK_URL: "https://hooks.example.com/services/webhook-secret-value",
      REGISTRY_TOKEN: "ghp_registry-token-value",
    },
    "cloudflare:apiToken": "cloudflare-token-value",
  };
}

/** Turns a config map into the runtime's strings (objects as JSON), as the Pulumi CLI passes them. */
function toRuntime(config: ConfigMap): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => [k, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)]),
  );
}

/** The name a mocked Swarm secret gets (the provider auto-names them). */
export function mockSecretName(resource: string): string {
  return `${resource}-abc1234`;
}

/** The ID the mocked engine gives a network (docker.getNetwork). */
export function mockNetworkId(network: string): string {
  return `${network}-network-id`;
}

/** The network a mocked network ID stands for (an ID that is not a mocked one is returned as it is). */
export function mockNetworkName(id: string): string {
  const suffix = mockNetworkId("");
  return id.endsWith(suffix) ? id.slice(0, -suffix.length) : id;
}

/** The digest a mocked RemoteImage pull resolves a tag to. */
export function mockRepoDigest(image: string): string {
  const repo = image.replace(/:[^/:]+$/, "");
  return `${repo}@sha256:${"b".repeat(64)}`;
}

/**
 * Generated outputs kept per resource and inputs, as Pulumi's state keeps them: a second run of the same stack
 * gets the same key, request and certificate (fresh ones would make every run look changed).
 */
const generated = new Map<string, string>();
function kept(type: string, name: string, inputs: Record<string, unknown>, make: () => string): string {
  const key = `${type} ${name} ${JSON.stringify(reveal(inputs))}`;
  const value = generated.get(key) ?? make();
  generated.set(key, value);
  return value;
}

/** Mock outputs for resources whose outputs the program reads. */
function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return { ...inputs, result: `pw${name.replace(/[^A-Za-z0-9]/g, "")}0123456789` };
    case "docker:index/secret:Secret":
      return { ...inputs, name: mockSecretName(name) };
    case "tls:index/privateKey:PrivateKey":
      return { ...inputs, privateKeyPem: kept(type, name, inputs, () => testCa.newKey()) };
    case "tls:index/certRequest:CertRequest":
      return {
        ...inputs,
        certRequestPem: kept(type, name, inputs, () => testCa.request(String(reveal(inputs.privateKeyPem)), reveal(inputs.dnsNames) as string[])),
      };
    case "cloudflare:index/originCaCertificate:OriginCaCertificate":
      return { ...inputs, certificate: kept(type, name, inputs, () => testCa.sign(String(reveal(inputs.csr)))) };
    case "docker:index/remoteImage:RemoteImage":
      return { ...inputs, repoDigest: mockRepoDigest(String(inputs.name)) };
    case "docker:index/image:Image":
      return { ...inputs, repoDigest: `${String(inputs.imageName).split(":")[0]}@sha256:${"a".repeat(64)}` };
    // AWS answers a bucket's ARN from its name (the bucket policy's statements name it).
    case "aws:s3/bucket:Bucket":
      return { ...inputs, arn: `arn:aws:s3:::${String(inputs.bucket)}` };
    default:
      return inputs;
  }
}

/**
 * The stdout a mocked command gets when runStack is asked for command outputs: a placeholder the engine bed
 * (test/engine/apply.ts) replaces, in the commands that use it, with the real command's stdout once it ran.
 */
export function mockCommandStdout(resource: string): string {
  return `RAILYARD_BED_STDOUT_${resource.replace(/[^A-Za-z0-9]/g, "_")}`;
}

export interface RunStackOptions {
  /** Commands' mocked state carries stdout (mockCommandStdout), for programs that feed one command's output to another. */
  commandStdout?: boolean;
}

/**
 * Runs index.ts for `stack` with `plain` config and `secret` config (keys marked secret). `previous` is the stack's
 * outputs of the run before (what a StackReference to the stack reads back; none by default). Rejects with the
 * program's error; `resources` then holds what was registered before it (the test asserts it is nothing).
 */
export async function runStack(
  stack: string,
  plain: ConfigMap,
  secret: ConfigMap = {},
  previous: Record<string, unknown> = {},
  options: RunStackOptions = {},
): Promise<StackRun> {
  const resources: Captured[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        if (a.type !== "pulumi:pulumi:Stack") {
          const found = resources.find((r) => r.type === a.type && r.name === a.name);
          if (found) Object.assign(found, { inputs: a.inputs, registered: true });
          else resources.push({ type: a.type, name: a.name, inputs: a.inputs, dependsOn: [], registered: true });
        }
        // A StackReference is a read: its state is the referenced stack's name and outputs.
        if (a.type === "pulumi:pulumi:StackReference") return { id: String(a.id ?? a.name), state: { name: a.inputs.name, outputs: previous } };
        const state = mockState(a.type, a.name, a.inputs);
        if (options.commandStdout && (a.type === "command:local:Command" || a.type === "command:remote:Command")) state.stdout = mockCommandStdout(a.name);
        return { id: `${a.name}-id`, state };
      },
      call: (a) => (a.token === "docker:index/getNetwork:getNetwork" ? { ...a.inputs, id: mockNetworkId(String(a.inputs.name)) } : a.inputs),
    },
    "railyard",
    stack,
    false,
    "organization",
  );
  pulumi.runtime.setAllConfig({ ...toRuntime(plain), ...toRuntime(secret) }, Object.keys(secret));
  const names = new Map<pulumi.Resource, string>();
  // The program's error is caught inside the stack's init, so Pulumi's stack sees no rejection of its own.
  let failure: unknown;
  let exports: Record<string, unknown> = {};
  const outputs = await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => {
      names.set(t.resource, t.name);
      const deps = Array.isArray(t.opts.dependsOn) ? t.opts.dependsOn : [];
      const parent = t.opts.parent ? names.get(t.opts.parent) : undefined;
      const aliases = (t.opts.aliases ?? []).flatMap((a) => (typeof a === "object" && "name" in a && typeof a.name === "string" ? [a.name] : []));
      const entry: Captured = {
        type: t.type,
        name: t.name,
        inputs: {},
        dependsOn: [],
        parent,
        aliases,
        deleteBeforeReplace: (t.opts as pulumi.CustomResourceOptions).deleteBeforeReplace,
        ignoreChanges: t.opts.ignoreChanges,
        protect: t.opts.protect,
        retainOnDelete: t.opts.retainOnDelete,
        registered: false,
      };
      resources.push(entry);
      // dependsOn may name resources created earlier; resolve their names after the program ran.
      queueMicrotask(() => {
        entry.dependsOn = (deps as pulumi.Resource[]).map((d) => names.get(d) ?? "?");
      });
      return undefined;
    });
    vi.resetModules();
    try {
      exports = { ...(await import("../index")) };
      return exports;
    } catch (e) {
      failure = e;
      return {};
    }
  });
  if (failure !== undefined) throw new StackRunError(failure instanceof Error ? failure.message : String(failure), resources);
  // Registrations that wait on Outputs finish after the stack's outputs resolve: wait for them (bounded).
  for (let i = 0; i < 500 && resources.some((r) => !r.registered); i++) await new Promise((r) => setTimeout(r, 10));
  const missing = resources.filter((r) => !r.registered).map((r) => `${r.type}:${r.name}`);
  if (missing.length > 0) throw new Error(`registrations never reached the mock monitor: ${missing.join(", ")}`);
  // Component and stack outputs are registered after the resources: let those RPCs drain before the next run's mocks.
  await (runtimeSettings as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs();
  return { resources, outputs: outputs ?? {}, exports };
}

/** The program failed; `resources` holds everything it registered (or began to) before failing. */
export class StackRunError extends Error {
  constructor(
    message: string,
    readonly resources: Captured[],
  ) {
    super(message);
  }
}

export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && SECRET_SIG in v;
}

/** The value inside a secret marker, or the value itself. */
export function reveal(v: unknown): unknown {
  return isSecretValue(v) ? (v as { value: unknown }).value : v;
}

export function byType(run: StackRun, type: string): Captured[] {
  return run.resources.filter((r) => r.type === type);
}

export function one(run: StackRun, type: string, name: string): Captured {
  const found = run.resources.find((r) => r.type === type && r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}; have ${run.resources.map((r) => `${r.type}:${r.name}`).join(", ")}`);
  return found;
}
