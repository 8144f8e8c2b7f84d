/**
 * An edge release whose SECOND batch fails, on a real engine (prefix ryq): the dev stack's edge with 2 Caddy tasks
 * (parallelism 1, start-first, monitor 10 s, failure action rollback) is released with a Caddy whose first task
 * runs and whose second fails about 7 s after it started (test/engine/images/caddy-second-fails.sh: a marker on
 * the /data volume both tasks mount). Only the edge's own steps are applied (bootstrap, the two services, their
 * settle gates), as a `pulumi up` that changes only the edge would.
 * (a) The provider's convergeConfig wait (converge.ts, as the bed applies it) reports the release converged: at
 *     its first look, 7 s in, both slots run a task and it never reads UpdateStatus, which says "updating".
 * (b) Swarm then rolls the release back, and the edge's settle gate (railyard-gate.sh --settle) fails `pulumi up`
 *     with 44, Swarm's reason and the failed task's last log lines; run again later, it still fails.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT, runStack, StackRun } from "../harness";
import { applyStack, CommandFailed, teardown } from "./apply";
import { engine, filters } from "./engineApi";
import { onLocalEngine, runningImages } from "./probe";

const PREFIX = "ryq";
const NETWORK = `${PREFIX}-net`;
const EDGE = `${PREFIX}-edge`;
const images = inject("images");

const config = () => {
  const c = onLocalEngine("dev", PREFIX);
  (c["railyard:edge"] as Record<string, unknown>).replicas = 2;
  return c;
};
const imageFor = (edge: string) => (name: string) => ({ edge, "edge-front": images.FRONT })[name] ?? images.APP_V1;
const steps = (...names: string[]) => (name: string) => names.includes(name);

interface EdgeTask {
  ID: string;
  Slot: number;
  DesiredState: string;
  Status: { State: string; Err?: string };
  Spec: { ContainerSpec: { Image: string } };
}

/** Swarm's UpdateStatus of the service, polled every 200 ms: each state and when it was first seen (ms after `from`). */
function watchUpdateStatus(service: string, from: number) {
  const seen: { state: string; at: number; message: string }[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const s = await engine<{ UpdateStatus?: { State: string; Message?: string } }>("GET", `/services/${service}`);
      const state = s.UpdateStatus?.State ?? "none";
      if (seen[seen.length - 1]?.state !== state) seen.push({ state, at: Date.now() - from, message: s.UpdateStatus?.Message ?? "" });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    seen,
    firstAt: (state: string) => seen.find((s) => s.state === state)?.at,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

const seconds = (ms: number | undefined) => (ms === undefined ? "never" : `${(ms / 1000).toFixed(1)} s`);

describe("an edge release whose second batch fails", () => {
  let run: StackRun;

  beforeAll(async () => {
    await teardown(PREFIX, NETWORK);
    run = await runStack("dev", config());
    const first = await applyStack(run, imageFor(images.EDGE), steps("host-bootstrap", "edge", "edge-front", "edge-settle", "edge-front-settle"));
    expect(first.outcome).toMatchObject({ edge: "converged", "edge-front": "converged", "edge-settle": "ok", "edge-front-settle": "ok" });
    expect(await runningImages(EDGE)).toEqual([images.EDGE, images.EDGE]);
  });

  afterAll(async () => {
    await teardown(PREFIX, NETWORK);
  });

  it("passes the provider's convergeConfig wait, is rolled back by Swarm, and fails the edge's settle gate (44)", async () => {
    const started = Date.now();
    const watch = watchUpdateStatus(EDGE, started);
    const failure = await applyStack(run, imageFor(images.EDGE_SECOND_FAILS), steps("edge", "edge-settle")).then(
      () => undefined,
      (e: unknown) => e,
    );
    await watch.stop();
    if (!(failure instanceof CommandFailed)) throw new Error(`the release was not declared failed: ${String(failure)}`);
    const convergedAt = failure.partial.durations.edge;
    const rollbackAt = watch.firstAt("rollback_started");
    console.log(
      `edge release (2nd batch fails): convergeConfig wait reported "${failure.partial.outcome.edge}" after ${seconds(convergedAt)}; ` +
        `Swarm: ${watch.seen.map((s) => `${s.state} at ${seconds(s.at)}`).join(", ")}; ` +
        `settle gate exit ${failure.exitCode} after ${seconds(failure.partial.durations["edge-settle"])} (${seconds(Date.now() - started)} from the update)`,
    );
    console.log(failure.output.split("\n").filter((l) => l.startsWith("railyard-")).join("\n"));

    // (a) The provider-like wait: success, while Swarm was still in its monitor window (the rollback came later).
    expect(failure.partial.outcome.edge).toBe("converged");
    expect(rollbackAt, "Swarm never rolled the release back").toBeDefined();
    expect(convergedAt).toBeLessThan(rollbackAt ?? 0);
    expect(watch.seen.filter((s) => s.at <= convergedAt).map((s) => s.state)).toContain("updating");

    // (b) The settle gate: 44, Swarm's reason, and the failing task's own last log line.
    expect(failure.resource).toBe("edge-settle");
    expect(failure.exitCode).toBe(44);
    expect(failure.output).toContain("railyard-test: the second task of this release fails now (exit 1)");
    expect(failure.output).toMatch(/ryq-edge: Swarm rolled the update back \(update rolled back due to failure or early termination of task \w+\); the previous release runs again on 2 task\(s\)/);

    // Batch 1 passed (its task ran until the rollback replaced it), batch 2 failed; the previous release runs.
    const released = (await engine<EdgeTask[]>("GET", `/tasks?filters=${filters({ service: [EDGE] })}`)).filter(
      (t) => t.Spec.ContainerSpec.Image === images.EDGE_SECOND_FAILS,
    );
    expect(released.filter((t) => t.Status.State === "failed").map((t) => t.Status.Err)).toContain("task: non-zero exit (1)");
    expect(released.some((t) => t.Status.State === "shutdown"), "no task of the release ran until the rollback").toBe(true);
    expect(await runningImages(EDGE)).toEqual([images.EDGE, images.EDGE]);

    // A later run of the gate (the next `pulumi up`) fails the same way, and changes nothing.
    const version = (await engine<{ Version: { Index: number } }>("GET", `/services/${EDGE}`)).Version.Index;
    const again = spawnSync("bash", [path.join(ROOT, "host", "railyard-gate.sh"), "--settle", "--service", EDGE, "--timeout", "30"], { encoding: "utf8" });
    expect(again.status, again.stderr).toBe(44);
    expect((await engine<{ Version: { Index: number } }>("GET", `/services/${EDGE}`)).Version.Index).toBe(version);
  });
});
