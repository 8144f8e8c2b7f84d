/**
 * The stack the password tests and benchmark deploy: the dev stack file on this engine under `prefix`, without its
 * edge, with the given databases (each password from secret config: railyard:secrets.<ENGINE>_PASSWORD, so a run
 * can change it) and one api that uses them.
 */
import type { ConfigMap } from "../harness";
import { onLocalEngine } from "./probe";

export type PasswordEngine = "postgres" | "mysql" | "redis";
/** The secret each database's password comes from. */
export const PASSWORD_SECRET: Record<PasswordEngine, string> = { postgres: "PG_PASSWORD", mysql: "MYSQL_PASSWORD", redis: "REDIS_PASSWORD" };

export function passwordStack(
  prefix: string,
  passwords: Partial<Record<PasswordEngine, string>>,
  api: { replicas: number; env: Record<string, string> },
): { plain: ConfigMap; secret: ConfigMap } {
  const plain = onLocalEngine("dev", prefix);
  delete plain["railyard:edge"];
  const engines = Object.keys(passwords) as PasswordEngine[];
  plain["railyard:databases"] = Object.fromEntries(engines.map((e) => [e, { engine: e, passwordSecret: PASSWORD_SECRET[e] }]));
  plain["railyard:services"] = {
    api: {
      kind: "web",
      image: "railyard-test/app:v1",
      startCommand: "python3 /app/app.py serve",
      port: 8000,
      replicas: api.replicas,
      healthcheck: { path: "/health", interval: "2s", timeout: "2s", retries: 3, startPeriod: "5s" },
      env: api.env,
    },
  };
  return { plain, secret: { "railyard:secrets": Object.fromEntries(engines.map((e) => [PASSWORD_SECRET[e], passwords[e]])) } };
}
