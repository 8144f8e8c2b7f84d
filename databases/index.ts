import { mongo } from "./mongo";
import { mysql } from "./mysql";
import { DatabasePlugin, Engine } from "./plugin";
import { postgres } from "./postgres";
import { redis } from "./redis";

/** Every database plugin railyard knows, by engine name. */
export const PLUGINS: Record<Engine, DatabasePlugin> = { postgres, mysql, mongo, redis };
export const ENGINES = Object.keys(PLUGINS) as Engine[];
