/**
 * railyard:registry in the resource graph (staging and production under mocks): the Docker provider holds the
 * registry's credentials (password secret), and the provider's own rule (kreuzwerker v4 fromRegistryAuth, ported
 * in ./engine/provider/registryAuth.ts) sends them with the create and update of exactly the services, databases
 * and edge services whose image is on the server; no service carries an `auth` block (ForceNew: a token rotation
 * would replace it). A migration job from an image on the server gets the password on its stdin only. Config:
 * every problem names its key, and no problem shows the password.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { migrateCommand, migrationStdin } from "../commands/migrate";
import { isRegistryServer, registryFor, registryHost } from "../config/registry";
import { byType, ConfigMap, isSecretValue, one, reveal, runStack, stackFile, StackRun, StackRunError, testSecrets } from "./harness";
import { registryAuthHeader, serviceAuth } from "./engine/provider/registryAuth";
import { planAgainstEngine } from "./engine/provider/plan";

const SERVICE = "docker:index/service:Service";
const PROVIDER = "pulumi:providers:docker";
const TOKEN = "ghp_registry-token-value-0123456789";
const REGISTRY = { server: "registry.example.com", username: "example-bot", passwordSecret: "REGISTRY_TOKEN" };
/** The edge's Caddy mirrored to the private registry (its front stays on Docker Hub). */
const MIRRORED_CADDY = `registry.example.com/mirror/caddy:2.10-alpine@sha256:${"5".repeat(64)}`;

/**
 * The fixture these tests vary: the shipped stack file with its app's images on registry.example.com instead of
 * GHCR, and without the railyard:registry and image builds it ships with (so each test adds exactly what it names).
 */
