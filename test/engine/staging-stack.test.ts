/**
 * The staging stack file, unchanged but for its host (the local engine) and prefix, applied to a real engine:
 * API on 3002 behind /api/v1/health, an nginx-shaped frontend on 80, a celery-shaped worker and beat (test
 * stand-ins for uvicorn and celery), Postgres and Redis, app secrets from railyard:secrets.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ConfigMap, reveal, runStack, StackRun, testSecrets } from "../harness";
import { applyStack, ApplyResult, tasks, teardown } from "./apply";
import { dockerHealth, health, inspectServices, onLocalEngine } from "./probe";

const PREFIX = "rys";
const images = inject("images");

function config(): { plain: ConfigMap; secret: ConfigMap } {
  const plain = onLocalEngine("staging", PREFIX);
  const secret = structuredClone(testSecrets("staging"));
  delete secret["railyard:sshPrivateKey"];
  return { plain, secret };
}

const imageFor = (name: string) =>
  ({ postgres: images.POSTGRES, redis: images.REDIS, frontend: images.APP_WEB80 })[name] ?? images.APP_V1;

describe("staging-shaped stack on a real Docker engine", () => {
  let run: StackRun;
  let applied: ApplyResult;

  beforeAll(async () => {
    await teardown(PREFIX, `${PREFIX}-net`);
    const { plain, secret } = config();
    run = await runStack("staging", plain, secret);
    applied = await applyStack(run, imageFor);
  });

  afterAll(async () => {
    await teardown(PREFIX, `${PREFIX}-net`);
  });

  it("converges every service with its replicas", async () => {
    for (const [name, outcome] of Object.entries(applied.outcome)) expect(outcome, name).toBe("converged");
    expect(Object.keys(applied.outcome).sort()).toEqual(["api", "beat", "frontend", "postgres", "redis", "worker"]);
    expect((await tasks(`${PREFIX}-api`)).filter((t) => t.Status.State === "running")).toHaveLength(2);
    expect((await tasks(`${PREFIX}-frontend`)).filter((t) => t.Status.State === "running")).toHaveLength(2);
  });

  it("the API answers on 3002 and reaches Postgres and Redis", async () => {
    expect(await health(`${PREFIX}-api`, 3002, "/api/v1/health")).toMatchObject({ status: "ok", database: "ok", redis: "ok" });
    expect(await health(`${PREFIX}-frontend`, 80, "/health")).toMatchObject({ status: "ok" });
  });

  it("the worker's health command sees its secret env (REDIS_URL arrives as a Swarm secret)", async () => {
    expect(await dockerHealth(`${PREFIX}-worker`)).toBe("healthy");
  });

  it("no database password or app secret appears in any service spec", () => {
    const values = run.resources
      .filter((r) => r.type === "docker:index/secret:Secret")
      .map((r) => Buffer.from(String(reveal(r.inputs.data)), "base64").toString());
    expect(values).toContain("s3cr3t-key-value");
    const inspect = inspectServices(Object.values(applied.services));
    for (const value of values) expect(inspect).not.toContain(value);
  });
});
