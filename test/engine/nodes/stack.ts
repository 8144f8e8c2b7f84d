/**
 * The dev stack across a bed's nodes: the first bed node is the main host (`local` mode, its engine as
 * DOCKER_HOST: the bootstrap inits the swarm there, the manager-side commands and the gates run against it) and
 * holds data + edge; the others join through railyard's Node component over real SSH (host keys pinned) as app
 * workers `app-1`, `app-2`, …. Applied with the bed's provider cycle (../apply.ts), SSH commands included.
 */
import { execFileSync } from "node:child_process";
import { ConfigMap, runStack } from "../../harness";
import { applyStack, ApplyResult } from "../apply";
import { engine } from "../engineApi";
import { onLocalEngine } from "../probe";
import type { Bed, BedNode } from "./bed";

export interface Worker {
  /** Its key under railyard:nodes. */
  name: string;
  node: BedNode;
  drain?: boolean;
  /** Its railyard labels (@default ["app"]). */
  labels?: string[];
}

/** railyard:databases.<db>.node / moveFrom, merged into the stack file's databases. */
export type DatabaseNodes = Record<string, { node: string; moveFrom?: string }>;

/** The bed's workers: bed node i+1 is app-i. */
export function workersOf(bed: Bed): Worker[] {
  return bed.nodes.slice(1).map((node, i) => ({ name: `app-${i + 1}`, node }));
}

/** The images the dev stack runs, to load into every bed engine. */
export function stackImages(images: Record<string, string>): string[] {
  return [images.APP_V1, images.POSTGRES, images.REDIS, images.EDGE, images.FRONT];
}

export const imageFor = (images: Record<string, string>) => (name: string) =>
  ({ postgres: images.POSTGRES, redis: images.REDIS, edge: images.EDGE, "edge-front": images.FRONT })[name] ?? images.APP_V1;

/** The dev stack's config on the bed: main host data + edge, the given workers app (none: a single-node stack). */
export function bedConfig(prefix: string, workers: Worker[], databases: DatabaseNodes = {}): ConfigMap {
  const config = onLocalEngine("dev", prefix);
  config["railyard:host"] = { mode: "local", dataDir: `/tmp/railyard-engine-${prefix}`, ...(workers.length > 0 ? { labels: ["data", "edge"] } : {}) };
  if (workers.length > 0) {
    config["railyard:nodes"] = Object.fromEntries(
      workers.map((w) => [w.name, { address: w.node.ip, hostKey: w.node.hostKey, labels: w.labels ?? ["app"], ...(w.drain ? { drain: true } : {}) }]),
    );
  }
  const dbs = config["railyard:databases"] as Record<string, Record<string, unknown>>;
  for (const [db, where] of Object.entries(databases)) Object.assign(dbs[db], where);
  return config;
}

/** Points the docker CLI, the Engine API client and the local commands at the main node's engine. */
export function useMainEngine(bed: Bed): void {
  process.env.DOCKER_HOST = bed.nodes[0].engine;
}

/** Runs the program (under mocks) with the workers and applies what it declared to the bed. */
export async function applyOnBed(
  prefix: string,
  bed: Bed,
  images: Record<string, string>,
  workers: Worker[],
  databases: DatabaseNodes = {},
): Promise<ApplyResult> {
  useMainEngine(bed);
  const secrets = workers.length > 0 ? { "railyard:sshPrivateKey": bed.privateKey } : {};
  const run = await runStack("dev", bedConfig(prefix, workers, databases), secrets, {}, { commandStdout: true });
  return applyStack(run, imageFor(images), undefined, { ssh: true, deleteRemoved: true });
}

export interface SwarmNode {
  id: string;
  hostname: string;
  /** Its railyard.node label ("host", "app-1", …), "" when it has none. */
  name: string;
  state: string;
  availability: string;
  role: string;
  labels: Record<string, string>;
}

export async function swarmNodes(): Promise<SwarmNode[]> {
  const nodes = await engine<
    { ID: string; Description: { Hostname: string }; Status: { State: string }; Spec: { Availability: string; Role: string; Labels?: Record<string, string> } }[]
  >("GET", "/nodes");
  return nodes.map((n) => ({
    id: n.ID,
    hostname: n.Description.Hostname,
    name: n.Spec.Labels?.["railyard.node"] ?? "",
    state: n.Status.State,
    availability: n.Spec.Availability,
    role: n.Spec.Role,
    labels: n.Spec.Labels ?? {},
  }));
}

/** Per railyard node name, how many running tasks of the service it holds. */
export async function placement(service: string): Promise<Record<string, number>> {
  const byId = new Map((await swarmNodes()).map((n) => [n.id, n.name || n.hostname]));
  const tasks = await engine<{ NodeID: string; Status: { State: string } }[]>(
    "GET",
    `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { [service]: true }, "desired-state": { running: true } }))}`,
  );
  const counts: Record<string, number> = {};
  for (const t of tasks.filter((x) => x.Status.State === "running")) {
    const name = byId.get(t.NodeID) ?? t.NodeID;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Waits (bounded) until the service runs `replicas` tasks, none on the nodes named in `avoid`. */
export async function waitPlacement(service: string, replicas: number, avoid: string[] = [], timeoutMs = 180_000): Promise<Record<string, number>> {
  const start = Date.now();
  let last: Record<string, number> = {};
  while (Date.now() - start < timeoutMs) {
    last = await placement(service);
    const total = Object.values(last).reduce((a, b) => a + b, 0);
    if (total === replicas && avoid.every((n) => !last[n])) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${service}: ${JSON.stringify(last)} after ${timeoutMs} ms (wanted ${replicas} running, none on ${avoid.join(", ") || "-"})`);
}

/** Waits (bounded) until the node named `name` (railyard.node) is in `state` ("ready", "down"). */
export async function waitNodeState(name: string, state: string, timeoutMs = 120_000): Promise<void> {
  const start = Date.now();
  while ((await swarmNodes()).find((n) => n.name === name)?.state !== state) {
    if (Date.now() - start > timeoutMs) throw new Error(`node ${name} not ${state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Spreads a 2-replica service over both app nodes again (Swarm never moves running tasks back by itself): a third
 * replica lands on the emptier node, and the scale back to 2 removes one from the fuller node (Swarm's scale-down
 * keeps the spread). Replicas end as declared, so the next apply plans nothing for it. The docker CLI follows
 * DOCKER_HOST: the main node's engine.
 */
export function spreadAgain(service: string): void {
  execFileSync("docker", ["service", "scale", "--detach=false", `${service}=3`], { stdio: "ignore" });
  execFileSync("docker", ["service", "scale", "--detach=false", `${service}=2`], { stdio: "ignore" });
}
