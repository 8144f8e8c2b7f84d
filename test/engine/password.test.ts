/**
 * Database passwords on a real engine: postgres (the official image's pg_hba: local trust, scram over the
 * network), mysql (a MariaDB stand-in with the official mysql image's entrypoint) and redis, with an app that uses
 * all three. Each password comes from secret config (passwordSecret), so a test can change it.
 *   rotation: new passwords in one application: each is set in the running database, then the database update,
 *     the check, then the app rolls; the new password opens each database, the old one no longer does, data kept.
 *   drift: the stack deployed again over its kept volumes with other passwords (what a lost state does): the
 *     check fails with the message naming the database and both ways out, and nothing after it is applied; each
 *     way out (the volume's password set in config; the volume rotated to the new one by the script) then lets
 *     the next application through. Redis reads its secret on every start: it follows any password.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT, runStack } from "../harness";
import { applyStack, CommandFailed, tasks, teardown } from "./apply";
import { engine, filters } from "./engineApi";
import { passwordStack } from "./passwordStack";
import { health, runningContainer } from "./probe";
import { forgetServices } from "./serviceStep";

const PREFIX = "ryp";
const NET = `${PREFIX}-net`;
const images = inject("images");
const SCRIPT = path.join(ROOT, "host", "railyard-dbpass.sh");

interface Passwords {
  pg: string;
  my: string;
  rd: string;
}
const A: Passwords = { pg: "pg-first.password-0001", my: "my-first.password-0001", rd: "rd-first.password-0001" };
const B: Passwords = { pg: "pg-second.password-002", my: "my-second.password-002", rd: "rd-second.password-002" };
const C: Passwords = { pg: "pg-lost-state.passw-03", my: "my-lost-state.passw-03", rd: "rd-lost-state.passw-03" };

const config = (pw: Passwords) =>
  passwordStack(PREFIX, { postgres: pw.pg, mysql: pw.my, redis: pw.rd }, {
    replicas: 1,
    env: {
      DATABASE_URL: "${{postgres.DATABASE_URL}}",
      REDIS_URL: "${{redis.REDIS_URL}}",
      MYSQL_HOST: "${{mysql.MYSQLHOST}}",
      MYSQL_PASSWORD: "${{mysql.MYSQLPASSWORD}}",
    },
  });

const imageFor = (name: string) => ({ postgres: images.POSTGRES, mysql: images.MARIADB, redis: images.REDIS })[name] ?? images.APP_V1;
/** One `pulumi up` of the stack; the app's health gate is left out (the app's release is not what is tested here). */
const apply = async (pw: Passwords) => {
  const { plain, secret } = config(pw);
  return applyStack(await runStack("dev", plain, secret), imageFor, (name) => !name.endsWith("-gate"));
};

const sh = (container: string, script: string) => execFileSync("docker", ["exec", container, "sh", "-c", script], { encoding: "utf8" }).trim();
const SECRET = "/run/secrets/railyard_db_password";

