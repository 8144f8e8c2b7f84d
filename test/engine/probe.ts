/** Looking into running tasks: their health JSON, images, and Docker's own health status. */
import { execFileSync } from "node:child_process";
import { ConfigMap, stackFile } from "../harness";
import { tasks } from "./apply";

/** Host ports the edge publishes in the engine tests (not 80/443, which the machine may use). */
export const EDGE_HTTP_PORT = 18080;
export const EDGE_HTTPS_PORT = 18443;

/**
 * A stack file's config pointed at this machine's engine, under its own prefix (so test stacks do not meet).
 * The edge publishes the test ports, and DNS records (mocked) point at a documentation address.
 */
export function onLocalEngine(stack: string, prefix: string): ConfigMap {
  const config = structuredClone(stackFile(stack));
  config["railyard:prefix"] = prefix;
  config["railyard:host"] = { mode: "local", dataDir: "/tmp/railyard-engine" };
  // This machine runs no systemd (the backup units exit 70) and the stack files' buckets are not reachable: the
  // backups are applied on the bed by backups-stack.test.ts with a loopback bucket of its own.
  delete config["railyard:backups"];
  // The bed runs locally built test images in place of the app's GHCR ones, and no registry answers here: the pulls
  // with credentials are proven by registry.test.ts against a real registry of its own. The image builds are CI's.
  delete config["railyard:registry"];
  const deploy = config["railyard:deploy"] as Record<string, unknown> | undefined;
  if (deploy) {
    delete deploy.images;
    delete deploy.promoteFrom;
  }
  const edge = config["railyard:edge"] as Record<string, unknown> | undefined;
  if (edge) Object.assign(edge, { httpPort: EDGE_HTTP_PORT, httpsPort: EDGE_HTTPS_PORT, ...(edge.cloudflare ? { publicAddress: "203.0.113.10" } : {}) });
  return config;
}

/** The container of a running task of the service. */
export async function runningContainer(service: string): Promise<string> {
  const id = (await tasks(service)).find((t) => t.Status.State === "running")?.Status.ContainerStatus?.ContainerID;
  if (!id) throw new Error(`${service} has no running container`);
  return id;
}

/** The app's health JSON, fetched inside a running task (nothing is published on the host). */
export async function health(service: string, port = 8000, path = "/health"): Promise<Record<string, string>> {
  const id = await runningContainer(service);
  const out = execFileSync("docker", ["exec", id, "curl", "-fsS", `http://127.0.0.1:${port}${path}`], { encoding: "utf8" });
  return JSON.parse(out) as Record<string, string>;
}

/** Docker's health status of a running task's container ("healthy", "unhealthy", "starting"). */
export async function dockerHealth(service: string): Promise<string> {
  const id = await runningContainer(service);
  return execFileSync("docker", ["inspect", "--format", "{{.State.Health.Status}}", id], { encoding: "utf8" }).trim();
}

export async function runningImages(service: string): Promise<string[]> {
  return (await tasks(service)).filter((t) => t.Status.State === "running").map((t) => t.Spec.ContainerSpec.Image);
}

/** `docker service inspect` of the given services, as text. */
export function inspectServices(names: string[]): string {
  return execFileSync("docker", ["service", "inspect", ...names], { encoding: "utf8" });
}
