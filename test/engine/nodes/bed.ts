/**
 * The multi-node test bed: N Docker engines on this machine, each a near-privileged container of the node image
 * (build-node-image.sh: dockerd + sshd) on a bridge network of its own, /var/lib/docker on a volume of its own
 * (overlay2 inside). Each engine answers on tcp://<ip>:2375 (the bed's network only) and each sshd on <ip>:22 with
 * a generated host key (pinned by the tests) and a generated client key for root. The test images are loaded into
 * every engine (docker save | docker load: there is no registry). Everything the bed creates on this machine's
 * engine is named `<prefix>-bed…` and labelled railyard.test.bed=<prefix>; stopBed removes exactly that.
 */
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const HERE = __dirname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BedNode {
  /** The container's name on this machine's engine (also its host name). */
  container: string;
  ip: string;
  /** DOCKER_HOST for its engine. */
  engine: string;
  /** Its sshd's host key, `ssh-ed25519 AAAA…` (what a stack file pins). */
  hostKey: string;
}

export interface Bed {
  prefix: string;
  network: string;
  nodes: BedNode[];
  /** The client key every node's root accepts (OpenSSH PEM). */
  privateKey: string;
  /** Seconds each step took: image build, containers up (engines and sshd answer), images loaded, total. */
  seconds: { image: number; engines: number; images: number; total: number };
}

/** The docker CLI against this machine's engine, whatever DOCKER_HOST the test points elsewhere. */
export function hostDocker(...args: string[]): string {
  const env = { ...process.env };
  delete env.DOCKER_HOST;
  return execFileSync("docker", args, { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 * 1024 * 1024 });
}

/** The docker CLI against a bed node's engine. */
export function nodeDocker(node: BedNode, ...args: string[]): string {
  return execFileSync("docker", ["-H", node.engine, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 * 1024 * 1024 });
}

const label = (prefix: string) => `railyard.test.bed=${prefix}`;
const bedDir = (prefix: string) => `/tmp/railyard-bed-${prefix}`;

/** Removes what a bed of this prefix created on this machine's engine (containers, volumes, network) and its keys. */
export function stopBed(prefix: string): void {
  const ids = hostDocker("ps", "-aq", "--filter", `label=${label(prefix)}`).split("\n").filter(Boolean);
  if (ids.length > 0) hostDocker("rm", "-f", "-v", ...ids);
  for (const v of hostDocker("volume", "ls", "-q", "--filter", `label=${label(prefix)}`).split("\n").filter(Boolean)) hostDocker("volume", "rm", "-f", v);
  for (const n of hostDocker("network", "ls", "-q", "--filter", `label=${label(prefix)}`).split("\n").filter(Boolean)) hostDocker("network", "rm", n);
  fs.rmSync(bedDir(prefix), { recursive: true, force: true });
}

function keygen(file: string, comment: string): string {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  return fs.readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
}

function pingEngine(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: ip, port: 2375, path: "/_ping", timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

function sshBanner(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port: 22, timeout: 2000 }, () => undefined);
    s.once("data", (d: Buffer) => {
      s.destroy();
      resolve(d.toString().startsWith("SSH-"));
    });
    s.on("timeout", () => s.destroy());
    s.on("error", () => resolve(false));
    s.on("close", () => resolve(false));
  });
}

/** Waits until the node's engine and sshd answer (bounded), else throws with the container's log. */
async function waitNode(node: BedNode, timeoutMs = 90_000): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if ((await pingEngine(node.ip)) && (await sshBanner(node.ip))) return;
    await sleep(250);
  }
  let logs = "";
  try {
    logs = hostDocker("logs", "--tail", "30", node.container);
  } catch {
    // the container is gone
  }
  throw new Error(`bed node ${node.container} (${node.ip}): engine or sshd did not answer within ${timeoutMs} ms\n${logs}`);
}

