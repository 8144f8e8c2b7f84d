/**
 * Release steps: the migration job and health gate command lines (exact strings, then run by bash with hostile
 * values that must arrive literally), the host scripts' argument checks run for real, and the command resources
 * each stack declares: order (backup → migration → service → edge → gate), triggers and options.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { gateCommand } from "../commands/gate";
import { MigrationJob, migrationJobArgs, migrateCommand } from "../commands/migrate";
import { HOSTILE } from "./hostile";
import { byType, Captured, one, reveal, ROOT, runStack, stackFile, StackRun, testSecrets } from "./harness";

const job: MigrationJob = {
  stack: "st",
  job: "st-api-migrate",
  image: "registry.example.com/api@sha256:" + "1".repeat(64),
  network: "st-net",
  env: { ENVIRONMENT: "staging" },
  secrets: [{ name: "api-env-DATABASE_URL-abc1234", file: "env_DATABASE_URL" }],
  secretVars: ["DATABASE_URL"],
  command: "alembic upgrade head",
  timeoutSeconds: 300,
  pause: [{ service: "st-worker", stopGraceSeconds: 120 }],
  stateDir: "/srv/railyard/st/state",
  labels: { "railyard.stack": "st" },
};

describe("release command lines", () => {
  it("runs the pre-deploy command as a Swarm job from the new image with the service's network, env and secrets", () => {
    expect(migrateCommand("/srv/railyard/st/scripts/railyard-migrate.sh", job)).toBe(
      "timeout 780 bash /srv/railyard/st/scripts/railyard-migrate.sh --job st-api-migrate --timeout 300 --stack st " +
        "--state-dir /srv/railyard/st/state --pause st-worker -- " +
        "--network st-net --label railyard.stack=st --env ENVIRONMENT=staging " +
        "--secret source=api-env-DATABASE_URL-abc1234,target=env_DATABASE_URL,mode=0444 " +
        `registry.example.com/api@sha256:${"1".repeat(64)} /bin/sh -c ` +
        `'DATABASE_URL="$(cat /run/secrets/env_DATABASE_URL && printf x)" && DATABASE_URL="\${DATABASE_URL%x}" && export DATABASE_URL && exec alembic upgrade head'`,
    );
  });

  it("gates on the declared image, probing each task and the edge, bounded by timeout", () => {
    expect(
      gateCommand("/srv/railyard/st/scripts/railyard-gate.sh", {
        service: "st-api",
        image: "registry.example.com/api@sha256:" + "1".repeat(64),
        release: "0123456789ab",
        stateDir: "/srv/railyard/st/state",
        probe: { port: 3002, path: "/api/v1/health" },
        edge: { url: "https://127.0.0.1:443/api/v1/health", host: "api.example.com", insecure: true },
        attempts: 20,
        intervalSeconds: 5,
        stableSeconds: 5,
      }),
    ).toBe(
      "timeout 585 bash /srv/railyard/st/scripts/railyard-gate.sh --service st-api " +
        `--image registry.example.com/api@sha256:${"1".repeat(64)} --release 0123456789ab --state-dir /srv/railyard/st/state ` +
        "--port 3002 --path /api/v1/health " +
        "--url https://127.0.0.1:443/api/v1/health --host api.example.com --insecure --attempts 20 --interval 5 --stable 5",
    );
  });

  it("delivers hostile env values and commands to the script literally and executes nothing", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-release-"));
    const fake = path.join(dir, "fake.sh");
    fs.writeFileSync(fake, `printf '%s\\0' "$@" > ${dir}/argv\n`);
    fs.rmSync("/tmp/railyard-pwned", { force: true });
    const env = Object.fromEntries(HOSTILE.map((v, i) => [`V${i}`, v]));
    for (const command of HOSTILE.filter((v) => v !== "")) {
      const hostile = { ...job, env, command };
      const run = spawnSync("bash", ["-c", migrateCommand(fake, hostile)], { encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      const argv = fs.readFileSync(path.join(dir, "argv"), "utf8").split("\0").slice(0, -1);
      expect(argv).toEqual(["--job", job.job, "--timeout", "300", "--stack", "st", "--state-dir", "/srv/railyard/st/state", "--pause", "st-worker", "--", ...migrationJobArgs(hostile)]);
    }
    expect(fs.existsSync("/tmp/railyard-pwned")).toBe(false);
  });
});

describe("host scripts, run for real", () => {
  const script = (name: string) => path.join(ROOT, "host", name);
  it.each([
    ["railyard-migrate.sh", ["--job", "x", "--timeout", "abc", "--", "img"], "--timeout must be a number of seconds"],
    ["railyard-migrate.sh", ["--job", "Bad Name", "--timeout", "5", "--", "img"], "--job must be a lower-case name"],
    ["railyard-migrate.sh", ["--job", "x", "--timeout", "5", "--", "img"], "--state-dir must be an absolute path"],
    ["railyard-migrate.sh", ["--job", "x", "--timeout", "5", "--state-dir", "state", "--", "img"], "--state-dir must be an absolute path"],
    ["railyard-migrate.sh", ["--job", "x", "--timeout", "5", "--state-dir", "/tmp/x"], "arguments are missing after --"],
    ["railyard-gate.sh", ["--service", "x", "--image", "img;rm -rf /"], "--image must be an image reference"],
    ["railyard-gate.sh", ["--service", "x", "--image", "img", "--path", "/$(id)"], "--path must be an HTTP path"],
    ["railyard-gate.sh", ["--service", "x", "--image", "img", "--attempts", "0"], "--attempts must be 1 to 999"],
  ])("%s %j exits 2 naming the argument", (name, args, message) => {
    const run = spawnSync("bash", [script(name), ...args], { encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it.each(["railyard-migrate.sh", "railyard-gate.sh"])("%s --help explains usage and exit codes", (name) => {
    const run = spawnSync("bash", [script(name), "--help"], { encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("Usage:");
    expect(run.stdout).toContain("Exit codes:");
  });
});

describe("timeouts the scripts accept", () => {
  it("rounds a sub-second migration timeout up to whole seconds, and passes the gate's interval as seconds", async () => {
    const plain = stackFile("staging");
    Object.assign(plain["railyard:deploy"] as object, { migrationTimeout: "1500ms", healthCheckInterval: "1250ms" });
    const r = await runStack("staging", plain, testSecrets("staging"));
    // 2 s for the job, 120 s for the staging worker to stop (its stop grace period), 360 s for the script's other bounds.
    expect(create(one(r, "command:remote:Command", "api-migrate"))).toMatch(
      /^timeout 482 bash \S+railyard-migrate\.sh --job staging-api-migrate --timeout 2 --stack staging --state-dir \/srv\/railyard\/staging\/state /,
    );
    expect(create(one(r, "command:remote:Command", "api-gate"))).toContain(" --attempts 20 --interval 1.25 --stable 5");
    expect(create(one(r, "command:remote:Command", "worker-gate"))).toContain(" --stable 10");
  });
});

describe("a routed service scaled to 0", () => {
  it("is gated on its tasks only, not through the edge (nothing would answer there)", async () => {
    const plain = stackFile("staging");
    (plain["railyard:services"] as Record<string, { replicas: number }>).frontend.replicas = 0;
    const r = await runStack("staging", plain, testSecrets("staging"));
    expect(create(one(r, "command:remote:Command", "frontend-gate"))).not.toContain("--url");
    expect(create(one(r, "command:remote:Command", "api-gate"))).toContain("--url");
  });
});

const runs: Record<string, Promise<StackRun>> = {};
const run = (stack: string) => (runs[stack] ??= runStack(stack, stackFile(stack), testSecrets(stack)));
const create = (r: Captured) => String(reveal(r.inputs.create));

describe.each([
  { stack: "staging", type: "command:remote:Command", scripts: "/srv/railyard/staging/scripts/", backups: [] as string[] },
  { stack: "production", type: "command:remote:Command", scripts: "/srv/railyard/production/scripts/", backups: ["postgres", "mongo", "redis"] },
  { stack: "dev", type: "command:local:Command", scripts: path.join(ROOT, "host") + "/", backups: [] as string[] },
])("release steps of stack $stack", ({ stack, type, scripts, backups }) => {
  it("runs the migration before the service update, re-run when the image changes", async () => {
    const r = await run(stack);
    const migrate = one(r, type, "api-migrate");
    const pause = stack === "dev" ? "" : `--pause ${stack}-worker --pause ${stack}-beat `;
    const state = stack === "dev" ? "/tmp/railyard/dev/state" : `/srv/railyard/${stack}/state`;
    // staging and production pull the app from GHCR (railyard:registry): the job logs in with the token on stdin.
    const registry = stack === "dev" ? "" : "--registry ghcr.io --registry-user example-bot ";
    expect(create(migrate)).toContain(`bash ${scripts}railyard-migrate.sh --job ${stack}-api-migrate --timeout 300 --stack ${stack} --state-dir ${state} ${pause}${registry}-- --network ${stack}-net`);
    // The job's 300 s, the longest stop grace period it pauses (the worker's 120 s; none in dev), the script's 360 s.
    expect(create(migrate)).toMatch(new RegExp(`^timeout ${stack === "dev" ? 660 : 780} `));
    expect(migrate.inputs).toMatchObject({ addPreviousOutputInEnv: false, logging: "stdoutAndStderr" });
    const image = (one(r, "docker:index/service:Service", "api").inputs.taskSpec as { containerSpec: { image: string } }).containerSpec.image;
    expect(reveal(migrate.inputs.triggers)).toEqual([image]);
    expect(create(migrate)).toContain(` ${image} /bin/sh -c `);
    expect(one(r, "docker:index/service:Service", "api").dependsOn).toContain("api-migrate");
    expect(byType(r, type).filter((c) => c.name.endsWith("-migrate")).map((c) => c.name)).toEqual(["api-migrate"]);
  });

  it("updates the services a migration pauses only after it (never while its job runs)", async () => {
    const r = await run(stack);
    const paused = stack === "dev" ? [] : ["worker", "beat"];
    for (const name of ["worker", "beat"]) {
      const deps = one(r, "docker:index/service:Service", name).dependsOn;
      if (paused.includes(name)) expect(deps, name).toContain("api-migrate");
      else expect(deps, name).not.toContain("api-migrate");
    }
  });

  it("gates every service after its update and the edge, on its declared release (RAILYARD_RELEASE in its tasks' env), recording failures in the stack's state folder", async () => {
    const r = await run(stack);
    for (const name of ["api", "frontend", "worker", "beat"]) {
      const gate = one(r, type, `${name}-gate`);
      expect(gate.dependsOn).toEqual(expect.arrayContaining([name, "edge"]));
      const spec = reveal(one(r, "docker:index/service:Service", name).inputs.taskSpec) as { containerSpec: { image: string; env: Record<string, string> } };
      const release = spec.containerSpec.env.RAILYARD_RELEASE;
      expect(release, name).toMatch(/^[0-9a-f]{12}$/);
      expect(create(gate)).toMatch(
        new RegExp(`bash ${scripts}railyard-gate\\.sh --service ${stack}-${name} --image ${spec.containerSpec.image} --release ${release} --state-dir /\\S+/state --`),
      );
      // A new release re-runs the gate, whatever it changed.
      expect(JSON.stringify(reveal(gate.inputs.triggers))).toContain(`"${release}"`);
    }
    expect(create(one(r, type, "api-gate"))).toMatch(/--port \d+ --path \S+ --url \S+ --host \S+/);
    expect(create(one(r, type, "worker-gate"))).not.toContain("--port");
  });

  it("gates the edge, its front and each database on Swarm's own update (--settle), after the service, inside its component", async () => {
    const r = await run(stack);
    const databases = Object.keys((stackFile(stack) as { "railyard:databases": object })["railyard:databases"]);
    const gated = [["edge", "edge", "edge"], ["edge-front", "front", "edge"], ...databases.map((d) => [d, d, d])];
    for (const [service, swarm, parent] of gated) {
      const gate = one(r, type, `${service}-settle`);
      expect(create(gate)).toBe(`timeout 360 bash ${scripts}railyard-gate.sh --settle --service ${stack}-${swarm} --timeout 300`);
      expect(gate.parent).toBe(parent);
      expect(gate.dependsOn).toContain(service);
      expect(gate.inputs).toMatchObject({ addPreviousOutputInEnv: false, logging: "stdoutAndStderr" });
    }
    expect(byType(r, type).filter((c) => c.name.endsWith("-settle")).map((c) => c.name).sort()).toEqual(gated.map(([s]) => `${s}-settle`).sort());
  });

  it(`dumps ${backups.length ? backups.join(", ") : "no database"} before the migrations`, async () => {
    const r = await run(stack);
    const dumps = byType(r, type).filter((c) => c.name.startsWith("backup-"));
    expect(dumps.map((d) => d.name.replace("backup-", "")).sort()).toEqual([...backups].sort());
    for (const d of dumps) {
      // To the bucket, as root (the uploader's key is root's alone): bounded by railyard:backups.timeout (6h by
      // default), as the scheduled dumps are.
      expect(create(d)).toMatch(new RegExp(`^script='timeout 21600 bash ${scripts}railyard-backup.sh --service ${stack}-\\w+ --engine \\w+`));
      expect(create(d)).toContain('exec sudo -n sh -c "$script"');
      // The production stack backs every database up to its bucket: the pre-deploy dumps go there too, once the
      // uploader's key is on the host.
      const db = d.name.replace("backup-", "");
      expect(create(d)).toContain(
        `--bucket railyard-production-backups-example --prefix ${stack}/${db} --credentials /srv/railyard/${stack}/secrets/backup-uploader.ini --region sa-east-1 --reason pre-deploy`,
      );
      expect(d.dependsOn).toEqual(expect.arrayContaining(["backups-tools", "backups-uploader-key"]));
    }
    if (backups.length) expect(one(r, type, "api-migrate").dependsOn).toEqual(expect.arrayContaining(dumps.map((d) => d.name)));
  });

  it("puts no secret value in any command line", async () => {
    const r = await run(stack);
    const secrets = Object.values((testSecrets(stack)["railyard:secrets"] ?? {}) as Record<string, string>);
    const passwords = byType(r, "random:index/randomPassword:RandomPassword").map((p) => `pw${p.name.replace(/[^A-Za-z0-9]/g, "")}0123456789`);
    for (const c of [...byType(r, "command:remote:Command"), ...byType(r, "command:local:Command")]) {
      for (const s of [...secrets, ...passwords]) expect(create(c), c.name).not.toContain(s);
    }
  });
});

describe("settle gates re-run when their service's spec changes, and only then", () => {
  const trigger = (r: StackRun, name: string) => JSON.stringify(reveal(one(r, "command:remote:Command", `${name}-settle`).inputs.triggers));
  type Entries = Record<string, Record<string, unknown>>;
  const staging = (change: (c: Record<string, Entries>) => void) => {
    const plain = stackFile("staging") as Record<string, Entries>;
    change(plain);
    return runStack("staging", plain, testSecrets("staging"));
  };
  const GATED = ["edge", "edge-front", "postgres", "redis"];

  it("keeps every trigger for the same stack file", async () => {
    const [a, b] = [await run("staging"), await staging(() => undefined)];
    for (const name of GATED) expect(trigger(b, name), name).toBe(trigger(a, name));
    expect(trigger(a, "edge")).toContain("caddyfile");
  });

  it("changes only the edge's when its Caddyfile changes, none for an app release, only a database's for its image", async () => {
    const base = await run("staging");
    const app = await staging((c) => (c["railyard:services"].api.image = `registry.example.com/aponta/api@sha256:${"2".repeat(64)}`));
    for (const name of GATED) expect(trigger(app, name), name).toBe(trigger(base, name));
    const edge = await staging((c) => ((c["railyard:edge"] as Record<string, unknown>).maxRequestBody = "20M"));
    expect(trigger(edge, "edge")).not.toBe(trigger(base, "edge"));
    for (const name of ["edge-front", "postgres", "redis"]) expect(trigger(edge, name), name).toBe(trigger(base, name));
    const db = await staging((c) => (c["railyard:databases"].postgres.image = `postgres:16.4-bookworm@sha256:${"9".repeat(64)}`));
    expect(trigger(db, "postgres")).not.toBe(trigger(base, "postgres"));
    for (const name of ["edge", "edge-front", "redis"]) expect(trigger(db, name), name).toBe(trigger(base, name));
  });
});

describe("host scripts upload", () => {
  it("copies each host script and their library to <stackDir>/scripts over SSH, replaced when its content changes", async () => {
    const r = await run("staging");
    const copies = byType(r, "command:remote:CopyToRemote");
    expect(copies.map((c) => c.inputs.remotePath).sort()).toEqual(
      [
        "railyard-backup.sh",
        "railyard-dbpass.sh",
        "railyard-drill.sh",
        "railyard-gate.sh",
        "railyard-lib.sh",
        "railyard-migrate.sh",
        "railyard-release.sh",
        "railyard-releases.sh",
        "railyard-restore.sh",
        "railyard-rollback.sh",
        "railyard-run.sh",
        "railyard-s3.sh",
        "railyard-status.sh",
      ].map((s) => `/srv/railyard/staging/scripts/${s}`),
    );
    for (const c of copies) expect(reveal(c.inputs.triggers)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    expect(one(r, "command:remote:Command", "api-migrate").dependsOn).toEqual(expect.arrayContaining(copies.map((c) => c.name)));
    expect(byType(await run("dev"), "command:remote:CopyToRemote")).toHaveLength(0);
  });

  it("feeds the remote bootstrap the library, then the script, re-run when either changes", async () => {
    const bootstrap = one(await run("staging"), "command:remote:Command", "host-bootstrap");
    const stdin = String(reveal(bootstrap.inputs.stdin));
    expect(stdin).toBe(`${fs.readFileSync(path.join(ROOT, "host", "railyard-lib.sh"), "utf8")}\n${fs.readFileSync(path.join(ROOT, "host", "railyard-bootstrap.sh"), "utf8")}`);
    expect((reveal(bootstrap.inputs.triggers) as string[])[0]).toBe(createHash("sha256").update(stdin).digest("hex"));
  });
});
