/**
 * The host's fast path (host/railyard-rollback.sh) on a real engine: a one-service stack released twice as
 * `pulumi up` releases it (release 1: env A on ryj-app:v1; release 2: env B on ryj-app:v2; both recorded by the
 * program's own begin/record commands), then rolled back from the host alone: every task runs v1 with env A
 * again, the rollback is a record and an audit line, and it names the command that brings Pulumi's state in line.
 * A second run has nothing left to go back to; refused runs (an image gone, the lock held) change nothing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ConfigMap, ROOT, runStack } from "../harness";
import { applyStack, tasks, teardown } from "./apply";
import { onLocalEngine } from "./probe";

const PREFIX = "ryj";
const API = `${PREFIX}-api`;
const STACK_DIR = `/tmp/railyard-engine/${PREFIX}`;
const V1 = `${PREFIX}-app:v1`;
const V2 = `${PREFIX}-app:v2`;
const images = inject("images");
const script = (name: string) => path.join(ROOT, "host", name);

/** The dev stack file cut to its api (no edge, no databases, no migration), with ROLLBACK_MARK in its env. */
function config(mark: string): ConfigMap {
  const plain = onLocalEngine("dev", PREFIX);
  delete plain["railyard:edge"];
  delete plain["railyard:databases"];
  const api = (plain["railyard:services"] as Record<string, Record<string, unknown>>).api;
  delete api.preDeployCommand;
  api.domains = [];
  api.env = { APP_ROLE: "api", ROLLBACK_MARK: mark };
  plain["railyard:services"] = { api };
  return plain;
}

/** A release as `pulumi up` applies it, recorded by the program's own begin/record. */
async function release(mark: string, image: string): Promise<void> {
  const run = await runStack("dev", config(mark));
  await applyStack(run, () => image);
}

const fastPath = (...args: string[]) =>
  spawnSync("bash", [script("railyard-rollback.sh"), "--stack-dir", STACK_DIR, "--stack", PREFIX, "--who", "ryj-oncall", "--yes", ...args], {
    encoding: "utf8",
  });

const releaseCli = (...args: string[]) =>
  spawnSync("bash", [script("railyard-release.sh"), ...args, "--stack-dir", STACK_DIR, "--stack", PREFIX], { encoding: "utf8" });

/** Image and ROLLBACK_MARK of every running task, sorted. */
async function running(): Promise<string[]> {
  const all = (await tasks(API)).filter((t) => t.Status.State === "running");
  return all
    .map((t) => {
      const spec = t.Spec.ContainerSpec as { Image: string; Env?: string[] };
      return `${spec.Image} ${(spec.Env ?? []).find((e) => e.startsWith("ROLLBACK_MARK=")) ?? "-"}`;
    })
    .sort();
}

/** The service's spec version and task IDs: what a refused run must leave alone. */
function untouched(): string {
  return execFileSync("docker", ["service", "inspect", "--format", "{{.Version.Index}}", API], { encoding: "utf8" }).trim();
}

const audit = () => fs.readFileSync(path.join(STACK_DIR, "audit.log"), "utf8").trim().split("\n");
const live = () => fs.readFileSync(path.join(STACK_DIR, "releases", "live"), "utf8").trim();

