/**
 * Database passwords: the check and rotation command lines (exact strings, no password in any), the host script's
 * argument and stdin checks and its decisions (run for real against a scripted `docker`), the clients it runs in
 * the database's image (Mongo's only here: no MongoDB package exists on these machines), and the program's graph:
 * rotation before the database update, the check after its settle gate, services after the check, a password
 * from secret config replacing the generated one, passwordVersion as the generated one's keeper.
 * The real engines (postgres, MariaDB as mysql, redis) are in test/engine/password.test.ts.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { passwordCheckCommand, passwordRotateCommand, passwordStdin } from "../commands/password";
import { DATABASE_PASSWORD } from "../config/passwords";
import { byType, Captured, ConfigMap, one, reveal, isSecretValue, ROOT, runStack, stackFile, StackRunError, testSecrets } from "./harness";

const SCRIPT = path.join(ROOT, "host", "railyard-dbpass.sh");
const PW = "Nw3-pass.word_0123456789";
const step = { name: "postgres", service: "staging-postgres", engine: "postgres" as const, user: "aponta", database: "aponta" };

describe("password command lines", () => {
  it("checks over the apps' network with the password on stdin, bounded by timeout", () => {
    expect(passwordCheckCommand("/srv/railyard/staging/scripts/railyard-dbpass.sh", { ...step, network: "staging-net" })).toBe(
      "timeout 120 bash /srv/railyard/staging/scripts/railyard-dbpass.sh --check --service staging-postgres --engine postgres " +
        "--user aponta --database aponta --name postgres --network staging-net --timeout 60",
    );
  });

  it("rotates in the running database, skipping one not deployed yet", () => {
    expect(passwordRotateCommand("/opt/rail yard/railyard-dbpass.sh", { ...step, engine: "mongo", service: "production-mongo", name: "mongo", user: "app", database: "conductor" })).toBe(
      "timeout 60 bash '/opt/rail yard/railyard-dbpass.sh' --rotate --service production-mongo --engine mongo --user app --database conductor --name mongo --skip-missing",
    );
    expect(passwordStdin(PW)).toBe(`${PW}\n`);
  });

  it("takes every password railyard accepts, and generated ones", () => {
    expect(DATABASE_PASSWORD.test("aB3".repeat(11))).toBe(true);
    for (const bad of ["short", "has space in it 123", "quote'quote'quote'", 'dq"dq"dq"dq"dq"dq', "back\\slash\\slash\\", "tick`tick`tick`tick", "x".repeat(129), "line\nbreak-0123456789"]) {
      expect(DATABASE_PASSWORD.test(bad), bad).toBe(false);
    }
  });
});

/** A scripted `docker` on PATH: answers from files in `dir` and records each call (argv and stdin). */
function fakeDocker(dir: string): void {
  fs.writeFileSync(
    path.join(dir, "docker"),
    `#!/usr/bin/env bash
printf '%s\\n' "$*" >>"${dir}/calls"
case "$1 $2" in
  "service inspect") [ -f "${dir}/service" ] || exit 1; printf '%s|%s\\n' "\${@: -1}" svc-id ;;
  "ps --quiet") [ ! -f "${dir}/running" ] || echo c0ffee ;;
  "inspect --format") echo sha256:img ;;
  run\\ *|exec\\ *)
    cat >>"${dir}/stdin"
    n=$(cat "${dir}/n" 2>/dev/null || echo 0); echo $((n + 1)) >"${dir}/n"
    # Answers in turn: one line of ${dir}/answers per call (the last one repeats).
    line=$(sed -n "$((n + 1))p" "${dir}/answers"); [ -n "$line" ] || line=$(tail -n 1 "${dir}/answers")
    printf '%b\\n' "\${line#*:}"; exit "\${line%%:*}" ;;
esac
`,
    { mode: 0o755 },
  );
}

