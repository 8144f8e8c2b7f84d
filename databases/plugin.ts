/**
 * A database plugin describes one engine the way Railway's plugins do: the container it runs, where its data
 * lives, how its health is checked with the engine's own client, and the variables services can reference as
 * `${{<database>.<VAR>}}`. Plugins are plain data and pure functions; the Database component turns them into
 * resources.
 */

export type Engine = "postgres" | "mysql" | "mongo" | "redis";

/** Where a running database can be reached, with its credentials. */
export interface Endpoint {
  host: string;
  port: number;
  user: string;
  database: string;
  password: string;
}

/** A variable a database offers to services. Secret ones hold the password and arrive as Swarm secrets. */
export interface DatabaseVariable {
  name: string;
  secret: boolean;
  value(endpoint: Endpoint): string;
}

/** What the container needs to start: its user, database and the file its password arrives in. */
export interface ContainerInputs {
  user: string;
  database: string;
  passwordFile: string;
}

/** Names an engine keeps for itself (exact names and prefixes). */
export interface ReservedNames {
  names: string[];
  prefixes: string[];
}

export interface DatabasePlugin {
  engine: Engine;
  /** Image used when the stack file names none. */
  defaultImage: string;
  port: number;
  /** Where the named volume is mounted in the container. */
  dataPath: string;
  defaultUser: string;
  defaultDatabase: string;
  /** Whether the stack file may choose the user and database name. */
  configurableUser: boolean;
  /**
   * The engine reads its password from the Swarm secret on every start (Redis): nothing in its volume can drift
   * from the password railyard holds, and the update that mounts a new secret is its rotation. The others apply
   * it only when they initialise an empty data directory: railyard checks it after each change and sets a new one
   * in the running database before the update that mounts it (host/railyard-dbpass.sh).
   */
  passwordFromSecretOnStart: boolean;
  /** App user and database names the engine refuses, or that would name its own system users and tables. */
  reserved: { user: ReservedNames; database: ReservedNames };
  containerEnv(inputs: ContainerInputs): Record<string, string>;
  /** A command that replaces the image's default, when the engine cannot read its password from a file. */
  command?(inputs: ContainerInputs): string[];
  /** The Docker HEALTHCHECK test, run with the engine's own client inside the container. */
  healthcheck(inputs: ContainerInputs): string[];
  variables: DatabaseVariable[];
}

/**
 * Where a database is reached, without its password: its Swarm DNS name and port, and the app user and database
 * the stack file chose (or the plugin's defaults).
 */
export function endpointOf(plugin: DatabasePlugin, host: string, chosen: { user?: string; database?: string }): Omit<Endpoint, "password"> {
  return { host, port: plugin.port, user: chosen.user ?? plugin.defaultUser, database: chosen.database ?? plugin.defaultDatabase };
}

/** Characters of a generated database password (letters and digits). */
export const PASSWORD_LENGTH = 32;

/** The file name under /run/secrets that holds a database's generated password. */
export const PASSWORD_SECRET_FILE = "railyard_db_password";
export const PASSWORD_SECRET_PATH = `/run/secrets/${PASSWORD_SECRET_FILE}`;

/** Percent-encodes a value for use inside a connection URL. */
export function urlPart(value: string): string {
  return encodeURIComponent(value);
}

/** Builds the variables every plugin offers: a URL, then host, port, user, password and (where there is one) database. */
export function standardVariables(
  prefix: string,
  urlName: string,
  url: (e: Endpoint) => string,
  withDatabase: boolean,
): DatabaseVariable[] {
  const vars: DatabaseVariable[] = [
    { name: urlName, secret: true, value: url },
    { name: `${prefix}HOST`, secret: false, value: (e) => e.host },
    { name: `${prefix}PORT`, secret: false, value: (e) => String(e.port) },
    { name: `${prefix}USER`, secret: false, value: (e) => e.user },
    { name: `${prefix}PASSWORD`, secret: true, value: (e) => e.password },
  ];
  if (withDatabase) vars.push({ name: `${prefix}DATABASE`, secret: false, value: (e) => e.database });
  return vars;
}
