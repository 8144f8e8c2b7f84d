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
/** A registry in an image reference: a host name (no `_`) and an optional port 1–65535 without leading zeros. */
const REGISTRY = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::([1-9][0-9]{0,4}))?$/;

/**
 * Whether an image reference's registry, when it names one (a first part with a `.` or `:`, or `localhost`,
 * before a `/`), is one Docker and the health gate accept.
 */
export function registryOk(image: string): boolean {
  const slash = image.indexOf("/");
  const first = slash < 0 ? "" : image.slice(0, slash);
  if (!(first.includes(".") || first.includes(":") || first === "localhost")) return true;
  const m = REGISTRY.exec(first);
  return m !== null && (m[1] === undefined || Number(m[1]) <= 65535);
}
/** An SSH public host key as in known_hosts/authorized_keys: `<type> <base64> [comment]`. */
export const HOST_KEY =
  /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+={0,3}(?: [\x21-\x7e]+)?$/;
/** A DNS host name. */
export const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** A login name on the host. */
export const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
/**
 * An absolute folder on the host, written once and plainly: at least one segment, no `.` or `..` segment, no
 * doubled or trailing `/`, no shell-special characters (the host scripts refuse `//` and the like).
 */
export const ABSOLUTE_PATH = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))(?:\/[A-Za-z0-9._-]+)+$/;
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
/**
 * An S3 bucket name as AWS allows it for new buckets: 3 to 63 lower-case letters, digits, dots and hyphens, a
 * letter or digit at each end, no `..`, not an IP address, none of AWS's reserved prefixes and suffixes.
 */
export const BUCKET_NAME =
  /^(?!xn--|sthree-|amzn-s3-demo-)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)(?!.*(?:-s3alias|--ol-s3|--x-s3|\.mrap)$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** An S3 region name: us-east-1, eu-west-3, or a provider's own (R2's "auto"); as railyard-s3.sh's is_region. */
export const S3_REGION = /^[a-z][a-z0-9-]{0,31}$/;
/**
 * An S3 endpoint as the host scripts take it (railyard-lib.sh split_url): http(s)://, a lower-case DNS name, an
 * IPv4 address or a bracketed IPv6 one, an optional port, nothing after but an optional `/`.
 */
export const S3_ENDPOINT =
  /^https?:\/\/(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::[1-9][0-9]{0,4})?\/?$/;
/** An AWS region name (the AWS provider's own form). */
export const AWS_REGION = /^[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$/;
