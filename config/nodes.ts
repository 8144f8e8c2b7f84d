/**
 * More machines in the stack's swarm (railyard:nodes): their shape after loading, the labels that say what may
 * run where, and the checks that span keys (manager quorum, unique addresses, a database's node, somewhere for
 * the edge and the services to run). The schema of each key is in config/schema.ts.
 */
import { ConfigProblem, describe } from "./problems";

/** What may run on a node: databases (with their volumes), the edge, the services. */
export const NODE_LABELS = ["data", "edge", "app"] as const;
export type NodeLabel = (typeof NODE_LABELS)[number];
/** The main host's name among the nodes (its Swarm label railyard.node=host). */
export const MAIN_NODE = "host";
/** Raft keeps a quorum of a majority: more than 7 managers only slows every write. */
export const MAX_MANAGERS = 7;
/** Most nodes one stack file may declare. */
export const MAX_NODES = 50;

/** A node of railyard:nodes after loading (defaults applied). */
export interface NodeConfig {
  address: string;
  port: number;
  user: string;
  /** The node's pinned SSH host key. */
  hostKey: string;
  /** `--advertise-addr` for its join, when it has several addresses. */
  advertiseAddress?: string;
  role: "worker" | "manager";
  labels: NodeLabel[];
  /** Availability drain: Swarm moves its tasks elsewhere; it stays in the swarm (and counts for the quorum). */
  drain: boolean;
}

/** A node as the schema parses it: its user defaults from the main host when loaded. */
export type ParsedNode = Omit<NodeConfig, "user"> & { user?: string };

/** The main host as the checks see it. */
export interface MainHostView {
  /** ssh address and port; undefined for a local host. */
  address?: string;
  port?: number;
  /** The ssh user (nodes default to it), undefined for a local host. */
  user?: string;
  labels: NodeLabel[];
}

/** Each node with its user filled in: the main host's when it is reached over SSH, else root. */
export function resolveNodes(nodes: Record<string, ParsedNode>, host: MainHostView): Record<string, NodeConfig> {
  return Object.fromEntries(Object.entries(nodes).map(([name, n]) => [name, { ...n, user: n.user ?? host.user ?? "root" }]));
}

export interface NodeCheckInput {
  host?: MainHostView;
  /** Every name under railyard:nodes, parsed or not. */
  nodeNames: string[];
  /** The nodes that parsed (checks that need every node run only when all did). */
  nodes: Record<string, ParsedNode>;
  /** Each parsed database's node (and the node it moves from). */
  databases: Record<string, { node: string; moveFrom?: string }>;
  /** Whether the stack has an edge (a service with a domain). */
  edge: boolean;
  /** Whether the stack declares services. */
  services: boolean;
  hasPrivateKey: boolean;
}

/** The problems that span railyard:nodes, railyard:host.labels and the databases' `node`. */
export function nodeProblems(s: NodeCheckInput): ConfigProblem[] {
  if (s.host === undefined) return [];
  const nodes = s.nodes;
  const host = s.host;
  const names = Object.keys(nodes);
  const allParsed = names.length === s.nodeNames.length;
  const out: ConfigProblem[] = [];
  const managers = 1 + names.filter((n) => nodes[n].role === "manager").length;
  if (allParsed && (managers % 2 === 0 || managers > MAX_MANAGERS)) {
    out.push({
      path: ["nodes"],
      expected: `an odd number of managers, at most ${MAX_MANAGERS} (Raft quorum; the main host is one, each role: manager node another)`,
      got: `${managers}`,
    });
  }
  const seen = new Map<string, string>();
  if (host.address !== undefined) seen.set(`${host.address.toLowerCase()}:${host.port ?? 22}`, "the main host (railyard:host)");
  for (const name of names) {
    const key = `${nodes[name].address.toLowerCase()}:${nodes[name].port}`;
    const other = seen.get(key);
    if (other !== undefined) {
      out.push({ path: ["nodes", name, "address"], expected: "an address and port no other node uses", got: `${describe(key)}, also ${other}` });
    } else seen.set(key, `node ${name}`);
  }
  if (s.nodeNames.length > 0 && !s.hasPrivateKey && host.address === undefined) {
    out.push({
      path: ["sshPrivateKey"],
      expected: "an SSH private key for railyard:nodes (cat ~/.ssh/id_ed25519 | pulumi config set --secret railyard:sshPrivateKey)",
      got: "nothing",
    });
  }
  const labelsOf = (node: string): NodeLabel[] | undefined => (node === MAIN_NODE ? host.labels : nodes[node]?.labels);
  const drained = (node: string) => node !== MAIN_NODE && nodes[node]?.drain === true;
  for (const [db, { node, moveFrom }] of Object.entries(s.databases)) {
    if (moveFrom === node) out.push({ path: ["databases", db, "moveFrom"], expected: `the node the data is on now, other than node (${node})`, got: describe(moveFrom) });
    const labels = labelsOf(node);
    const known = [MAIN_NODE, ...s.nodeNames].join(", ");
    if (node !== MAIN_NODE && s.nodeNames.includes(node) && labels === undefined) continue;
    if (labels === undefined) out.push({ path: ["databases", db, "node"], expected: `a node of the stack (${known})`, got: describe(node) });
    else if (!labels.includes("data")) {
      out.push({ path: ["databases", db, "node"], expected: `a node labelled data (its labels: ${labels.join(", ")})`, got: describe(node) });
    } else if (drained(node)) {
      out.push({ path: ["databases", db, "node"], expected: "a node that is not drained (drain: true moves every task off it)", got: describe(node) });
    }
  }
  const needs: [NodeLabel, boolean, string][] = [
    ["edge", s.edge, "the edge (a service has a domain)"],
    ["app", s.services, "the services"],
  ];
  for (const [label, needed, what] of needs) {
    if (!needed || !allParsed) continue;
    const carriers = [MAIN_NODE, ...names].filter((n) => !drained(n) && labelsOf(n)?.includes(label));
    if (carriers.length > 0) continue;
    out.push(
      names.length === 0
        ? { path: ["host", "labels"], expected: `the label ${label} for ${what}`, got: host.labels.join(", ") }
        : { path: ["nodes"], expected: `at least one node that is not drained labelled ${label} (host.labels or a node's labels) for ${what}`, got: "none" },
    );
  }
  return out;
}