function script(args: string[], stdin: string, setup: { service?: boolean; running?: boolean; answers?: string[] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-dbpass-"));
  fakeDocker(dir);
  if (setup.service ?? true) fs.writeFileSync(path.join(dir, "service"), "");
  if (setup.running ?? true) fs.writeFileSync(path.join(dir, "running"), "");
  fs.writeFileSync(path.join(dir, "answers"), (setup.answers ?? ["0:railyard-ok"]).join("\n") + "\n");
  const r = spawnSync("bash", [SCRIPT, ...args], { encoding: "utf8", input: stdin, env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
  const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8") : "");
  return { status: r.status, stderr: r.stderr, calls: read("calls"), stdin: read("stdin") };
}

const CHECK = ["--check", "--service", "st-postgres", "--engine", "postgres", "--user", "app", "--database", "app", "--network", "st-net", "--name", "postgres", "--timeout", "2"];
const ROTATE = ["--rotate", "--service", "st-mysql", "--engine", "mysql", "--user", "app", "--database", "app", "--name", "mysql"];

describe("railyard-dbpass.sh, run for real", () => {
  it("--help explains both modes and the exit codes", () => {
    const r = spawnSync("bash", [SCRIPT, "--help"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Usage:");
    expect(r.stdout).toContain("--rotate");
    expect(r.stdout).toContain("Exit codes:");
  });

  it.each([
    [[], "--check or --rotate is required"],
    [["--check", "--service", "Bad Name"], "--service must be a lower-case name"],
    [["--check", "--service", "s", "--engine", "oracle", "--user", "app", "--database", "app"], "--engine must be postgres, mysql, mongo or redis"],
    [["--check", "--service", "s", "--engine", "redis", "--user", "Root"], "--user must be a lower-case name"],
    [["--check", "--service", "s", "--engine", "redis", "--user", "u", "--database", "0", "--network", "n", "--timeout", "0"], "--timeout must be 1 to 3600 seconds"],
    [["--check", "--service", "s", "--engine", "redis", "--user", "u", "--database", "0", "--network", "$(id)"], "--network must be a lower-case name"],
    [["--check", "--service", "s", "--engine", "redis", "--user", "u", "--database", "0", "--network", "n", "--skip-missing"], "--with-current and --skip-missing go with --rotate"],
    [["--rotate", "--service", "s", "--engine", "redis", "--user", "u", "--database", "0", "--network", "n"], "--network goes with --check"],
    [["--rotate", "--service", "s", "--engine", "redis", "--user", "u", "--database", "0", "--name", "A"], "--name must be a stack file database name"],
    [["--rotate", "--service", "s", "--bogus"], "unknown argument: --bogus"],
  ])("%j exits 2 naming the argument, touching no engine", (args, message) => {
    const r = script(args, `${PW}\n`);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.calls).toBe("");
  });

  it.each([
    ["nothing", ""],
    ["a short password", "short\n"],
    ["a password with a quote", "abc'defghijklmnopqrs\n"],
    ["a password with a space", "abc defghijklmnopqrs\n"],
  ])("refuses %s on stdin (exit 2) without printing it or touching the engine", (_, stdin) => {
    const r = script(CHECK, stdin);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("password");
    if (stdin.trim()) expect(r.stderr).not.toContain(stdin.trim());
    expect(r.calls).toBe("");
  });

  it("--check: signs in from a one-off container of the task's image on the apps' network, the password on stdin only", () => {
    const r = script(CHECK, `${PW}\n`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContain("run --rm -i --network st-net --label railyard.role=dbpass-check --entrypoint sh sha256:img -c ");
    expect(r.calls).toMatch(/ sh st-postgres app app\n/);
    expect(r.calls).not.toContain(PW);
    expect(r.stdin).toBe(`${PW}\n`);
  });

  it("--check: a refused password fails 50 naming the database, the config key and both ways out, hiding the password", () => {
    const r = script(CHECK, `${PW}\n`, { answers: [`2:psql: FATAL:  password authentication failed for user "app" (${PW})`] });
    expect(r.status).toBe(50);
    expect(r.stderr).toContain("database postgres (Swarm service st-postgres)");
    expect(r.stderr).toContain("railyard:databases.postgres.passwordSecret");
    expect(r.stderr).toContain("Nothing that uses the database was updated");
    expect(r.stderr).toContain("pulumi config set --secret --path 'railyard:secrets.<NAME>'");
    expect(r.stderr).toContain("--rotate --service st-postgres --engine postgres --user app --database app");
    expect(r.stderr).not.toContain(PW);
    expect(r.stderr).toContain("<password>");
  });

  it("--check: retries a database that does not answer yet, then passes; gives up after --timeout (51)", () => {
    const later = script(CHECK, `${PW}\n`, { answers: ["2:could not translate host name", "0:railyard-ok"] });
    expect(later.status, later.stderr).toBe(0);
    expect(later.calls.match(/^run /gm)).toHaveLength(2);
    const never = script(CHECK, `${PW}\n`, { answers: ["2:could not translate host name"] });
    expect(never.status).toBe(51);
    expect(never.stderr).toContain("did not answer within 2s");
  });

  it("--check: no service or no running task exits 20", () => {
    expect(script(CHECK, `${PW}\n`, { service: false }).status).toBe(20);
    expect(script(CHECK, `${PW}\n`, { running: false }).status).toBe(20);
  });

  it("--rotate: runs in the running task with the new password then an empty line (the task's mounted secret signs in)", () => {
    const r = script(ROTATE, `${PW}\n`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toMatch(/^exec -i c0ffee sh -c [\s\S]* sh app app$/m);
    expect(r.calls).not.toContain(PW);
    expect(r.stdin).toBe(`${PW}\n\n`);
  });

  it("--rotate --with-current: the second line of stdin signs in instead", () => {
    const r = script([...ROTATE, "--with-current"], `${PW}\nold-one\n`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdin).toBe(`${PW}\nold-one\n`);
    expect(script([...ROTATE, "--with-current"], `${PW}\n`).status).toBe(2);
  });

  it("--rotate: when the mounted secret is refused but the new password opens it (an earlier run set it), keeps it", () => {
    const r = script(ROTATE, `${PW}\n`, { answers: ["1:ERROR 1045 (28000): Access denied for user 'root'@'localhost'", "0:railyard-ok"] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("already opened it");
    expect(r.stdin).toBe(`${PW}\n\n${PW}\n${PW}\n`);
  });

  it("--rotate: 52 when nothing opens it, 53 when the change fails, 20 without a running task; --skip-missing passes a service not deployed yet", () => {
    expect(script(ROTATE, `${PW}\n`, { answers: ["1:Access denied"] }).status).toBe(52);
    expect(script(ROTATE, `${PW}\n`, { answers: ["1:ERROR 1290 read-only"] }).status).toBe(53);
    expect(script(ROTATE, `${PW}\n`, { running: false }).status).toBe(20);
    expect(script(ROTATE, `${PW}\n`, { service: false }).status).toBe(20);
    const first = script([...ROTATE, "--skip-missing"], `${PW}\n`, { service: false });
    expect(first.status).toBe(0);
    expect(first.stderr).toContain("its first start sets the password");
  });
});

describe("the clients the script runs in the database's image", () => {
  const client = (fn: string, engine: string) =>
    spawnSync("bash", ["-c", `source ${SCRIPT}; engine=${engine}; ${fn}`], { encoding: "utf8" }).stdout;

  it.each(["postgres", "mysql", "redis", "mongo"])("%s: both parse as sh and hold no password", (engine) => {
    for (const fn of ["check_client", "rotate_client"]) {
      const text = client(fn, engine);
      expect(text.length, fn).toBeGreaterThan(50);
      expect(spawnSync("sh", ["-n", "-c", text]).status, `${fn}: ${text}`).toBe(0);
    }
  });

  // No MongoDB package exists here: Mongo's lines are checked as text only.
  it("mongo: signs in through a connection string built from env (nothing on mongosh's argv), then changeUserPassword", () => {
    expect(client("check_client", "mongo")).toContain('PW=$pw U=$2 H=$1 exec mongosh --quiet --norc --nodb --eval \'const c = connect("mongodb://" + encodeURIComponent(process.env.U) + ":" + encodeURIComponent(process.env.PW) + "@" + process.env.H + ":27017/admin?authSource=admin")');
    expect(client("rotate_client", "mongo")).toContain("c.changeUserPassword(process.env.U, process.env.NEWPW)");
    expect(client("rotate_client", "mongo")).toContain("@127.0.0.1:27017/admin?authSource=admin");
  });
});

const create = (c: Captured) => String(reveal(c.inputs.create));

describe("the program", () => {
  const withSecret = (stack: string, change: (plain: ConfigMap) => void, extra: Record<string, string> = {}) => {
    const plain = stackFile(stack);
    change(plain);
    const secret = testSecrets(stack);
    secret["railyard:secrets"] = { ...(secret["railyard:secrets"] as object), ...extra };
    return runStack(stack, plain, secret);
  };
  const databases = (c: ConfigMap) => c["railyard:databases"] as Record<string, Record<string, unknown>>;

  it("rotates before the database update and checks after its settle gate; every service that uses it waits for the check", async () => {
    const r = await runStack("staging", stackFile("staging"), testSecrets("staging"));
    const rotate = one(r, "command:remote:Command", "postgres-password-rotate");
    const check = one(r, "command:remote:Command", "postgres-password-check");
    const scripts = "/srv/railyard/staging/scripts/railyard-dbpass.sh";
    expect(create(rotate)).toBe(`timeout 60 bash ${scripts} --rotate --service staging-postgres --engine postgres --user aponta --database aponta --name postgres --skip-missing`);
    expect(create(check)).toBe(
      `timeout 120 bash ${scripts} --check --service staging-postgres --engine postgres --user aponta --database aponta --name postgres --network staging-net --timeout 60`,
    );
    for (const c of [rotate, check]) {
      expect(c.parent).toBe("postgres");
      expect(isSecretValue(c.inputs.stdin), c.name).toBe(true);
      expect(reveal(c.inputs.stdin)).toBe("pwpostgrespassword0123456789\n");
      expect(c.dependsOn).toEqual(expect.arrayContaining(byType(r, "command:remote:CopyToRemote").map((u) => u.name)));
      expect(c.inputs).toMatchObject({ addPreviousOutputInEnv: false, logging: "stdoutAndStderr" });
    }
    // Re-run when the password changes (a new auto-named secret); the check also when the service is created anew.
    expect(reveal(rotate.inputs.triggers)).toEqual(["postgres-password-abc1234"]);
    expect(reveal(check.inputs.triggers)).toEqual(["postgres-password-abc1234", "postgres-id"]);
    expect(rotate.dependsOn).toContain("postgres-password");
    expect(one(r, "docker:index/service:Service", "postgres").dependsOn).toContain("postgres-password-rotate");
    expect(check.dependsOn).toContain("postgres-settle");
    // Services depend on the Database component, so on the check inside it.
    for (const s of ["api", "worker"]) expect(one(r, "docker:index/service:Service", s).dependsOn, s).toContain("postgres");
    // Redis reads its secret on every start: no drift to check, its update is its rotation.
    expect(r.resources.filter((c) => c.name.startsWith("redis-password-"))).toEqual([]);
  });

  it("declares the steps for mongo too (production)", async () => {
    const r = await runStack("production", stackFile("production"), testSecrets("production"));
    expect(create(one(r, "command:remote:Command", "mongo-password-check"))).toContain("--engine mongo --user app --database conductor --name mongo --network production-net");
    expect(one(r, "command:remote:Command", "mongo-password-rotate")).toBeDefined();
  });

  it("a password from secret config replaces the generated one: the secret, the variables and both steps' stdin", async () => {
    const chosen = "From-Config.password_0123456789";
    const r = await withSecret("staging", (c) => (databases(c).postgres.passwordSecret = "POSTGRES_PASSWORD"), { POSTGRES_PASSWORD: chosen });
    expect(byType(r, "random:index/randomPassword:RandomPassword").map((p) => p.name)).toEqual(["redis-password"]);
    const secret = r.resources.find((c) => c.type === "docker:index/secret:Secret" && c.name === "postgres-password");
    expect(isSecretValue(secret?.inputs.data)).toBe(true);
    expect(Buffer.from(String(reveal(secret?.inputs.data)), "base64").toString("utf8")).toBe(chosen);
    expect(reveal(one(r, "command:remote:Command", "postgres-password-check").inputs.stdin)).toBe(`${chosen}\n`);
    const url = r.resources.find((c) => c.type === "docker:index/secret:Secret" && c.name === "api-env-DATABASE_URL");
    expect(Buffer.from(String(reveal(url?.inputs.data)), "base64").toString("utf8")).toContain(`:${chosen}@staging-postgres:5432/`);
    for (const c of byType(r, "command:remote:Command")) expect(create(c), c.name).not.toContain(chosen);
  });

  it("passwordVersion is the generated password's keeper, declared only when set (stacks that never set it keep theirs)", async () => {
    const plainRun = await runStack("staging", stackFile("staging"), testSecrets("staging"));
    expect(one(plainRun, "random:index/randomPassword:RandomPassword", "postgres-password").inputs.keepers).toBeUndefined();
    const r = await withSecret("staging", (c) => (databases(c).postgres.passwordVersion = 2));
    expect(one(r, "random:index/randomPassword:RandomPassword", "postgres-password").inputs.keepers).toEqual({ passwordVersion: "2" });
    expect(one(r, "random:index/randomPassword:RandomPassword", "redis-password").inputs.keepers).toBeUndefined();
  });

  it.each([
    [
      "an unknown secret",
      (c: ConfigMap) => (databases(c).postgres.passwordSecret = "NOPE"),
      {},
      "railyard:databases.postgres.passwordSecret: expected a secret set with pulumi config set --secret --path 'railyard:secrets.NOPE' <password>, got \"NOPE\", which railyard:secrets does not hold",
    ],
    [
      "a short secret",
      (c: ConfigMap) => (databases(c).postgres.passwordSecret = "PG"),
      { PG: "hunter2" },
      "railyard:databases.postgres.passwordSecret: expected a secret holding 16 to 128 printable ASCII characters other than space, quotes, backslash and backtick, got railyard:secrets.PG: 7 characters (value hidden)",
    ],
    [
      "a secret with a quote",
      (c: ConfigMap) => (databases(c).redis.passwordSecret = "RD"),
      { RD: "it's-a-long-password-123" },
      "railyard:databases.redis.passwordSecret: expected a secret holding 16 to 128 printable ASCII characters other than space, quotes, backslash and backtick, got railyard:secrets.RD: a character outside that set (value hidden)",
    ],
    [
      "passwordVersion with passwordSecret",
      (c: ConfigMap) => Object.assign(databases(c).postgres, { passwordSecret: "PG", passwordVersion: 3 }),
      { PG: "a-long-enough-password-1" },
      "railyard:databases.postgres.passwordVersion: expected no passwordVersion with passwordSecret",
    ],
    ["a lower-case secret name", (c: ConfigMap) => (databases(c).postgres.passwordSecret = "pg"), {}, "railyard:databases.postgres.passwordSecret: expected a secret name such as POSTGRES_PASSWORD"],
    ["passwordVersion 0", (c: ConfigMap) => (databases(c).postgres.passwordVersion = 0), {}, "railyard:databases.postgres.passwordVersion: expected 1 to 1000000"],
  ])("%s: a config error naming the key, no value shown, nothing registered", async (_, change, extra, line) => {
    const err = await withSecret("staging", change, extra).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof StackRunError)) throw new Error(`expected a config error, got ${String(err)}`);
    expect(err.message).toContain(line);
    for (const v of Object.values(extra)) expect(err.message).not.toContain(v);
    expect(err.resources.filter((c) => c.type !== "pulumi:providers:docker")).toEqual([]);
  });
});
