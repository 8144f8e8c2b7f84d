import { shellJoin } from "../lib/shell";
import { DatabasePlugin, standardVariables, urlPart } from "./plugin";

/** PostgreSQL: the official image reads its password from POSTGRES_PASSWORD_FILE. */
export const postgres: DatabasePlugin = {
  engine: "postgres",
  defaultImage: "postgres:16-bookworm",
  port: 5432,
  dataPath: "/var/lib/postgresql/data",
  defaultUser: "app",
  defaultDatabase: "app",
  reserved: {
    // Roles named pg_… are the server's own (CREATE ROLE refuses them); template0/1 are the cluster's templates.
    user: { names: [], prefixes: ["pg_"] },
    database: { names: ["template0", "template1"], prefixes: ["pg_"] },
  },
  configurableUser: true,
  passwordFromSecretOnStart: false,
  containerEnv: ({ user, database, passwordFile }) => ({
    POSTGRES_USER: user,
    POSTGRES_DB: database,
    POSTGRES_PASSWORD_FILE: passwordFile,
    PGDATA: "/var/lib/postgresql/data/pgdata",
  }),
  healthcheck: ({ user, database }) => [
    "CMD-SHELL",
    shellJoin(["pg_isready", "-h", "127.0.0.1", "-U", user, "-d", database]),
  ],
  variables: standardVariables(
    "PG",
    "DATABASE_URL",
    (e) => `postgresql://${urlPart(e.user)}:${urlPart(e.password)}@${e.host}:${e.port}/${urlPart(e.database)}`,
    true,
  ),
};
