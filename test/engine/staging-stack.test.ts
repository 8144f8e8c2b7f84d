/**
 * The staging stack file, unchanged but for its host (the local engine) and prefix, applied to a real engine:
 * API on 3002 behind /api/v1/health (on its own domain and under /api/v1 on the frontend's), an nginx-shaped
 * frontend on 80, a Celery worker and beat (Debian's real uvicorn, Celery and Alembic on the test app), Postgres and Redis,
 * app secrets from railyard:secrets. The test app answers "/" with its APP_ROLE, set here to tell the two apart.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ConfigMap, reveal, runStack, StackRun, testSecrets } from "../harness";
import { caCertFile } from "../testCa";
import { applyStack, ApplyResult, tasks, teardown } from "./apply";
import { edgeRequest, loadWhile } from "./edgeClient";
import { dockerHealth, EDGE_HTTP_PORT, EDGE_HTTPS_PORT, health, inspectServices, onLocalEngine } from "./probe";

const PREFIX = "rys";
const images = inject("images");

function config(maxRequestBody = "64K"): { plain: ConfigMap; secret: ConfigMap } {
  const plain = onLocalEngine("staging", PREFIX);
  Object.assign(plain["railyard:edge"] as object, { maxRequestBody, redirects: { "www.staging.example.com": "staging.example.com" } });
  const services = plain["railyard:services"] as Record<string, { env: Record<string, string> }>;
  for (const name of ["api", "frontend"]) services[name].env.APP_ROLE = name;
  const secret = structuredClone(testSecrets("staging"));
  delete secret["railyard:sshPrivateKey"];
  return { plain, secret };
}

const imageFor = (name: string) =>
  ({ postgres: images.POSTGRES, redis: images.REDIS, frontend: images.APP_WEB80, edge: images.EDGE, "edge-front": images.FRONT })[name] ?? images.APP_V1;

const API = "api.staging.example.com";
const https = (host: string, path = "/", extra: { method?: string; body?: Buffer } = {}) =>
  edgeRequest({ scheme: "https", port: EDGE_HTTPS_PORT, host, path, ca: fs.readFileSync(caCertFile()), ...extra });

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
    const services = ["api", "beat", "edge", "edge-front", "frontend", "postgres", "redis", "worker"];
    for (const name of services) expect(applied.outcome[name], name).toMatch(/^(converged|applied)$/);
    for (const name of ["host-bootstrap", "api-migrate", "api-gate", "frontend-gate", "worker-gate", "beat-gate"]) {
      expect(applied.outcome[name], name).toBe("ok");
    }
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

  it("the edge routes each domain to its service over TLS from the (stand-in) Origin CA certificate", async () => {
    const api = await https(API, "/api/v1/health");
    expect(api.status).toBe(200);
    expect(JSON.parse(api.body)).toMatchObject({ status: "ok", database: "ok", redis: "ok" });
    const front = await https("staging.example.com", "/health");
    expect(front.status).toBe(200);
    expect(JSON.parse(front.body)).toMatchObject({ status: "ok", database: "absent" });
    expect(api.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
    expect(api.headers["x-content-type-options"]).toBe("nosniff");
    expect(api.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(api.headers.server).toBeUndefined();
  });

  it("routes the frontend's domain by longest path prefix: /api/v1 and below to the API, the rest (/api/v10 too) to the frontend", async () => {
    const SHARED = "staging.example.com";
    const api = await https(SHARED, "/api/v1/health");
    expect(api.status).toBe(200);
    expect(JSON.parse(api.body)).toMatchObject({ status: "ok", database: "ok", redis: "ok" });
    const role = async (path: string) => (JSON.parse((await https(SHARED, path)).body) as { role: string }).role;
    expect(await role("/api/v1")).toBe("api");
    expect(await role("/api/v1/items?page=2")).toBe("api");
    expect(await role("/")).toBe("frontend");
    expect(await role("/api/v10")).toBe("frontend");
    expect(await role("/api")).toBe("frontend");
    // The frontend's own health answer: no database, unlike the API's.
    expect(JSON.parse((await https(SHARED, "/api/v10/health")).body)).toMatchObject({ status: "ok", database: "absent" });
    const big = await https(SHARED, "/api/v1/upload", { method: "POST", body: Buffer.alloc(200 * 1024, 97) });
    expect(big.status, "the body limit holds on a path route too").toBe(413);
  });

  it("refuses a certificate nobody trusts: the served chain is the stack's own", async () => {
    await expect(edgeRequest({ scheme: "https", port: EDGE_HTTPS_PORT, host: API, path: "/api/v1/health" })).rejects.toThrow(/certificate/);
  });

  it("redirects HTTP to HTTPS and www to the apex, keeping path and query", async () => {
    const plain = await edgeRequest({ scheme: "http", port: EDGE_HTTP_PORT, host: API, path: "/api/v1/items?page=2" });
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(`https://${API}/api/v1/items?page=2`);
    const www = await https("www.staging.example.com", "/pricing?x=1");
    expect(www.status).toBe(301);
    expect(www.headers.location).toBe("https://staging.example.com/pricing?x=1");
  });

  it("rejects a request body over edge.maxRequestBody with 413", async () => {
    const big = await https(API, "/api/v1/upload", { method: "POST", body: Buffer.alloc(200 * 1024, 97) });
    expect(big.status).toBe(413);
  });

  it("writes JSON access logs", async () => {
    await https(API, "/api/v1/health?logged=1");
    // Every edge task's log (the request went to one of them).
    const all = execFileSync("bash", ["-c", `docker service logs --raw ${PREFIX}-edge 2>&1`], { encoding: "utf8" });
    const line = all.split("\n").find((l) => l.includes("/api/v1/health?logged=1"));
    expect(line, "no access log line for the request").toBeDefined();
    expect(JSON.parse(line ?? "{}")).toMatchObject({ logger: expect.stringContaining("http.log.access"), status: 200 });
  });

  it("rolls a Caddyfile change without refusing a connection", async () => {
    const before = (await tasks(`${PREFIX}-edge`)).map((t) => t.ID).sort();
    const { plain, secret } = config("1M");
    const rolled = applyStack(await runStack("staging", plain, secret), imageFor);
    const load = await loadWhile(rolled, () => https(API, "/api/v1/health"));
    expect((await rolled).outcome.edge).toBe("converged");
    const after = (await tasks(`${PREFIX}-edge`)).map((t) => t.ID).sort();
    expect(after.some((id) => before.includes(id)), "the edge tasks were not replaced").toBe(false);
    console.log(`edge config roll: ${load.sent} requests on fresh connections, ${load.failed} failed ${load.failures.join("; ")}`);
    expect(load.sent).toBeGreaterThan(50);
    expect(load.failures).toEqual([]);
    const big = await https(API, "/api/v1/upload", { method: "POST", body: Buffer.alloc(200 * 1024, 97) });
    expect(big.status, "the new limit (1M) is in force").toBe(200);
    expect(JSON.parse(big.body)).toEqual({ received: 200 * 1024 });
  });
});
