/**
 * Image references in the form the Docker provider reads back. Its client rewrites a service's image before it
 * creates it (reference.FamiliarString, with `:latest` added to a bare name), so any other spelling of the same
 * image differs from what the next `pulumi up` reads and updates the service every time.
 */

/** Whether the reference's first part names a registry (it has a `.` or `:`, or is `localhost`) rather than a Docker Hub path. */
function namesRegistry(ref: string): boolean {
  const slash = ref.indexOf("/");
  if (slash < 0) return false;
  const first = ref.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost";
}

/**
 * Docker's familiar form of an image reference: Docker Hub's `docker.io/` (or `index.docker.io/`) and an official
 * image's `library/` dropped, `:latest` added when the reference has neither tag nor digest.
 * `docker.io/library/postgres:16` → `postgres:16`; `redis` → `redis:latest`; other registries are kept as written.
 */
export function familiarImage(ref: string): string {
  const hub = /^(?:index\.)?docker\.io\//.exec(ref);
  let name = hub ? ref.slice(hub[0].length) : ref;
  if (hub || !namesRegistry(ref)) name = name.replace(/^library\/(?=[^/]+$)/, "");
  const last = name.slice(name.lastIndexOf("/") + 1);
  return last.includes(":") || last.includes("@") ? name : `${name}:latest`;
}

/** Whether the reference names its content by digest (`…@sha256:<hex>`). */
export function pinnedByDigest(ref: string): boolean {
  return /@sha256:[a-f0-9]{64}$/.test(ref);
}
