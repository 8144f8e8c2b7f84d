/**
 * The dev stack across three real engines (test/engine/nodes: engines in containers on a network of their own):
 * the main host (data + edge, its own engine as DOCKER_HOST) and two app workers joined by railyard's Node
 * component over real SSH with pinned host keys. Every service converges where its labels say, the gates pass,
 * a second apply changes nothing; under constant load through the edge an app node's abrupt loss is survived
 * (failed requests counted, tasks rescheduled), draining an app node loses no request, and a node removed from the
 * config is drained and leaves the swarm. A database moved to a worker (data label, `node`, `moveFrom`) runs there,
 * the main host's railyard-backup.sh dumps it through its one-off Swarm job, and moving it back without `moveFrom`
 * is refused before it is touched.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ApplyResult, CommandFailed, tasks } from "./apply";
import { EDGE_HTTP_PORT } from "./probe";
import { Bed, hostDocker, nodeDocker, startBed, stopBed } from "./nodes/bed";
import { loadThrough } from "./nodes/load";
import { applyOnBed, placement, spreadAgain, stackImages, swarmNodes, waitNodeState, waitPlacement, Worker, workersOf } from "./nodes/stack";

const PREFIX = "rynd";
const API = `${PREFIX}-api`;
const images = inject("images");

describe("the dev stack on three real engines (main: data + edge; two app workers joined over SSH)", () => {
  let bed: Bed;
  let workers: Worker[];
  let first: ApplyResult;

  beforeAll(async () => {
    bed = await startBed(PREFIX, 3, stackImages(images), [EDGE_HTTP_PORT]);
    console.log(`nodes bed: 3 engines up in ${bed.seconds.total} s (node image ${bed.seconds.image} s, engines ${bed.seconds.engines} s, images loaded ${bed.seconds.images} s)`);
    workers = workersOf(bed);
    const began = Date.now();
    first = await applyOnBed(PREFIX, bed, images, workers);
    console.log(`nodes bed: first apply across 3 nodes in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  }, 600_000);

  afterAll(() => {
    delete process.env.DOCKER_HOST;
    stopBed(PREFIX);
  });

  it("joins the workers over SSH into the main host's swarm, each labelled by railyard", async () => {
    for (const w of workers) expect([first.outcome[`node-${w.name}-join`], first.outcome[`node-${w.name}-labels`]], w.name).toEqual(["ok", "ok"]);
    const nodes = await swarmNodes();
    expect(nodes.map((n) => [n.name, n.hostname, n.state, n.role]).sort()).toEqual([
      ["app-1", bed.nodes[1].container, "ready", "worker"],
      ["app-2", bed.nodes[2].container, "ready", "worker"],
      ["host", bed.nodes[0].container, "ready", "manager"],
    ]);
    const main = nodes.find((n) => n.name === "host");
    expect(main?.labels).toMatchObject({ "railyard.data": "true", "railyard.edge": "true" });
    expect(main?.labels["railyard.app"]).toBeUndefined();
    for (const n of nodes.filter((x) => x.name.startsWith("app-"))) {
      expect(n.labels).toMatchObject({ "railyard.app": "true" });
      expect(n.labels["railyard.data"]).toBeUndefined();
    }
  });

  it("every service converges and every gate passes (the gate probes api tasks on the workers over the overlay)", async () => {
    for (const [name, outcome] of Object.entries(first.outcome)) expect(outcome, name).toMatch(/^(converged|applied|ok)$/);
    for (const name of ["api", "frontend", "worker", "beat"]) expect(first.outcome[`${name}-gate`], name).toBe("ok");
    expect(first.outcome["api-migrate"]).toBe("ok");
  });

  it("places the databases and the edge on the main (data, edge) node, the api's two replicas one on each app node", async () => {
    for (const s of ["postgres", "redis", "edge", "edge-front"]) expect(await placement(first.services[s]), s).toEqual({ host: 1 });
    expect(await placement(API)).toEqual({ "app-1": 1, "app-2": 1 });
    for (const s of ["frontend", "worker", "beat"]) {
      const where = Object.keys(await placement(first.services[s]));
      expect(where.length, s).toBe(1);
      expect(where[0], s).toMatch(/^app-[12]$/);
    }
    // The app on a worker reaches Postgres and Redis on the main node over the overlay network.
    const appNode = bed.nodes[1];
    const id = nodeDocker(appNode, "ps", "-q", "--filter", `label=com.docker.swarm.service.name=${API}`).trim().split("\n")[0];
    const answer = JSON.parse(nodeDocker(appNode, "exec", id, "curl", "-fsS", "http://127.0.0.1:8000/health")) as Record<string, string>;
    expect(answer).toMatchObject({ status: "ok", database: "ok", redis: "ok" });
  });

  it("a second apply changes nothing: no command runs again, no task is replaced", async () => {
    const services = Object.values(first.services);
    const before = Object.fromEntries(await Promise.all(services.map(async (s) => [s, (await tasks(s)).map((t) => t.ID).sort()])));
    const again = await applyOnBed(PREFIX, bed, images, workers);
    // The release record's commands run on every apply fed no previous `release` output (dev-stack.test.ts feeds it).
    for (const [name, outcome] of Object.entries(again.outcome)) {
      if (!name.startsWith("release-")) expect(outcome, `${name}: ${JSON.stringify(again.plans[name])}`).toMatch(/^(unchanged|applied)$/);
    }
    for (const name of Object.keys(first.services)) expect(again.actions[name], name).toBe("none");
    for (const s of services) expect((await tasks(s)).map((t) => t.ID).sort(), s).toEqual(before[s]);
  });

  it("draining an app node (drain: true) under load through the edge loses no request; its tasks move to the other", async () => {
    const drained = workers.map((w) => (w.name === "app-1" ? { ...w, drain: true } : w));
    let result: ApplyResult | undefined;
    const step = applyOnBed(PREFIX, bed, images, drained).then((r) => {
      result = r;
    });
    const load = await loadThrough(bed.nodes[0].ip, "api.localhost", step, 1_000);
    console.log(`nodes bed: app-1 drained under load: ${load.failed} of ${load.sent} requests failed (p50 ${load.p50} ms, p99 ${load.p99} ms)`);
    expect(load.failures).toEqual([]);
    expect(load.sent).toBeGreaterThanOrEqual(1_000);
    expect(result?.outcome["node-app-1-labels"]).toBe("ok");
    expect((await swarmNodes()).find((n) => n.name === "app-1")?.availability).toBe("drain");
    // The drain waited until nothing ran on app-1; the replacements start on app-2.
    expect(await waitPlacement(API, 2, ["app-1"])).toEqual({ "app-2": 2 });
    for (const s of ["frontend", "worker", "beat"]) expect(await waitPlacement(first.services[s], 1, ["app-1"]), s).toEqual({ "app-2": 1 });
    // drain: false again makes it active; Swarm moves nothing back by itself.
    const back = await applyOnBed(PREFIX, bed, images, workers);
    expect(back.outcome["node-app-1-labels"]).toBe("ok");
    expect((await swarmNodes()).find((n) => n.name === "app-1")?.availability).toBe("active");
    expect(await placement(API)).toEqual({ "app-2": 2 });
  });

  it("an app node's engine stopped abruptly under load: its tasks are rescheduled on the other; failed requests are counted", async () => {
    spreadAgain(API);
    expect(await placement(API)).toEqual({ "app-1": 1, "app-2": 1 });
    const lost = bed.nodes[2];
    let recovered = 0;
    const began = Date.now();
    const step = (async () => {
      hostDocker("kill", lost.container);
      await waitNodeState("app-2", "down");
      await waitPlacement(API, 2, ["app-2"]);
      recovered = (Date.now() - began) / 1000;
    })();
    const load = await loadThrough(bed.nodes[0].ip, "api.localhost", step, 500);
    console.log(`nodes bed: app-2's engine killed: down after the heartbeat, api back to 2 tasks in ${recovered.toFixed(1)} s; ${load.failed} of ${load.sent} requests failed (${load.failures.slice(0, 3).join("; ")})`);
    expect(await placement(API)).toEqual({ "app-1": 2 });
    expect(load.sent).toBeGreaterThanOrEqual(500);
    // The node comes back (same address, same engine state) and is ready again.
    hostDocker("start", lost.container);
    await waitNodeState("app-2", "ready");
  });

  it("removing a node from the config drains it, it leaves the swarm and is removed from the node list", async () => {
    const kept = workers.filter((w) => w.name !== "app-1");
    const result = await applyOnBed(PREFIX, bed, images, kept);
    await waitPlacement(API, 2, ["app-1"]);
    expect([result.outcome["node-app-1-labels"], result.outcome["node-app-1-join"], result.outcome["node-app-1-manager"]]).toEqual(["deleted", "deleted", "deleted"]);
    expect((await swarmNodes()).map((n) => n.name).sort()).toEqual(["app-2", "host"]);
    expect(nodeDocker(bed.nodes[1], "info", "--format", "{{.Swarm.LocalNodeState}}").trim()).toBe("inactive");
    expect(await placement(API)).toEqual({ "app-2": 2 });
  });

  it("a database on a worker (data label, node, moveFrom): it runs there, the app reaches it, the main host dumps it through a one-off job; back without moveFrom is refused (34)", async () => {
    const REDIS = `${PREFIX}-redis`;
    const app2 = bed.nodes[2];
    const dataWorker = workers.filter((w) => w.name === "app-2").map((w) => ({ ...w, labels: ["app", "data"] }));
    const moved = await applyOnBed(PREFIX, bed, images, dataWorker, { redis: { node: "app-2", moveFrom: "host" } });
    expect(moved.outcome["node-app-2-labels"]).toBe("ok");
    expect(moved.outcome["redis-node-check"]).toBe("ok");
    expect(moved.actions.redis).toBe("update");
    for (const name of ["api", "frontend", "worker", "beat"]) expect(moved.outcome[`${name}-gate`] ?? "unchanged", name).toMatch(/^(ok|unchanged)$/);
    expect((await swarmNodes()).find((n) => n.name === "app-2")?.labels).toMatchObject({ "railyard.app": "true", "railyard.data": "true" });
    expect(await waitPlacement(REDIS, 1, ["host"], 60_000)).toEqual({ "app-2": 1 });
    // The app (its tasks on app-2 too) reaches the moved Redis by its service name.
    const api = nodeDocker(app2, "ps", "-q", "--filter", `label=com.docker.swarm.service.name=${API}`).trim().split("\n")[0];
    const answer = JSON.parse(nodeDocker(app2, "exec", api, "curl", "-fsS", "http://127.0.0.1:8000/health")) as Record<string, string>;
    expect(answer).toMatchObject({ status: "ok", database: "ok", redis: "ok" });
    const redis = nodeDocker(app2, "ps", "-q", "--filter", `label=com.docker.swarm.service.name=${REDIS}`).trim();
    nodeDocker(app2, "exec", redis, "sh", "-c", `REDISCLI_AUTH="$(cat /run/secrets/railyard_db_password)" redis-cli -h 127.0.0.1 set railyard-moved kept`);

    // railyard-backup.sh on the main host (its own engine; the job's pipe folder is bind-mounted from that machine).
    const main = bed.nodes[0].container;
    hostDocker("exec", main, "rm", "-rf", "/tmp/ryh4");
    hostDocker("cp", "host", `${main}:/tmp/ryh4`);
    hostDocker("exec", main, "mkdir", "-p", "/tmp/ryh4-dumps");
    const began = Date.now();
    const file = hostDocker(
      "exec", main, "bash", "/tmp/ryh4/railyard-backup.sh",
      "--service", REDIS, "--engine", "redis", "--user", "default", "--database", "0", "--dir", "/tmp/ryh4-dumps",
    ).trim();
    console.log(`nodes bed: redis on app-2 dumped from the main host through a job in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    expect(file).toMatch(new RegExp(`^/tmp/ryh4-dumps/${REDIS}-\\d{8}T\\d{6}Z\\.rdb$`));
    const [magic, bytes, hits] = hostDocker("exec", main, "sh", "-c", `head -c 5 "$0"; echo; wc -c <"$0"; grep -c railyard-moved "$0"`, file).trim().split("\n");
    expect(magic).toBe("REDIS");
    expect(Number(bytes)).toBeGreaterThan(20);
    expect(Number(hits)).toBeGreaterThanOrEqual(1);
    // Nothing left: no job service, no container of one, no pipe folder, no partial file.
    expect(hostDocker("exec", main, "docker", "service", "ls", "-q", "--filter", "label=railyard.job").trim()).toBe("");
    expect(hostDocker("exec", main, "docker", "ps", "-a", "--format", "{{.Names}}")).not.toMatch(/-dump-/);
    expect(hostDocker("exec", main, "sh", "-c", "ls -a /tmp /tmp/ryh4-dumps")).not.toMatch(/railyard-dump\.|\.partial/);

    // Back to host without moveFrom: refused at its node check (34), before Redis is touched.
    const redisTasks = (await tasks(REDIS)).map((t) => t.ID).sort();
    const refused = await applyOnBed(PREFIX, bed, images, dataWorker, { redis: { node: "host" } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(CommandFailed);
    expect([(refused as CommandFailed).resource, (refused as CommandFailed).exitCode], (refused as Error).message).toEqual(["redis-node-check", 34]);
    expect(await placement(REDIS)).toEqual({ "app-2": 1 });
    expect((await tasks(REDIS)).map((t) => t.ID).sort()).toEqual(redisTasks);
  });
});
