/**
 * The Node component and its command builders. Builders by exact string; the component under Pulumi mocks with a
 * Host: which commands run where (main host or node), in which order (dependsOn), what each undoes on removal, and
 * that the join token is a secret everywhere it goes (the token command's stdout, the join's stdin) and in no
 * command line.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeSettings from "@pulumi/pulumi/runtime/settings";
import { describe, expect, it } from "vitest";
import {
  applyNodeCommand,
  databaseNodeCommand,
  forgetNodeCommand,
  joinCommand,
  joinTokenCommand,
  leaveCommand,
  managerAddressCommand,
  managerEndpoint,
  retireNodeCommand,
} from "../commands/nodes";
import { bootstrapArgs } from "../commands/bootstrap";
import type { NodeConfig } from "../config/nodes";
import { Host, HOST_SCRIPTS, NODE_SCRIPTS } from "../components/host";
import { Node } from "../components/node";
import { isSecretValue, reveal } from "./harness";

const TOKEN = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx";
const NODE_ID = "7n0drs5ah7yq4hx1b2ghu3q5v";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJhaWx5YXJkLXdvcmtlci1ob3N0LWtleS1leGFtcGxl";
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAtest\n-----END OPENSSH PRIVATE KEY-----\n";

describe("node command builders", () => {
  it("look up the manager's address and the worker token on the main host", () => {
    expect(managerAddressCommand(30)).toBe("timeout 30 docker info --format '{{.Swarm.NodeAddr}}'");
    expect(joinTokenCommand(30)).toBe("timeout 30 docker swarm join-token -q worker");
  });

  it("join and leave on the node, fed on stdin, the token nowhere in the line", () => {
    expect(joinCommand({ name: "worker-1", manager: "10.0.0.10" }, 300)).toBe("timeout 300 bash -s -- join --name worker-1 --manager 10.0.0.10:2377");
    expect(joinCommand({ name: "w", manager: "2001:db8::10", advertiseAddress: "2001:db8::11" }, 300)).toBe(
      "timeout 300 bash -s -- join --name w --manager '[2001:db8::10]:2377' --advertise-addr 2001:db8::11",
    );
    expect(leaveCommand("worker-1", 300)).toBe("timeout 300 bash -s -- leave --name worker-1");
    expect(managerEndpoint("203.0.113.10", 2400)).toBe("203.0.113.10:2400");
  });

  it("apply, retire and forget on the main host, each stopped a minute after its own wait", () => {
    const script = "/srv/railyard/ryt/scripts/railyard-nodes.sh";
    expect(applyNodeCommand(script, { name: "worker-1", id: NODE_ID, labels: ["app", "edge"], role: "manager", drain: false }, 600)).toBe(
      `timeout 660 bash ${script} apply --name worker-1 --id ${NODE_ID} --labels app,edge --role manager --availability active --timeout 600`,
    );
    expect(applyNodeCommand(script, { name: "w", id: NODE_ID, labels: ["data"], role: "worker", drain: true }, 30)).toBe(
      `timeout 90 bash ${script} apply --name w --id ${NODE_ID} --labels data --role worker --availability drain --timeout 30`,
    );
    expect(retireNodeCommand(script, "w", NODE_ID, 600)).toBe(`timeout 660 bash ${script} retire --name w --id ${NODE_ID} --timeout 600`);
    expect(forgetNodeCommand(script, "w", 120)).toBe(`timeout 180 bash ${script} forget --name w --timeout 120`);
    expect(databaseNodeCommand(script, { service: "ryt-postgres", node: "db-1" }, 30)).toBe(`timeout 30 bash ${script} database-node --service ryt-postgres --node db-1`);
    expect(databaseNodeCommand(script, { service: "ryt-postgres", node: "db-1", moveFrom: "host" }, 30)).toBe(
      `timeout 30 bash ${script} database-node --service ryt-postgres --node db-1 --move-from host`,
    );
  });

  it("the bootstrap takes the main host's labels, --multi-node and --encrypted only when asked", () => {
    const base = { stack: "ryt", network: "ryt-net", dataDir: "/srv/railyard" };
    expect(bootstrapArgs(base)).toEqual(["--stack", "ryt", "--network", "ryt-net", "--data-dir", "/srv/railyard"]);
    expect(bootstrapArgs({ ...base, labels: ["data", "edge"], multiNode: true, encryptNetwork: true })).toEqual([
      "--stack", "ryt", "--network", "ryt-net", "--data-dir", "/srv/railyard", "--node-labels", "data,edge", "--multi-node", "--encrypted",
    ]);
  });

  it("railyard-nodes.sh is uploaded only to a stack with nodes (a single-node stack's next up stays empty)", () => {
    expect(HOST_SCRIPTS).not.toContain("railyard-nodes.sh");
    expect(NODE_SCRIPTS).toEqual(["railyard-nodes.sh"]);
  });
});

interface Child {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  parent?: string;
  dependsOn: string[];
  additionalSecretOutputs?: string[];
  registered: boolean;
}

const worker: NodeConfig = { address: "203.0.113.11", port: 2222, user: "deploy", hostKey: KEY, role: "worker", labels: ["app", "edge"], drain: false };

/** A Host and one Node under mocks; what they register. */
async function build(config: NodeConfig, mode: "ssh" | "local" = "ssh"): Promise<Child[]> {
  const resources: Child[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        const found = resources.find((r) => r.type === a.type && r.name === a.name);
        if (found) Object.assign(found, { inputs: a.inputs, registered: true });
        const stdout = a.name.endsWith("-token") ? `${TOKEN}\n` : a.name.endsWith("-manager") ? "10.0.0.10\n" : a.name.endsWith("-join") ? `${NODE_ID}\n` : "";
        return { id: `${a.name}-id`, state: { ...a.inputs, stdout, stderr: "" } };
      },
      call: (a) => (a.token === "docker:index/getNetwork:getNetwork" ? { ...a.inputs, id: "net-id" } : a.inputs),
    },
    "railyard",
    "test",
    false,
  );
  const names = new Map<pulumi.Resource, string>();
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => {
      names.set(t.resource, t.name);
      const opts = t.opts as pulumi.CustomResourceOptions;
      const entry: Child = {
        type: t.type,
        name: t.name,
        inputs: {},
        parent: t.opts.parent ? names.get(t.opts.parent) : undefined,
        dependsOn: [],
        additionalSecretOutputs: opts.additionalSecretOutputs,
        registered: t.type.startsWith("railyard:index:"),
      };
      resources.push(entry);
      const deps = Array.isArray(opts.dependsOn) ? (opts.dependsOn as pulumi.Resource[]) : [];
      queueMicrotask(() => (entry.dependsOn = deps.map((d) => names.get(d) ?? "?")));
      return undefined;
    });
    const target =
      mode === "ssh"
        ? { mode: "ssh" as const, address: "203.0.113.10", port: 22, user: "deploy", hostKey: KEY, dataDir: "/srv/railyard" }
        : { mode: "local" as const, dataDir: "/srv/railyard" };
    const host = new Host("host", { stack: "ryt", target, privateKey: PRIVATE_KEY, network: "ryt-net", multiNode: true });
    new Node("node-worker-1", { name: "worker-1", config, host, privateKey: PRIVATE_KEY });
    return {};
  });
  for (let i = 0; i < 500 && resources.some((r) => !r.registered); i++) await new Promise((r) => setTimeout(r, 10));
  const missing = resources.filter((r) => !r.registered).map((r) => `${r.type}:${r.name}`);
  if (missing.length > 0) throw new Error(`registrations never reached the mock monitor: ${missing.join(", ")}`);
  await (runtimeSettings as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs();
  return resources;
}