/** Rows of `kept` (postgres, mysql) and the value of key kept (redis), read inside each task with its own credentials. */
async function keptData(): Promise<string[]> {
  const pg = sh(await runningContainer(`${PREFIX}-postgres`), "psql -X -h 127.0.0.1 -U app -d app -tAc 'select v from kept'");
  const my = sh(await runningContainer(`${PREFIX}-mysql`), `MYSQL_PWD="$(cat ${SECRET})" mariadb -uroot -N -B -e 'select v from kept' app`);
  const rd = sh(await runningContainer(`${PREFIX}-redis`), `REDISCLI_AUTH="$(cat ${SECRET})" redis-cli --no-auth-warning get kept`);
  return [pg, my, rd];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The app's running tasks once every one of them is new (none of `before`): the health gate, which waits for that
 * in a real `pulumi up`, is left out here.
 */
async function appTasks(before: string[] = []): Promise<string[]> {
  for (let i = 0; i < 240; i++) {
    const all = await tasks(`${PREFIX}-api`);
    const running = all.filter((t) => t.Status.State === "running").map((t) => t.ID);
    if (running.length > 0 && all.every((t) => !before.includes(t.ID))) return running;
    await sleep(500);
  }
  throw new Error(`${PREFIX}-api: no new running task within 120 s`);
}

/**
 * The app's own connections: its health (psql and redis-cli with its env) and MariaDB's client with its secret env
 * file. Asked again for up to 30 s while the app is still starting; the last answer is returned.
 */
async function appSees(): Promise<{ database: string; redis: string; mysql: string }> {
  let seen = await appSeesOnce();
  for (let i = 0; i < 30 && Object.values(seen).some((v) => v !== "ok"); i++) {
    await sleep(1000);
    seen = await appSeesOnce();
  }
  return seen;
}

async function appSeesOnce(): Promise<{ database: string; redis: string; mysql: string }> {
  await appTasks();
  const h = await health(`${PREFIX}-api`).catch(() => ({ database: "no answer", redis: "no answer" }) as Record<string, string>);
  const api = await runningContainer(`${PREFIX}-api`);
  const my = spawnSync("docker", ["exec", api, "sh", "-c", `MYSQL_PWD="$(cat /run/secrets/env_MYSQL_PASSWORD)" mariadb -h ${PREFIX}-mysql -u app -N -B -e 'select 1' app`], {
    encoding: "utf8",
  });
  return { database: h.database, redis: h.redis, mysql: my.status === 0 ? "ok" : `error: ${my.stderr.trim()}` };
}

/** The check script over the apps' network with `password`: its exit status. */
function check(engineName: string, service: string, password: string): number | null {
  return spawnSync("bash", [SCRIPT, "--check", "--service", `${PREFIX}-${service}`, "--engine", engineName, "--user", engineName === "redis" ? "default" : "app", "--database", engineName === "redis" ? "0" : "app", "--network", NET, "--timeout", "20"], {
    input: `${password}\n`,
    encoding: "utf8",
  }).status;
}

/** `pulumi destroy` as far as the engine goes: every service removed, volumes (retainOnDelete) and secrets kept; the bed forgets its state. */
async function destroyKeepingVolumes(): Promise<void> {
  forgetServices(PREFIX);
  for (const s of await engine<{ ID: string }[]>("GET", `/services?filters=${filters({ label: [`railyard.stack=${PREFIX}`] })}`)) {
    await engine("DELETE", `/services/${s.ID}`);
  }
  const containers = filters({ name: [`${PREFIX}-`] });
  for (let i = 0; i < 120 && (await engine<unknown[]>("GET", `/containers/json?all=1&filters=${containers}`)).length > 0; i++) {
    await sleep(500);
  }
}

async function failure(p: Promise<unknown>): Promise<CommandFailed> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof CommandFailed)) throw new Error(`expected a failed command, got ${e instanceof Error ? e.message : JSON.stringify(e)}`);
  return e;
}

