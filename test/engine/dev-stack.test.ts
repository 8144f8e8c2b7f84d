/**
 * The dev stack's declared Docker resources, applied to a real engine: services converge and pass their health
 * checks, the app reaches Postgres and Redis through its reference variables, passwords stay out of the specs,
 * a second application changes nothing, an update rolls start-first, and a crashing release is rolled back.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runStack, StackRun } from "../harness";
import { applyStack, ApplyResult, tasks, teardown } from "./apply";
import { health, inspectServices, onLocalEngine, runningImages } from "./probe";
import { engine } from "./engineApi";

const PREFIX = "rye";
const NETWORK = `${PREFIX}-net`;
const images = inject("images");

const config = () => onLocalEngine("dev", PREFIX);

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

  it("converges every declared service to its replica count", async () => {
    const declared = run.resources.filter((r) => r.type === "docker:index/service:Service").map((r) => r.name).sort();
    expect(Object.keys(first.outcome).sort()).toEqual(declared);
    for (const [name, outcome] of Object.entries(first.outcome)) expect(outcome, name).toBe("converged");
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
    for (const outcome of Object.values(again.outcome)) expect(outcome).toBe("converged");
    for (const s of Object.values(first.services)) expect((await tasks(s)).map((t) => t.ID).sort(), s).toEqual(before[s]);
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
    expect(result.outcome.api).toBe("converged");
    expect(fewest).toBeGreaterThanOrEqual(2);
    expect(await runningImages(api)).toEqual([images.APP_V2, images.APP_V2]);
    expect(await health(api)).toMatchObject({ version: "v2", status: "ok" });
  });

  it("an update to a crashing image is rolled back by Swarm and reported as a failure", async () => {
    const api = `${PREFIX}-api`;
    const result = await applyStack(await runStack("dev", config()), imageFor(images.APP_CRASH));
    expect(result.outcome.api).toBe("rolled back");
    expect(await runningImages(api)).toEqual([images.APP_V2, images.APP_V2]);
    expect(await health(api)).toMatchObject({ version: "v2" });
  });
});
