/** Each stack file builds the graph the design promises: asserted on the resources the real program registers. */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { DeclaredService } from "./engine/spec";
import { byType, Captured, isSecretValue, mockNetworkId, one, reveal, runStack, stackFile, StackRun, testSecrets } from "./harness";

const SERVICE = "docker:index/service:Service";
const SECRET = "docker:index/secret:Secret";
const VOLUME = "docker:index/volume:Volume";

type Spec = DeclaredService;
const spec = (r: Captured) => r.inputs as unknown as Spec;

const runs: Record<string, Promise<StackRun>> = {};
const run = (stack: string) => (runs[stack] ??= runStack(stack, stackFile(stack), testSecrets(stack)));

describe.each(["dev", "staging", "production"])("stack %s", (stack) => {
  it("declares the host, its bootstrap, and a Swarm service per service and database", async () => {
    const r = await run(stack);
    const file = stackFile(stack) as { "railyard:services": object; "railyard:databases": object };
    const names = [...Object.keys(file["railyard:databases"]), ...Object.keys(file["railyard:services"])].sort();
    const appServices = byType(r, SERVICE).filter((s) => !["edge", "edge-front"].includes(s.name));
    expect(appServices.map((s) => s.name).sort()).toEqual(names);
    for (const s of appServices) expect(spec(s).name).toBe(`${stack}-${s.name}`);
    // A fixed Swarm name: a replacement must delete the old service first (Swarm refuses a second of that name).
    for (const s of byType(r, SERVICE)) expect(`${s.name}: ${s.deleteBeforeReplace}`).toBe(`${s.name}: true`);
    expect(byType(r, "pulumi:providers:docker")).toHaveLength(1);
    const bootstrapType = stack === "dev" ? "command:local:Command" : "command:remote:Command";
    const bootstrap = one(r, bootstrapType, "host-bootstrap");
    expect(bootstrap.inputs.create).toContain(`--stack ${stack} --network ${stack}-net`);
    expect(bootstrap.inputs.addPreviousOutputInEnv).toBe(false);
    // The network's ID is looked up after a check that changes only with the names, not with the bootstrap
    // script: a replaced bootstrap leaves the ID known in a preview (no service shows as replaced).
    const check = one(r, bootstrapType, "host-network");
    expect(check.dependsOn).toContain("host-bootstrap");
    expect(reveal(check.inputs.triggers)).toEqual([stack, `${stack}-net`]);
  });

  it("rolls services start-first (the scheduler stop-first) with rollback on failure, under Docker's init", async () => {
    const r = await run(stack);
    for (const name of ["api", "frontend", "worker", "beat"]) {
      const s = spec(one(r, SERVICE, name));
      // beat is the stack's scheduler: never two at once, in an update or a rollback.
      const order = name === "beat" ? "stop-first" : "start-first";
      expect(s.updateConfig.order).toBe(order);
      expect(s.updateConfig.failureAction).toBe("rollback");
      expect(s.rollbackConfig?.order).toBe(order);
      expect(s.taskSpec.containerSpec.init).toBe(true);
      expect(s.rollbackConfig?.parallelism).toBe(0);
      // The health gate, not convergeConfig, waits for the release (and rolls it back within seconds).
      expect(s.convergeConfig).toBeUndefined();
      expect(s.taskSpec.restartPolicy).toMatchObject({ condition: "any", maxAttempts: 10 });
      expect(s.endpointSpec).toEqual({ mode: "dnsrr" });
      // By ID, the form the provider reads back (by name, the next `pulumi up` would replace the service).
      expect(s.taskSpec.networksAdvanceds).toEqual([{ id: mockNetworkId(`${stack}-net`) }]);
      expect(s.taskSpec.logDriver.name).toBe("json-file");
    }
  });

  it("runs each database as one stop-first replica with its volume and password secret, and no placement", async () => {
    const r = await run(stack);
    const declared = Object.keys((stackFile(stack) as { "railyard:databases": object })["railyard:databases"]);
    const dbs = byType(r, SERVICE).filter((s) => declared.includes(s.name));
    expect(dbs).toHaveLength(declared.length);
    for (const db of dbs) {
      const s = spec(db);
      expect(s.mode.replicated.replicas).toBe(1);
      expect(s.updateConfig.order).toBe("stop-first");
      // A declared placement would take the registry's platforms on create and lose them on the next update.
      expect(s.taskSpec.placement).toBeUndefined();
      expect(s.taskSpec.containerSpec.mounts?.[0]).toMatchObject({ type: "volume", source: `${stack}-${db.name}-data` });
      expect(s.taskSpec.containerSpec.secrets?.map((x) => x.fileName)).toEqual(["railyard_db_password"]);
      expect(JSON.stringify(s.taskSpec.containerSpec.env ?? {})).not.toMatch(/pw[a-z]+0123456789/);
      const volume = one(r, VOLUME, `${db.name}-data`);
      expect(volume.inputs.name).toBe(`${stack}-${db.name}-data`);
      const pw = one(r, SECRET, `${db.name}-password`);
      expect(isSecretValue(pw.inputs.data)).toBe(true);
    }
  });

  it("delivers secret env values as Swarm secrets, never as plain env", async () => {
    const r = await run(stack);
    const api = spec(one(r, SERVICE, "api"));
    const env = api.taskSpec.containerSpec.env ?? {};
    expect(env.DATABASE_URL).toBeUndefined();
    expect(api.taskSpec.containerSpec.secrets?.map((s) => s.fileName)).toContain("env_DATABASE_URL");
    expect(api.taskSpec.containerSpec.commands?.[2]).toContain('DATABASE_URL="$(cat /run/secrets/env_DATABASE_URL && printf x)" && DATABASE_URL="${DATABASE_URL%x}" && export DATABASE_URL');
    const worker = spec(one(r, SERVICE, "worker"));
    const workerCheck = worker.taskSpec.containerSpec.healthcheck?.tests[1];
    if (workerCheck !== undefined) expect(workerCheck).toMatch(/REDIS_URL="\$\(cat \/run\/secrets\/env_REDIS_URL && printf x\)" && REDIS_URL="\$\{REDIS_URL%x\}" && export REDIS_URL && .+/);
    const url = one(r, SECRET, "api-env-DATABASE_URL");
    expect(isSecretValue(url.inputs.data)).toBe(true);
    const decoded = Buffer.from(String(reveal(url.inputs.data)), "base64").toString();
    expect(decoded).toMatch(new RegExp(`^postgresql://[a-z]+:pwpostgrespassword0123456789@${stack}-postgres:5432/[a-z]+$`));
    for (const s of byType(r, SERVICE)) {
      expect(JSON.stringify(s.inputs)).not.toContain("0123456789");
      expect(JSON.stringify(s.inputs)).not.toContain("s3cr3t-key-value");
    }
  });

  it("orders services after what they reference", async () => {
    const r = await run(stack);
    const services = (stackFile(stack) as { "railyard:services": Record<string, { env?: Record<string, unknown> }> })[
      "railyard:services"
    ];
    let checked = 0;
    for (const [name, service] of Object.entries(services)) {
      const s = one(r, SERVICE, name);
      expect(s.dependsOn).toContain("host-bootstrap");
      const databases = Object.keys((stackFile(stack) as { "railyard:databases": object })["railyard:databases"]);
      for (const other of [...Object.keys(services), ...databases]) {
        const refers = JSON.stringify(service.env ?? {}).includes(`\${{${other}.`);
        // Services: exactly those referenced. Databases: at least those referenced (a service reference can
        // bring a database in, as worker's ${{api.DATABASE_URL}} does).
        if (refers || Object.keys(services).includes(other)) expect(s.dependsOn.includes(other), `${name} → ${other}`).toBe(refers);
        if (refers) checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
    const idx = (n: string) => r.resources.findIndex((x) => x.type === SERVICE && x.name === n);
    expect(idx("api")).toBeLessThan(idx("frontend"));
    expect(idx("postgres")).toBeLessThan(idx("api"));
  });

  it("exports connection URLs only as secrets", async () => {
    const r = await run(stack);
    expect(Object.keys(r.outputs)).toContain("databaseUrls");
    expect(await pulumi.isSecret(r.exports.databaseUrls as pulumi.Output<unknown>)).toBe(true);
    expect(await pulumi.isSecret(pulumi.output(r.exports.swarmServices))).toBe(false);
    expect(JSON.stringify(r.outputs.swarmServices)).toContain(`${stack}-api`);
  });
});

describe("per-stack differences come from config, not code", () => {
  it("staging: develop, port 3002, no pre-deploy backup, 20 health attempts", async () => {
    const r = await run("staging");
    expect(r.outputs.deploy).toMatchObject({ branch: "develop", preDeployBackup: false, healthCheckAttempts: 20 });
    const api = spec(one(r, SERVICE, "api"));
    expect(api.taskSpec.containerSpec.healthcheck?.tests[1]).toBe(
      "curl -fsS -o /dev/null http://127.0.0.1:3002/api/v1/health || wget -q -O /dev/null http://127.0.0.1:3002/api/v1/health",
    );
  });

  it("production: main, port 3001, pre-deploy backup, 30 health attempts, Mongo", async () => {
    const r = await run("production");
    expect(r.outputs.deploy).toMatchObject({ branch: "main", preDeployBackup: true, healthCheckAttempts: 30, backupRetention: 5 });
    expect(spec(one(r, SERVICE, "api")).taskSpec.containerSpec.healthcheck?.tests[1]).toContain("127.0.0.1:3001/api/v1/health");
    const mongo = spec(one(r, SERVICE, "mongo"));
    expect(mongo.taskSpec.containerSpec.env).toMatchObject({ MONGO_INITDB_ROOT_PASSWORD_FILE: "/run/secrets/railyard_db_password" });
    const worker = one(r, SECRET, "worker-env-MONGO_URL");
    expect(Buffer.from(String(reveal(worker.inputs.data)), "base64").toString()).toMatch(
      /^mongodb:\/\/app:pwmongopassword0123456789@production-mongo:27017\/conductor\?authSource=admin$/,
    );
  });

  it("staging and production pin the SSH host key; dev uses the local engine without SSH", async () => {
    const staging = await run("staging");
    const raw = one(staging, "command:remote:Command", "host-bootstrap").inputs.connection;
    const conn = reveal(raw) as Record<string, unknown>;
    expect(conn.hostKey).toMatch(/^ssh-ed25519 /);
    expect(conn.host).toBe("203.0.113.10");
    expect(isSecretValue(raw) || isSecretValue(conn.privateKey)).toBe(true);
    expect(reveal(conn.privateKey)).toContain("OPENSSH PRIVATE KEY");
    const provider = one(staging, "pulumi:providers:docker", "host-docker");
    expect(provider.inputs.host).toBe("ssh://deploy@203.0.113.10:22");
    expect(JSON.stringify(provider.inputs.sshOpts)).toContain("StrictHostKeyChecking=yes");
    const dev = await run("dev");
    // The local engine's socket, or the one DOCKER_HOST names where the tests run (test/host-local.test.ts covers both).
    expect(one(dev, "pulumi:providers:docker", "host-docker").inputs.host).toBe(process.env.DOCKER_HOST || "unix:///var/run/docker.sock");
    expect(byType(dev, "command:remote:Command")).toHaveLength(0);
  });

  it("dev builds images on the engine and runs services by the built digest", async () => {
    const r = await run("dev");
    const image = one(r, "docker:index/image:Image", "api-image");
    expect(image.inputs).toMatchObject({ imageName: "railyard/dev-api:latest", skipPush: true });
    expect(spec(one(r, SERVICE, "api")).taskSpec.containerSpec.image).toBe(`railyard/dev-api@sha256:${"a".repeat(64)}`);
  });

  it("limits CPU and memory where the stack file sets them", async () => {
    const r = await run("staging");
    expect(spec(one(r, SERVICE, "api")).taskSpec.resources?.limits).toEqual({ nanoCpus: 1e9, memoryBytes: 512 * 1024 ** 2 });
    expect(spec(one(r, SERVICE, "postgres")).taskSpec.resources?.limits).toEqual({ nanoCpus: 0, memoryBytes: 1024 ** 3 });
    // Unset limits are declared as 0 (none), so removing them from the stack file removes them from the service.
    expect(spec(one(r, SERVICE, "beat")).taskSpec.resources?.limits).toEqual({ nanoCpus: 0, memoryBytes: 0 });
  });
});