describe("database passwords on a real engine (postgres, mysql as MariaDB, redis)", () => {
  beforeAll(async () => {
    await teardown(PREFIX, NET);
  });

  afterAll(async () => {
    await teardown(PREFIX, NET);
  });

  it("a first deploy: rotation finds no database yet, each check passes over the network, the app connects", async () => {
    const applied = await apply(A);
    for (const db of ["postgres", "mysql"]) {
      expect(applied.outcome[`${db}-password-rotate`], db).toBe("ok");
      expect(applied.outcome[`${db}-password-check`], db).toBe("ok");
    }
    expect(Object.keys(applied.outcome).filter((k) => k.startsWith("redis-password"))).toEqual([]);
    expect(await appSees()).toEqual({ database: "ok", redis: "ok", mysql: "ok" });
    sh(await runningContainer(`${PREFIX}-postgres`), "psql -X -q -h 127.0.0.1 -U app -d app -c \"create table kept(v text); insert into kept values ('kept')\"");
    sh(await runningContainer(`${PREFIX}-mysql`), `MYSQL_PWD="$(cat ${SECRET})" mariadb -uroot -e "create table kept(v text); insert into kept values ('kept')" app`);
    sh(await runningContainer(`${PREFIX}-redis`), `REDISCLI_AUTH="$(cat ${SECRET})" redis-cli --no-auth-warning set kept kept`);
    expect(await keptData()).toEqual(["kept", "kept", "kept"]);
  });

  it("rotation: new passwords in one application; set in each running database before its update, checked after it, the app rolls; the old ones are refused, data kept", async () => {
    const apiBefore = (await tasks(`${PREFIX}-api`)).map((t) => t.ID);
    const applied = await apply(B);
    for (const db of ["postgres", "mysql"]) {
      expect(applied.outcome[`${db}-password-rotate`], db).toBe("ok");
      expect(applied.actions[db], db).toBe("update");
      expect(applied.outcome[`${db}-password-check`], db).toBe("ok");
    }
    expect(applied.actions.redis).toBe("update");
    expect(applied.actions.api).toBe("update");
    // The app rolls: every task is replaced (its env secrets changed).
    expect((await appTasks(apiBefore)).length).toBeGreaterThan(0);
    expect(await appSees()).toEqual({ database: "ok", redis: "ok", mysql: "ok" });
    expect([check("postgres", "postgres", B.pg), check("mysql", "mysql", B.my), check("redis", "redis", B.rd)]).toEqual([0, 0, 0]);
    expect([check("postgres", "postgres", A.pg), check("mysql", "mysql", A.my), check("redis", "redis", A.rd)]).toEqual([50, 50, 50]);
    expect(await keptData()).toEqual(["kept", "kept", "kept"]);
  });

  it("drift: deployed again over the kept volumes with other passwords, the check fails naming the database and both ways out; nothing after it is applied", async () => {
    await destroyKeepingVolumes();
    expect(await engine<unknown[]>("GET", `/services?filters=${filters({ label: [`railyard.stack=${PREFIX}`] })}`)).toEqual([]);
    const first = await failure(apply(C));
    expect(first.resource).toBe("postgres-password-check");
    expect(first.exitCode).toBe(50);
    expect(first.output).toContain("database postgres (Swarm service ryp-postgres)");
    expect(first.output).toContain('password authentication failed for user "app"');
    expect(first.output).toContain("railyard:databases.postgres.passwordSecret");
    expect(first.output).toContain("1. give railyard the password the volume has");
    expect(first.output).toContain("2. or set the volume to the password railyard holds now");
    expect(first.output).not.toContain(C.pg);
    // Nothing registered after the check ran: not the next database, not the app.
    expect(Object.keys(first.partial.actions)).toEqual(["postgres"]);
    expect(await engine<unknown[]>("GET", `/services?filters=${filters({ name: [`${PREFIX}-api`] })}`)).toEqual([]);

    // Way out 1 for postgres: the password its volume has, from config. Mysql's check then fails the same way.
    const second = await failure(apply({ ...C, pg: B.pg }));
    expect(second.resource).toBe("mysql-password-check");
    expect(second.output).toContain("database mysql (Swarm service ryp-mysql)");
    expect(second.output).toContain("Access denied for user 'app'");
    expect(second.output).toContain("--with-current");
    expect(Object.keys(second.partial.actions)).not.toContain("api");

    // Way out 2 for mysql: the volume set to the password railyard holds now (the task has it mounted), signed in with the old one.
    const task = await runningContainer(`${PREFIX}-mysql`);
    const mounted = execFileSync("docker", ["exec", task, "cat", SECRET], { encoding: "utf8" });
    expect(mounted).toBe(C.my);
    const rotated = spawnSync("bash", [SCRIPT, "--rotate", "--service", `${PREFIX}-mysql`, "--engine", "mysql", "--user", "app", "--database", "app", "--with-current"], {
      input: `${mounted}\n${B.my}\n`,
      encoding: "utf8",
    });
    expect(rotated.status, rotated.stderr).toBe(0);

    // The next application goes through; redis simply starts with its new password.
    const third = await apply({ ...C, pg: B.pg });
    expect(third.outcome["mysql-password-check"]).toBe("ok");
    expect(third.actions.api).toBe("create");
    expect(await appSees()).toEqual({ database: "ok", redis: "ok", mysql: "ok" });
    expect([check("postgres", "postgres", B.pg), check("mysql", "mysql", C.my), check("redis", "redis", C.rd)]).toEqual([0, 0, 0]);
    expect(await keptData()).toEqual(["kept", "kept", "kept"]);
  });
});
