/**
 * The release record under mocks: `begin` (the host lock) before every pre-deploy dump, migration job, service update
 * and gate; `record` after every gate, holding each service's image, release and gate and the stack file as
 * deployed; the content key; the context read from the environment (bad values refused, naming the variable);
 * day two (a second run fed the first run's `release` output plans the same begin and record); the stack file
 * recorded only when it is what the run deployed; no secret in any of it; the webhook file only with a webhook.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseDocument } from "yaml";
import { requireToolsCommand } from "../commands/tools";
import { removeSecretFileCommand, writeSecretFileCommand } from "../commands/secretFile";
import { releaseContext, ReleaseContextError } from "../config/releaseContext";
import { stackFileForRecord } from "../config/stackFile";
import { releaseKey } from "../components/release";
import { byType, Captured, ConfigMap, isSecretValue, one, reveal, ROOT, runStack, stackFile, StackRun, StackRunError, testSecrets } from "./harness";

const SERVICE = "docker:index/service:Service";
const ENV_VARS = ["RAILYARD_WHO", "GITHUB_ACTOR", "GITHUB_SHA", "RAILYARD_RELEASE_KIND", "RAILYARD_ROLLBACK_OF", "RAILYARD_LOCK_TOKEN", "RAILYARD_LOCK_WAIT", "RAILYARD_PROJECT_DIR"];
const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);

let saved: NodeJS.ProcessEnv;
beforeEach(() => {
  saved = { ...process.env };
  for (const v of ENV_VARS) delete process.env[v];
});
afterEach(() => {
  process.env = saved;
  vi.restoreAllMocks();
});

const commandType = (stack: string) => (stack === "dev" ? "command:local:Command" : "command:remote:Command");
const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

async function run(stack: string, env: Record<string, string> = {}, opts: { plain?: ConfigMap; secret?: ConfigMap; previous?: Record<string, unknown> } = {}): Promise<StackRun> {
  Object.assign(process.env, { RAILYARD_WHO: "alice", GITHUB_SHA: SHA_A }, env);
  return runStack(stack, opts.plain ?? stackFile(stack), opts.secret ?? testSecrets(stack), opts.previous ?? {});
}

/** A command line's words, as bash reads them. */
function words(line: string): string[] {
  const out = spawnSync("bash", ["-c", `printf '%s\\0' ${line}`], { encoding: "utf8" });
  expect(out.status).toBe(0);
  return out.stdout.split("\0").slice(0, -1);
}

function option(ws: string[], name: string): string | undefined {
  const i = ws.indexOf(name);
  return i < 0 ? undefined : ws[i + 1];
}

const create = (c: Captured) => String(reveal(c.inputs.create));
const begin = (r: StackRun, stack: string) => one(r, commandType(stack), "release-begin");
const record = (r: StackRun, stack: string) => one(r, commandType(stack), "release-record");

interface Recorded {
  swarm: string;
  image: string;
  release: string;
  migration: boolean;
  gate: string[];
}
function recordedServices(r: StackRun, stack: string): Record<string, Recorded> {
  const b64 = option(words(create(record(r, stack))), "--services-b64") ?? "";
  return JSON.parse(Buffer.from(b64, "base64").toString("utf8")) as Record<string, Recorded>;
}
function recordedConfig(r: StackRun, stack: string): string | undefined {
  const b64 = option(words(create(record(r, stack))), "--config-b64");
  return b64 === undefined ? undefined : Buffer.from(b64, "base64").toString("utf8");
}

/** The declared image and RAILYARD_RELEASE of a service. */
function declared(r: StackRun, name: string): { image: string; release: string; swarm: string } {
  const inputs = reveal(one(r, SERVICE, name).inputs) as { name: string; taskSpec: { containerSpec: { image: string; env: Record<string, string> } } };
  return { swarm: inputs.name, image: inputs.taskSpec.containerSpec.image, release: inputs.taskSpec.containerSpec.env.RAILYARD_RELEASE };
}

