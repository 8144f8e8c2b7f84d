/**
 * Nodes benchmark: the dev stack on three real engines (test/engine/nodes: main host data + edge, two app workers
 * joined over SSH) under constant load through the edge (the front's port on the main node's address), while
 * (a) an app node is drained (railyard:nodes.<n>.drain: true, applied as `pulumi up` applies it) and (b) an app
 * node's engine is killed abruptly (its container SIGKILLed) until Swarm has rescheduled the api's tasks.
 * Baseline in the same run: the same stack and the same load on ONE node (a bed of its own): steady, and the loss
 * of that node (killed, started again, until the api answers through the edge). Asserts outcomes (placement,
 * availability), never timings; prints both side by side and last one machine-readable line.
 */
import * as fs from "node:fs";
import { afterAll, expect, it } from "vitest";
import { applyOnBed, placement, spreadAgain, stackImages, swarmNodes, waitNodeState, waitPlacement, workersOf } from "../test/engine/nodes/stack";
import { Bed, hostDocker, startBed, stopBed } from "../test/engine/nodes/bed";
import { FAILURE_PAUSE_MS, Load, LOAD_WORKERS, loadThrough } from "../test/engine/nodes/load";
import { edgeRequest } from "../test/engine/edgeClient";
import { EDGE_HTTP_PORT } from "../test/engine/probe";
import { images, MODE, QUICK } from "./release";

const MULTI = "rynb";
const SINGLE = "rynb1";
const API = `${MULTI}-api`;
const HOST = "api.localhost";
const STEADY = QUICK ? 1_000 : 5_000;
/** Requests at least while the drain runs (the goal: 0 failed of at least 2,000). */
const DRAIN_MIN = QUICK ? 2_000 : 10_000;
const LOSS_MIN = QUICK ? 500 : 2_000;
const GOAL_SENT = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(() => {
  delete process.env.DOCKER_HOST;
  stopBed(SINGLE);
  stopBed(MULTI);
});

/** Until the api answers 200 through the edge at `address` (bounded). */
async function answering(address: string, timeoutMs = 300_000): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const ok = await edgeRequest({ scheme: "http", address, port: EDGE_HTTP_PORT, host: HOST }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`the api did not answer through the edge at ${address} within ${timeoutMs} ms`);
}

interface Row {
  label: string;
  load: Load;
}

function table(rows: Row[]): string {
  const head = `${"phase".padEnd(44)}${"sent".padStart(8)}${"failed".padStart(8)}${"p50 ms".padStart(8)}${"p99 ms".padStart(8)}${"req/s".padStart(8)}${"seconds".padStart(9)}`;
  const line = (r: Row) =>
    `${r.label.padEnd(44)}${String(r.load.sent).padStart(8)}${String(r.load.failed).padStart(8)}${String(r.load.p50).padStart(8)}${String(r.load.p99).padStart(8)}` +
    `${Math.round(r.load.sent / r.load.seconds).toString().padStart(8)}${r.load.seconds.toFixed(1).padStart(9)}`;
  return [head, ...rows.map(line)].join("\n");
}