function appOnExampleRegistry(stack: string): ConfigMap {
  const plain = structuredClone(stackFile(stack));
  delete plain["railyard:registry"];
  const { images: _images, promoteFrom: _promoteFrom, ...deploy } = plain["railyard:deploy"] as Record<string, unknown>;
  plain["railyard:deploy"] = deploy;
  for (const service of Object.values(plain["railyard:services"] as Record<string, { image?: string }>)) {
    if (service.image !== undefined) service.image = service.image.replace(/^ghcr\.io\/example\//, "registry.example.com/aponta/");
  }
  return plain;
}

function withRegistry(stack: string, registry: unknown = REGISTRY): ConfigMap {
  const plain = appOnExampleRegistry(stack);
  const edge = plain["railyard:edge"] as Record<string, unknown>;
  return { ...plain, "railyard:registry": registry, "railyard:edge": { ...edge, image: MIRRORED_CADDY } };
}

function secretsWith(stack: string, extra: Record<string, string> = { REGISTRY_TOKEN: TOKEN }): ConfigMap {
  const s = testSecrets(stack);
  return { ...s, "railyard:secrets": { ...(s["railyard:secrets"] as Record<string, string>), ...extra } };
}

type Blocks = { address: string; username: string; password: unknown }[];
/** The provider's registryAuth as the mock monitor got it (a provider's nested inputs may arrive as JSON text). */
function providerBlocks(run: StackRun): Blocks {
  const raw = reveal(one(run, PROVIDER, "host-docker").inputs.registryAuth);
  return (typeof raw === "string" ? JSON.parse(raw) : raw) as Blocks;
}

const imageOf = (r: { inputs: Record<string, unknown> }) => String((reveal(r.inputs.taskSpec) as { containerSpec: { image: string } }).containerSpec.image);

describe.each(["staging", "production"])("%s with railyard:registry", (stack) => {
  it("the provider holds the registry's credentials, the password as a secret; no service declares auth", async () => {
    const run = await runStack(stack, withRegistry(stack), secretsWith(stack));
    const provider = one(run, PROVIDER, "host-docker");
    const blocks = providerBlocks(run);
    expect(blocks).toHaveLength(1);
    expect(blocks[0].address).toBe("registry.example.com");
    expect(blocks[0].username).toBe("example-bot");
    expect(reveal(blocks[0].password)).toBe(TOKEN);
    expect(isSecretValue(provider.inputs.registryAuth) || isSecretValue(blocks[0].password)).toBe(true);
    for (const s of byType(run, SERVICE)) expect(s.inputs.auth, s.name).toBeUndefined();
    // Nothing else in the graph holds the token in the clear: only secret-marked inputs (the provider's, stdin).
    const clear = run.resources.filter((r) => JSON.stringify(r.inputs, (_k, v: unknown) => (isSecretValue(v) ? "<secret>" : v)).includes(TOKEN));
    expect(clear.map((r) => r.name)).toEqual([]);
  });

  it("the provider sends them with exactly the services, databases and edge services whose image is on the server", async () => {
    const run = await runStack(stack, withRegistry(stack), secretsWith(stack));
    const blocks = providerBlocks(run).map((b) => ({ ...b, password: String(reveal(b.password)) }));
    const services = byType(run, SERVICE);
    const onServer = services.filter((s) => registryHost(imageOf(s)) === "registry.example.com").map((s) => s.name).sort();
    const sent = services.filter((s) => serviceAuth(imageOf(s), blocks).password === TOKEN).map((s) => s.name).sort();
    const none = services.filter((s) => registryAuthHeader(serviceAuth(imageOf(s), blocks)) === registryAuthHeader({})).map((s) => s.name).sort();
    expect(sent).toEqual(onServer);
    expect(sent).toContain("edge");
    expect(none).toEqual(services.map((s) => s.name).filter((n) => !onServer.includes(n)).sort());
    // The front (HAProxy) and the databases pull from Docker Hub: never the registry's token.
    expect(none).toEqual(expect.arrayContaining(["edge-front", "postgres", "redis"]));
    expect(sent.length).toBeGreaterThanOrEqual(stack === "production" ? 4 : 3);
  });

  it("a migration job from an image on the server gets the password on stdin, never on its command line", async () => {
    const run = await runStack(stack, withRegistry(stack), secretsWith(stack));
    const migrations = byType(run, "command:remote:Command").filter((c) => c.name.endsWith("-migrate"));
    expect(migrations.length).toBeGreaterThan(0);
    for (const m of migrations) {
      const create = String(reveal(m.inputs.create));
      expect(create).toContain(" --registry registry.example.com --registry-user example-bot -- ");
      expect(create).not.toContain(TOKEN);
      expect(isSecretValue(m.inputs.stdin)).toBe(true);
      expect(reveal(m.inputs.stdin)).toBe(`${TOKEN}\n`);
    }
  });
});

describe.each(["staging", "production"])("the shipped %s stack file (its app private on GHCR)", (stack) => {
  it("the provider holds GHCR's credentials and sends them with exactly the app's services; its migration logs in", async () => {
    const run = await runStack(stack, stackFile(stack), testSecrets(stack));
    const blocks = providerBlocks(run).map((b) => ({ ...b, password: String(reveal(b.password)) }));
    expect(blocks.map((b) => [b.address, b.username])).toEqual([["ghcr.io", "example-bot"]]);
    const sent = byType(run, SERVICE).filter((s) => serviceAuth(imageOf(s), blocks).username === "example-bot").map((s) => s.name).sort();
    expect(sent).toEqual(["api", "beat", "frontend", "worker"]);
    const migrate = one(run, "command:remote:Command", "api-migrate");
    expect(String(reveal(migrate.inputs.create))).toContain(" --registry ghcr.io --registry-user example-bot -- ");
    expect(isSecretValue(migrate.inputs.stdin)).toBe(true);
  });
});

describe("images on other registries", () => {
  it("ghcr.io (the default server) gets no credentials to registry.example.com or Docker Hub, and no migration gets a password", async () => {
    const run = await runStack("staging", withRegistry("staging", { username: "example-bot", passwordSecret: "REGISTRY_TOKEN" }), secretsWith("staging"));
    const blocks = providerBlocks(run).map((b) => ({ ...b, password: String(reveal(b.password)) }));
    expect(blocks[0].address).toBe("ghcr.io");
    for (const s of byType(run, SERVICE)) expect(serviceAuth(imageOf(s), blocks), s.name).toEqual({});
    for (const m of byType(run, "command:remote:Command").filter((c) => c.name.endsWith("-migrate"))) {
      expect(String(reveal(m.inputs.create))).not.toContain("--registry");
      expect(reveal(m.inputs.stdin)).toBe("");
    }
  });

  it("without railyard:registry the provider has no registryAuth and the migration no stdin (stacks as before)", async () => {
    const run = await runStack("staging", appOnExampleRegistry("staging"), testSecrets("staging"));
    expect(one(run, PROVIDER, "host-docker").inputs.registryAuth).toBeUndefined();
    for (const m of byType(run, "command:remote:Command").filter((c) => c.name.endsWith("-migrate"))) expect(m.inputs.stdin).toBeUndefined();
  });

  it("registryFor and registryHost read the registry as Docker does", () => {
    const reg = { server: "ghcr.io", username: "u", password: undefined as never };
    expect(registryHost("ghcr.io/example/app@sha256:" + "1".repeat(64))).toBe("ghcr.io");
    expect(registryHost("example/app:1")).toBe("docker.io");
    expect(registryHost("postgres:16")).toBe("docker.io");
    expect(registryHost("docker.io/example/app:1")).toBe("docker.io");
    expect(registryHost("localhost/app:1")).toBe("localhost");
    expect(registryHost("127.0.0.1:5000/app:1")).toBe("127.0.0.1:5000");
    expect(registryFor("ghcr.io/example/app:1", reg)).toBe(reg);
    // A look-alike host or a path naming the server is another registry.
    expect(registryFor("ghcr.io.evil.example/app:1", reg)).toBeUndefined();
    expect(registryFor("evil.example/ghcr.io/app:1", reg)).toBeUndefined();
    expect(registryFor("ghcr.io:443/app:1", reg)).toBeUndefined();
    expect(registryFor("ghcr.io/example/app:1", undefined)).toBeUndefined();
  });
});

describe("the provider's day two with registry credentials", () => {
  it("adding railyard:registry changes no service's, database's or edge service's inputs (their next plan is empty)", async () => {
    const plain = appOnExampleRegistry("production");
    const before = await runStack("production", plain, testSecrets("production"));
    const after = await runStack("production", { ...plain, "railyard:registry": REGISTRY }, secretsWith("production"));
    const inputs = (r: StackRun) => Object.fromEntries(byType(r, SERVICE).map((s) => [s.name, JSON.stringify(s.inputs)]));
    expect(Object.keys(inputs(after)).length).toBeGreaterThan(5);
    expect(inputs(after)).toEqual(inputs(before));
  });


  // Why no `auth` block: the provider never reads it back and marks it ForceNew, so a new token replaces the service.
  it("an auth block on a service would replace it when the token changes; the provider's registryAuth changes no service", () => {
    const declared = { name: "st-api", taskSpec: { containerSpec: { image: "registry.example.com/a@sha256:" + "1".repeat(64) } } };
    const engineService = {
      ID: "x",
      Spec: { Name: "st-api", TaskTemplate: { ContainerSpec: { Image: declared.taskSpec.containerSpec.image } }, Mode: { Replicated: { Replicas: 1 } } },
      Endpoint: { Spec: { Mode: "vip" } },
    };
    const withAuth = (pw: string) => ({ ...declared, auth: { serverAddress: "registry.example.com", username: "example-bot", password: pw } });
    const plan = (d: unknown, previous: unknown) => planAgainstEngine(d, engineService as never, { previous }).action;
    expect(plan(withAuth("new-token"), withAuth("old-token"))).toBe("replace");
    // The same token plans as no auth at all; without an auth block the token is no input of the service.
    expect(plan(withAuth("old-token"), withAuth("old-token"))).toBe(plan(declared, declared));
    expect(plan(declared, declared)).not.toBe("replace");
  });
});

describe("railyard:registry config problems name their key and never show the password", () => {
  const fails = async (registry: unknown, secrets: Record<string, string> = { REGISTRY_TOKEN: TOKEN }) => {
    try {
      await runStack("staging", withRegistry("staging", registry), secretsWith("staging", secrets));
    } catch (e) {
      if (!(e instanceof StackRunError)) throw e;
      expect(e.resources.filter((r) => r.type !== PROVIDER)).toEqual([]);
      expect(e.message).not.toContain(TOKEN);
      return e.message;
    }
    throw new Error("the stack was accepted");
  };

  it.each([
    ["a passwordSecret railyard:secrets does not hold", { ...REGISTRY, passwordSecret: "MISSING_TOKEN" }, "railyard:registry.passwordSecret: expected a secret set with pulumi config set --secret --path 'railyard:secrets.MISSING_TOKEN'"],
    ["no passwordSecret", { server: "ghcr.io", username: "example-bot" }, "railyard:registry.passwordSecret: expected the name of an entry of railyard:secrets holding the token, such as REGISTRY_TOKEN, got nothing"],
    ["the token pasted as passwordSecret", { ...REGISTRY, passwordSecret: TOKEN }, "railyard:registry.passwordSecret: expected the name of an entry of railyard:secrets"],
    ["a plain password", { ...REGISTRY, password: TOKEN }, "railyard:registry.password: expected no password in plain config"],
    ["a scheme", { ...REGISTRY, server: "https://ghcr.io" }, "railyard:registry.server: expected a lower-case registry host"],
    ["a path", { ...REGISTRY, server: "ghcr.io/example" }, "railyard:registry.server: expected a lower-case registry host"],
    ["user info", { ...REGISTRY, server: "bot@ghcr.io" }, "railyard:registry.server: expected a lower-case registry host"],
    ["upper case", { ...REGISTRY, server: "GHCR.io" }, "railyard:registry.server: expected a lower-case registry host"],
    ["no dot, port or localhost", { ...REGISTRY, server: "ghcr" }, "railyard:registry.server: expected a lower-case registry host"],
    ["port 0", { ...REGISTRY, server: "ghcr.io:0" }, "railyard:registry.server: expected a lower-case registry host"],
    ["port 65536", { ...REGISTRY, server: "ghcr.io:65536" }, "railyard:registry.server: expected a lower-case registry host"],
    ["Docker Hub", { ...REGISTRY, server: "docker.io" }, "railyard:registry.server: expected a registry other than Docker Hub"],
    ["a newline in the server", { ...REGISTRY, server: "ghcr.io\nevil.example" }, "railyard:registry.server: expected a lower-case registry host"],
    ["a NUL in the user", { ...REGISTRY, username: "bot\u0000x" }, "railyard:registry.username: expected a registry user name"],
    ["a quote in the user", { ...REGISTRY, username: "bot'x" }, "railyard:registry.username: expected a registry user name"],
    ["a colon in the user", { ...REGISTRY, username: "bot:x" }, "railyard:registry.username: expected a registry user name"],
    ["a huge user", { ...REGISTRY, username: "u".repeat(200_000) }, "railyard:registry.username: expected a registry user name"],
    ["a huge server", { ...REGISTRY, server: `${"a".repeat(200_000)}.io` }, "railyard:registry.server: expected a registry host of at most 260 characters"],
    ["a number for the user", { ...REGISTRY, username: 42 }, "railyard:registry.username: expected a registry user name"],
    ["an unknown key", { ...REGISTRY, email: "x@example.com" }, "railyard:registry.email: expected a known key"],
    ["a list", [REGISTRY], "railyard:registry: expected"],
  ])("%s", async (_what, registry, message) => {
    expect(await fails(registry)).toContain(message);
  });

  it.each([
    ["a space", "tok en"],
    ["a newline", "tok\nen"],
    ["a quote", "tok'en"],
    ["a backslash", "tok\\en"],
    ["over 2048 characters", "t".repeat(2049)],
  ])("a token holding %s is refused without showing it", async (_what, token) => {
    const message = await fails(REGISTRY, { REGISTRY_TOKEN: token });
    expect(message).toContain("railyard:registry.passwordSecret: expected a secret of at most 2048 characters without spaces, quotes or backslashes, got railyard:secrets.REGISTRY_TOKEN (value hidden)");
    expect(message).not.toContain(token);
  });

  it("railyard:registry set as a secret is refused (plain config; the token belongs in railyard:secrets)", async () => {
    const plain = appOnExampleRegistry("staging");
    const message = await (async () => {
      try {
        await runStack("staging", plain, { ...secretsWith("staging"), "railyard:registry": REGISTRY });
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })();
    expect(message).toContain("railyard:registry: expected plain configuration");
  });

  it("host names with ports and localhost are servers; the rest is not", () => {
    for (const ok of ["ghcr.io", "registry.example.com:5000", "localhost", "localhost:5000", "127.0.0.1:5000", "registry:5000", "a.b"]) expect(isRegistryServer(ok), ok).toBe(true);
    for (const bad of ["", "ghcr", "GHCR.IO", "ghcr.io:", "ghcr.io:01", "-a.io", "a-.io", "a..io", "ghcr.io/x", "http://ghcr.io", "[::1]:5000", "a.io:70000"]) {
      expect(isRegistryServer(bad), bad).toBe(false);
    }
  });
});

describe("railyard-migrate.sh takes the registry's password from stdin only", () => {
  // A `docker` first on PATH that records its argv, its environment's DOCKER_CONFIG, stdin and the folder's mode.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ryg-migrate-"));
  const log = path.join(dir, "calls");
  fs.writeFileSync(
    path.join(dir, "docker"),
    `#!/bin/bash
{ printf 'argv:%s\\n' "$*"; printf 'config:%s\\n' "\${DOCKER_CONFIG-}"; } >> ${log}
case "$1 $2" in
  "login --username")
    pw=$(cat); printf 'stdin:%s\\n' "$pw" >> ${log}
    stat -c 'mode:%a' "$DOCKER_CONFIG" >> ${log}
    env | grep -c -- "$pw" | sed 's/^/env-holds-password:/' >> ${log}
    [ "$pw" = right-token ] || { echo "Error response from daemon: unauthorized: incorrect username or password" >&2; exit 1; }
    echo '{"auths":{}}' > "$DOCKER_CONFIG/config.json"; echo "Login Succeeded" ;;
  "service inspect") exit 1 ;;
  "service create") echo newjob ;;
  "service ps") echo "Complete 1 second ago" ;;
  *) exit 0 ;;
esac
`,
    { mode: 0o755 },
  );
  const script = path.join(__dirname, "..", "host", "railyard-migrate.sh");
  const job = {
    stack: "ryg",
    job: "ryg-api-migrate",
    image: "registry.example.com/ryg/api@sha256:" + "1".repeat(64),
    network: "ryg-net",
    env: {},
    secrets: [],
    secretVars: [],
    command: "alembic upgrade head",
    timeoutSeconds: 30,
    pause: [],
    stateDir: path.join(dir, "state"),
    labels: { "railyard.stack": "ryg" },
    registry: { server: "registry.example.com", username: "example-bot" },
  };
  const migrate = (stdin: string, line = migrateCommand(script, job)) => {
    fs.rmSync(log, { force: true });
    const r = spawnSync("bash", ["-c", line], { input: stdin, encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, TMPDIR: dir } });
    return { ...r, calls: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "" };
  };
  const leftovers = () => fs.readdirSync(dir).filter((f) => f.startsWith("railyard-registry."));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("the exact command line: --registry and --registry-user before --, no password", () => {
    expect(migrateCommand("/srv/railyard/ryg/scripts/railyard-migrate.sh", job)).toBe(
      "timeout 390 bash /srv/railyard/ryg/scripts/railyard-migrate.sh --job ryg-api-migrate --timeout 30 --stack ryg " +
        `--state-dir ${job.stateDir} --registry registry.example.com --registry-user example-bot -- ` +
        `--network ryg-net --label railyard.stack=ryg registry.example.com/ryg/api@sha256:${"1".repeat(64)} /bin/sh -c 'exec alembic upgrade head'`,
    );
    expect(migrationStdin("right-token")).toBe("right-token\n");
  });

  it("logs in over stdin in a private 0700 DOCKER_CONFIG, creates the job with --with-registry-auth, removes the folder", () => {
    const r = migrate(migrationStdin("right-token"));
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContain("argv:login --username example-bot --password-stdin registry.example.com");
    expect(r.calls).toContain("stdin:right-token");
    expect(r.calls).toContain("mode:700");
    expect(r.calls).toContain("env-holds-password:0");
    expect(r.calls).toMatch(/argv:service create --detach --quiet --name ryg-api-migrate --label railyard.job=migration --label railyard.stack=ryg --with-registry-auth --mode replicated-job/);
    const configs = [...r.calls.matchAll(/argv:(login|service create)[^\n]*\nconfig:([^\n]*)/g)].map((m) => m[2]);
    expect(configs).toHaveLength(2);
    expect(configs[0]).toMatch(new RegExp(`^${dir}/railyard-registry\\.`));
    expect(configs[1]).toBe(configs[0]);
    // Only the login and the create see it; every argv is free of the password, and so is the output.
    expect(r.calls.split("\n").filter((l) => l.startsWith("argv:") && l.includes("right-token"))).toEqual([]);
    expect(`${r.stdout}${r.stderr}`).not.toContain("right-token");
    expect(leftovers()).toEqual([]);
  });

  it("a refused login fails with 38 before anything changes; the password is not shown and the folder is removed", () => {
    const r = migrate(migrationStdin("wrong-token"));
    expect(r.status).toBe(38);
    expect(r.stderr).toContain("railyard-migrate: the registry registry.example.com refused the login of example-bot");
    expect(r.stderr).toContain("unauthorized");
    expect(r.stderr).not.toContain("wrong-token");
    expect(r.calls).not.toMatch(/service (create|update)/);
    expect(leftovers()).toEqual([]);
  });

  it("refuses a missing, empty or spaced password on stdin (2), without running docker", () => {
    for (const stdin of ["", "\n", "two words\n", "x".repeat(4097)]) {
      const r = migrate(stdin);
      expect(r.status, JSON.stringify(stdin)).toBe(2);
      expect(r.stderr).toMatch(/railyard-migrate: (--registry needs the password|the registry password on stdin must be)/);
      expect(r.calls).toBe("");
    }
  });

  it.each([
    ["--registry", "https://ghcr.io"],
    ["--registry", "ghcr.io/x"],
    ["--registry", "ghcr.io:99999"],
    ["--registry", "$(reboot)"],
    ["--registry-user", "bot x"],
    ["--registry-user", "bot:x"],
    ["--registry-user", "'bot"],
  ])("refuses %s %s (2) before reading stdin or running docker", (option, value) => {
    const args = [
      "--job", "ryg-api-migrate", "--timeout", "30", "--state-dir", path.join(dir, "state"),
      "--registry", option === "--registry" ? value : "ghcr.io", "--registry-user", option === "--registry-user" ? value : "bot", "--", "img", "true",
    ];
    fs.rmSync(log, { force: true });
    const r = spawnSync("bash", [script, ...args], { input: "right-token\n", encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`railyard-migrate: ${option} must be`);
    expect(fs.existsSync(log)).toBe(false);
  });

  it("without --registry it reads no stdin and logs in nowhere", () => {
    const { registry: _none, ...plain } = job;
    const r = migrate("right-token\n", migrateCommand(script, plain));
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).not.toContain("login");
    expect(r.calls).not.toContain("--with-registry-auth");
  });
});

describe("railyard:deploy.images and promoteFrom reach the loaded config (config/images.ts, wired in load.ts)", () => {
  const withDeploy = (stack: string, deploy: Record<string, unknown>) => {
    const plain = appOnExampleRegistry(stack);
    return { ...plain, "railyard:deploy": { ...(plain["railyard:deploy"] as Record<string, unknown>), ...deploy } };
  };
  const problemsOf = async (stack: string, deploy: Record<string, unknown>) => {
    try {
      await runStack(stack, withDeploy(stack, deploy), testSecrets(stack));
    } catch (e) {
      if (e instanceof StackRunError) return e.message;
      throw e;
    }
    return "";
  };

  it("images on repositories the services run are accepted and exported with deploy", async () => {
    const images = { "registry.example.com/aponta/backend": { context: "examples/app", dockerfile: "examples/app/Dockerfile" } };
    const run = await runStack("staging", withDeploy("staging", { images }), testSecrets("staging"));
    expect((run.outputs.deploy as { images?: unknown }).images).toEqual(images);
  });

  it("a key with a tag, or a repository no service runs, is a problem naming its key", async () => {
    const message = await problemsOf("staging", {
      images: { "registry.example.com/aponta/backend:1.4": { context: "examples/app" }, "registry.example.com/aponta/apx": { context: "examples/app" } },
    });
    expect(message).toContain('railyard:deploy.images["registry.example.com/aponta/backend:1.4"]: expected an image repository without a tag or digest');
    expect(message).toContain('railyard:deploy.images["registry.example.com/aponta/apx"]: expected a repository some service\'s image is in');
  });

  it("production may promote from staging; a stack may not promote from itself, nor build beside a promotion", async () => {
    const run = await runStack("production", withDeploy("production", { promoteFrom: "staging" }), testSecrets("production"));
    expect((run.outputs.deploy as { promoteFrom?: string }).promoteFrom).toBe("staging");
    expect(await problemsOf("staging", { promoteFrom: "staging" })).toContain('railyard:deploy.promoteFrom: expected another stack\'s name');
    expect(await problemsOf("staging", { promoteFrom: "Staging" })).toContain("railyard:deploy.promoteFrom: expected a stack name such as staging");
  });
});

describe("hostile values at every railyard:registry key (as test/config-hostile.test.ts does for the stack file)", () => {
  const HOSTILE: unknown[] = [null, [], {}, "", -1, 1e21, "constructor", "__proto__", "x\u001b[2J\u202e", { __proto__: null, constructor: { a: 1 } }, "a\nb", "q'\"`$(reboot)", "n\u0000ul", "h".repeat(100_000)];
  const cases = [undefined, "server", "username", "passwordSecret"].flatMap((key) => HOSTILE.map((value, i) => ({ key, value, label: `${key ?? "registry"} = #${i}` })));

  // The one value that is a fine registry setting: a user named "constructor" (a plain string, not a map key).
  const acceptable = (key: string | undefined, value: unknown) => key === "username" && value === "constructor";

  it.each(cases)("$label", async ({ key, value }) => {
    const registry = key === undefined ? structuredClone(value) : { ...REGISTRY, [key]: structuredClone(value) };
    try {
      const run = await runStack("staging", withRegistry("staging", registry), secretsWith("staging"));
      expect(acceptable(key, value), "accepted a value the registry must refuse").toBe(true);
      expect(run.resources.length).toBeGreaterThan(0);
    } catch (e) {
      if (!(e instanceof StackRunError)) throw e;
      expect(acceptable(key, value), "refused a fine value").toBe(false);
      expect(e.message).toMatch(/^railyard: the stack configuration has \d+ problems?; no resource was registered:\n/);
      for (const line of e.message.split("\n").slice(1)) expect(line).toMatch(/^ {2}railyard:registry[^\n]*: expected .+, got .+$/);
      expect(e.message).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
      expect(e.message).not.toContain(TOKEN);
      expect(e.resources.filter((r) => r.type !== PROVIDER)).toHaveLength(0);
    }
  });
});
