/**
 * The dev stack's declared Docker resources, applied to a real engine: services converge and pass their health
 * checks, the app reaches Postgres and Redis through its reference variables, passwords stay out of the specs,
 * a second application changes nothing, an update rolls start-first, and a crashing release is rolled back.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT, runStack, StackRun } from "../harness";
import { applyStack, ApplyResult, CommandFailed, tasks, teardown } from "./apply";
import { edgeRequest, loadWhile } from "./edgeClient";
import { EDGE_HTTP_PORT, health, inspectServices, onLocalEngine, runningImages } from "./probe";
import { engine } from "./engineApi";

const PREFIX = "rye";
const NETWORK = `${PREFIX}-net`;
const images = inject("images");

const config = (apiEnv: Record<string, string> = {}) => {
  const c = onLocalEngine("dev", PREFIX);
  const api = (c["railyard:services"] as Record<string, { env: Record<string, string> }>).api;
  Object.assign(api.env, apiEnv);
  return c;
};

/** Applies the dev stack and returns the command that failed (the apply stops there). */
async function failingApply(api: string, apiEnv: Record<string, string>): Promise<CommandFailed> {
  const error = await applyStack(await runStack("dev", config(apiEnv)), imageFor(api)).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof CommandFailed)) throw new Error(`expected a failed release step, got ${String(error)}`);
  return error;
}

const viaEdge = () => edgeRequest({ scheme: "http", port: EDGE_HTTP_PORT, host: "api.localhost", path: "/" });

const imageFor = (api: string) => (name: string) =>
  ({ postgres: images.POSTGRES, redis: images.REDIS, edge: images.EDGE, "edge-front": images.FRONT, api })[name] ?? images.APP_V1;

