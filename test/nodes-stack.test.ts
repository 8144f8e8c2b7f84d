/**
 * What index.ts declares for a stack with railyard:nodes, under Pulumi mocks: a Node per entry, each placed
 * resource waiting for the nodes' labels, placement by railyard's labels (databases on their node, services and the
 * edge on app and edge nodes) with the registry's platforms ignored, and a database's node checked before its
 * update. The same stack without nodes declares none of it (its next `pulumi up` stays empty).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Captured, ConfigMap, runStack, stackFile, StackRun, testSecrets } from "./harness";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJhaWx5YXJkLXdvcmtlci1ob3N0LWtleS1leGFtcGxl";

function staging(nodes: boolean): ConfigMap {
  const plain = structuredClone(stackFile("staging"));
  if (nodes) {
    (plain["railyard:host"] as Record<string, unknown>).labels = ["data", "edge"];
    plain["railyard:nodes"] = {
      "worker-1": { address: "203.0.113.11", hostKey: KEY },
      "db-1": { address: "203.0.113.12", hostKey: KEY, labels: ["data"] },
    };
    const dbs = plain["railyard:databases"] as Record<string, Record<string, unknown>>;
    dbs.redis.node = "db-1";
    dbs.redis.moveFrom = "host";
  }
  return plain;
}

const services = (run: StackRun) => run.resources.filter((r) => r.type === "docker:index/service:Service");
const byName = (run: StackRun, name: string): Captured => {
  const found = run.resources.find((r) => r.name === name);
  if (!found) throw new Error(`no resource ${name}: ${run.resources.map((r) => r.name).join(", ")}`);
  return found;
};
const constraints = (r: Captured) => ((r.inputs.taskSpec as { placement?: { constraints?: string[] } }).placement?.constraints ?? null);

describe("a stack with nodes (staging with a worker and a data node)", () => {
  let run: StackRun;
  let single: StackRun;
  beforeAll(async () => {
    run = await runStack("staging", staging(true), testSecrets("staging"));
    single = await runStack("staging", staging(false), testSecrets("staging"));
  });

  it("places every service by railyard's node labels, platforms ignored", () => {
    const placed = Object.fromEntries(services(run).map((s) => [s.name, constraints(s)]));
    expect(placed).toEqual({
      postgres: ["node.labels.railyard.node==host"],
      redis: ["node.labels.railyard.node==db-1"],
      api: ["node.labels.railyard.app==true"],
      frontend: ["node.labels.railyard.app==true"],
      worker: ["node.labels.railyard.app==true"],
      beat: ["node.labels.railyard.app==true"],
      edge: ["node.labels.railyard.edge==true"],
      "edge-front": ["node.labels.railyard.edge==true"],
    });
    for (const s of services(run)) expect(s.ignoreChanges, s.name).toContain("taskSpec.placement.platforms");
  });

  it("runs migration jobs on the main host, where railyard-migrate.sh can stop and remove them", () => {
    const migrate = String(byName(run, "api-migrate").inputs.create);
    expect(migrate).toContain(" --constraint node.labels.railyard.node==host -- ");
    expect(String(byName(single, "api-migrate").inputs.create)).not.toContain("--constraint");
  });

  it("joins each node, and every placed service waits for both nodes' labels", () => {
    const nodes = run.resources.filter((r) => r.type === "railyard:index:Node").map((r) => r.name);
    expect(nodes.sort()).toEqual(["node-db-1", "node-worker-1"]);
    for (const s of services(run)) {
      // A component's dependency reaches its children through their own dependsOn.
      expect(s.dependsOn, s.name).toEqual(expect.arrayContaining(["node-worker-1-labels", "node-db-1-labels"]));
    }
  });

  it("checks a database's node before its update, naming moveFrom during a move", () => {
    const check = byName(run, "redis-node-check");
    expect(check.inputs.create).toBe(
      "timeout 60 bash /srv/railyard/staging/scripts/railyard-nodes.sh database-node --service staging-redis --node db-1 --move-from host",
    );
    expect(byName(run, "postgres-node-check").inputs.create).toBe(
      "timeout 60 bash /srv/railyard/staging/scripts/railyard-nodes.sh database-node --service staging-postgres --node host",
    );
    expect(services(run).find((r) => r.name === "redis")?.dependsOn).toContain("redis-node-check");
  });

  it("declares nothing of it without nodes: no placement, no ignore, no node resources", () => {
    for (const s of services(single)) {
      expect(constraints(s), s.name).toBeNull();
      expect(s.ignoreChanges ?? [], s.name).not.toContain("taskSpec.placement.platforms");
    }
    expect(single.resources.filter((r) => /^node-|-node-check$/.test(r.name))).toEqual([]);
    // The same services with the same inputs apart from placement (redis's node aside, nothing else differs).
    const withoutPlacement = (r: Captured) => {
      const { placement: _placement, ...taskSpec } = r.inputs.taskSpec as Record<string, unknown>;
      return { name: r.name, inputs: { ...r.inputs, taskSpec } };
    };
    expect(services(run).map(withoutPlacement)).toEqual(services(single).map(withoutPlacement));
  });
});
