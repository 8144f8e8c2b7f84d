import { mongo } from "./mongo";
import { mysql } from "./mysql";
import { DatabasePlugin, endpointOf, Engine } from "./plugin";
import { postgres } from "./postgres";
import { redis } from "./redis";

/** Every database plugin railyard knows, by engine name. */
export const PLUGINS: Record<Engine, DatabasePlugin> = { postgres, mysql, mongo, redis };
export const ENGINES = Object.keys(PLUGINS) as Engine[];

/**
 * A running database as the host scripts name it (backup, restore, drill): its Swarm service, engine, and the app
 * user and database the stack file chose (or the plugin's defaults).
 */
export function liveDatabase(serviceName: string, config: { engine: Engine; user?: string; database?: string }): {
  service: string;
  engine: Engine;
  user: string;
  database: string;
} {
  const { user, database } = endpointOf(PLUGINS[config.engine], serviceName, config);
  return { service: serviceName, engine: config.engine, user, database };
}
