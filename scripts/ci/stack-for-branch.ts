/**
 * CI: which stack a push deploys, read from every Pulumi.<stack>.yaml's railyard:deploy.branch, and what that
 * stack's CI builds (railyard:deploy.images) as a build matrix.
 *
 *   stack-for-branch.ts --branch main                    the one stack whose deploy.branch is main
 *   stack-for-branch.ts --branch main --stack production that stack, which must claim main (a mismatch fails)
 *   stack-for-branch.ts --stack production               that stack and its branch (rollback's concurrency group)
 *   add --github-output to append stack=, branch=, promote-from= and images= (JSON) to $GITHUB_OUTPUT as well as
 *   print them. A stack with railyard:deploy.promoteFrom builds nothing: images= is [] and promote-from= names the
 *   stack whose digests it deploys (scripts/ci/set-images.ts --from).
 *
 * Every repository of deploy.images must be on railyard:registry.server (default ghcr.io): CI pushes only there, so
 * the workflow's own token (GHCR) or REGISTRY_PUSH_TOKEN (another server) never goes to a registry a key happens to
 * name.
 *
 * Exit codes: 0 resolved; 2 bad arguments or no such stack file; 3 no stack or two stacks claim the branch, or
 * the stack's branch differs from --branch; 4 a stack file's deploy.branch, deploy.images or deploy.promoteFrom is
 * invalid, or a deploy.images repository is on another registry than railyard:registry.server.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { imageBuildProblems, imageBuildsSchema, ImageBuilds, promoteFromSchema, promotionProblems } from "../../config/images";
import { BRANCH } from "../../config/patterns";
import { formatProblem } from "../../config/problems";
import { registryHost } from "../../config/registry";
import { CliError, helpAsked, NAME, obj, parseOptions, projectRoot, readStackFile, runMain, stackOption, str, Yaml } from "../stackHost";

export const USAGE = `Usage: stack-for-branch.ts [--branch BRANCH] [--stack STACK] [--github-output]
  The stack whose railyard:deploy.branch is BRANCH (exactly one must claim it), or STACK checked against BRANCH,
  or STACK and its branch. Prints stack=, branch=, promote-from= and images= (the build matrix, JSON) lines.`;

const BRANCH_KEY = "railyard:deploy.branch";

/** One row of the build matrix: what docker/build-push-action takes for one repository. */
export interface ImageBuild {
  repository: string;
  /** The registry host docker/login-action logs in to ("docker.io" for Docker Hub repositories). */
  registry: string;
  context: string;
  /** The Dockerfile; "" for the context's own. */
  file: string;
  target: string;
  /** KEY=value lines. */
  buildArgs: string;
}

export interface Resolved {
  stack: string;
  branch: string;
  /** The stack whose digests this one deploys, "" when it builds its own. */
  promoteFrom: string;
  images: ImageBuild[];
}

/** Every stack that has a stack file in `root`, by name. */
export function stackNames(root: string): string[] {
  return fs
    .readdirSync(root)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined && NAME.test(s))
    .sort();
}

/** A stack's deploy.branch, undefined when it sets none; a malformed one is an error naming the key. */
export function branchOf(config: Yaml, stack: string): string | undefined {
  const deploy = config["railyard:deploy"];
  if (deploy === undefined) return undefined;
  const d = obj(deploy);
  if (d === undefined) throw new CliError(`Pulumi.${stack}.yaml: railyard:deploy must be a map, got ${JSON.stringify(deploy)}`, 4);
  if (d.branch === undefined) return undefined;
  const b = str(d.branch);
  if (b === undefined || !BRANCH.test(b)) throw new CliError(`Pulumi.${stack}.yaml: ${BRANCH_KEY} must be a git branch name, got ${JSON.stringify(d.branch)}`, 4);
  return b;
}

/** The registry host of a repository, as Docker reads it: the first part when it has a `.` or `:` or is localhost. */
export function registryOf(repository: string): string {
  const slash = repository.indexOf("/");
  const first = slash < 0 ? "" : repository.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost" ? first : "docker.io";
}

/** The stack's deploy.images checked as the program checks them (schema, then each key against the services). */
export function imagesOf(config: Yaml, stack: string): ImageBuilds {
  const raw = obj(config["railyard:deploy"])?.images;
  if (raw === undefined) return {};
  const parsed = imageBuildsSchema.safeParse(raw);
  const where = `Pulumi.${stack}.yaml: `;
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`${where}railyard:deploy.images${issue.path.map((p) => `[${JSON.stringify(p)}]`).join("")}: ${issue.message}`, 4);
  }
  const services: Record<string, { image?: string }> = {};
  for (const [name, s] of Object.entries(obj(config["railyard:services"]) ?? {})) services[name] = { image: str(obj(s)?.image) };
  const problems = imageBuildProblems(parsed.data, services);
  if (problems.length > 0) throw new CliError(where + problems.map(formatProblem).join(`\n${where}`), 4);
  return parsed.data;
}

