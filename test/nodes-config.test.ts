/**
 * railyard:nodes, host.labels, databases.<db>.node and encryptNetwork: defaults, every problem reported at once
 * with its key path, nothing registered when one is wrong; the cross-key checks (quorum, addresses, a database's
 * node, somewhere for the edge and the services) also as a pure function.
 */
import { describe, expect, it } from "vitest";
import { MAIN_NODE, nodeProblems, ParsedNode, resolveNodes } from "../config/nodes";
import { formatProblem } from "../config/problems";
import { stackSchema } from "../config/schema";
import { ConfigMap, runStack, stackFile, StackRunError, testSecrets } from "./harness";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJhaWx5YXJkLXdvcmtlci1ob3N0LWtleS1leGFtcGxl";
const worker = (address: string, more: Record<string, unknown> = {}) => ({ address, hostKey: KEY, ...more });

function fresh(): { plain: ConfigMap; secret: ConfigMap } {
  return { plain: structuredClone(stackFile("staging")), secret: structuredClone(testSecrets("staging")) };
}
const host = (c: ConfigMap) => c["railyard:host"] as Record<string, unknown>;
const db = (c: ConfigMap, name: string) => (c["railyard:databases"] as Record<string, Record<string, unknown>>)[name];

async function problems(plain: ConfigMap, secret: ConfigMap): Promise<{ lines: string[]; registered: number }> {
  try {
    const run = await runStack("staging", plain, secret);
    throw new Error(`expected the program to fail, but it registered ${run.resources.length} resources`);
  } catch (e) {
    if (!(e instanceof StackRunError)) throw e;
    return { lines: e.message.split("\n").map((l) => l.trim()), registered: e.resources.length };
  }
}

describe("the schema's defaults", () => {
  it("a node takes port 22, role worker, labels [app], not drained; the main host all three labels", () => {
    const parsed = stackSchema.shape.nodes.parse({ "worker-1": worker("203.0.113.11") });
    expect(parsed).toEqual({ "worker-1": { address: "203.0.113.11", port: 22, hostKey: KEY, role: "worker", labels: ["app"], drain: false } });
    expect(stackSchema.shape.nodes.parse(undefined)).toEqual({});
    expect(stackSchema.shape.host.parse({ mode: "local" })).toMatchObject({ labels: ["data", "edge", "app"] });
    expect(stackSchema.shape.encryptNetwork.parse(undefined)).toBe(false);
    expect(stackSchema.shape.databases.parse({ pg: { engine: "postgres" } }).pg.node).toBe(MAIN_NODE);
  });

  it("a node's user is the main host's over SSH, else root; a given one is kept", () => {
    const nodes = stackSchema.shape.nodes.parse({ a: worker("203.0.113.11"), b: worker("203.0.113.12", { user: "ops" }) }) as Record<string, ParsedNode>;
    expect(resolveNodes(nodes, { user: "deploy", address: "203.0.113.10", port: 22, labels: ["data"] })).toMatchObject({ a: { user: "deploy" }, b: { user: "ops" } });
    expect(resolveNodes(nodes, { labels: ["data"] })).toMatchObject({ a: { user: "root" }, b: { user: "ops" } });
  });
});

