/**
 * A scheduler never runs twice: the staging stack's beat (kind: scheduler, Debian's real `celery beat` with a
 * Redis broker) sampled continuously on a real engine through an update, a rollback, and a release whose
 * migration pauses it. Two measures: the beat containers running at each sample (every 100 ms), and the beats'
 * own record of each send (the test Celery app records "<hostname> <epoch>" per send on a Redis list): two
 * hostnames whose sends overlap in time are two schedulers. The same update of beat declared as a worker
 * (start-first, as before) shows the sampler sees two.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ConfigMap, runStack, StackRun, testSecrets } from "../harness";
import { applyStack, CommandFailed, teardown } from "./apply";
import { onLocalEngine, runningContainer, runningImages } from "./probe";

const PREFIX = "ryc";
const BEAT = `${PREFIX}-beat`;
const images = inject("images");
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The staging stack file without its edge and frontend (not needed here), on this engine. */
function config(beatKind: "scheduler" | "worker" = "scheduler"): ConfigMap {
  const plain = onLocalEngine("staging", PREFIX);
  delete plain["railyard:edge"];
  const services = plain["railyard:services"] as Record<string, Record<string, unknown>>;
  delete services.frontend;
  services.api.domains = [];
  services.beat.kind = beatKind;
  return plain;
}

const secrets = () => {
  const secret = structuredClone(testSecrets("staging"));
  delete secret["railyard:sshPrivateKey"];
  return secret;
};

/** Test images per service: the databases', and `app` for api, worker and beat. */
const imageFor = (app: Record<string, string>) => (name: string) =>
  ({ postgres: images.POSTGRES, redis: images.REDIS })[name] ?? app[name] ?? images.APP_V1;

/** Samples how many beat containers run, every 100 ms, until stopped; returns the most seen at once. */
function sampleBeats(): { stop: () => Promise<number> } {
  let running = true;
  let most = 0;
  const loop = (async () => {
    while (running) {
      const { stdout } = await run("docker", ["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${BEAT}`, "--filter", "status=running"]);
      most = Math.max(most, stdout.split("\n").filter(Boolean).length);
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return most;
    },
  };
}

/** The beats' own record of their sends, from the stack's Redis: hostname → [first, last] send time. */
async function sendRanges(): Promise<Map<string, [number, number]>> {
  const redis = await runningContainer(`${PREFIX}-redis`);
  const out = execFileSync(
    "docker",
    ["exec", redis, "sh", "-c", 'redis-cli -a "$(cat /run/secrets/railyard_db_password)" --no-auth-warning lrange railyard:beat 0 -1'],
    { encoding: "utf8" },
  );
  const ranges = new Map<string, [number, number]>();
  for (const line of out.split("\n").filter(Boolean)) {
    const [host, at] = line.split(" ");
    const t = Number(at);
    const r = ranges.get(host);
    ranges.set(host, r ? [Math.min(r[0], t), Math.max(r[1], t)] : [t, t]);
  }
  return ranges;
}

/** The most beats whose sends overlap in time (1 when each beat's sends end before the next one's begin). */
function concurrentSenders(ranges: Map<string, [number, number]>): number {
  const spans = [...ranges.values()];
  return Math.max(0, ...spans.map(([from]) => spans.filter(([a, b]) => a <= from && from <= b).length));
}

async function clearSends(): Promise<void> {
  const redis = await runningContainer(`${PREFIX}-redis`);
  execFileSync("docker", ["exec", redis, "sh", "-c", 'redis-cli -a "$(cat /run/secrets/railyard_db_password)" --no-auth-warning del railyard:beat']);
}

/** Applies the stack with the given app images while sampling; the most beat containers and senders seen at once. */
async function release(stack: StackRun, app: Record<string, string>): Promise<{ containers: number; senders: number; failed?: CommandFailed }> {
  await clearSends();
  const sampler = sampleBeats();
  let failed: CommandFailed | undefined;
  try {
    await applyStack(stack, imageFor(app));
  } catch (e) {
    if (!(e instanceof CommandFailed)) throw e;
    failed = e;
  }
  // The beat that runs at the end sends a few more ticks: its range closes after the release.
  await sleep(3000);
  const containers = await sampler.stop();
  const senders = concurrentSenders(await sendRanges());
  return { containers, senders, failed };
}

describe("a scheduler (celery beat) never runs twice", () => {
  let stack: StackRun;
  const counts: Record<string, { containers: number; senders: number }> = {};

  beforeAll(async () => {
    await teardown(PREFIX, `${PREFIX}-net`);
    stack = await runStack("staging", config(), secrets());
    await applyStack(stack, imageFor({}));
  });

  afterAll(async () => {
    console.log(`scheduler: most beats at once (containers / senders): ${JSON.stringify(counts)}`);
    await teardown(PREFIX, `${PREFIX}-net`);
  });

  it("an update stops the old beat before the new one starts", async () => {
    const r = await release(stack, { beat: images.APP_V2 });
    counts.update = { containers: r.containers, senders: r.senders };
    expect(r.failed).toBeUndefined();
    expect(await runningImages(BEAT)).toEqual([images.APP_V2]);
    expect(r).toMatchObject({ containers: 1, senders: 1 });
  });

  it("a release that crashes is rolled back stop-first: never two", async () => {
    const r = await release(stack, { beat: images.APP_CRASH });
    counts.rollback = { containers: r.containers, senders: r.senders };
    expect([r.failed?.resource, r.failed?.exitCode]).toEqual(["beat-gate", 40]);
    expect(await runningImages(BEAT)).toEqual([images.APP_V2]);
    expect(r).toMatchObject({ containers: 1, senders: 1 });
  });

  it("a release whose migration pauses it: paused, restored, then updated, one at a time", async () => {
    const app = { api: images.APP_V2, worker: images.APP_V2, beat: images.APP_V1 };
    const r = await release(stack, app);
    counts.pausedMigration = { containers: r.containers, senders: r.senders };
    expect(r.failed).toBeUndefined();
    expect(await runningImages(BEAT)).toEqual([images.APP_V1]);
    expect(r).toMatchObject({ containers: 1, senders: 1 });
  });

  it("the same update of beat declared as a worker (start-first, as before) runs two at once", async () => {
    const asWorker = await runStack("staging", config("worker"), secrets());
    await applyStack(asWorker, imageFor({ api: images.APP_V2, worker: images.APP_V2, beat: images.APP_V1 }));
    const r = await release(asWorker, { api: images.APP_V2, worker: images.APP_V2, beat: images.APP_V2 });
    counts.asWorker = { containers: r.containers, senders: r.senders };
    expect(r.failed).toBeUndefined();
    expect(r.containers).toBe(2);
  });
});
