/**
 * railyard:registry against a REAL private registry (Debian's docker-registry with htpasswd auth on loopback): an
 * image only that registry holds (its own layer pushed, then removed from the engine) is pulled by
 * - the declared Service, created as the provider creates it with the X-Registry-Auth the provider's registryAuth
 *   gives it (kreuzwerker fromRegistryAuth, ./provider/registryAuth.ts): it converges; the same declaration with
 *   what the provider sends for an image on another registry ("{}") is refused by the registry;
 * - the migration job, run by the declared command line with the password on its stdin: it completes from the
 *   private image; no argv on the machine and no output holds the password; without the credentials it fails.
 * Prefix `ryg`; only what this file creates is removed (services, network, images, the registry process).
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Captured, ConfigMap, one, reveal, runStack, StackRun } from "../harness";
import { planStack, tasks, teardown } from "./apply";
import { engine } from "./engineApi";
import { registryAuthHeader, serviceAuth } from "./provider/registryAuth";
import { createServiceAs, isLocal, pushPrivateImage, Registry, removeLocal, startRegistry } from "./registryBed";

const images = inject("images");
const PREFIX = "ryg";
const NETWORK = `${PREFIX}-net`;
const USER = "ryg-bot";
const MARKER = `ryg-${randomBytes(6).toString("hex")}`;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ryg-data-"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let registry: Registry;
let image: string;
let run: StackRun;

function stackConfig(server: string, pinned: string): ConfigMap {
  return {
    "railyard:environment": "dev",
    "railyard:prefix": PREFIX,
    "railyard:host": { mode: "local", dataDir },
    "railyard:registry": { server, username: USER, passwordSecret: "RYG_REGISTRY_TOKEN" },
    "railyard:services": {
      app: { kind: "worker", image: pinned, startCommand: "sleep 3600", preDeployCommand: "echo migrated from $(cat /ryg-marker)", stopGracePeriod: "2s" },
    },
  };
}

const declaredService = (): Captured => one(run, "docker:index/service:Service", "app");
/** What the provider sends with the service's create: its registryAuth, picked for the service's image. */
function providerHeader(): string {
  const blocks = reveal(one(run, "pulumi:providers:docker", "host-docker").inputs.registryAuth);
  const list = (typeof blocks === "string" ? JSON.parse(blocks) : blocks) as { address: string; username: string; password: unknown }[];
  return registryAuthHeader(serviceAuth(image, list.map((b) => ({ ...b, password: String(reveal(b.password)) }))));
}

/** The service's first task once it is past pulling: its state and error. */
async function settled(service: string, limitMs = 90_000): Promise<{ state: string; err: string }> {
  const start = Date.now();
  for (;;) {
    const all = await engine<{ Status: { State: string; Err?: string } }[]>("GET", `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { [service]: true } }))}`);
    const t = all.find((x) => ["running", "rejected", "failed", "complete"].includes(x.Status.State));
    if (t) return { state: t.Status.State, err: t.Status.Err ?? "" };
    if (Date.now() - start > limitMs) return { state: all[0]?.Status.State ?? "none", err: "not settled" };
    await sleep(500);
  }
}

/** What the registry answered for the image's manifest since request number `from`: the statuses. */
function manifestAnswers(from: number): number[] {
  const digest = image.slice(image.indexOf("@") + 1);
  return registry.requests().slice(from).filter((r) => r.uri === `/v2/ryg/app/manifests/${digest}`).map((r) => r.status);
}

function removeServices(): void {
  execFileSync("bash", ["-c", `docker service ls -q --filter name=${PREFIX}- | xargs -r docker service rm >/dev/null 2>&1 || true`]);
}

beforeAll(async () => {
  removeServices();
  registry = await startRegistry(USER);
  image = pushPrivateImage(registry, images.APP_V1, "ryg/app", MARKER);
  run = await runStack(PREFIX, stackConfig(registry.server, image), { "railyard:secrets": { RYG_REGISTRY_TOKEN: registry.password } });
  await engine("POST", "/networks/create", { Name: NETWORK, Driver: "overlay", Attachable: true, Labels: { "railyard.stack": PREFIX } }).catch(() => undefined);
});

