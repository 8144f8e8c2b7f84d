/** The shapes of names and values the stack files may hold. Kept narrow: every one ends up in a shell or a DNS name. */

/** A service or database name: a DNS label, since it names a Swarm service and its `tasks.<name>` record. */
export const RESOURCE_NAME = /^[a-z](?:[a-z0-9-]{0,28}[a-z0-9])?$/;
/** An environment variable's name. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** An app secret's name under railyard:secrets. */
export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;
/** An image pinned by digest: `[registry/]repo[:tag]@sha256:<64 hex>`. */
export const PINNED_IMAGE =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[a-f0-9]{64}$/;
/** An image by tag (allowed in the dev environment only). */
export const TAGGED_IMAGE =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
/** Whether an image reference's registry port (`host:port/…`), if any, is a port from 1 to 65535. */
export function registryPortOk(image: string): boolean {
  const port = /^[^/]+:(\d+)\//.exec(image)?.[1];
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
}
/** An SSH public host key as in known_hosts/authorized_keys: `<type> <base64> [comment]`. */
export const HOST_KEY =
  /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+={0,3}(?: [\x21-\x7e]+)?$/;
/** A DNS host name. */
export const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** A login name on the host. */
export const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
/** An absolute path on the host without `..` segments or shell-special characters. */
export const ABSOLUTE_PATH = /^(?!.*(?:^|\/)\.\.(?:\/|$))\/(?:[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*)?\/?$/;
/** The path part of a health-check URL. */
export const URL_PATH = /^\/[A-Za-z0-9._~%/?=&-]*$/;
/** A git branch name (kept to the usual characters). */
export const BRANCH = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/;
/** A log size for the json-file driver, e.g. "10m". */
export const LOG_SIZE = /^[1-9]\d{0,8}[kmg]$/;
/** A public domain name: lower-case DNS labels with at least one dot (api.example.com, example.com). */
export const DOMAIN =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A Cloudflare zone ID: 32 hex digits. */
export const CLOUDFLARE_ID = /^[a-f0-9]{32}$/;
