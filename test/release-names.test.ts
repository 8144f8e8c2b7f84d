/**
 * Every app service's tasks carry RAILYARD_RELEASE, a hash of the whole declared task template: the health gate
 * tells a release's tasks from any other by it (also after a rollback), so a release that changes only limits,
 * the health check, the restart policy or logging is a release of its own. Same stack file, same name.
 */
import { describe, expect, it } from "vitest";
import { ConfigMap, one, reveal, runStack, stackFile, StackRun, testSecrets } from "./harness";

const SERVICE = "docker:index/service:Service";
type Svc = Record<string, unknown>;

const envOf = (r: StackRun, name: string) =>
  (reveal(one(r, SERVICE, name).inputs.taskSpec) as { containerSpec: { env?: Record<string, string> } }).containerSpec.env ?? {};
const releaseOf = (r: StackRun, name: string) => envOf(r, name).RAILYARD_RELEASE;

async function staging(change: (services: Record<string, Svc>, plain: ConfigMap) => void = () => undefined): Promise<StackRun> {
  const plain = structuredClone(stackFile("staging"));
  change(plain["railyard:services"] as Record<string, Svc>, plain);
  return runStack("staging", plain, testSecrets("staging"));
}

describe("release names", () => {
  it("every app service carries one (12 hex digits), the same on every run of the same stack file; databases carry none", async () => {
    // One stack run at a time: the harness's mocks are global.
    const a = await staging();
    const b = await staging();
    for (const name of ["api", "frontend", "worker", "beat"]) {
      expect(releaseOf(a, name), name).toMatch(/^[0-9a-f]{12}$/);
      expect(releaseOf(b, name), name).toBe(releaseOf(a, name));
    }
    expect(new Set(["api", "frontend", "worker", "beat"].map((n) => releaseOf(a, n))).size).toBe(4);
    for (const name of ["postgres", "redis"]) expect(envOf(a, name).RAILYARD_RELEASE, name).toBeUndefined();
  });

  it.each([
    ["limits", (s: Record<string, Svc>) => (s.api.resources = { cpus: 1, memory: "1G" })],
    ["health check", (s: Record<string, Svc>) => ((s.api.healthcheck as Svc).retries = 5)],
    ["restart policy", (s: Record<string, Svc>) => (s.api.restartPolicy = { condition: "on-failure" })],
    ["stop grace period", (s: Record<string, Svc>) => (s.api.stopGracePeriod = "45s")],
    ["env", (s: Record<string, Svc>) => ((s.api.env as Svc).FRONTEND_URL = "https://www.example.com")],
    ["logging", (_: Record<string, Svc>, plain: ConfigMap) => (plain["railyard:logs"] = { maxSize: "20m", maxFiles: 3 })],
  ])("a change of the %s alone names a new release", async (_, change) => {
    const before = await staging();
    const after = await staging(change);
    expect(releaseOf(after, "api")).not.toBe(releaseOf(before, "api"));
  });

  it("a change to another service leaves the api's release as it was", async () => {
    const before = await staging();
    const after = await staging((s) => (s.worker.resources = { memory: "1G" }));
    expect(releaseOf(after, "api")).toBe(releaseOf(before, "api"));
    expect(releaseOf(after, "worker")).not.toBe(releaseOf(before, "worker"));
  });

  it("the migration job runs without it (it is not a task of the release)", async () => {
    const r = await staging();
    expect(String(reveal(one(r, "command:remote:Command", "api-migrate").inputs.create))).not.toContain("RAILYARD_RELEASE");
  });
});
