/**
 * Which credentials the Docker provider sends with a service's create and update: a port of
 * kreuzwerker/terraform-provider-docker v4.5.0 — provider.go providerSetToRegistryAuth (registry_auth blocks with
 * username and password; config files are not ported), canonicalizeRegistryAddress and convertToHostname
 * (config.go, provider.go), and resource_docker_service_funcs.go retrieveAndMarshalAuth, authToServiceAuth and
 * fromRegistryAuth. The engine gets them as the X-Registry-Auth header: base64.URLEncoding of the JSON of
 * registry.AuthConfig (fields omitted when empty, "{}" when there are none).
 */

/** registry.AuthConfig as the provider fills it. */
export interface AuthConfig {
  username?: string;
  password?: string;
  serveraddress?: string;
}

/** A registry_auth block of the provider (address, username, password). */
export interface ProviderRegistryAuth {
  address: string;
  username?: string;
  password?: string;
}

/** convertToHostname: a registry URL without its scheme and path. */
export function convertToHostname(url: string): string {
  const stripped = url.startsWith("http://") ? url.slice("http://".length) : url.startsWith("https://") ? url.slice("https://".length) : url;
  return stripped.split("/")[0];
}

/** canonicalizeRegistryAddress: https:// (kept http://) and the host name alone. */
export function canonicalizeRegistryAddress(address: string): string {
  return address.startsWith("http://") ? `http://${convertToHostname(address)}` : `https://${convertToHostname(address)}`;
}

/** providerSetToRegistryAuth for username/password blocks: registry host → its AuthConfig. */
export function providerAuthConfigs(blocks: ProviderRegistryAuth[]): Map<string, AuthConfig> {
  const configs = new Map<string, AuthConfig>();
  for (const b of blocks) {
    const serveraddress = canonicalizeRegistryAddress(b.address);
    const auth: AuthConfig = { serveraddress };
    if (b.username) Object.assign(auth, { username: b.username, password: b.password ?? "" });
    configs.set(convertToHostname(serveraddress), auth);
  }
  return configs;
}

const DOCKER_HUB = ["registry-1.docker.io", "index.docker.io", "docker.io", "registry.hub.docker.com"];

/** fromRegistryAuth: the image's text up to its first `/` looked up among the provider's registries. */
export function fromRegistryAuth(image: string, configs: Map<string, AuthConfig>): AuthConfig {
  const plain = image.replace("http://", "").replace("https://", "");
  const slash = plain.indexOf("/");
  if (slash !== -1) {
    const server = plain.slice(0, slash);
    const found = configs.get(server);
    if (found) return found;
    if (DOCKER_HUB.includes(server)) for (const hub of DOCKER_HUB) if (configs.has(hub)) return configs.get(hub) as AuthConfig;
  }
  return {};
}

/**
 * retrieveAndMarshalAuth: the service's own `auth` block when it has one (authToServiceAuth: only with both user
 * and password), else the provider's credentials for the service's image.
 */
export function serviceAuth(
  image: string,
  providerBlocks: ProviderRegistryAuth[],
  own?: { serverAddress: string; username?: string; password?: string },
): AuthConfig {
  if (own) return own.username && own.password ? { username: own.username, password: own.password, serveraddress: own.serverAddress } : {};
  return fromRegistryAuth(image, providerAuthConfigs(providerBlocks));
}

/** The X-Registry-Auth header the provider sends: Go's json.Marshal field order, base64.URLEncoding (padded). */
export function registryAuthHeader(auth: AuthConfig): string {
  const ordered: AuthConfig = {};
  if (auth.username) ordered.username = auth.username;
  if (auth.password) ordered.password = auth.password;
  if (auth.serveraddress) ordered.serveraddress = auth.serveraddress;
  return Buffer.from(JSON.stringify(ordered), "utf8").toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}