describe("a stack file with nodes", () => {
  it("loads a valid three-node stack (registers resources)", async () => {
    const { plain, secret } = fresh();
    host(plain).labels = ["data", "edge"];
    plain["railyard:nodes"] = { "worker-1": worker("203.0.113.11"), "worker-2": worker("203.0.113.12", { labels: ["app", "edge"] }) };
    plain["railyard:encryptNetwork"] = true;
    const run = await runStack("staging", plain, secret);
    expect(run.resources.length).toBeGreaterThan(10);
  });

  const cases: [string, (c: ConfigMap) => void, string][] = [
    ["an even number of managers", (c) => (c["railyard:nodes"] = { m: worker("203.0.113.11", { role: "manager" }) }), "railyard:nodes: expected an odd number of managers, at most 7 (Raft quorum; the main host is one, each role: manager node another), got 2"],
    ["nine managers", (c) => (c["railyard:nodes"] = Object.fromEntries([...Array(8).keys()].map((i) => [`m${i}`, worker(`203.0.113.${20 + i}`, { role: "manager" })]))), "railyard:nodes: expected an odd number of managers, at most 7"],
    ["a node named host", (c) => (c["railyard:nodes"] = { host: worker("203.0.113.11") }), "railyard:nodes.host: expected a name other than host (the main host's)"],
    ["a node name with capitals", (c) => (c["railyard:nodes"] = { Worker: worker("203.0.113.11") }), "railyard:nodes.Worker: expected a lower-case name of letters, digits and dashes (at most 30)"],
    ["a node without a host key", (c) => (c["railyard:nodes"] = { w: { address: "203.0.113.11" } }), "railyard:nodes.w.hostKey: expected the host's public key"],
    ["a hostile node address", (c) => (c["railyard:nodes"] = { w: worker("203.0.113.11;reboot") }), "railyard:nodes.w.address: expected an IPv4/IPv6 address or a host name"],
    ["an unknown role", (c) => (c["railyard:nodes"] = { w: worker("203.0.113.11", { role: "leader" }) }), "railyard:nodes.w.role: expected worker or manager"],
    ["an unknown label", (c) => (c["railyard:nodes"] = { w: worker("203.0.113.11", { labels: ["gpu"] }) }), "railyard:nodes.w.labels[0]: expected a label: data, edge, app"],
    ["no labels", (c) => (c["railyard:nodes"] = { w: worker("203.0.113.11", { labels: [] }) }), "railyard:nodes.w.labels: expected at least one label (data, edge, app)"],
    ["a label twice", (c) => (host(c).labels = ["data", "data", "app", "edge"]), "railyard:host.labels: expected each label once"],
    ["an unknown key on a node", (c) => (c["railyard:nodes"] = { w: worker("203.0.113.11", { availability: "drain" }) }), "railyard:nodes.w.availability: expected a known key"],
    ["two nodes at one address", (c) => (c["railyard:nodes"] = { a: worker("203.0.113.11"), b: worker("203.0.113.11") }), 'railyard:nodes.b.address: expected an address and port no other node uses, got "203.0.113.11:22", also node a'],
    ["a node at the main host's address", (c) => (c["railyard:nodes"] = { a: worker("203.0.113.10") }), 'railyard:nodes.a.address: expected an address and port no other node uses, got "203.0.113.10:22", also the main host (railyard:host)'],
    ["a database on an unknown node", (c) => (db(c, "postgres").node = "db-1"), 'railyard:databases.postgres.node: expected a node of the stack (host), got "db-1"'],
    ["a database on a node without data", (c) => ((c["railyard:nodes"] = { w: worker("203.0.113.11") }), (db(c, "postgres").node = "w")), 'railyard:databases.postgres.node: expected a node labelled data (its labels: app), got "w"'],
    ["a database on the main host without data", (c) => ((host(c).labels = ["edge", "app"]), (c["railyard:nodes"] = { d: worker("203.0.113.11", { labels: ["data"] }) })), 'railyard:databases.postgres.node: expected a node labelled data (its labels: edge, app), got "host"'],
    ["a database on a drained node", (c) => ((c["railyard:nodes"] = { d: worker("203.0.113.11", { labels: ["data"], drain: true }) }), (db(c, "postgres").node = "d")), 'railyard:databases.postgres.node: expected a node that is not drained'],
    ["no node for the edge", (c) => ((host(c).labels = ["data", "app"]), (c["railyard:nodes"] = { w: worker("203.0.113.11", { labels: ["edge", "app"], drain: true }) })), "railyard:nodes: expected at least one node that is not drained labelled edge (host.labels or a node's labels) for the edge (a service has a domain), got none"],
    ["no node for the services", (c) => ((host(c).labels = ["data", "edge"]), (c["railyard:nodes"] = { w: worker("203.0.113.11", { labels: ["data"] }) })), "railyard:nodes: expected at least one node that is not drained labelled app"],
    ["a single host without app", (c) => (host(c).labels = ["data", "edge"]), "railyard:host.labels: expected the label app for the services, got data, edge"],
    ["encryptNetwork as text", (c) => (c["railyard:encryptNetwork"] = "yes"), "railyard:encryptNetwork: expected true or false"],
    ["moveFrom the same node", (c) => (db(c, "postgres").moveFrom = "host"), 'railyard:databases.postgres.moveFrom: expected the node the data is on now, other than node (host), got "host"'],
    ["moveFrom not a name", (c) => (db(c, "postgres").moveFrom = "Host"), "railyard:databases.postgres.moveFrom: expected host or a node name"],
    ["a database node with a dot", (c) => (db(c, "postgres").node = "db.1"), "railyard:databases.postgres.node: expected host or a name under railyard:nodes"],
  ];
  it.each(cases)("%s: named with its key, nothing registered", async (_, mutate, start) => {
    const { plain, secret } = fresh();
    mutate(plain);
    const { lines, registered } = await problems(plain, secret);
    const line = lines.find((l) => l.startsWith(start));
    expect(line, `no line starting with ${start} in:\n${lines.join("\n")}`).toBeDefined();
    expect(line).toMatch(/^railyard:[^:]+: expected .+, got .+$/s);
    expect(registered).toBe(0);
  });

  it("reports every node problem at once, with the rest of the stack file's", async () => {
    const { plain, secret } = fresh();
    plain["railyard:nodes"] = { a: worker("203.0.113.11", { role: "manager", labels: ["gpu"] }), b: worker("203.0.113.11", { port: 0 }) };
    db(plain, "redis").node = "nowhere";
    (plain["railyard:services"] as Record<string, Record<string, unknown>>).api.port = 70000;
    const { lines } = await problems(plain, secret);
    for (const start of ["railyard:nodes.a.labels[0]:", "railyard:nodes.b.port:", "railyard:databases.redis.node:", "railyard:services.api.port:"]) {
      expect(lines.some((l) => l.startsWith(start)), `${start} in:\n${lines.join("\n")}`).toBe(true);
    }
  });
});

