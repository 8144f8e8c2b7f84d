import { DatabasePlugin, standardVariables, urlPart } from "./plugin";

/** MongoDB: the official image reads MONGO_INITDB_ROOT_PASSWORD_FILE. */
export const mongo: DatabasePlugin = {
  engine: "mongo",
  defaultImage: "mongo:7.0",
  port: 27017,
  dataPath: "/data/db",
  defaultUser: "app",
  defaultDatabase: "app",
  reserved: {
    user: { names: [], prefixes: [] },
    // admin holds the users, local the replication log, config the cluster's metadata.
    database: { names: ["admin", "local", "config"], prefixes: [] },
  },
  configurableUser: true,
  passwordFromSecretOnStart: false,
  containerEnv: ({ user, database, passwordFile }) => ({
    MONGO_INITDB_ROOT_USERNAME: user,
    MONGO_INITDB_ROOT_PASSWORD_FILE: passwordFile,
    MONGO_INITDB_DATABASE: database,
  }),
  healthcheck: () => ["CMD-SHELL", `mongosh --quiet --norc --eval 'db.adminCommand("ping").ok' | grep -q 1`],
  variables: standardVariables(
    "MONGO",
    "MONGO_URL",
    (e) =>
      `mongodb://${urlPart(e.user)}:${urlPart(e.password)}@${e.host}:${e.port}/${urlPart(e.database)}?authSource=admin`,
    true,
  ),
};