/** A project folder whose Pulumi.<stack>.yaml is the checkout's with the test secrets as `secure:` ciphertext. */
function projectWithSecureFile(stack: string, mutate: (doc: ReturnType<typeof parseDocument>) => void = () => undefined): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-release-graph-"));
  const doc = parseDocument(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
  for (const [key, value] of Object.entries(testSecrets(stack))) {
    const secure = (v: unknown): unknown =>
      typeof v === "object" && v !== null ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, secure(x)])) : { secure: `v1:ciphertext-of-${key}` };
    doc.setIn(["config", key], doc.createNode(secure(value)));
  }
  mutate(doc);
  fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), doc.toString());
  return dir;
}

const SECRET_VALUES = (stack: string) => {
  const s = testSecrets(stack);
  const values = Object.values((s["railyard:secrets"] ?? {}) as Record<string, string>);
  return [...values, ...(s["railyard:sshPrivateKey"] ? ["b3BlbnNzaC1rZXktdjEAAAAAtest"] : []), ...(s["cloudflare:apiToken"] ? [String(s["cloudflare:apiToken"])] : [])];
};

describe.each(["dev", "staging", "production"])("release graph: %s", (stack) => {
  const type = commandType(stack);

  it("takes the lock (begin) before every pre-deploy dump, migration job, service update and gate, and records after every gate", async () => {
    const r = await run(stack);
    const b = begin(r, stack);
    const at = (c: Captured) => r.resources.indexOf(c);
    const commands = byType(r, type);
    const steps = commands.filter((c) => /-(migrate|gate)$/.test(c.name) || (c.name.startsWith("backup-") && stack === "production"));
    expect(steps.some((c) => c.name.endsWith("-migrate"))).toBe(true);
    expect(steps.some((c) => c.name.startsWith("backup-"))).toBe(stack === "production");
    expect(steps.filter((c) => c.name.endsWith("-gate")).length).toBe(4);
    for (const step of steps) {
      // Directly, or through the Service that is the migration's parent (its children inherit its dependsOn).
      expect(step.dependsOn, step.name).toContain("release-begin");
      expect(at(step), step.name).toBeGreaterThan(at(b));
    }
    for (const s of byType(r, SERVICE).filter((x) => ["api", "frontend", "worker", "beat"].includes(x.name))) {
      expect(s.dependsOn, s.name).toContain("release-begin");
    }
    const rec = record(r, stack);
    const gates = commands.filter((c) => c.name.endsWith("-gate")).map((c) => c.parent);
    expect(rec.dependsOn).toEqual(expect.arrayContaining(["release-begin", ...gates]));
    for (const gate of commands.filter((c) => c.name.endsWith("-gate"))) expect(at(rec)).toBeGreaterThan(at(gate));
    expect(reveal(b.inputs.triggers)).toEqual([option(words(create(b)), "--token")]);
    expect(reveal(rec.inputs.triggers)).toEqual([option(words(create(b)), "--token")]);
  });

  it("records every service's swarm name, image, release, migration flag and gate, and the key over them", async () => {
    const r = await run(stack);
    const services = recordedServices(r, stack);
    const names = byType(r, SERVICE).filter((s) => s.parent === s.name).map((s) => s.name);
    expect(Object.keys(services).sort()).toEqual(["api", "beat", "frontend", "worker"]);
    for (const name of Object.keys(services)) {
      expect(names).toContain(name);
      const d = declared(r, name);
      expect(services[name]).toMatchObject({ swarm: d.swarm, image: d.image, release: d.release, migration: name === "api" });
      const gate = words(create(one(r, type, `${name}-gate`)));
      // The gate's own line: timeout N bash <script> <argv>.
      expect(services[name].gate).toEqual(gate.slice(4));
    }
    const token = option(words(create(begin(r, stack))), "--token");
    expect(token).toBe(releaseKey(services, stack === "dev" ? fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8") : null));
    expect(option(words(create(record(r, stack))), "--keep")).toBe("10");
  });

  it("plans identical begin and record on day two whoever runs it, and new ones when a release changes", async () => {
    const first = await run(stack, { RAILYARD_WHO: "alice", GITHUB_SHA: SHA_A });
    const again = await run(stack, { RAILYARD_WHO: "bob", GITHUB_SHA: SHA_B }, { previous: { release: first.outputs.release } });
    expect(create(begin(again, stack))).toBe(create(begin(first, stack)));
    expect(create(record(again, stack))).toBe(create(record(first, stack)));
    expect(again.outputs.release).toEqual(first.outputs.release);
    expect(option(words(create(begin(again, stack))), "--who")).toBe("alice");

    const plain = copy(stackFile(stack));
    const api = (plain["railyard:services"] as Record<string, Record<string, unknown>>).api;
    // dev builds its images (one digest under mocks): a new env value makes its new release there.
    if (stack === "dev") api.env = { ...(api.env as object), EXTRA: "1" };
    else api.image = `registry.example.com/aponta/api@sha256:${"9".repeat(64)}`;
    const changed = await run(stack, { RAILYARD_WHO: "bob", GITHUB_SHA: SHA_B }, { plain, previous: { release: first.outputs.release } });
    expect(create(begin(changed, stack))).not.toBe(create(begin(first, stack)));
    expect(option(words(create(begin(changed, stack))), "--who")).toBe("bob");
    expect(option(words(create(record(changed, stack))), "--commit")).toBe(SHA_B);
  });
});

describe("release key", () => {
  it("changes with an image or an env value, and not with who runs it", async () => {
    const base = await run("staging");
    const key = (r: StackRun) => option(words(create(begin(r, "staging"))), "--token");
    const other = await run("staging", { RAILYARD_WHO: "carol", GITHUB_SHA: SHA_B });
    expect(key(other)).toBe(key(base));

    const envChanged = copy(stackFile("staging"));
    ((envChanged["railyard:services"] as Record<string, { env: Record<string, string> }>).worker.env).ENVIRONMENT = "staging-2";
    const e = await run("staging", {}, { plain: envChanged });
    expect(key(e)).not.toBe(key(base));
    expect(recordedServices(e, "staging").worker.release).not.toBe(recordedServices(base, "staging").worker.release);
    expect(recordedServices(e, "staging").api).toEqual(recordedServices(base, "staging").api);

    const imageChanged = copy(stackFile("staging"));
    (imageChanged["railyard:services"] as Record<string, { image: string }>).frontend.image = `ghcr.io/example/frontend@sha256:${"3".repeat(64)}`;
    expect(key(await run("staging", {}, { plain: imageChanged }))).not.toBe(key(base));
  });

  it("is a sha256 of the services' images and releases in name order and the config", () => {
    const a = releaseKey({ b: { image: "x", release: "1".repeat(12) }, a: { image: "y", release: "2".repeat(12) } }, null);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(releaseKey({ a: { image: "y", release: "2".repeat(12) }, b: { image: "x", release: "1".repeat(12) } }, null)).toBe(a);
    expect(releaseKey({ a: { image: "y", release: "2".repeat(12) }, b: { image: "x", release: "1".repeat(12) } }, "config: {}\n")).not.toBe(a);
  });
});

describe("release context", () => {
  it("takes who and the commit from the environment: RAILYARD_WHO, GITHUB_ACTOR, GITHUB_SHA", async () => {
    const r = await run("staging", { RAILYARD_WHO: "alice", GITHUB_ACTOR: "ci-bot", GITHUB_SHA: SHA_B });
    const w = words(create(begin(r, "staging")));
    expect(option(w, "--who")).toBe("alice");
    expect(option(w, "--commit")).toBe(SHA_B);
    expect(option(w, "--kind")).toBe("deploy");
    expect(option(w, "--message")).toBe("pulumi up: deploy of bbbbbbbbbbbb");
    delete process.env.RAILYARD_WHO;
    Object.assign(process.env, { GITHUB_ACTOR: "ci-bot" });
    const ci = await runStack("staging", stackFile("staging"), testSecrets("staging"));
    expect(option(words(create(begin(ci, "staging"))), "--who")).toBe("ci-bot");
    expect(ci.outputs.release).toMatchObject({ who: "ci-bot", commit: SHA_B, kind: "deploy", rollbackOf: null, lockToken: null, waitSeconds: null });
  });

  it("falls back to git's author and HEAD, then the OS user and no commit", () => {
    const git = (args: string[]) => (args[0] === "log" ? "Dana Doe" : "c".repeat(40));
    expect(releaseContext({}, "/x", git)).toEqual({ who: "Dana Doe", commit: "c".repeat(40), kind: "deploy" });
    expect(releaseContext({}, "/x", () => undefined)).toEqual({ who: os.userInfo().username, commit: "", kind: "deploy" });
    // Empty variables count as unset.
    expect(releaseContext({ RAILYARD_WHO: "", GITHUB_ACTOR: "eve", GITHUB_SHA: "" }, "/x", () => undefined)).toEqual({ who: "eve", commit: "", kind: "deploy" });
  });

  it("runs a rollback under the CLI's lock: kind, release, lock token and wait reach begin, record and the output", async () => {
    const env = { RAILYARD_RELEASE_KIND: "rollback", RAILYARD_ROLLBACK_OF: "3", RAILYARD_LOCK_TOKEN: "tok-123", RAILYARD_LOCK_WAIT: "10m" };
    const r = await run("staging", env);
    const b = words(create(begin(r, "staging")));
    expect([option(b, "--kind"), option(b, "--rollback-of"), option(b, "--lock-token"), option(b, "--wait")]).toEqual(["rollback", "3", "tok-123", "600"]);
    expect(option(b, "--message")).toBe("pulumi up: rollback to release 3");
    const rec = words(create(record(r, "staging")));
    expect([option(rec, "--kind"), option(rec, "--rollback-of"), option(rec, "--lock-token")]).toEqual(["rollback", "3", undefined]);
    expect(r.outputs.release).toMatchObject({ kind: "rollback", rollbackOf: 3, lockToken: "tok-123", waitSeconds: 600 });
  });

  it.each([
    [{ RAILYARD_WHO: "alice\nbob" }, 'RAILYARD_WHO: expected a name of printable characters (at most 128), got "alice\\nbob"'],
    [{ RAILYARD_WHO: "x".repeat(129) }, "RAILYARD_WHO: expected a name of printable characters"],
    [{ GITHUB_ACTOR: "bot\u001b[31m" }, 'GITHUB_ACTOR: expected a name of printable characters (at most 128), got "bot\\u001b[31m"'],
    [{ GITHUB_SHA: "HEAD" }, 'GITHUB_SHA: expected a commit hash (7 to 64 lower-case hex digits), got "HEAD"'],
    [{ RAILYARD_RELEASE_KIND: "redeploy" }, 'RAILYARD_RELEASE_KIND: expected deploy or rollback, got "redeploy"'],
    [{ RAILYARD_RELEASE_KIND: "rollback" }, "RAILYARD_ROLLBACK_OF: expected the release a rollback goes back to (RAILYARD_RELEASE_KIND is rollback), got nothing"],
    [{ RAILYARD_RELEASE_KIND: "rollback", RAILYARD_ROLLBACK_OF: "0" }, 'RAILYARD_ROLLBACK_OF: expected a release number (1 to 999999), got "0"'],
    [{ RAILYARD_ROLLBACK_OF: "2" }, 'RAILYARD_ROLLBACK_OF: expected nothing unless RAILYARD_RELEASE_KIND is rollback, got "2"'],
    [{ RAILYARD_LOCK_TOKEN: "a b" }, 'RAILYARD_LOCK_TOKEN: expected 1 to 128 of A-Z a-z 0-9 . _ -, got "a b"'],
    [{ RAILYARD_LOCK_WAIT: "forever" }, 'RAILYARD_LOCK_WAIT: expected whole seconds or a duration such as 10m (at most 24h), got "forever"'],
    [{ RAILYARD_LOCK_WAIT: "25h" }, 'RAILYARD_LOCK_WAIT: expected whole seconds or a duration such as 10m (at most 24h), got "25h"'],
  ])("refuses %j naming the variable, before any resource exists", async (env, message) => {
    expect(() => releaseContext({ ...env }, "/x", () => undefined)).toThrow(ReleaseContextError);
    expect(() => releaseContext({ ...env }, "/x", () => undefined)).toThrow(message);
    Object.assign(process.env, env);
    const failed = await runStack("staging", stackFile("staging"), testSecrets("staging")).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StackRunError);
    expect((failed as StackRunError).message).toContain(message);
    expect((failed as StackRunError).resources).toEqual([]);
  });

  it("lists every bad variable at once", () => {
    expect(() => releaseContext({ GITHUB_SHA: "xyz", RAILYARD_LOCK_TOKEN: "$(x)" }, "/x", () => undefined)).toThrow(
      /GITHUB_SHA: expected[^\n]*\n {2}RAILYARD_LOCK_TOKEN: expected/,
    );
  });
});

describe("recorded stack file", () => {
  it("records Pulumi.<stack>.yaml as it is when it is what the run deployed, with secrets only as ciphertext", async () => {
    const dir = projectWithSecureFile("staging");
    const r = await run("staging", { RAILYARD_PROJECT_DIR: dir });
    const config = recordedConfig(r, "staging");
    expect(config).toBe(fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8"));
    expect(config).toContain("secure: v1:ciphertext-of-railyard:secrets");
    for (const secret of SECRET_VALUES("staging")) expect(config).not.toContain(secret);
    expect(option(words(create(begin(r, "staging"))), "--token")).toBe(releaseKey(recordedServices(r, "staging"), config ?? null));
  });

  it("records none, with a warning saying why, when the file is not what the run deployed", async () => {
    const warn = vi.spyOn(pulumi.log, "warn");
    const dir = projectWithSecureFile("staging", (doc) => doc.setIn(["config", "railyard:deploy", "healthCheckAttempts"], 7));
    const r = await run("staging", { RAILYARD_PROJECT_DIR: dir });
    expect(recordedConfig(r, "staging")).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(
      "railyard: this release records no stack file (Pulumi.staging.yaml's railyard:deploy differs from this run's config): a rollback to it cannot restore its config",
    );
    const missing = await run("staging", { RAILYARD_PROJECT_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "railyard-release-graph-")) });
    expect(recordedConfig(missing, "staging")).toBeUndefined();
    expect(warn.mock.calls.map((c) => String(c[0]))).toContainEqual(expect.stringContaining("Pulumi.staging.yaml is not in /"));
  });

  const config = { "railyard:prefix": "st", "railyard:host": '{"mode":"local"}', "railyard:secrets": '{"A":"plain-a"}', "cloudflare:apiToken": "tok" };
  const secretKeys = ["railyard:secrets", "cloudflare:apiToken"];
  const file = (body: string) => `config:\n${body}`;
  const good = '  railyard:prefix: st\n  railyard:host:\n    mode: local\n  railyard:secrets:\n    A:\n      secure: v1:abc\n  cloudflare:apiToken:\n    secure: v1:def\n';
  it.each([
    ["matches", good, null],
    ["a plain value differs", good.replace("prefix: st", "prefix: other"), "Pulumi.st.yaml's railyard:prefix differs from this run's config"],
    ["a secret held in plain text", good.replace("    A:\n      secure: v1:abc\n", "    A: plain-a\n"), "Pulumi.st.yaml holds railyard:secrets otherwise than as the run's secure: ciphertext"],
    ["a secret missing", good.replace("  cloudflare:apiToken:\n    secure: v1:def\n", ""), "Pulumi.st.yaml does not hold the secret cloudflare:apiToken this run uses"],
    ["a secret entry more than the run has", good.replace("      secure: v1:abc\n", "      secure: v1:abc\n    B:\n      secure: v1:b\n"), "Pulumi.st.yaml holds railyard:secrets otherwise than as the run's secure: ciphertext"],
    ["a key the run does not have", `${good}  railyard:network: n\n`, "Pulumi.st.yaml sets railyard:network, which this run's config does not"],
    ["a key the run has and the file not", good.replace("  railyard:prefix: st\n", ""), "Pulumi.st.yaml does not set railyard:prefix, which this run's config does"],
  ])("stack file check: %s", (_what, body, why) => {
    const v = stackFileForRecord(file(body), config, secretKeys, "Pulumi.st.yaml");
    expect(v.why ?? null).toBe(why);
    expect(v.text).toBe(why === null ? file(body) : null);
  });

  it("stack file check: too long for record's command line", () => {
    const long = file(`${good}  railyard:network: n\n# ${"x".repeat(70_000)}\n`);
    expect(stackFileForRecord(long, { ...config, "railyard:network": "n" }, secretKeys, "Pulumi.st.yaml")).toEqual({
      text: null,
      why: "Pulumi.st.yaml is over 65536 characters, more than a record's command line carries",
    });
  });

  it("stack file check: not YAML, or no config map", () => {
    expect(stackFileForRecord("config: [", {}, [], "P.yaml").why).toMatch(/^P\.yaml is not YAML/);
    expect(stackFileForRecord("config: 3\n", {}, [], "P.yaml").why).toBe("P.yaml has no config map");
    expect(stackFileForRecord("encryptionsalt: x\n", {}, [], "P.yaml")).toEqual({ text: "encryptionsalt: x\n" });
  });
});

