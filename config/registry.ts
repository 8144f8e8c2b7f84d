/**
 * `railyard:registry`: the one private registry the host pulls from (GHCR by default). Its credentials go only to
 * pulls of images on that registry, never to another one (a GHCR token must not reach Docker Hub):
 * - the Docker provider's `registryAuth` (components/host.ts): the provider sends it with every service create and
 *   update whose image's registry host is the server (its fromRegistryAuth), with RemoteImage pulls and builds;
 * - the migration job (commands/migrate.ts, host/railyard-migrate.sh): over the command's stdin only.
 * Services carry no `auth` block of their own: the provider marks it ForceNew, so every token rotation would
 * delete and recreate each service on the registry.
 */
import type * as pulumi from "@pulumi/pulumi";

/** The registry, its user, and the password (a secret Output of the railyard:secrets entry passwordSecret names). */
export interface RegistryConfig {
  /** host[:port], lower-case, as images name it (ghcr.io, registry.example.com:5000). */
  server: string;
  username: string;
  password: pulumi.Output<string>;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * A registry host as an image reference names it: lower-case DNS labels and an optional port 1–65535 (no scheme,
 * path or user info), with a dot, a port or `localhost`: otherwise Docker would read the name as a Docker Hub user.
 */
export function isRegistryServer(s: string): boolean {
  const m = /^([^:]{1,253})(?::([1-9][0-9]{0,4}))?$/.exec(s);
  if (!m || (m[2] !== undefined && Number(m[2]) > 65535)) return false;
  const host = m[1];
  return host.split(".").every((l) => LABEL.test(l)) && (host.includes(".") || host === "localhost" || m[2] !== undefined);
}
/**
 * A registry user: letters, digits and . _ @ + $ - (GitHub users, robot accounts such as Harbor's robot$ci),
 * at most 128; no `:` (it would end the user in HTTP basic auth), no space or quote.
 */
export const REGISTRY_USER = /^[A-Za-z0-9][A-Za-z0-9._@+$-]{0,127}$/;
/** Docker Hub's names: images there are named without a registry, which the provider never matches to credentials. */
export const DOCKER_HUB_HOSTS = ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"];

/**
 * The registry host an image reference pulls from, as Docker reads it: the first part before a `/` when it has a
 * `.` or `:` or is `localhost`; otherwise Docker Hub ("docker.io").
 */
export function registryHost(image: string): string {
  const slash = image.indexOf("/");
  const first = slash < 0 ? "" : image.slice(0, slash);
  if (!(first.includes(".") || first.includes(":") || first === "localhost")) return "docker.io";
  return DOCKER_HUB_HOSTS.includes(first) ? "docker.io" : first;
}

/** The registry whose credentials a pull of `image` gets: `registry` when the image is on its server, else none. */
export function registryFor(image: string, registry?: RegistryConfig): RegistryConfig | undefined {
  return registry !== undefined && registryHost(image) === registry.server ? registry : undefined;
}