describe("nodeProblems", () => {
  const n = (more: Partial<ParsedNode> = {}): ParsedNode => ({ address: "203.0.113.11", port: 22, hostKey: KEY, role: "worker", labels: ["app"], drain: false, ...more });
  const base = { databases: {}, edge: false, services: false, hasPrivateKey: true };
  type Input = Omit<Parameters<typeof nodeProblems>[0], "nodeNames"> & { nodeNames?: string[] };
  const lines = (input: Input) => nodeProblems({ nodeNames: Object.keys(input.nodes), ...input }).map(formatProblem);

  it("counts the main host and every manager, drained ones too", () => {
    const host = { labels: ["data" as const, "edge" as const, "app" as const] };
    expect(lines({ ...base, host, nodes: { a: n({ role: "manager" }), b: n({ role: "manager", address: "203.0.113.12", drain: true }) } })).toEqual([]);
    expect(lines({ ...base, host, nodes: { a: n({ role: "manager", drain: true }) } })).toEqual([
      "railyard:nodes: expected an odd number of managers, at most 7 (Raft quorum; the main host is one, each role: manager node another), got 2",
    ]);
  });

  it("the same address on another port is another node", () => {
    const host = { labels: ["data" as const, "app" as const], address: "203.0.113.11", port: 22 };
    expect(lines({ ...base, host, nodes: { a: n({ port: 2222 }) } })).toEqual([]);
    expect(lines({ ...base, host, nodes: { a: n({ address: "203.0.113.11".toUpperCase() }) } })).toHaveLength(1);
  });

  it("a local main host with nodes needs the private key the nodes are reached with", () => {
    expect(lines({ ...base, hasPrivateKey: false, host: { labels: ["data"] }, nodes: { a: n() } })).toEqual([
      "railyard:sshPrivateKey: expected an SSH private key for railyard:nodes (cat ~/.ssh/id_ed25519 | pulumi config set --secret railyard:sshPrivateKey), got nothing",
    ]);
    expect(lines({ ...base, hasPrivateKey: false, host: { labels: ["data"] }, nodes: {} })).toEqual([]);
  });

  it("a node whose entry did not parse is still a known name; the quorum and carriers are not judged without it", () => {
    const host = { labels: ["data" as const] };
    expect(lines({ ...base, host, nodeNames: ["a", "b"], nodes: { a: n({ role: "manager" }) }, databases: { pg: { node: "b" } }, services: true })).toEqual([]);
    expect(lines({ ...base, host, nodeNames: ["a", "b"], nodes: {}, databases: { pg: { node: "c" } } })).toEqual([
      'railyard:databases.pg.node: expected a node of the stack (host, a, b), got "c"',
    ]);
  });
});