it("measures requests lost while an app node drains and when one dies, on three nodes, beside the same load on one node", async () => {
  const imgs = images();
  const seconds = (since: number) => (Date.now() - since) / 1000;

  // Baseline: the same stack on one node.
  const single: Bed = await startBed(SINGLE, 1, stackImages(imgs), [EDGE_HTTP_PORT]);
  let t = Date.now();
  const one = await applyOnBed(SINGLE, single, imgs, []);
  const oneDeploy = seconds(t);
  expect(one.outcome["api-gate"]).toBe("ok");
  const oneAddress = single.nodes[0].ip;
  await answering(oneAddress);
  const oneSteady = await loadThrough(oneAddress, HOST, Promise.resolve(), STEADY);
  let oneRecovered = 0;
  t = Date.now();
  const oneLoss = loadThrough(
    oneAddress,
    HOST,
    (async () => {
      hostDocker("kill", single.nodes[0].container);
      await sleep(1_000);
      hostDocker("start", single.nodes[0].container);
      await answering(oneAddress);
      oneRecovered = seconds(t);
    })(),
    LOSS_MIN,
  );
  const oneLost = await oneLoss;
  delete process.env.DOCKER_HOST;
  stopBed(SINGLE);

  // Three nodes.
  const bed = await startBed(MULTI, 3, stackImages(imgs), [EDGE_HTTP_PORT]);
  const workers = workersOf(bed);
  t = Date.now();
  const first = await applyOnBed(MULTI, bed, imgs, workers);
  const multiDeploy = seconds(t);
  expect(first.outcome["api-gate"]).toBe("ok");
  expect(await placement(API)).toEqual({ "app-1": 1, "app-2": 1 });
  const main = bed.nodes[0].ip;
  const steady = await loadThrough(main, HOST, Promise.resolve(), STEADY);

  t = Date.now();
  let drainSeconds = 0;
  const drain = await loadThrough(
    main,
    HOST,
    applyOnBed(MULTI, bed, imgs, workers.map((w) => (w.name === "app-1" ? { ...w, drain: true } : w))).then(async (r) => {
      expect(r.outcome["node-app-1-labels"]).toBe("ok");
      await waitPlacement(API, 2, ["app-1"]);
      drainSeconds = seconds(t);
    }),
    DRAIN_MIN,
  );
  expect((await swarmNodes()).find((n) => n.name === "app-1")?.availability).toBe("drain");
  await applyOnBed(MULTI, bed, imgs, workers);
  spreadAgain(API);
  expect(await placement(API)).toEqual({ "app-1": 1, "app-2": 1 });

  t = Date.now();
  let recovered = 0;
  let down = 0;
  const loss = await loadThrough(
    main,
    HOST,
    (async () => {
      hostDocker("kill", bed.nodes[2].container);
      await waitNodeState("app-2", "down");
      down = seconds(t);
      await waitPlacement(API, 2, ["app-2"]);
      recovered = seconds(t);
    })(),
    LOSS_MIN,
  );
  expect(await placement(API)).toEqual({ "app-1": 2 });

  const rows: Row[] = [
    { label: "1 node: steady", load: oneSteady },
    { label: "1 node: its engine killed, started again", load: oneLost },
    { label: "3 nodes: steady", load: steady },
    { label: "3 nodes: app-1 drained (drain: true)", load: drain },
    { label: "3 nodes: app-2's engine killed", load: loss },
  ];
  const ratio = (x: number, y: number) => (y === 0 ? "n/a" : `${(x / y).toFixed(2)}×`);
  const rate = (l: Load) => l.sent / l.seconds;
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  const report = [
    `nodes benchmark (${MODE}): ${LOAD_WORKERS} loops of constant load, a fresh connection per request (a loop pauses ${FAILURE_PAUSE_MS} ms after a failure), through the front → Caddy → 2 api tasks`,
    `bed: 3 engines up in ${bed.seconds.total} s (engines ${bed.seconds.engines} s, images loaded ${bed.seconds.images} s); first apply: 3 nodes ${multiDeploy.toFixed(1)} s, 1 node ${oneDeploy.toFixed(1)} s`,
    table(rows),
    `3 nodes / 1 node, steady: p50 ${ratio(steady.p50, oneSteady.p50)}, p99 ${ratio(steady.p99, oneSteady.p99)}, req/s ${ratio(rate(steady), rate(oneSteady))}`,
    `drain of app-1 (its api task moved to app-2): ${drainSeconds.toFixed(1)} s, ${drain.failed} failed of ${drain.sent}`,
    `loss of app-2: seen down after ${down.toFixed(1)} s, the api back to 2 tasks (on app-1) after ${recovered.toFixed(1)} s, ${loss.failed} failed of ${loss.sent}; ` +
      `loss of the only node: the api answered again after ${oneRecovered.toFixed(1)} s, ${oneLost.failed} failed of ${oneLost.sent}`,
    `goal (printed, not asserted): count ≥ 3 and 0 failed of at least ${GOAL_SENT.toLocaleString("en")} during the drain: ${met(bed.nodes.length >= 3 && drain.failed === 0 && drain.sent >= GOAL_SENT)}`,
    `nodes: count=${bed.nodes.length} drain_failed=${drain.failed} loss_failed=${loss.failed} recover_s=${recovered.toFixed(1)} sent=${drain.sent}`,
  ].join("\n");
  fs.writeFileSync(process.env.RAILYARD_BENCH_REPORT ?? "/dev/stdout", `${report}\n`);
});
