/**
 * What the program declares is in the form the Docker provider reads back, so the next `pulumi up` of an
 * unchanged stack sees no difference: durations as Go prints them, images in Docker's familiar form and pinned
 * by digest, the network by ID, the failure ratio with one decimal. (test/engine/second-apply.test.ts checks
 * the same against the real engine's read-back.)
 */
import { describe, expect, it } from "vitest";
import { familiarImage, pinnedByDigest } from "../lib/imageRef";
import { durationMs, goDuration } from "../lib/units";
import { shortDur } from "./engine/provider/flatten";
import type { DeclaredService } from "./engine/spec";
import { byType, mockNetworkId, mockRepoDigest, one, reveal, runStack, stackFile, testSecrets } from "./harness";

const SERVICE = "docker:index/service:Service";

describe("goDuration prints durations as Go's time.Duration.String, trimmed as the provider reads them back", () => {
  // Left: milliseconds; right: what Go prints for them, after the provider's shortDur.
  const table: [number, string][] = [
    [0, "0s"],
    [0.0005, "500ns"],
    [0.5, "500µs"],
    [1.5, "1.5ms"],
    [500, "500ms"],
    [1000, "1s"],
    [1500, "1.5s"],
    [30_000, "30s"],
    [60_000, "1m"],
    [90_000, "1m30s"],
    [96_000, "1m36s"],
    [60_500, "1m0.5s"],
    [3_600_000, "1h"],
    [5_400_000, "1h30m"],
    [3_601_000, "1h0m1s"],
    [86_400_000, "24h"],
  ];
  it.each(table)("%d ms → %s, and back", (ms, text) => {
    expect(goDuration(ms)).toBe(text);
    expect(durationMs(text)).toBe(ms);
  });

  it("reads the stack files' forms and refuses anything else", () => {
    expect(durationMs("1500ms")).toBe(1500);
    expect(durationMs("2m")).toBe(120_000);
    for (const bad of ["", "1x", "30s5", "s", "-1s", "1.s"]) expect(() => durationMs(bad)).toThrow(/not a duration/);
  });
});

describe("familiarImage spells an image as Docker's client sends it", () => {
  const table: [string, string][] = [
    ["postgres:16", "postgres:16"],
    ["redis", "redis:latest"],
    ["docker.io/library/postgres:16", "postgres:16"],
    ["index.docker.io/library/redis@sha256:" + "a".repeat(64), "redis@sha256:" + "a".repeat(64)],
    ["docker.io/bitnami/redis:7", "bitnami/redis:7"],
    ["library/caddy:2", "caddy:2"],
    ["registry.example.com/library/app@sha256:" + "1".repeat(64), "registry.example.com/library/app@sha256:" + "1".repeat(64)],
    ["localhost:5000/app", "localhost:5000/app:latest"],
    ["caddy:2.10-alpine@sha256:" + "5".repeat(64), "caddy:2.10-alpine@sha256:" + "5".repeat(64)],
  ];
  it.each(table)("%s → %s", (ref, familiar) => expect(familiarImage(ref)).toBe(familiar));
});

/** Every duration-valued input of a declared service, with its path. */
function durations(s: DeclaredService): [string, string][] {
  const c = s.taskSpec.containerSpec;
  const r = s.taskSpec.restartPolicy;
  const found: [string, string | undefined][] = [
    ["stopGracePeriod", c.stopGracePeriod],
    ["healthcheck.interval", c.healthcheck?.interval],
    ["healthcheck.timeout", c.healthcheck?.timeout],
    ["healthcheck.startPeriod", c.healthcheck?.startPeriod],
    ["restartPolicy.delay", r.delay],
    ["restartPolicy.window", r.window],
    ["updateConfig.delay", s.updateConfig.delay],
    ["updateConfig.monitor", s.updateConfig.monitor],
    ["rollbackConfig.delay", s.rollbackConfig?.delay],
    ["rollbackConfig.monitor", s.rollbackConfig?.monitor],
  ];
  return found.filter((f): f is [string, string] => f[1] !== undefined);
}

describe.each(["dev", "staging", "production"])("stack %s declares what the provider reads back", (stack) => {
  const run = () => runStack(stack, stackFile(stack), testSecrets(stack));

  it("every duration in Go's form, every failure ratio with one decimal, the network by ID", async () => {
    const r = await run();
    const services = byType(r, SERVICE);
    expect(services.length).toBeGreaterThan(4);
    for (const svc of services) {
      const s = reveal(svc.inputs) as unknown as DeclaredService;
      // Against the port of the provider's own printing (Go's Duration.String and shortDur), not railyard's.
      for (const [where, d] of durations(s)) expect(`${svc.name}.${where}=${d}`).toBe(`${svc.name}.${where}=${shortDur(BigInt(Math.round(durationMs(d) * 1e6)))}`);
      // Unset takes the provider's default "0.0"; a declared one has one decimal, as it is read back.
      for (const u of [s.updateConfig, s.rollbackConfig]) if (u?.maxFailureRatio !== undefined) expect(u.maxFailureRatio).toMatch(/^[01]\.\d$/);
      expect(s.taskSpec.networksAdvanceds).toEqual([{ id: mockNetworkId(`${stack}-net`) }]);
    }
  });

  it("every image pinned by digest in its familiar form (a local build by its image ID)", async () => {
    const r = await run();
    for (const svc of byType(r, SERVICE)) {
      const image = String((reveal(svc.inputs) as unknown as DeclaredService).taskSpec.containerSpec.image);
      if (image.startsWith("railyard/")) continue;
      expect(`${svc.name}: ${familiarImage(image)}`).toBe(`${svc.name}: ${image}`);
      expect(pinnedByDigest(image), `${svc.name}: ${image}`).toBe(true);
    }
  });
});

