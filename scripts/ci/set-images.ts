/**
 * CI: pins the images it just pushed in the stack file. Every service whose image is in a pushed repository
 * becomes `<repository>@sha256:<digest>`; comments, layout and every other value of Pulumi.<stack>.yaml stay byte for
 * byte (the yaml Document API finds each image value's place in the text, and only those characters change). On any
 * error nothing is written.
 *
 *   set-images.ts --stack staging --from-dir digests      what the build jobs pushed
 *   set-images.ts --stack production --from staging      what the source stack runs (promotion, no build)
 *   set-images.ts --stack production --promote           the same from its deploy.promoteFrom; none: unchanged
 *
 * --from-dir holds files (one per built image, as the build jobs upload them) of `<repository>@sha256:<digest>`
 * lines. Each repository must be a key of railyard:deploy.images, and each key must have a digest: a build that
 * pushed nothing would otherwise deploy the previous image unnoticed.
 * --from takes, for each repository of the source's railyard:deploy.images that this stack's services use, the
 * digest the source's services are pinned to (one digest per repository: the source must be deployed, not half
 * edited). The stack's railyard:deploy.promoteFrom, when set, must name the source.
 *
 * Exit codes: 0 written (or already pinned); 2 bad arguments, digests or repositories; 3 no stack file;
 * 4 the stack file is not valid YAML or its deploy.images is invalid.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, isScalar, parseDocument } from "yaml";
import { imageRepository } from "../../config/images";
import { PINNED_IMAGE } from "../../config/patterns";
import { CliError, helpAsked, NAME, obj, parseOptions, projectRoot, runMain, stackOption, str, Yaml } from "../stackHost";
import { imagesOf, promoteFromOf } from "./stack-for-branch";

export const USAGE = `Usage: set-images.ts --stack STACK (--from-dir DIR | --from SOURCE_STACK | --promote)
  Pins each service whose image is in a repository of DIR's <repository>@sha256:<digest> lines to that digest,
  or to the digest SOURCE_STACK's services run for the repositories SOURCE_STACK builds (--promote: the stack's
  railyard:deploy.promoteFrom, when it has one; nothing otherwise).`;

const PUSHED = /^([^@\s]+)@(sha256:[a-f0-9]{64})$/;

/** Repository → digest from the lines of every file below `dir`; a malformed line names its file and line. */
export function readDigests(dir: string): Map<string, string> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new CliError(`--from-dir ${JSON.stringify(dir)} is not a directory`, 2);
  const out = new Map<string, string>();
  // actions/download-artifact puts each artifact in a folder of its name: every file below `dir` counts.
  for (const name of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const file = path.join(dir, name);
    if (!fs.statSync(file).isFile()) continue;
    fs.readFileSync(file, "utf8").split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (line === "") return;
      const m = PUSHED.exec(line);
      if (!m) throw new CliError(`${name}:${i + 1}: expected <repository>@sha256:<64 lower-case hex>, got ${JSON.stringify(line.slice(0, 200))}`, 2);
      const seen = out.get(m[1]);
      if (seen !== undefined && seen !== m[2]) throw new CliError(`${name}:${i + 1}: ${m[1]} is given two digests (${seen} and ${m[2]})`, 2);
      out.set(m[1], m[2]);
    });
  }
  return out;
}

/**
 * Repository → digest that `source`'s services run, for each repository `source` builds that `target`'s services use.
 * Refuses a repository the source has not pinned, or pinned to two digests, naming it.
 */
export function promotedDigests(sourceConfig: Yaml, source: string, targetConfig: Yaml, target: string): Map<string, string> {
  const promoteFrom = promoteFromOf(targetConfig, target);
  if (promoteFrom !== "" && promoteFrom !== source) throw new CliError(`Pulumi.${target}.yaml: railyard:deploy.promoteFrom is ${promoteFrom}, not ${source} (--from ${source})`, 2);
  const imagesIn = (config: Yaml) => Object.entries(obj(config["railyard:services"]) ?? {}).map(([name, s]) => [name, str(obj(s)?.image) ?? ""] as const);
  const used = new Set(imagesIn(targetConfig).map(([, image]) => imageRepository(image)));
  const repos = Object.keys(imagesOf(sourceConfig, source)).filter((r) => used.has(r));
  if (repos.length === 0) throw new CliError(`no service of Pulumi.${target}.yaml runs an image ${source} builds (railyard:deploy.images of Pulumi.${source}.yaml): nothing to promote`, 2);
  const out = new Map<string, string>();
  for (const repo of repos) {
    const pinned = imagesIn(sourceConfig).filter(([, image]) => imageRepository(image) === repo);
    const digests = new Set(pinned.map(([, image]) => (PINNED_IMAGE.test(image) ? image.slice(image.indexOf("@") + 1) : "")));
    if (digests.has("") || digests.size !== 1) {
      const shown = pinned.map(([name, image]) => `${name}: ${image}`).join(", ");
      throw new CliError(`Pulumi.${source}.yaml does not run one pinned digest of ${repo} (${shown}): deploy ${source} first`, 2);
    }
    out.set(repo, [...digests][0]);
  }
  return out;
}