describe("release output, secrets and the webhook", () => {
  it("shows no secret anywhere: the output, begin, record", async () => {
    const dir = projectWithSecureFile("production");
    const r = await run("production", { RAILYARD_PROJECT_DIR: dir });
    const seen = JSON.stringify([r.outputs.release, create(begin(r, "production")), recordedServices(r, "production"), recordedConfig(r, "production")]);
    for (const secret of SECRET_VALUES("production")) expect(seen).not.toContain(secret);
    expect(r.outputs.release).toEqual({
      seq: null,
      at: null,
      key: option(words(create(begin(r, "production"))), "--token"),
      who: "alice",
      commit: SHA_A,
      kind: "deploy",
      rollbackOf: null,
      lockToken: null,
      waitSeconds: null,
      images: Object.fromEntries(["api", "beat", "frontend", "worker"].map((n) => [n, declared(r, n).image])),
    });
  });

  it("checks the host for jq and curl before begin", async () => {
    const r = await run("staging");
    const tools = one(r, "command:remote:Command", "release-tools");
    expect(create(tools)).toBe(requireToolsCommand("release records", [{ program: "jq", debianPackage: "jq" }, { program: "curl", debianPackage: "curl" }]));
    expect(begin(r, "staging").dependsOn).toContain("release-tools");
  });

  it("writes the webhook's URL as the SSH user's own file only with deploy.webhookSecret, and keeps what it keeps", async () => {
    const without = await run("staging");
    expect(byType(without, "command:remote:Command").map((c) => c.name)).not.toContain("release-webhook");

    const plain = copy(stackFile("staging"));
    Object.assign(plain["railyard:deploy"] as Record<string, unknown>, { webhookSecret: "DEPLOY_WEBHOOK_URL", releasesKept: 3 });
    const secret = copy(testSecrets("staging"));
    (secret["railyard:secrets"] as Record<string, string>).DEPLOY_WEBHOOK_URL = "https://hooks.example.com/deploy-hook-secret";
    const r = await run("staging", {}, { plain, secret });
    const hook = one(r, "command:remote:Command", "release-webhook");
    const file = "/srv/railyard/staging/hooks/deploy-webhook.url";
    expect(create(hook)).toBe(writeSecretFileCommand(file, { owner: "ssh-user" }));
    expect(reveal(hook.inputs.delete)).toBe(removeSecretFileCommand(file, { owner: "ssh-user" }));
    expect(isSecretValue(hook.inputs.stdin)).toBe(true);
    expect(reveal(hook.inputs.stdin)).toBe("https://hooks.example.com/deploy-hook-secret\n");
    expect(begin(r, "staging").dependsOn).toContain("release-webhook");
    expect(option(words(create(record(r, "staging"))), "--keep")).toBe("3");
    expect(JSON.stringify([r.outputs, create(begin(r, "staging")), create(record(r, "staging"))])).not.toContain("deploy-hook-secret");
  });

  it("reads the previous output back through a StackReference to the stack itself", async () => {
    const r = await run("staging");
    const ref = one(r, "pulumi:pulumi:StackReference", "release-previous");
    expect(ref.inputs.name).toBe("organization/railyard/staging");
    expect(ref.parent).toBe("release");
  });
});
