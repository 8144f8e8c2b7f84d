/**
 * The provider's cycle on the real engine: each stack file is applied the way the Docker provider creates its
 * services (./serviceStep.ts), then the unchanged program runs again and every service is read back, flattened
 * and planned as the provider would on the next `pulumi up`. Goal: no update and no replacement. Before the
 * declarations were made to match the read-back, every service of every stack planned a replacement (the
 * network named instead of its ID) and most an update too (durations, monitor windows, image tags).
 * Then what a change does: one service's env plans an update of that service alone; an api release leaves the
 * database tasks running; and any update of a database restarts it, because the provider sends env in map order.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ConfigMap, runStack, StackRun, testSecrets } from "../harness";
import { applyStack, engineRefs, planStack, tasks, teardown } from "./apply";
import { onLocalEngine } from "./probe";
import type { Plan } from "./provider/plan";
import { applyService } from "./serviceStep";

const images = inject("images");
const PREFIX: Record<string, string> = { dev: "ryt", staging: "ryu", production: "ryv" };
const ALL_STACKS = ["dev", "staging", "production"];

const imageFor = (name: string) =>
  ({ postgres: images.POSTGRES, redis: images.REDIS, mongo: images.REDIS, edge: images.EDGE, "edge-front": images.FRONT })[name] ?? images.APP_V1;

function config(stack: string): { plain: ConfigMap; secret: ConfigMap } {
  const plain = onLocalEngine(stack, PREFIX[stack]);
  const secret = structuredClone(testSecrets(stack));
  delete secret["railyard:sshPrivateKey"];
  return { plain, secret };
}

/** "name: action (changes)" for every planned change, and the counts. */
function summary(plans: Record<string, Plan | undefined>): { updates: string[]; replacements: string[]; missing: string[]; raw: string[] } {
  const line = (name: string, p: Plan) => `${name}: ${p.changes.map((c) => `${c.path} ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`).join("; ")}`;
  const entries = Object.entries(plans);
  return {
    updates: entries.filter(([, p]) => p?.action === "update").map(([n, p]) => line(n, p as Plan)),
    replacements: entries.filter(([, p]) => p?.action === "replace").map(([n, p]) => line(n, p as Plan)),
    missing: entries.filter(([, p]) => p === undefined).map(([n]) => n),
    raw: entries.flatMap(([n, p]) => (p?.raw ?? []).map((k) => `${n}: ${k}`)),
  };
}

/** Only what the plan needs: the bootstrap (network), the network check and the services; no release steps. */
const servicesOnly = (run: StackRun) => {
  const services = new Set(run.resources.filter((r) => r.type === "docker:index/service:Service").map((r) => r.name));
  return (name: string) => services.has(name) || name === "host-bootstrap" || name === "host-network";
};