export interface Change {
  service: string;
  from: string;
  to: string;
}

/** The stack file's text with the digests set, and what changed. Throws before changing anything. */
/** A stack file's YAML document; invalid YAML is exit 4, naming the file. */
function stackDocument(text: string, stack: string) {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new CliError(`Pulumi.${stack}.yaml is not valid YAML: ${doc.errors[0].message.split("\n")[0]}`, 4);
  return doc;
}
const configOf = (doc: ReturnType<typeof parseDocument>): Yaml => obj(obj(doc.toJS())?.config) ?? {};

export function setImages(text: string, stack: string, digests: Map<string, string>, built = true): { text: string; changes: Change[] } {
  const doc = stackDocument(text, stack);
  const config = configOf(doc);
  const builds = built ? imagesOf(config, stack) : Object.fromEntries([...digests.keys()].map((r) => [r, { context: "." }]));
  for (const repo of digests.keys()) {
    if (!Object.hasOwn(builds, repo)) {
      const known = Object.keys(builds);
      throw new CliError(`${repo} is not a key of railyard:deploy.images in Pulumi.${stack}.yaml (${known.length > 0 ? `it has ${known.join(", ")}` : "it has none"})`, 2);
    }
  }
  const missing = Object.keys(builds).filter((r) => !digests.has(r));
  if (missing.length > 0) throw new CliError(`no digest for ${missing.join(", ")} (railyard:deploy.images in Pulumi.${stack}.yaml): was it built and pushed?`, 2);
  const services = doc.getIn(["config", "railyard:services"], true);
  const changes: Change[] = [];
  const edits: { start: number; end: number; value: string }[] = [];
  if (isMap(services)) {
    for (const pair of services.items) {
      if (!isScalar(pair.key) || !isMap(pair.value)) continue;
      const node = pair.value.get("image", true);
      if (!isScalar(node) || typeof node.value !== "string" || node.range === undefined || node.range === null) continue;
      const repo = imageRepository(node.value);
      const digest = digests.get(repo);
      if (digest === undefined) continue;
      const pinned = `${repo}@${digest}`;
      if (node.value === pinned) continue;
      changes.push({ service: String(pair.key.value), from: node.value, to: pinned });
      // Only the value's own characters change (a digest reference needs no quotes): every other byte stays.
      edits.push({ start: node.range[0], end: node.range[1], value: pinned });
    }
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.value + out.slice(e.end);
  // The edited text must read back as the intended change and nothing else.
  const check = parseDocument(out);
  for (const c of changes) {
    if (check.getIn(["config", "railyard:services", c.service, "image"]) !== c.to) throw new CliError(`could not rewrite ${c.service}'s image in place in Pulumi.${stack}.yaml: nothing written`, 4);
  }
  return { text: out, changes };
}

export async function main(argv: string[], root = projectRoot()): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const p = parseOptions(argv, { "--stack": "value", "--from-dir": "value", "--from": "value", "--promote": "switch" }, USAGE);
  const stack = stackOption(p);
  const dir = p.values.get("--from-dir");
  let source = p.values.get("--from");
  if ([dir, source, p.switches.has("--promote") || undefined].filter((v) => v !== undefined).length !== 1) {
    throw new CliError(`give one of --from-dir, --from or --promote\n${USAGE}`, 2);
  }
  if (source !== undefined && (!NAME.test(source) || source === stack)) throw new CliError(`--from must name another stack, got ${JSON.stringify(source)}`, 2);
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new CliError(`no stack file ${file} (--stack ${stack})`, 3);
  const current = fs.readFileSync(file, "utf8");
  if (p.switches.has("--promote")) {
    source = promoteFromOf(configOf(stackDocument(current, stack)), stack) || undefined;
    if (source === undefined) {
      console.log(`Pulumi.${stack}.yaml sets no railyard:deploy.promoteFrom: nothing to promote`);
      return 0;
    }
  }
  let digests: Map<string, string>;
  if (source !== undefined) {
    const sourceFile = path.join(root, `Pulumi.${source}.yaml`);
    if (!fs.existsSync(sourceFile)) throw new CliError(`no stack file ${sourceFile} (--from ${source})`, 3);
    const sourceConfig = configOf(stackDocument(fs.readFileSync(sourceFile, "utf8"), source));
    digests = promotedDigests(sourceConfig, source, configOf(stackDocument(current, stack)), stack);
  } else digests = readDigests(dir ?? "");
  const { text, changes } = setImages(current, stack, digests, source === undefined);
  if (changes.length === 0) {
    console.log(`Pulumi.${stack}.yaml already pins ${[...digests.keys()].join(", ") || "nothing"}: unchanged`);
    return 0;
  }
  const tmp = `${file}.set-images.${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: fs.statSync(file).mode });
  fs.renameSync(tmp, file);
  for (const c of changes) console.log(`${c.service}: ${c.from} -> ${c.to}`);
  return 0;
}

if (require.main === module) runMain("set-images", () => main(process.argv.slice(2)));
