/**
 * The host scripts change only Swarm services railyard made for that purpose, on a real engine: a plain service
 * that happens to carry a migration job's name, or is named by --pause or the gate, is left exactly as it was
 * (same ID, same spec version). Prefix `ryh`; only the services this file creates are removed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT } from "../harness";
import { engine } from "./engineApi";

const images = inject("images");
const script = (name: string) => path.join(ROOT, "host", name);
const CREATED = ["ryh-api-migrate", "ryh-worker", "ryh-stale-migrate", "ryh-pause-migrate"];
/** railyard-migrate's lock and guardian log. */
const STATE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "ryh-state-"));

interface Service {
  ID: string;
  Version: { Index: number };
  Spec: { Mode: { Replicated?: { Replicas: number } }; Labels?: Record<string, string> };
}
const inspect = (name: string) => engine<Service>("GET", `/services/${name}`);
const exists = (name: string) => inspect(name).then(
  () => true,
  () => false,
);

/** A plain replicated service (sleep 600), created with the docker CLI as a user would; extra flags before the image. */
function createService(name: string, ...flags: string[]): void {
  execFileSync("docker", ["service", "create", "--detach", "--quiet", "--name", name, ...flags, images.APP_V1, "sleep", "600"], { stdio: "ignore" });
}

function removeCreated(): void {
  for (const name of CREATED) spawnSync("docker", ["service", "rm", name], { stdio: "ignore" });
}

const run = (name: string, args: string[]) => spawnSync("bash", [script(name), ...args], { encoding: "utf8" });

describe("host scripts leave services railyard did not create alone", () => {
  beforeAll(() => {
    removeCreated();
    createService("ryh-api-migrate");
    createService("ryh-worker");
    // A second version, so the gate would have a previous spec to roll back to.
    execFileSync("docker", ["service", "update", "--detach", "--quiet", "--env-add", "RYH=1", "ryh-worker"], { stdio: "ignore" });
  });

  afterAll(removeCreated);

  it("migrate exits 33 when a service it did not create holds the job's name, and changes nothing", async () => {
    const before = await inspect("ryh-api-migrate");
    const r = run("railyard-migrate.sh", ["--state-dir", STATE_DIR, "--job", "ryh-api-migrate", "--timeout", "30", "--", images.APP_V1, "true"]);
    expect(r.status, r.stderr).toBe(33);
    expect(r.stderr).toContain("a service named ryh-api-migrate exists that railyard-migrate did not create");
    const after = await inspect("ryh-api-migrate");
    expect(after.ID).toBe(before.ID);
    expect(after.Version.Index).toBe(before.Version.Index);
  });

  it("migrate replaces a job an earlier run left (labelled railyard.job=migration), runs, and removes its own job", async () => {
    createService("ryh-stale-migrate", "--label", "railyard.job=migration");
    const r = run("railyard-migrate.sh", ["--state-dir", STATE_DIR, "--job", "ryh-stale-migrate", "--timeout", "60", "--", images.APP_V1, "echo", "migrated"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("migrated");
    expect(r.stderr).toContain("removed the job ryh-stale-migrate an earlier run left");
    expect(await exists("ryh-stale-migrate")).toBe(false);
    // Neither the old job's container nor the new one's is left behind (Swarm keeps a finished job's container).
    const leftovers = execFileSync("docker", ["ps", "-aq", "--filter", "label=com.docker.swarm.service.name=ryh-stale-migrate"], { encoding: "utf8" });
    expect(leftovers.trim()).toBe("");
  });

  it("migrate --pause refuses a service without a railyard.stack label (exit 2) before anything changes", async () => {
    const before = await inspect("ryh-worker");
    const r = run("railyard-migrate.sh", ["--state-dir", STATE_DIR, "--job", "ryh-pause-migrate", "--pause", "ryh-worker", "--timeout", "30", "--", images.APP_V1, "true"]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain("--pause ryh-worker: the service has no railyard.stack label");
    const after = await inspect("ryh-worker");
    expect(after.Version.Index).toBe(before.Version.Index);
    expect(after.Spec.Mode.Replicated?.Replicas).toBe(1);
    expect(await exists("ryh-pause-migrate")).toBe(false);
  });

  it("the gate refuses a service without a railyard.stack label (exit 2) and rolls nothing back", async () => {
    const before = await inspect("ryh-worker");
    // Without the refusal this gate would fail its probe (nothing listens) and roll ryh-worker back.
    const r = run("railyard-gate.sh", ["--service", "ryh-worker", "--image", images.APP_V1, "--port", "8080", "--path", "/health", "--attempts", "1", "--interval", "1"]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain("ryh-worker has no railyard.stack label");
    const after = await inspect("ryh-worker");
    expect(after.Version.Index).toBe(before.Version.Index);
    expect(after.Spec.Labels ?? {}).toEqual({});
  });
});
