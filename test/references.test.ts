/** Reference parsing, cycle detection and env planning: pure functions, exact results. */
import { describe, expect, it } from "vitest";
import { deployOrder, pausedBy, planEnv } from "../config/env";
import { findCycles, parseTemplate } from "../config/references";
import { databaseSchema, serviceSchema } from "../config/schema";
import { PLUGINS } from "../databases";

describe("parseTemplate", () => {
  it("splits text and references", () => {
    expect(parseTemplate("postgres://${{pg.PGHOST}}:${{ pg.PGPORT }}/x")).toEqual({
      parts: [
        { kind: "text", text: "postgres://" },
        { kind: "ref", target: "pg", variable: "PGHOST", raw: "${{pg.PGHOST}}" },
        { kind: "text", text: ":" },
        { kind: "ref", target: "pg", variable: "PGPORT", raw: "${{ pg.PGPORT }}" },
        { kind: "text", text: "/x" },
      ],
      malformed: [],
    });
  });

  it("reports malformed and unclosed references, and leaves $VAR and ${VAR} as text", () => {
    expect(parseTemplate("${{pg}} ${{a.b.c}} ${{x.Y").malformed).toEqual(["${{pg}}", "${{a.b.c}}", "${{x.Y"]);
    expect(parseTemplate("$HOME ${HOME}")).toEqual({ parts: [{ kind: "text", text: "$HOME ${HOME}" }], malformed: [] });
  });
});

describe("findCycles", () => {
  it("finds each cycle once, from its smallest member", () => {
    const g = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["d"]],
      ["e", ["a"]],
    ]);
    expect(findCycles(g)).toEqual([
      ["a", "b", "c", "a"],
      ["d", "d"],
    ]);
    expect(findCycles(new Map([["a", ["b"]], ["b", []]]))).toEqual([]);
  });
});

describe("planEnv", () => {
  const services = {
    api: serviceSchema.parse({ image: "x", port: 8000, startCommand: "run", env: { DB: "${{pg.DATABASE_URL}}", MODE: "prod", KEY: "${{secrets.K}}" } }),
    web: serviceSchema.parse({ image: "x", port: 80, env: { API: "${{api.URL}}/v1", M: "${{api.MODE}}" } }),
    worker: serviceSchema.parse({ kind: "worker", image: "x", startCommand: "w", env: { DB: "${{api.DB}}", HOST: "${{pg.PGHOST}}" } }),
  };
  const databases = { pg: databaseSchema.parse({ engine: "postgres" }) };
  const plan = planEnv("staging", services, databases);

  it("expands service references to literal text", () => {
    expect(plan.web.vars.API).toEqual({ parts: [{ kind: "text", text: "http://staging-api:8000/v1" }], secret: false });
    expect(plan.web.vars.M).toEqual({ parts: [{ kind: "text", text: "prod" }], secret: false });
    expect(plan.web).toMatchObject({ services: ["api"], databases: [] });
  });

  it("marks values holding passwords or app secrets as secret, through service references too", () => {
    expect(plan.api.vars.DB).toEqual({ parts: [{ kind: "database", database: "pg", variable: "DATABASE_URL" }], secret: true });
    expect(plan.api.vars.KEY).toEqual({ parts: [{ kind: "secret", name: "K" }], secret: true });
    expect(plan.api.vars.MODE.secret).toBe(false);
    expect(plan.worker.vars.DB.secret).toBe(true);
    expect(plan.worker.vars.HOST.secret).toBe(false);
    expect(plan.worker).toMatchObject({ services: ["api"], databases: ["pg"] });
  });

  it("orders services after those they reference", () => {
    expect(deployOrder(plan)).toEqual(["api", "web", "worker"]);
  });

  it("orders a paused service after the services whose migrations pause it", () => {
    expect(pausedBy({ worker: ["web", "api"], api: ["web"] })).toEqual({ web: ["api", "worker"], api: ["worker"] });
    // worker's migration pauses web: web comes after worker (which still comes after api, which it refers to).
    expect(deployOrder(plan, pausedBy({ worker: ["web"] }))).toEqual(["api", "worker", "web"]);
  });
});

describe("database plugins", () => {
  const endpoint = { host: "staging-pg", port: 5432, user: "app", database: "app", password: "p@ss/w:rd" };
  it("offer Railway's variable names with the password percent-encoded in URLs", () => {
    const pg = Object.fromEntries(PLUGINS.postgres.variables.map((v) => [v.name, v.value(endpoint)]));
    expect(pg).toEqual({
      DATABASE_URL: "postgresql://app:p%40ss%2Fw%3Ard@staging-pg:5432/app",
      PGHOST: "staging-pg",
      PGPORT: "5432",
      PGUSER: "app",
      PGPASSWORD: "p@ss/w:rd",
      PGDATABASE: "app",
    });
    expect(PLUGINS.redis.variables.map((v) => v.name)).toEqual(["REDIS_URL", "REDISHOST", "REDISPORT", "REDISUSER", "REDISPASSWORD"]);
    expect(PLUGINS.mysql.variables[0].value({ ...endpoint, port: 3306 })).toBe("mysql://app:p%40ss%2Fw%3Ard@staging-pg:3306/app");
  });

  it("only secret variables read the password", () => {
    for (const plugin of Object.values(PLUGINS)) {
      for (const v of plugin.variables) {
        expect(v.value(endpoint).includes("p%40ss") || v.value(endpoint).includes("p@ss"), `${plugin.engine}.${v.name}`).toBe(v.secret);
      }
    }
  });

  it("check health with the engine's own client, reading the password from the secret file", () => {
    const inputs = { user: "app", database: "app", passwordFile: "/run/secrets/railyard_db_password" };
    expect(PLUGINS.postgres.healthcheck(inputs)).toEqual(["CMD-SHELL", "pg_isready -h 127.0.0.1 -U app -d app"]);
    expect(PLUGINS.mysql.healthcheck(inputs)).toEqual([
      "CMD-SHELL",
      'MYSQL_PWD="$(cat /run/secrets/railyard_db_password)" mysqladmin ping -h 127.0.0.1 -u app --silent',
    ]);
    expect(PLUGINS.redis.healthcheck(inputs)).toEqual([
      "CMD-SHELL",
      'REDISCLI_AUTH="$(cat /run/secrets/railyard_db_password)" redis-cli -h 127.0.0.1 ping | grep -q PONG',
    ]);
    expect(PLUGINS.mongo.healthcheck(inputs)[1]).toContain("mongosh");
  });
});

describe("planEnv: what a worker offers", () => {
  it("a worker has no PORT or URL of its own: references reach its env vars of those names", () => {
    const services = {
      worker: serviceSchema.parse({ kind: "worker", image: "x", env: { PORT: "5555", URL: "https://worker.example.com" } }),
      beat: serviceSchema.parse({ kind: "worker", image: "x", env: { W: "${{worker.HOST}}:${{worker.PORT}} ${{worker.URL}}" } }),
    };
    const plan = planEnv("st", services, {});
    expect(plan.beat.vars.W.parts).toEqual([{ kind: "text", text: "st-worker:5555 https://worker.example.com" }]);
  });
});