/** The stack's deploy.promoteFrom, checked (a stack name, not itself, no deploy.images beside it); "" when unset. */
export function promoteFromOf(config: Yaml, stack: string): string {
  const raw = obj(config["railyard:deploy"])?.promoteFrom;
  if (raw === undefined) return "";
  const parsed = promoteFromSchema.safeParse(raw);
  if (!parsed.success) throw new CliError(`Pulumi.${stack}.yaml: railyard:deploy.promoteFrom: ${parsed.error.issues[0].message}, got ${JSON.stringify(raw)}`, 4);
  const problems = promotionProblems(stack, parsed.data, imagesOf(config, stack));
  if (problems.length > 0) throw new CliError(`Pulumi.${stack}.yaml: ${formatProblem(problems[0])}`, 4);
  return parsed.data;
}

/** The registry CI pushes to: railyard:registry.server, ghcr.io when the stack sets none. */
export function pushRegistryOf(config: Yaml): string {
  return str(obj(config["railyard:registry"])?.server) ?? "ghcr.io";
}

/** Refuses (4) a deploy.images repository on another registry than the stack's push registry, naming the key. */
export function checkPushRegistry(images: ImageBuilds, config: Yaml, stack: string): void {
  const server = pushRegistryOf(config);
  for (const repository of Object.keys(images)) {
    const host = registryHost(repository);
    if (host !== server) {
      throw new CliError(
        `Pulumi.${stack}.yaml: railyard:deploy.images[${JSON.stringify(repository)}]: is on ${host}, not on railyard:registry.server (${server}): CI pushes only to the stack's registry`,
        4,
      );
    }
  }
}

export function buildMatrix(images: ImageBuilds): ImageBuild[] {
  return Object.entries(images).map(([repository, b]) => ({
    repository,
    registry: registryOf(repository),
    context: b.context,
    file: b.dockerfile ?? "",
    target: b.target ?? "",
    buildArgs: Object.entries(b.args ?? {}).map(([k, v]) => `${k}=${v}`).join("\n"),
  }));
}

/** A stack file's config map; a file that is not YAML is exit 4, naming it. */
export function configOf(stack: string, root: string): Yaml {
  try {
    return readStackFile(stack, root).config;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`Pulumi.${stack}.yaml is not valid YAML: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`, 4);
  }
}

export function resolve(root: string, branch: string | undefined, stack: string | undefined): Resolved {
  if (stack !== undefined) {
    const config = configOf(stack, root);
    const claimed = branchOf(config, stack);
    if (claimed === undefined) throw new CliError(`Pulumi.${stack}.yaml sets no ${BRANCH_KEY}: set it to the branch that deploys ${stack}`, 3);
    if (branch !== undefined && claimed !== branch) {
      throw new CliError(`Pulumi.${stack}.yaml: ${BRANCH_KEY} is ${JSON.stringify(claimed)}, not ${JSON.stringify(branch)}: this branch does not deploy ${stack}`, 3);
    }
    const images = imagesOf(config, stack);
    checkPushRegistry(images, config, stack);
    return { stack, branch: claimed, promoteFrom: promoteFromOf(config, stack), images: buildMatrix(images) };
  }
  if (branch === undefined) throw new CliError(`give --branch, --stack or both\n${USAGE}`, 2);
  const claims = stackNames(root).filter((s) => branchOf(configOf(s, root), s) === branch);
  if (claims.length === 0) throw new CliError(`no stack file sets ${BRANCH_KEY} to ${JSON.stringify(branch)}: nothing deploys from this branch`, 3);
  if (claims.length > 1) {
    throw new CliError(`${claims.map((s) => `Pulumi.${s}.yaml`).join(" and ")} all set ${BRANCH_KEY} to ${JSON.stringify(branch)}: one branch deploys one stack`, 3);
  }
  return resolve(root, branch, claims[0]);
}

export function outputLines(r: Resolved): string[] {
  return [`stack=${r.stack}`, `branch=${r.branch}`, `promote-from=${r.promoteFrom}`, `images=${JSON.stringify(r.images)}`];
}

export async function main(argv: string[], root = projectRoot(), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const p = parseOptions(argv, { "--branch": "value", "--stack": "value", "--github-output": "switch" }, USAGE);
  const branch = p.values.get("--branch");
  if (branch !== undefined && !BRANCH.test(branch)) throw new CliError(`--branch must be a git branch name, got ${JSON.stringify(branch)}`, 2);
  const stack = p.values.has("--stack") ? stackOption(p) : undefined;
  const lines = outputLines(resolve(root, branch, stack));
  console.log(lines.join("\n"));
  if (p.switches.has("--github-output")) {
    const out = env.GITHUB_OUTPUT;
    if (!out || !path.isAbsolute(out)) throw new CliError("--github-output needs GITHUB_OUTPUT, the absolute path of the step's output file", 2);
    fs.appendFileSync(out, `${lines.join("\n")}\n`);
  }
  return 0;
}

if (require.main === module) runMain("stack-for-branch", () => main(process.argv.slice(2)));