describe("host fast path: release 2 → release 1 without Pulumi", () => {
  beforeAll(async () => {
    await teardown(PREFIX, `${PREFIX}-net`);
    fs.rmSync(STACK_DIR, { recursive: true, force: true });
    for (const [tag, from, v] of [
      [V1, images.APP_V1, "1"],
      [V2, images.APP_V2, "2"],
    ]) {
      execFileSync("docker", ["build", "-q", "-t", tag, "-"], { input: `FROM ${from}\nLABEL v=${v}\n`, stdio: ["pipe", "ignore", "pipe"] });
    }
    await release("A", V1);
    await release("B", V2);
  });

  afterAll(async () => {
    spawnSync("bash", [script("railyard-release.sh"), "lock", "release", "--force", "--stack-dir", STACK_DIR, "--stack", PREFIX]);
    await teardown(PREFIX, `${PREFIX}-net`);
    spawnSync("docker", ["image", "rm", "-f", V1, V2]);
    fs.rmSync(STACK_DIR, { recursive: true, force: true });
  });

  it("both releases are recorded, release 2 live", async () => {
    expect(live()).toBe("2");
    expect(await running()).toEqual([`${V2} ROLLBACK_MARK=B`, `${V2} ROLLBACK_MARK=B`]);
  });

  it("refuses bad arguments (2) naming the option, and a run with no terminal to confirm on without --yes", () => {
    const bad = (args: string[]) => spawnSync("bash", [script("railyard-rollback.sh"), ...args], { encoding: "utf8", input: "" });
    const base = ["--stack-dir", STACK_DIR, "--stack", PREFIX, "--who", "x"];
    expect(bad([...base.slice(0, 4)]).stderr).toContain("--who is required");
    expect(bad(["--stack-dir", "tmp/x", "--stack", PREFIX, "--who", "x"]).stderr).toContain("--stack-dir must be");
    expect(bad([...base, "--to", "0"]).stderr).toContain("--to must be");
    const r = bad(base);
    expect([r.status, r.stderr]).toEqual([2, expect.stringContaining("pass --yes")]);
    expect(live()).toBe("2");
    expect(fs.existsSync(path.join(STACK_DIR, "releases", "lock"))).toBe(false);
  });

  it("refuses while another holds the lock, naming the holder; nothing changes", async () => {
    const before = untouched();
    const taken = releaseCli("lock", "acquire", "--who", "mallory", "--kind", "manual", "--message", "disk maintenance", "--token", "ryj-token");
    expect(taken.status, taken.stderr).toBe(0);
    try {
      const r = fastPath();
      expect(r.status, r.stderr).toBe(75);
      expect(r.stderr).toContain("locked by mallory");
      expect(r.stderr).toContain("disk maintenance");
    } finally {
      releaseCli("lock", "release", "--token", "ryj-token");
    }
    expect(untouched()).toBe(before);
    expect(live()).toBe("2");
    expect(await running()).toEqual([`${V2} ROLLBACK_MARK=B`, `${V2} ROLLBACK_MARK=B`]);
  });

  it("refuses when release 1's image is gone (76), naming it; nothing changes", async () => {
    const before = untouched();
    // The image stays on the engine under another tag, to be given its name back afterwards.
    execFileSync("docker", ["tag", V1, `${V1}-held`]);
    execFileSync("docker", ["image", "rm", "-f", V1], { stdio: "ignore" });
    try {
      const r = fastPath();
      expect(r.status, r.stderr).toBe(76);
      expect(r.stderr).toContain(V1);
    } finally {
      execFileSync("docker", ["tag", `${V1}-held`, V1]);
      execFileSync("docker", ["image", "rm", `${V1}-held`], { stdio: "ignore" });
    }
    expect(untouched()).toBe(before);
    expect(live()).toBe("2");
    expect(fs.existsSync(path.join(STACK_DIR, "releases", "lock"))).toBe(false);
  });

  it("puts every task back on v1 with env A, records it and names the command for Pulumi", async () => {
    const r = fastPath();
    expect(r.status, r.stderr).toBe(0);
    expect(await running()).toEqual([`${V1} ROLLBACK_MARK=A`, `${V1} ROLLBACK_MARK=A`]);
    expect(r.stdout).toContain(`npm run rollback -- --stack ${PREFIX} --to 1`);
    expect(r.stderr).toMatch(new RegExp(`api: image ${V2} -> ${V1}; env (\\S+ )*ROLLBACK_MARK\n`));
    expect(r.stderr + r.stdout).not.toContain("ROLLBACK_MARK=");
    expect(live()).toBe("3");
    const record = JSON.parse(fs.readFileSync(path.join(STACK_DIR, "releases", "000003.json"), "utf8")) as Record<string, unknown>;
    const first = JSON.parse(fs.readFileSync(path.join(STACK_DIR, "releases", "000001.json"), "utf8")) as Record<string, unknown>;
    expect(record).toMatchObject({ status: "ok", kind: "host-rollback", rollbackOf: 1, who: "ryj-oncall", key: first.key, config: first.config });
    expect(record.services).toEqual(first.services);
    // Every task at once while it rolled, then the update settings as recorded: the live spec is release 1's.
    const spec = JSON.parse(execFileSync("docker", ["service", "inspect", "--format", "{{json .Spec}}", API], { encoding: "utf8" })) as unknown;
    expect(spec).toEqual((first.services as Record<string, { spec: unknown }>).api.spec);
    expect(audit().at(-1)).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ ryj-oncall ${PREFIX} host-rollback 3 \\S+$`));
    expect(fs.existsSync(path.join(STACK_DIR, "releases", "lock"))).toBe(false);
  });

  it("a second run has nothing further back to go to (77) and changes nothing", async () => {
    const before = untouched();
    const r = fastPath();
    expect(r.status, r.stderr).toBe(77);
    expect(r.stderr).toContain("no release before");
    expect(untouched()).toBe(before);
    expect(live()).toBe("3");
  });

  it("--to 2 rolls forward again (env B on v2)", async () => {
    const r = fastPath("--to", "2");
    expect(r.status, r.stderr).toBe(0);
    expect(await running()).toEqual([`${V2} ROLLBACK_MARK=B`, `${V2} ROLLBACK_MARK=B`]);
    expect(r.stdout).toContain(`npm run rollback -- --stack ${PREFIX} --to 2`);
    expect(live()).toBe("4");
    expect(audit().at(-1)).toMatch(new RegExp(` ryj-oncall ${PREFIX} host-rollback 4 `));
  });
});