afterAll(async () => {
  removeServices();
  await teardown(PREFIX, NETWORK);
  if (image) removeLocal(image);
  registry?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("a private image on a real registry with htpasswd auth", () => {
  it("is on the registry only: not on the engine, and the registry refuses it without credentials", async () => {
    expect(image).toMatch(new RegExp(`^${registry.server.replace(/\./g, "\\.")}/ryg/app@sha256:[a-f0-9]{64}$`));
    expect(isLocal(image)).toBe(false);
    const anonymous = execFileSync("bash", ["-c", `curl -s -o /dev/null -w '%{http_code}' http://${registry.server}/v2/ryg/app/tags/list`], { encoding: "utf8" });
    expect(anonymous).toBe("401");
  });

  it("the migration job without the credentials is refused by the registry (control): exit 30", () => {
    const create = String(reveal(one(run, "command:local:Command", "app-migrate").inputs.create)).replace(/ --registry \S+ --registry-user \S+/, "");
    expect(create).not.toContain("--registry");
    const from = registry.requests().length;
    let status = 0;
    let output = "";
    try {
      execFileSync("bash", ["-c", create], { encoding: "utf8", input: "", stdio: ["pipe", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      status = err.status;
      output = `${err.stdout}${err.stderr}`;
    }
    expect(status, output).toBe(30);
    expect(output).toContain(`No such image: ${image}`);
    // The engine's pull met the registry's challenge (401) and had no credentials to answer it: never served.
    expect(registry.requests().slice(from)).toContainEqual({ method: "GET", uri: "/v2/", status: 401 });
    expect(manifestAnswers(from)).not.toContain(200);
    expect(isLocal(image)).toBe(false);
  });

  it("the declared migration job pulls it with the password from stdin and completes; no argv and no output holds the password", async () => {
    const migrate = one(run, "command:local:Command", "app-migrate");
    const create = String(reveal(migrate.inputs.create));
    expect(create).toContain(`--registry ${registry.server} --registry-user ${USER} --`);
    expect(create).not.toContain(registry.password);
    const from = registry.requests().length;
    const child: ChildProcess = spawn("bash", ["-c", create], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    child.stdin?.end(String(reveal(migrate.inputs.stdin)));
    const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    // Every process's argv and environment while the job runs (ps sees argv; /proc/<pid>/environ the env).
    let samples = 0;
    let leaked = "";
    let done = false;
    void exit.then(() => (done = true));
    while (!done) {
      const ps = execFileSync("ps", ["-eo", "args"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      if (ps.includes(registry.password)) leaked = ps.split("\n").find((l) => l.includes(registry.password)) ?? "?";
      const envs = execFileSync("bash", ["-c", "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' || true"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      if (envs.includes(registry.password)) leaked = "an environment variable";
      samples++;
      await sleep(50);
    }
    expect(await exit, output).toBe(0);
    expect(output).toContain(`migrated from ${MARKER}`);
    expect(output).toContain(`logged in to ${registry.server} as ${USER}`);
    expect(output).not.toContain(registry.password);
    expect(leaked).toBe("");
    expect(samples).toBeGreaterThan(5);
    // Pulled for the job (the registry served the manifest); and the private DOCKER_CONFIG is gone.
    expect(manifestAnswers(from)).toContain(200);
    expect(isLocal(image)).toBe(true);
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("railyard-registry."))).toEqual([]);
  });

  it("the declared Service with what the provider sends for an image on another registry is refused by the registry (control)", async () => {
    removeLocal(image);
    expect(isLocal(image)).toBe(false);
    const from = registry.requests().length;
    await createServiceAs(declaredService().inputs, registryAuthHeader({}), `${PREFIX}-app-anonymous`);
    const t = await settled(`${PREFIX}-app-anonymous`);
    expect(t.state).toBe("rejected");
    expect(t.err).toContain("No such image");
    expect(registry.requests().slice(from)).toContainEqual({ method: "GET", uri: "/v2/", status: 401 });
    expect(manifestAnswers(from)).not.toContain(200);
    expect(isLocal(image)).toBe(false);
    execFileSync("docker", ["service", "rm", `${PREFIX}-app-anonymous`], { stdio: "ignore" });
  });

  it("the declared Service, created with the provider's credentials for its image, pulls it and converges", async () => {
    expect(isLocal(image)).toBe(false);
    const header = providerHeader();
    expect(Buffer.from(header, "base64url").toString("utf8")).toBe(
      JSON.stringify({ username: USER, password: registry.password, serveraddress: `https://${registry.server}` }),
    );
    const from = registry.requests().length;
    await createServiceAs(declaredService().inputs, header);
    const t = await settled(`${PREFIX}-app`);
    expect(manifestAnswers(from)).toContain(200);
    expect(t, t.err).toMatchObject({ state: "running" });
    expect(isLocal(image)).toBe(true);
    const running = await tasks(`${PREFIX}-app`);
    expect(running[0].Spec.ContainerSpec.Image).toBe(image);
    // The spec Swarm keeps shows no credentials.
    const spec = await engine<unknown>("GET", `/services/${PREFIX}-app`);
    expect(JSON.stringify(spec)).not.toContain(registry.password);
    // Day two: the provider reads it back (the registry's digest and platforms included) and plans nothing.
    const plans = await planStack(run, () => image);
    expect(plans.app?.action, JSON.stringify(plans.app?.changes)).toBe("none");
  });
});
