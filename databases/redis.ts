import { shellQuote } from "../lib/shell";
import { DatabasePlugin, standardVariables, urlPart } from "./plugin";

/**
 * Redis: the image cannot read a password file, so the start command writes a config file inside the
 * container from the Swarm secret. The password never appears in the service spec.
 */
export const redis: DatabasePlugin = {
  engine: "redis",
  defaultImage: "redis:7.4-bookworm",
  port: 6379,
  dataPath: "/data",
  defaultUser: "default",
  defaultDatabase: "0",
  reserved: { user: { names: [], prefixes: [] }, database: { names: [], prefixes: [] } },
  configurableUser: false,
  // Reads it from the secret on every start (the command below): a new secret needs no change in the volume.
  passwordFromSecretOnStart: true,
  containerEnv: () => ({}),
  command: ({ passwordFile }) => [
    "sh",
    "-c",
    `umask 077 && printf 'requirepass %s\\n' "$(cat ${shellQuote(passwordFile)})" > /tmp/railyard-redis.conf` +
      ` && exec redis-server /tmp/railyard-redis.conf --appendonly yes --dir /data`,
  ],
  healthcheck: ({ passwordFile }) => [
    "CMD-SHELL",
    `REDISCLI_AUTH="$(cat ${shellQuote(passwordFile)})" redis-cli -h 127.0.0.1 ping | grep -q PONG`,
  ],
  variables: standardVariables(
    "REDIS",
    "REDIS_URL",
    (e) => `redis://${urlPart(e.user)}:${urlPart(e.password)}@${e.host}:${e.port}`,
    false,
  ),
};