const child = (rs: Child[], name: string) => {
  const found = rs.find((r) => r.name === name);
  if (!found) throw new Error(`no ${name} among ${rs.map((r) => r.name).join(", ")}`);
  return found;
};

describe("the Node component", () => {
  it("registers the manager lookup, the token, the join and the labels, in that order, under the component", async () => {
    const rs = await build(worker);
    const mine = rs.filter((r) => r.parent === "node-worker-1").map((r) => `${r.type} ${r.name}`);
    expect(mine).toEqual([
      "command:remote:Command node-worker-1-manager",
      "command:remote:Command node-worker-1-token",
      "command:remote:Command node-worker-1-join",
      "command:remote:Command node-worker-1-labels",
    ]);
    expect(child(rs, "node-worker-1-token").dependsOn).toEqual(["host-bootstrap"]);
    expect(child(rs, "node-worker-1-join").dependsOn).toEqual(["host-bootstrap"]);
    expect(child(rs, "node-worker-1-labels").dependsOn).toContain("node-worker-1-join");
    expect(child(rs, "node-worker-1-labels").dependsOn).toContain("host-script-railyard-nodes");
    expect(child(rs, "node-worker-1-manager").dependsOn).toContain("host-script-railyard-nodes");
  });

  it("the join runs ON the node over SSH with its pinned key, fed the scripts and the token on stdin", async () => {
    const rs = await build(worker);
    const join = child(rs, "node-worker-1-join");
    const connection = reveal(join.inputs.connection) as Record<string, unknown>;
    expect(connection).toMatchObject({ host: "203.0.113.11", port: 2222, user: "deploy", hostKey: KEY, privateKey: PRIVATE_KEY });
    expect(join.inputs.create).toBe("timeout 300 bash -s -- join --name worker-1 --manager 10.0.0.10:2377");
    expect(join.inputs.delete).toBe("timeout 300 bash -s -- leave --name worker-1");
    // No replacement on a new address: a replacement's leave would run after the new join, maybe on the same machine.
    expect(join.inputs.triggers).toEqual([]);
    expect(isSecretValue(join.inputs.stdin)).toBe(true);
    const stdin = String(reveal(join.inputs.stdin));
    expect(stdin.startsWith("# shellcheck shell=bash\n# railyard-lib:")).toBe(true);
    expect(stdin).toContain("RAILYARD_SCRIPT=railyard-node\n");
    expect(stdin.endsWith(`fi\n${TOKEN}\n\n`)).toBe(true);
  });

  it("keeps the token secret: the token command's stdout is a secret output and not logged; no command line holds it", async () => {
    const rs = await build(worker);
    const token = child(rs, "node-worker-1-token");
    expect(token.inputs.create).toBe("timeout 30 docker swarm join-token -q worker");
    expect(token.additionalSecretOutputs).toContain("stdout");
    expect(child(rs, "node-worker-1-manager").additionalSecretOutputs ?? []).not.toContain("stdout");
    expect(token.inputs.logging).toBe("stderr");
    for (const r of rs) {
      for (const key of ["create", "delete", "triggers"]) expect(JSON.stringify(reveal(r.inputs[key]) ?? ""), `${r.name}.${key}`).not.toContain("SWMTKN");
    }
  });

  it("labels from the main host, and undoes each step on removal: retire (drain, demote), leave, forget", async () => {
    const rs = await build({ ...worker, role: "manager", drain: true });
    const script = "/srv/railyard/ryt/scripts/railyard-nodes.sh";
    const labels = child(rs, "node-worker-1-labels");
    expect(labels.inputs.create).toBe(
      `timeout 660 bash ${script} apply --name worker-1 --id ${NODE_ID} --labels app,edge --role manager --availability drain --timeout 600`,
    );
    expect(labels.inputs.delete).toBe(`timeout 660 bash ${script} retire --name worker-1 --id ${NODE_ID} --timeout 600`);
    expect((reveal(labels.inputs.connection) as Record<string, unknown>).host).toBe("203.0.113.10");
    const manager = child(rs, "node-worker-1-manager");
    expect(manager.inputs.create).toBe("timeout 30 docker info --format '{{.Swarm.NodeAddr}}'");
    expect(manager.inputs.delete).toBe(`timeout 180 bash ${script} forget --name worker-1 --timeout 120`);
  });

  it("with a local main host, the manager side runs locally from the checkout and the join still goes over SSH", async () => {
    const rs = await build(worker, "local");
    expect(child(rs, "node-worker-1-token").type).toBe("command:local:Command");
    expect(child(rs, "node-worker-1-labels").type).toBe("command:local:Command");
    expect(String(child(rs, "node-worker-1-labels").inputs.create)).toMatch(/ bash \/\S+\/host\/railyard-nodes\.sh apply /);
    expect(child(rs, "node-worker-1-join").type).toBe("command:remote:Command");
    expect(String(child(rs, "host-bootstrap").inputs.create)).toContain(" --multi-node");
  });
});
