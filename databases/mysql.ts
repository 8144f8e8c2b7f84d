import { shellQuote } from "../lib/shell";
import { DatabasePlugin, standardVariables, urlPart } from "./plugin";

/** MySQL: the official image reads MYSQL_PASSWORD_FILE and MYSQL_ROOT_PASSWORD_FILE. */
export const mysql: DatabasePlugin = {
  engine: "mysql",
  defaultImage: "mysql:8.4",
  port: 3306,
  dataPath: "/var/lib/mysql",
  defaultUser: "app",
  defaultDatabase: "app",
  reserved: {
    user: { names: ["root", "mysql.sys", "mysql.session", "mysql.infoschema"], prefixes: [] },
    // The server's own schemas: an app user given one of them would be granted the system tables.
    database: { names: ["mysql", "sys", "information_schema", "performance_schema"], prefixes: [] },
  },
  configurableUser: true,
  passwordFromSecretOnStart: false,
  containerEnv: ({ user, database, passwordFile }) => ({
    MYSQL_USER: user,
    MYSQL_DATABASE: database,
    MYSQL_PASSWORD_FILE: passwordFile,
    MYSQL_ROOT_PASSWORD_FILE: passwordFile,
  }),
  healthcheck: ({ user, passwordFile }) => [
    "CMD-SHELL",
    `MYSQL_PWD="$(cat ${shellQuote(passwordFile)})" mysqladmin ping -h 127.0.0.1 -u ${shellQuote(user)} --silent`,
  ],
  variables: standardVariables(
    "MYSQL",
    "MYSQL_URL",
    (e) => `mysql://${urlPart(e.user)}:${urlPart(e.password)}@${e.host}:${e.port}/${urlPart(e.database)}`,
    true,
  ),
};
