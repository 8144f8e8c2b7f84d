/**
 * The day-two commands on the real engine, through the CLIs themselves (ts-node, a `mode: local` stack file):
 * `npm run status`, `logs` and `exec` (a one-off job from the live service's spec, and --reuse) against one small
 * service that has a secret env var. Exit codes come back as the command's own; the job is gone afterwards, also
 * when interrupted; nothing printed holds the secret. Prefix ryo: only what this file creates is removed.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const PREFIX = "ryo";
const SERVICE = `${PREFIX}-api`;
const NETWORK = `${PREFIX}-net`;
const SECRET_NAME = `${PREFIX}-token`;
const SECRET = `ryo-secret-${crypto.randomBytes(6).toString("hex")}`;
const PLAIN = `ryo-plain-${crypto.randomBytes(6).toString("hex")}`;
const RELEASE = "0123456789ab";
const ROOT = path.join(__dirname, "..", "..");
const TS_NODE = path.join(ROOT, "node_modules", ".bin", "ts-node");
const images = inject("images");

const root = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-ryo-root-"));
const dataDir = path.join(root, "data");
const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One of the CLIs as `npm run <name>` runs it, with this test's project folder. */
function cli(name: string, args: string[]): Ran {
  const r = spawnSync(TS_NODE, ["--transpile-only", path.join(ROOT, "scripts", `${name}.ts`), ...args], {
    cwd: ROOT, encoding: "utf8", env: { ...process.env, RAILYARD_PROJECT_DIR: root }, timeout: 180_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What is left of run jobs: their services and containers. */
function leftovers(): string[] {
  const services = docker("service", "ls", "--filter", "label=railyard.job=run", "--format", "{{.Name}}");
  const containers = docker("ps", "-a", "--filter", `name=${SERVICE}-run-`, "--format", "{{.Names}}");
  return [services, containers].join("\n").split("\n").filter(Boolean);
}

describe("status, logs and exec through the CLIs on a real engine", () => {
  beforeAll(async () => {
    fs.mkdirSync(path.join(dataDir, PREFIX, "releases"), { recursive: true });
    fs.writeFileSync(path.join(root, `Pulumi.${PREFIX}.yaml`), `config:\n  railyard:prefix: ${PREFIX}\n  railyard:host: { mode: local, dataDir: ${dataDir} }\n`);
    const record = {
      version: 1, seq: 1, status: "ok", kind: "deploy", at: "2026-11-26T12:00:00Z", who: "alice", commit: "3f2a1bc0d1e2f3a4", stack: PREFIX, key: "a".repeat(64), rollbackOf: null,
      services: { api: { swarm: SERVICE, image: images.APP_V1, release: RELEASE, migration: false, gate: [] } }, migrated: [], config: null,
    };
    fs.writeFileSync(path.join(dataDir, PREFIX, "releases", "000001.json"), JSON.stringify(record));
    fs.writeFileSync(path.join(dataDir, PREFIX, "releases", "live"), "1\n");
    execFileSync("docker", ["secret", "create", "--label", `railyard.stack=${PREFIX}`, SECRET_NAME, "-"], { input: SECRET });
    docker("network", "create", "--driver", "overlay", "--attachable", "--label", `railyard.stack=${PREFIX}`, NETWORK);
    // As railyard builds a service: the secret env var mounted as env_TOKEN and exported by the start command.
    docker(
      "service", "create", "--detach", "--name", SERVICE, "--label", `railyard.stack=${PREFIX}`, "--network", `name=${NETWORK},alias=api`,
      "--env", `RAILYARD_RELEASE=${RELEASE}`, "--env", `PLAIN=${PLAIN}`, "--secret", `source=${SECRET_NAME},target=env_TOKEN,mode=0444`,
      "--health-cmd", "true", "--health-interval", "1s", "--health-start-period", "1s", "--stop-grace-period", "2s",
      images.APP_V1, "/bin/sh", "-c", 'TOKEN="$(cat /run/secrets/env_TOKEN)" && export TOKEN && echo api-started && exec sleep 100000',
    );
    for (let i = 0; i < 120; i++) {
      if (docker("ps", "--filter", `label=com.docker.swarm.service.name=${SERVICE}`, "--format", "{{.Status}}").includes("(healthy)")) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${SERVICE} did not become healthy`);
  });

  afterAll(() => {
    spawnSync("bash", ["-c", `docker service rm ${SERVICE} >/dev/null 2>&1; docker service ls -q --filter label=railyard.job=run --filter label=railyard.stack=${PREFIX} | xargs -r docker service rm >/dev/null;
      for i in $(seq 60); do [ -z "$(docker ps -aq --filter name=${SERVICE})" ] && break; docker ps -aq --filter name=${SERVICE} | xargs -r docker rm -f >/dev/null 2>&1; sleep 0.5; done
      docker secret rm ${SECRET_NAME} >/dev/null 2>&1; for i in $(seq 20); do docker network rm ${NETWORK} >/dev/null 2>&1 && break; sleep 0.5; done; true`]);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("status: the live release, and the service's image, release, tasks and health; no env value, no secret", () => {
    const r = cli("status", ["--stack", PREFIX]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("stack ryo: live release 1 (deploy) by alice at 2026-11-26T12:00:00Z, commit 3f2a1bc0d1e2");
    expect(lines[1]).toMatch(/^SERVICE +IMAGE +RELEASE +TASKS +STATE$/);
    expect(lines.find((l) => l.startsWith(`${SERVICE} `))).toMatch(new RegExp(`^ryo-api +${images.APP_V1.replace(/[.]/g, "\\.")} +${RELEASE} 1/1 +running=1, healthy=1$`));
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout + r.stderr).not.toContain(PLAIN);
  });

  it("logs: the service's lines, --tail and --since; a service that does not exist fails", () => {
    const r = cli("logs", ["--stack", PREFIX, "--service", "api", "--tail", "5", "--since", "1h"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d{4}-\d{2}-\d{2}T\S+ ryo-api\.1\.\S+ +\| api-started$/m);
    const missing = cli("logs", ["--stack", PREFIX, "--service", "nope"]);
    expect(missing.code).not.toBe(0);
    expect(cli("logs", ["--stack", PREFIX, "--service", "api", "--since", "soon"]).code).toBe(2);
  });

  it("exec: a one-off job with the service's image, env, secret and network; its exit code; the job removed", () => {
    const r = cli("exec", ["--stack", PREFIX, "--service", "api", "--", "sh", "-c",
      `echo "plain=$PLAIN" | sed 's/ryo-plain-.*/ryo-plain-…/'; [ "$TOKEN" = "${SECRET}" ] && echo token-ok; [ "$RAILYARD_RELEASE" = ${RELEASE} ] && echo release-ok; getent hosts api >/dev/null && echo network-ok; echo to-stderr >&2; exit 7`]);
    expect(r.code).toBe(7);
    expect(r.stdout.split("\n").filter(Boolean)).toEqual(["plain=ryo-plain-…", "token-ok", "release-ok", "network-ok"]);
    expect(r.stderr).toContain("to-stderr");
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(leftovers()).toEqual([]);
  });

  it("exec --reuse: docker exec in the running task, stdin passed through, its exit code", () => {
    const r = spawnSync(TS_NODE, ["--transpile-only", path.join(ROOT, "scripts", "exec.ts"), "--stack", PREFIX, "--service", "api", "--reuse", "--", "sh", "-c", `read line; echo "got=$line"; [ "$TOKEN" = "${SECRET}" ] && echo token-ok; exit 4`], {
      cwd: ROOT, encoding: "utf8", input: "hello\n", env: { ...process.env, RAILYARD_PROJECT_DIR: root },
    });
    expect(r.status).toBe(4);
    expect(r.stdout.split("\n").filter(Boolean)).toEqual(["got=hello", "token-ok"]);
    expect(docker("service", "ls", "--filter", "label=railyard.job=run", "--format", "{{.Name}}")).toBe("");
  });

  it("exec: an interrupted job (Ctrl-C) is removed and says 130; a service of no stack of ours is refused (80)", async () => {
    const child = spawn(TS_NODE, ["--transpile-only", path.join(ROOT, "scripts", "exec.ts"), "--stack", PREFIX, "--service", "api", "--", "sh", "-c", "echo started; sleep 600"], {
      cwd: ROOT, env: { ...process.env, RAILYARD_PROJECT_DIR: root }, detached: true, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => void (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    for (let i = 0; i < 240 && !out.includes("started"); i++) await new Promise((r) => setTimeout(r, 250));
    expect(out).toContain("started");
    expect(leftovers().length).toBeGreaterThan(0);
    // Ctrl-C in a terminal: SIGINT to the whole process group.
    process.kill(-(child.pid as number), "SIGINT");
    expect(await exited).toBe(130);
    expect(leftovers()).toEqual([]);
    const missing = cli("exec", ["--stack", PREFIX, "--service", "nope", "--", "true"]);
    expect(missing.code).toBe(80);
    expect(missing.stderr).toContain("railyard-run: no service ryo-nope");
  });
});