/** The images as one tar (cached by image IDs: the same images are saved once). */
function savedImages(images: string[]): string {
  const ids = images.map((i) => hostDocker("image", "inspect", "--format", "{{.Id}}", i).trim());
  const tar = `/tmp/railyard-bed-images-${createHash("sha256").update([...images, ...ids].join("\n")).digest("hex").slice(0, 12)}.tar`;
  if (!fs.existsSync(tar)) {
    hostDocker("save", "-o", `${tar}.part`, ...images);
    fs.renameSync(`${tar}.part`, tar);
  }
  return tar;
}

/**
 * Starts `count` nodes (any bed of the same prefix is removed first) and loads `images` into each engine.
 * `publish`: ports of the first node (the main host) also published on this machine's loopback, so a `local`-mode
 * main host's commands that reach its own published ports on 127.0.0.1 (the gate through the edge) find them there,
 * as they would on the host itself.
 */
export async function startBed(prefix: string, count: number, images: string[], publish: number[] = []): Promise<Bed> {
  const began = Date.now();
  stopBed(prefix);
  const image = execFileSync("bash", [path.join(HERE, "build-node-image.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  const built = Date.now();
  const dir = bedDir(prefix);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  keygen(path.join(dir, "id_ed25519"), `railyard-bed-${prefix}`);
  const network = `${prefix}-bed`;
  // Fixed addresses (.10, .11, …) so a node restarted after an abrupt stop comes back where the swarm knew it; that
  // needs a subnet of the bed's choosing: the first of 172.29.0-31.0/24 that no network of this engine holds.
  let octets = "";
  for (let k = 0; k < 32 && !octets; k++) {
    try {
      hostDocker("network", "create", "--driver", "bridge", "--subnet", `172.29.${k}.0/24`, "--label", label(prefix), network);
      octets = `172.29.${k}`;
    } catch (e) {
      if (!/overlap/i.test(String((e as { stderr?: string }).stderr))) throw e;
    }
  }
  if (!octets) throw new Error("bed: every subnet 172.29.0-31.0/24 is taken on this engine");
  const nodes: BedNode[] = [];
  for (let i = 1; i <= count; i++) {
    const container = `${prefix}-bed-${i}`;
    const nodeDir = path.join(dir, container);
    fs.mkdirSync(nodeDir);
    const hostKey = keygen(path.join(nodeDir, "ssh_host_ed25519_key"), container);
    fs.copyFileSync(path.join(dir, "id_ed25519.pub"), path.join(nodeDir, "authorized_keys"));
    hostDocker("volume", "create", "--label", label(prefix), `${container}-docker`);
    hostDocker(
      // Every capability but the one this machine's engine lacks (so not --privileged), no seccomp/AppArmor
      // profile, unmasked /proc and any device: what dockerd inside needs (node-entrypoint.sh remounts /sys rw).
      "run", "-d", "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
      "--security-opt", "apparmor=unconfined", "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm", "--name", container, "--hostname", container, "--label", label(prefix),
      "--network", network, "--ip", `${octets}.${9 + i}`, ...(i === 1 ? publish.flatMap((p) => ["-p", `127.0.0.1:${p}:${p}`]) : []), "-v", `${container}-docker:/var/lib/docker`, "-v", `${nodeDir}:/bed:ro`, image,
    );
    const ip = `${octets}.${9 + i}`;
    nodes.push({ container, ip, engine: `tcp://${ip}:2375`, hostKey });
  }
  await Promise.all(nodes.map((n) => waitNode(n)));
  const up = Date.now();
  const tar = savedImages(images);
  await Promise.all(nodes.map((n) => execFileAsync("docker", ["-H", n.engine, "load", "-q", "-i", tar], { encoding: "utf8" })));
  const loaded = Date.now();
  const s = (ms: number) => Math.round(ms / 100) / 10;
  return {
    prefix,
    network,
    nodes,
    privateKey: fs.readFileSync(path.join(dir, "id_ed25519"), "utf8"),
    seconds: { image: s(built - began), engines: s(up - built), images: s(loaded - up), total: s(loaded - began) },
  };
}