describe("dev resolves a tag to its digest once, through a RemoteImage", () => {
  it("pulls each tagged database and edge image and declares the digest it resolved to", async () => {
    const r = await runStack("dev", stackFile("dev"), testSecrets("dev"));
    const pulled = byType(r, "docker:index/remoteImage:RemoteImage").map((i) => String(i.inputs.name));
    expect(pulled.sort()).toEqual(["caddy:2.10-alpine", "haproxy:2.6", "postgres:16-bookworm", "redis:7.4-bookworm"]);
    const postgres = reveal(one(r, SERVICE, "postgres").inputs) as unknown as DeclaredService;
    expect(postgres.taskSpec.containerSpec.image).toBe(mockRepoDigest("postgres:16-bookworm"));
    expect(one(r, "docker:index/remoteImage:RemoteImage", "postgres-image").inputs.keepLocally).toBe(true);
  });
});

describe("the schema keeps durations in the provider's form", () => {
  it("declares 90s as 1m30s and 60000ms as 1m", async () => {
    const plain = stackFile("staging");
    const services = plain["railyard:services"] as Record<string, Record<string, unknown>>;
    services.api.stopGracePeriod = "90s";
    services.worker.restartPolicy = { delay: "60000ms" };
    const r = await runStack("staging", plain, testSecrets("staging"));
    expect((reveal(one(r, SERVICE, "api").inputs) as unknown as DeclaredService).taskSpec.containerSpec.stopGracePeriod).toBe("1m30s");
    expect((reveal(one(r, SERVICE, "worker").inputs) as unknown as DeclaredService).taskSpec.restartPolicy.delay).toBe("1m");
  });
});

describe("a release of the app touches no database and no edge declaration", () => {
  // Any change to a database's declared inputs makes the provider update it, and an update sends its env in
  // map order, which Swarm treats as a new task: the database restarts (stop-first). Its declaration must
  // therefore depend on nothing an app release changes.
  it("staging: a new api image, env, replica count and health check leave every database, the edge and the front as declared", async () => {
    const before = await runStack("staging", stackFile("staging"), testSecrets("staging"));
    const plain = stackFile("staging");
    const api = (plain["railyard:services"] as Record<string, Record<string, unknown>>).api;
    api.image = `registry.example.com/aponta/api@sha256:${"c".repeat(64)}`;
    api.env = { ...(api.env as Record<string, unknown>), FEATURE_FLAG: "on" };
    api.replicas = 3;
    api.healthcheck = { ...(api.healthcheck as Record<string, unknown>), retries: 5 };
    const after = await runStack("staging", plain, testSecrets("staging"));
    const untouched = ["postgres", "redis", "edge", "edge-front"];
    for (const name of untouched) expect(reveal(one(after, SERVICE, name).inputs), name).toEqual(reveal(one(before, SERVICE, name).inputs));
    expect(reveal(one(after, SERVICE, "api").inputs)).not.toEqual(reveal(one(before, SERVICE, "api").inputs));
  });
});

describe("a second run of an unchanged stack declares every other resource identically", () => {
  // Pulumi updates or replaces a resource whose inputs changed: for commands (migration, gates, bootstrap,
  // network check, backups), secrets, configs, volumes, images and DNS records, identical inputs mean nothing
  // runs again. (Docker services are planned against the engine's read-back: test/engine/second-apply.test.ts.)
  it.each(["dev", "staging", "production"])("%s", async (stack) => {
    const first = await runStack(stack, stackFile(stack), testSecrets(stack));
    const second = await runStack(stack, stackFile(stack), testSecrets(stack));
    const compared = first.resources.filter((r) => r.type !== SERVICE && !r.type.startsWith("pulumi:"));
    expect(compared.length).toBeGreaterThan(5);
    for (const r of compared) {
      const again = one(second, r.type, r.name);
      expect(JSON.stringify(reveal(again.inputs)), `${r.type} ${r.name}`).toBe(JSON.stringify(reveal(r.inputs)));
    }
    expect(second.resources.length).toBe(first.resources.length);
  });
});
