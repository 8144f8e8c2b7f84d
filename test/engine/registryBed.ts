/**
 * A real private registry for the engine tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 with
 * htpasswd auth (Docker treats 127.0.0.0/8 as an insecure registry: plain HTTP). An image only that registry holds,
 * and a declared docker.Service created as the provider creates it, with the X-Registry-Auth the provider sends.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { mockNetworkName } from "../harness";
import { engine } from "./engineApi";
import { tfConfig } from "./provider/plan";
import { clientCreate, plannedValues, providerSpec } from "./provider/send";
import { resolveDeclared, revealDeep } from "./spec";

export interface Registry {
  /** 127.0.0.1:<port>. */
  server: string;
  user: string;
  password: string;
  /** The registry's access log so far: one entry per HTTP request (method, path, status). */
  requests: () => { method: string; uri: string; status: number }[];
  stop: () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The status of GET http://<server>/v2/ (401 once the registry answers and wants credentials). */
function v2Status(server: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(`http://${server}/v2/`, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
  });
}

/** Starts docker-registry with htpasswd auth (bcrypt, as `htpasswd -B` writes it) on a free loopback port. */
export async function startRegistry(user: string): Promise<Registry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ryg-registry-"));
  const password = `ryg-${randomBytes(12).toString("hex")}`;
  // -i: the password from stdin, not from htpasswd's argv.
  const line = execFileSync("htpasswd", ["-Bin", user], { input: `${password}\n`, encoding: "utf8" });
  fs.writeFileSync(path.join(dir, "htpasswd"), line);
  const port = await freePort();
  const server = `127.0.0.1:${port}`;
  fs.writeFileSync(
    path.join(dir, "config.yml"),
    [
      "version: 0.1",
      "log: { level: info }",
      `storage: { filesystem: { rootdirectory: ${dir}/data }, delete: { enabled: true } }`,
      `http: { addr: "${server}" }`,
      `auth: { htpasswd: { realm: ryg, path: ${dir}/htpasswd } }`,
      "",
    ].join("\n"),
  );
  const logFile = path.join(dir, "registry.log");
  const out = fs.openSync(logFile, "a");
  const child: ChildProcess = spawn("/usr/bin/docker-registry", ["serve", path.join(dir, "config.yml")], { stdio: ["ignore", out, out] });
  // Its access log, in the combined format: `"GET /v2/… HTTP/1.1" 401 …`.
  const requests = () =>
    [...fs.readFileSync(logFile, "utf8").matchAll(/"([A-Z]+) (\S+) HTTP\/[0-9.]+" ([0-9]{3}) /g)].map((m) => ({ method: m[1], uri: m[2], status: Number(m[3]) }));
  const stop = () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if ((await v2Status(server)) === 401) return { server, user, password, requests, stop };
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
  stop();
  throw new Error(`docker-registry did not answer 401 on http://${server}/v2/: ${log}`);
}

const docker = (args: string[], input?: string) => execFileSync("docker", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] }).trim();

/**
 * An image on top of `base` with a layer of its own (a file holding `marker`), pushed to the registry with its
 * credentials (a private DOCKER_CONFIG for the push), then removed from the engine: only the registry holds it.
 * Returns its reference by digest.
 */
export function pushPrivateImage(registry: Registry, base: string, repo: string, marker: string): string {
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), "ryg-build-"));
  const config = fs.mkdtempSync(path.join(os.tmpdir(), "ryg-push-config-"));
  const tag = `${registry.server}/${repo}:${marker}`;
  try {
    fs.writeFileSync(path.join(ctx, "Dockerfile"), `FROM ${base}\nRUN echo ${marker} > /ryg-marker\n`);
    docker(["build", "-q", "-t", tag, ctx]);
    docker(["--config", config, "login", "--username", registry.user, "--password-stdin", registry.server], `${registry.password}\n`);
    docker(["--config", config, "push", "-q", tag]);
    const pinned = docker(["image", "inspect", "--format", "{{index .RepoDigests 0}}", tag]);
    removeLocal(tag);
    return pinned;
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
    fs.rmSync(config, { recursive: true, force: true });
  }
}

/** Removes an image (every tag and its own layers) from the engine; the images it was built on stay. */
export function removeLocal(ref: string): void {
  let id: string;
  try {
    id = docker(["image", "inspect", "--format", "{{.Id}}", ref]);
  } catch {
    return;
  }
  docker(["image", "rm", "-f", id]);
}

/** Whether the engine holds the image. */
export function isLocal(ref: string): boolean {
  try {
    docker(["image", "inspect", ref]);
    return true;
  } catch {
    return false;
  }
}

/** One Engine API request over the socket with extra headers (X-Registry-Auth): status and JSON body. */
function engineWithHeaders(method: string, urlPath: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const socketPath = process.env.RAILYARD_DOCKER_SOCKET ?? "/var/run/docker.sock";
  const payload = body === undefined ? "" : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, path: urlPath, method, headers: { ...headers, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : undefined }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * The registry's answer for the image through the engine, as the provider's client asks with QueryRegistry
 * (GET /distribution/<image>/json with the same X-Registry-Auth): its digest and platforms, or undefined when the
 * registry refuses (the client then sends the image as declared).
 */
export async function distribution(image: string, header: string): Promise<{ digest: string; platforms: { Architecture: string; OS: string }[] } | undefined> {
  const r = await engineWithHeaders("GET", `/distribution/${image}/json`, undefined, { "X-Registry-Auth": header });
  if (r.status !== 200) return undefined;
  const b = r.body as { Descriptor: { digest: string }; Platforms: { architecture: string; os: string }[] };
  return { digest: b.Descriptor.digest, platforms: b.Platforms.map((p) => ({ Architecture: p.architecture, OS: p.os })) };
}

/**
 * Creates a declared docker.Service (Pulumi-shaped inputs) on the engine as the provider does: its spec for the
 * planned values, the client's create-time rewriting with the registry's answer, POST /services/create with
 * `header` as X-Registry-Auth. `name` replaces the declared Swarm name (a second copy of one declaration).
 */
export async function createServiceAs(raw: unknown, header: string, name?: string): Promise<string> {
  // The declared image stands for itself; the release is named as the bed names it (its plans do the same).
  const declaredImage = String((revealDeep(raw) as { taskSpec: { containerSpec: { image: string } } }).taskSpec.containerSpec.image);
  const declared = resolveDeclared(raw, {
    image: declaredImage,
    secret: (id) => {
      throw new Error(`the registry test declares no secret (${id})`);
    },
    network: (id) => id,
  });
  const d = declared as { name: string; taskSpec: { containerSpec: { image: string }; networksAdvanceds: { id: string }[] } };
  const networks = await Promise.all(d.taskSpec.networksAdvanceds.map(async (n) => ({ id: (await engine<{ Id: string }>("GET", `/networks/${mockNetworkName(n.id)}`)).Id })));
  const onEngine = { ...declared, name: name ?? d.name, taskSpec: { ...d.taskSpec, networksAdvanceds: networks } };
  const image = d.taskSpec.containerSpec.image;
  const answer = await distribution(image, header);
  const spec = clientCreate(providerSpec(plannedValues(tfConfig(onEngine))), {
    digest: () => answer?.digest,
    platforms: answer?.platforms ?? [],
  });
  const r = await engineWithHeaders("POST", "/services/create", spec, { "X-Registry-Auth": header });
  if (r.status !== 201) throw new Error(`service create: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body as { ID: string }).ID;
}