describe("dev stack on a real Docker engine", () => {
  let run: StackRun;
  let first: ApplyResult;

  beforeAll(async () => {
    execFileSync("bash", ["-c", `docker service ls -q --filter label=railyard.stack=${PREFIX} | xargs -r docker service rm`]);
    run = await runStack("dev", config());
    first = await applyStack(run, imageFor(images.APP_V1));
  });

  afterAll(async () => {
    await teardown(PREFIX, NETWORK);
  });

  it("runs the bootstrap for real: overlay network and data node label", async () => {
    const net = await engine<{ Driver: string; Attachable: boolean }>("GET", `/networks/${NETWORK}`);
    expect(net).toMatchObject({ Driver: "overlay", Attachable: true });
    const nodes = await engine<{ Spec: { Labels: Record<string, string> } }[]>("GET", "/nodes");
    expect(nodes[0].Spec.Labels["railyard.data"]).toBe("true");
  });

  it("deploys every declared service: the migration ran, each health gate passed", async () => {
    const declared = run.resources.filter((r) => r.type === "docker:index/service:Service").map((r) => r.name);
    for (const name of declared) expect(first.outcome[name], name).toMatch(/^(converged|applied)$/);
    for (const name of ["api", "frontend", "worker", "beat"]) expect(first.outcome[`${name}-gate`], name).toBe("ok");
    expect(first.outcome["api-migrate"]).toBe("ok");
    expect((await tasks(`${PREFIX}-api`)).filter((t) => t.Status.State === "running")).toHaveLength(2);
  });

  it("the app reaches Postgres and Redis through its reference variables", async () => {
    expect(await health(`${PREFIX}-api`)).toMatchObject({ status: "ok", version: "v1", database: "ok", redis: "ok" });
  });

  it("keeps passwords out of every service spec: they arrive as Swarm secrets", async () => {
    const secretValues = run.resources
      .filter((r) => r.type === "docker:index/secret:Secret")
      .map((r) => Buffer.from(String((r.inputs.data as { value: string }).value), "base64").toString());
    expect(secretValues.length).toBeGreaterThan(0);
    const inspect = inspectServices(Object.values(first.services));
    for (const value of secretValues) expect(inspect).not.toContain(value);
    const specs = JSON.parse(inspect) as { Spec: { Name: string; TaskTemplate: { ContainerSpec: { Env?: string[]; Secrets?: unknown[] } } } }[];
    for (const s of specs) {
      const env = s.Spec.TaskTemplate.ContainerSpec.Env ?? [];
      expect(env.filter((e) => /^(DATABASE_URL|REDIS_URL|PGPASSWORD)=/.test(e)), s.Spec.Name).toEqual([]);
    }
    const api = specs.find((s) => s.Spec.Name === `${PREFIX}-api`);
    expect(api?.Spec.TaskTemplate.ContainerSpec.Secrets).toHaveLength(2);
  });

  it("a second application of the same spec changes nothing", async () => {
    const before = Object.fromEntries(
      await Promise.all(Object.values(first.services).map(async (s) => [s, (await tasks(s)).map((t) => t.ID).sort()])),
    );
    const again = await applyStack(await runStack("dev", config()), imageFor(images.APP_V1));
    for (const outcome of Object.values(again.outcome)) expect(outcome).toMatch(/^(unchanged|applied|ok)$/);
    for (const s of Object.values(first.services)) expect((await tasks(s)).map((t) => t.ID).sort(), s).toEqual(before[s]);
  });

  it("records the release on the host; an unchanged run by someone else, fed the first run's `release` output, runs neither begin nor record", async () => {
    expect([first.outcome["release-begin"], first.outcome["release-record"]]).toEqual(["ok", "ok"]);
    const store = (...args: string[]) =>
      execFileSync("bash", [path.join(ROOT, "host", "railyard-release.sh"), "--stack-dir", `/tmp/railyard-engine/${PREFIX}`, "--stack", PREFIX, ...args], { encoding: "utf8" });
    const live = store("live").trim();
    const record = JSON.parse(store("show", live)) as { status: string; kind: string; key: string; services: Record<string, { image: string; migration: boolean; spec: { TaskTemplate: { ContainerSpec: { Image: string } } } }> };
    expect(record).toMatchObject({ status: "ok", kind: "deploy", key: (run.outputs.release as { key: string }).key });
    expect(Object.keys(record.services).sort()).toEqual(["api", "beat", "frontend", "worker"]);
    for (const s of Object.values(record.services)) expect([s.image, s.spec.TaskTemplate.ContainerSpec.Image]).toEqual([images.APP_V1, images.APP_V1]);
    expect(record.services.api.migration).toBe(true);
    const saved = process.env.RAILYARD_WHO;
    process.env.RAILYARD_WHO = "someone-else";
    try {
      const again = await applyStack(await runStack("dev", config(), {}, { release: run.outputs.release }), imageFor(images.APP_V1));
      expect([again.outcome["release-begin"], again.outcome["release-record"]]).toEqual(["unchanged", "unchanged"]);
    } finally {
      if (saved === undefined) delete process.env.RAILYARD_WHO;
      else process.env.RAILYARD_WHO = saved;
    }
    expect(store("live").trim()).toBe(live);
  });

  it("an update to a new image rolls start-first and ends on the new version", async () => {
    const api = `${PREFIX}-api`;
    let fewest = Number.POSITIVE_INFINITY;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const running = (await tasks(api)).filter((t) => t.Status.State === "running").length;
        fewest = Math.min(fewest, running);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const result = await applyStack(await runStack("dev", config()), imageFor(images.APP_V2));
    sampling = false;
    await sampler;
    expect(result.outcome["api-gate"]).toBe("ok");
    expect(fewest).toBeGreaterThanOrEqual(2);
    expect(await runningImages(api)).toEqual([images.APP_V2, images.APP_V2]);
    expect(await health(api)).toMatchObject({ version: "v2", status: "ok" });
  });

  it("a failing migration stops the release before any task is replaced; the old version answers throughout", async () => {
    const api = `${PREFIX}-api`;
    const before = (await tasks(api)).map((t) => t.ID).sort();
    const failed = failingApply(images.APP_V2, { MIGRATE_FAIL: "1" });
    const load = await loadWhile(failed, viaEdge);
    const error = await failed;
    expect(error.resource).toBe("api-migrate");
    expect(error.exitCode).toBe(30);
    expect(error.output).toContain("Multiple head revisions");
    expect(error.partial.outcome.api).toBeUndefined();
    expect((await tasks(api)).map((t) => t.ID).sort()).toEqual(before);
    expect(load.failures).toEqual([]);
    expect(load.sent).toBeGreaterThan(10);
    const migrationJobs = await engine<unknown[]>("GET", `/services?filters=${encodeURIComponent(JSON.stringify({ name: [`${api}-migrate`] }))}`);
    expect(migrationJobs).toEqual([]);
  });

  it("a release that crashes on start is caught by the gate and rolled back within seconds", async () => {
    const api = `${PREFIX}-api`;
    const started = Date.now();
    const error = await failingApply(images.APP_CRASH, {});
    const seconds = (Date.now() - started) / 1000;
    console.log(`crash-on-start release: declared failed and rolled back in ${seconds.toFixed(1)} s`);
    expect(error.resource).toBe("api-gate");
    expect(error.exitCode).toBe(40);
    expect(error.output).toContain("crashing on start");
    expect(error.output).toContain("rolled back");
    expect(await runningImages(api)).toEqual([images.APP_V2, images.APP_V2]);
    expect(await health(api)).toMatchObject({ version: "v2" });
    // The same gate run again (a later `pulumi up`) fails while the rolled-back v2 runs: never a false success.
    const gate = path.join(ROOT, "host", "railyard-gate.sh");
    const again = spawnSync("bash", [gate, "--service", api, "--image", images.APP_CRASH, "--attempts", "2", "--interval", "0.2"], { encoding: "utf8" });
    expect(again.status).toBe(43);
    expect(again.stderr).toContain("not the declared");
    expect(await runningImages(api)).toEqual([images.APP_V2, images.APP_V2]);
  });

  it("a release whose health JSON turns degraded is rolled back", async () => {
    const api = `${PREFIX}-api`;
    const error = await failingApply(images.APP_V2, { DEGRADED: "1" });
    expect(error.resource).toBe("api-gate");
    expect(error.exitCode).toBe(41);
    expect(await health(api)).toMatchObject({ version: "v2", status: "ok" });
  });
});