async function runningTaskIds(service: string): Promise<string[]> {
  for (let i = 0; i < 120; i++) {
    const running = (await tasks(service)).filter((t) => t.Status.State === "running");
    if (running.length > 0) return running.map((t) => t.ID).sort();
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${service} runs no task`);
}

describe("a second application of an unchanged stack plans nothing", () => {

  it.each(ALL_STACKS)("%s: every service read back as declared (0 updates, 0 replacements)", async (stack) => {
    await teardown(PREFIX[stack], `${PREFIX[stack]}-net`);
    const { plain, secret } = config(stack);
    const first = await runStack(stack, plain, secret);
    const applied = await applyStack(first, imageFor, servicesOnly(first), { converge: false });
    const created = Object.entries(applied.actions).filter(([, a]) => a === "create").length;
    expect(created).toBeGreaterThanOrEqual(8);
    const again = await runStack(stack, plain, secret);
    const s = summary(await planStack(again, imageFor));
    console.log(`second application of ${stack}: ${s.updates.length} updates, ${s.replacements.length} replacements of ${created} services`);
    expect(s.missing).toEqual([]);
    expect(s.replacements).toEqual([]);
    expect(s.updates).toEqual([]);
    // Not even a removal of a zero value: no change on the bridge's older diff path either.
    expect(s.raw).toEqual([]);
    await teardown(PREFIX[stack], `${PREFIX[stack]}-net`);
  });
});

describe("staging after a first application: what a change plans and restarts", () => {
  beforeAll(async () => {
    await teardown(PREFIX.staging, `${PREFIX.staging}-net`);
    const { plain, secret } = config("staging");
    const run = await runStack("staging", plain, secret);
    await applyStack(run, imageFor, servicesOnly(run), { converge: false });
  });

  afterAll(async () => {
    await teardown(PREFIX.staging, `${PREFIX.staging}-net`);
  });

  it("staging: a change of the worker's env plans an update of the worker alone", async () => {
    const { plain, secret } = config("staging");
    const services = plain["railyard:services"] as Record<string, { env: Record<string, string> }>;
    services.worker.env.CELERY_CONCURRENCY = "4";
    const s = summary(await planStack(await runStack("staging", plain, secret), imageFor));
    expect(s.replacements).toEqual([]);
    expect(s.updates).toHaveLength(1);
    expect(s.updates[0]).toMatch(/^worker: /);
    expect(s.updates[0]).toContain('task_spec.0.container_spec.0.env.CELERY_CONCURRENCY "" → "4"');
  });

  it("staging: an api release (new image, env) updates the api alone and leaves the database tasks running", async () => {
    const postgres = await runningTaskIds(`${PREFIX.staging}-postgres`);
    const redis = await runningTaskIds(`${PREFIX.staging}-redis`);
    const { plain, secret } = config("staging");
    const services = plain["railyard:services"] as Record<string, { env: Record<string, string> }>;
    services.api.env.RELEASE = "2";
    const run = await runStack("staging", plain, secret);
    const release = (name: string) => (name === "api" ? images.APP_V2 : imageFor(name));
    const applied = await applyStack(run, release, servicesOnly(run), { converge: false });
    const changed = Object.entries(applied.actions).filter(([, a]) => a !== "none");
    expect(changed).toEqual([["api", "update"]]);
    expect(await runningTaskIds(`${PREFIX.staging}-postgres`)).toEqual(postgres);
    expect(await runningTaskIds(`${PREFIX.staging}-redis`)).toEqual(redis);
  });

  // Measured, not assumed: Swarm compares the task template's env as a list, so the same env in another order
  // is a new task. This is why nothing outside a database's own entry may change its declaration.
  it("staging: any update of postgres restarts it when its env arrives in another order, and only then", async () => {
    const { plain, secret } = config("staging");
    const run = await runStack("staging", plain, secret);
    const declared = run.resources.find((r) => r.type === "docker:index/service:Service" && r.name === "postgres");
    if (!declared) throw new Error("no postgres service declared");
    const refs = await engineRefs(run);
    // A service-level change only (a label), sent first with env in the declared order, then in another order.
    const labelled = (value: string) => ({ ...declared.inputs, labels: [...(declared.inputs.labels as object[]), { label: "railyard.test", value }] });
    const before = await runningTaskIds(`${PREFIX.staging}-postgres`);
    expect((await applyService(labelled("1"), images.POSTGRES, refs, "declared")).action).toBe("update");
    await new Promise((r) => setTimeout(r, 3000));
    expect(await runningTaskIds(`${PREFIX.staging}-postgres`)).toEqual(before);
    expect((await applyService(labelled("2"), images.POSTGRES, refs, "rotated")).action).toBe("update");
    let after = before;
    for (let i = 0; i < 60 && after.join() === before.join(); i++) {
      await new Promise((r) => setTimeout(r, 500));
      after = (await tasks(`${PREFIX.staging}-postgres`)).map((t) => t.ID).sort();
    }
    expect(after).not.toEqual(before);
  });
});
