/**
 * `railyard:deploy.images`: what CI builds and pushes before `pulumi up`, keyed by image repository (no tag, no
 * digest). CI writes each pushed digest into the services whose image is in that repository
 * (scripts/ci/set-images.ts), so the stack file always names what runs.
 */
import * as path from "node:path";
import { z } from "zod";
import { ENV_NAME, registryOk } from "./patterns";
import { ConfigProblem, describe } from "./problems";

/** Property names every JavaScript object has: as map keys they would be dropped or clash (`__proto__`, `constructor`). */
const OBJECT_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));
const nonEmpty = (what: string, max: number) =>
  z
    .string({ error: `expected ${what} as a string` })
    .min(1, { error: `expected a non-empty ${what}` })
    .max(max, { error: `expected ${what} of at most ${max} characters` })
    .refine((s) => !s.includes("\0"), { error: `expected ${what} without NUL characters` });
/** A map key: not one of JavaScript's own object properties. */
const mapKey = (key: z.ZodType<string>) =>
  key.refine((k) => !OBJECT_KEYS.has(k), { error: "expected a name other than a JavaScript object property (constructor, __proto__, toString, …)" });

/**
 * A folder or file of the checkout, written plainly: letters, digits, `.`, `_`, `-` and `/`. CI hands it to
 * docker/build-push-action, which would take `https://…`, `git@…:…` or `name=…` as a REMOTE context (and build and
 * push someone else's code with the workflow's token), so nothing that could read as a URL or an option passes.
 */
const PLAIN_PATH = /^(?!-)[A-Za-z0-9._/-]+$/;
/** A path inside the project: relative, plain, no `..` that leaves it. */
const projectPath = (what: string) =>
  nonEmpty(what, 1024)
    .refine((p) => !path.isAbsolute(p) && !p.startsWith("~"), { error: `expected ${what} relative to the project directory (not absolute)`, abort: true })
    .refine((p) => PLAIN_PATH.test(p), {
      error: `expected ${what} inside the checkout written with letters, digits, . _ - and / only (no URL, no git remote, no option)`,
      abort: true,
    })
    .refine((p) => { const n = path.posix.normalize(p); return n !== ".." && !n.startsWith("../"); }, { error: `expected ${what} inside the project directory (no .. leaving it)` });

/** One image build: a service's `build` has the same shape. */
export const buildSchema = z.strictObject({
  /** The build context: a folder inside the project, e.g. ./api. */
  context: projectPath("a build context path"),
  /** The Dockerfile, inside the project. @default Dockerfile in the context */
  dockerfile: projectPath("a Dockerfile path").optional(),
  target: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: "expected a build stage name" }).optional(),
  // One line each: CI passes them to the build as KEY=value lines, where a newline would add an argument of its own.
  args: z
    .record(
      mapKey(z.string().regex(ENV_NAME, { error: "expected a build argument name", abort: true })),
      nonEmpty("build argument", 4096).refine((v) => !/[\r\n]/.test(v), { error: "expected a build argument on one line (no newline)" }),
    )
    .optional(),
});
export type BuildConfig = z.output<typeof buildSchema>;

/** Image repository → its build. The keys' form is checked by imageBuildProblems (a tag or digest is named there). */
export const imageBuildsSchema = z.record(mapKey(nonEmpty("an image repository", 255)), buildSchema, {
  error: "expected a map of image repository → build ({ context, dockerfile?, target?, args? })",
});
export type ImageBuilds = z.output<typeof imageBuildsSchema>;

/** A repository as Docker names one: `[registry[:port]/]path`, lower-case, with no tag and no digest. */
export const REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

/** The repository of an image reference: without its digest and without a tag (`ghcr.io/a/b:1@sha256:…` → `ghcr.io/a/b`). */
export function imageRepository(image: string): string {
  const at = image.indexOf("@");
  const named = at < 0 ? image : image.slice(0, at);
  const colon = named.lastIndexOf(":");
  return colon > named.lastIndexOf("/") ? named.slice(0, colon) : named;
}

/** Whether a string is a repository with no tag or digest, and a registry Docker accepts. */
export function isRepository(key: string): boolean {
  return REPOSITORY.test(key) && registryOk(key) && imageRepository(key) === key;
}

/**
 * Each key is a bare repository (a tag or digest would be pinned over by CI's digest, so it is refused rather
 * than silently dropped) and at least one service runs an image from it (a build nothing runs is a typo).
 */
export function imageBuildProblems(images: ImageBuilds, services: Record<string, { image?: string }>): ConfigProblem[] {
  const used = new Set(Object.values(services).flatMap((s) => (s.image === undefined ? [] : [imageRepository(s.image)])));
  const out: ConfigProblem[] = [];
  for (const key of Object.keys(images)) {
    const at = ["deploy", "images", key];
    if (!isRepository(key)) {
      const bare = imageRepository(key);
      out.push({
        path: at,
        expected: "an image repository without a tag or digest, such as ghcr.io/example/backend (CI adds the digest it pushed)",
        got: bare !== key && isRepository(bare) ? `${describe(key)}, which has a tag or digest: use ${describe(bare)}` : describe(key),
      });
      continue;
    }
    if (!used.has(key)) {
      const known = [...used].sort();
      out.push({
        path: at,
        expected: `a repository some service's image is in (${known.length > 0 ? known.join(", ") : "no service names an image"})`,
        got: `${describe(key)}, which no service uses`,
      });
    }
  }
  return out;
}

/**
 * `railyard:deploy.promoteFrom`: the stack whose tested digests this stack deploys instead of building (production
 * promotes staging's: develop's deploy commits them into Pulumi.staging.yaml, and develop is merged into main).
 */
export const promoteFromSchema = z
  .string({ error: "expected a stack name such as staging" })
  .regex(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/, { error: "expected a stack name such as staging" });

/** A stack promotes from another stack, not from itself, and then builds nothing of its own. */
export function promotionProblems(stack: string | undefined, promoteFrom: string | undefined, images: ImageBuilds | undefined): ConfigProblem[] {
  if (promoteFrom === undefined) return [];
  const at = ["deploy", "promoteFrom"];
  if (promoteFrom === stack) return [{ path: at, expected: "another stack's name (the stack whose tested images this one deploys)", got: `${describe(promoteFrom)}, this stack itself` }];
  if (images !== undefined && Object.keys(images).length > 0) {
    return [{ path: at, expected: "no railyard:deploy.images beside it (a promoted stack deploys the source's digests and builds nothing)", got: `${describe(promoteFrom)} with deploy.images set` }];
  }
  return [];
}
