/**
 * npm run diagram -- --stack production [--markdown] [--out FILE | --readme]
 *
 * The stack's topology as Mermaid (render/mermaid.ts), from Pulumi.<stack>.yaml (in RAILYARD_PROJECT_DIR or this
 * checkout) checked by the program's own loader, so a diagram is only ever drawn of a stack `pulumi up` would
 * accept. The diagram needs no secret: a secret key the file does not hold, or holds only as `secure:` ciphertext,
 * gets a placeholder the loader's checks accept, and the renderer never reads secret values.
 *
 * Exit codes: 0 written; 2 bad arguments, a missing or invalid stack file (the loader's messages), or a README
 * without the stack's markers; 1 anything else.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, StackConfig } from "../config/load";
import { RailyardConfigError } from "../config/problems";
import { parseTemplate } from "../config/references";
import { renderMermaid } from "../render/mermaid";
import { CliError, helpAsked, obj, parseOptions, projectRoot, readStackFile, runMain, stackOption, str, Yaml } from "./stackHost";

export const USAGE = `Usage: npm run diagram -- --stack STACK [--markdown] [--out FILE | --readme]
  Prints the stack's topology (edge, domains, services, databases, references, backups) as Mermaid.
  --markdown  wrap it in a \`\`\`mermaid fence with a one-line caption
  --out FILE  write it to FILE (relative to the folder the command was typed in) instead of printing it
  --readme    rewrite README.md's block between <!-- diagram:STACK:begin --> and <!-- diagram:STACK:end -->`;

export interface DiagramArgs {
  stack: string;
  markdown: boolean;
  out?: string;
  readme: boolean;
}

export function parseArgs(argv: string[]): DiagramArgs {
  const p = parseOptions(argv, { "--stack": "value", "--markdown": "switch", "--out": "value", "--readme": "switch" }, USAGE);
  const out = p.values.get("--out");
  if (out !== undefined && p.switches.has("--readme")) throw new CliError("--out and --readme exclude each other (--readme writes README.md)", 2);
  return { stack: stackOption(p), markdown: p.switches.has("--markdown"), out, readme: p.switches.has("--readme") };
}

// ---- the stack file as the Pulumi runtime would hold it ----

/** What a secret key holds for the diagram: accepted by every check of its value (an https URL, a password, a key). */
export const PLACEHOLDER = "https://railyard.invalid/diagram-placeholder";
const PLACEHOLDER_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nrailyard-diagram-placeholder\n-----END OPENSSH PRIVATE KEY-----\n";

const isSecure = (v: unknown): boolean => obj(v) !== undefined && Object.keys(obj(v) ?? {}).length === 1 && typeof obj(v)?.secure === "string";
const holdsSecure = (v: unknown): boolean =>
  isSecure(v) || (typeof v === "object" && v !== null && Object.values(v).some(holdsSecure));
/** The value with each `secure:` ciphertext replaced by `placeholder`. */
function unsealed(v: unknown, placeholder: string): unknown {
  if (isSecure(v)) return placeholder;
  if (Array.isArray(v)) return v.map((x) => unsealed(x, placeholder));
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unsealed(x, placeholder)]));
  return v;
}

/**
 * The railyard:secrets entries a stack file names: `${{secrets.NAME}}` in any value, a `…Secret` key's value
 * (webhookSecret, passwordSecret, the bucket's key secrets) and a service's `secrets` list.
 */
export function namedSecrets(config: Yaml): string[] {
  const names = new Set<string>();
  const walk = (v: unknown, key: string, inServices: boolean) => {
    if (typeof v === "string") {
      for (const part of parseTemplate(v).parts) if (part.kind === "ref" && part.target === "secrets") names.add(part.variable);
      if (/Secret$/.test(key)) names.add(v);
    } else if (Array.isArray(v)) {
      if (inServices && key === "secrets") v.forEach((s) => typeof s === "string" && names.add(s));
      else v.forEach((x) => walk(x, "", inServices));
    } else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) walk(x, k, inServices);
    }
  };
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith("railyard:") && key !== "railyard:secrets") walk(value, key.slice("railyard:".length), key === "railyard:services");
  }
  return [...names].sort();
}

export interface RuntimeConfig {
  /** Every key, as the runtime's text (objects as JSON). */
  values: Record<string, string>;
  /** Keys the runtime holds as secrets. */
  secretKeys: string[];
}

const asText = (v: unknown): string => (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));

/**
 * A stack file's `config` as the Pulumi runtime would hold it for `pulumi up`: plain values as they are (so a plain
 * value where a secret belongs is still refused by the loader), `secure:` values and missing secrets as
 * placeholders marked secret.
 */
export function runtimeConfigOf(config: Yaml): RuntimeConfig {
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  const secret = (key: string, value: unknown) => {
    values[key] = asText(value);
    secretKeys.push(key);
  };
  for (const [key, value] of Object.entries(config)) {
    if (holdsSecure(value)) secret(key, unsealed(value, key === "railyard:sshPrivateKey" ? PLACEHOLDER_KEY : PLACEHOLDER));
    else values[key] = asText(value);
  }
  const host = obj(config["railyard:host"]);
  if (!("railyard:sshPrivateKey" in config) && str(host?.mode) !== "local") secret("railyard:sshPrivateKey", PLACEHOLDER_KEY);
  if (!("cloudflare:apiToken" in config) && obj(obj(config["railyard:edge"])?.cloudflare) !== undefined) secret("cloudflare:apiToken", PLACEHOLDER);
  const held = config["railyard:secrets"];
  const missing = namedSecrets(config).filter((n) => !Object.hasOwn(obj(held) ?? {}, n));
  if (held === undefined && missing.length > 0) secret("railyard:secrets", Object.fromEntries(missing.map((n) => [n, PLACEHOLDER])));
  else if (holdsSecure(held) && obj(held) !== undefined) {
    secret("railyard:secrets", { ...(obj(unsealed(held, PLACEHOLDER)) ?? {}), ...Object.fromEntries(missing.map((n) => [n, PLACEHOLDER])) });
  }
  return { values, secretKeys: [...new Set(secretKeys)] };
}

/** Checks a stack file's config with the program's loader (every problem at once, exit 2). */
export function stackConfigOf(stack: string, config: Yaml): StackConfig {
  const runtime = runtimeConfigOf(config);
  pulumi.runtime.setAllConfig(runtime.values, runtime.secretKeys);
  try {
    return loadStackConfig(stack);
  } catch (e) {
    if (e instanceof RailyardConfigError) throw new CliError(`Pulumi.${stack}.yaml: ${e.message}`, 2);
    throw e;
  }
}

// ---- output ----

export function markdown(stack: string, mermaid: string): string {
  return `The \`${stack}\` stack as \`npm run diagram -- --stack ${stack}\` draws it from \`Pulumi.${stack}.yaml\`:\n\n\`\`\`mermaid\n${mermaid}\`\`\`\n`;
}

export const beginMarker = (stack: string) => `<!-- diagram:${stack}:begin -->`;
export const endMarker = (stack: string) => `<!-- diagram:${stack}:end -->`;

/** The README's text between the stack's markers (the markers' own lines kept), or a CliError naming --readme. */
export function readmeBlock(readme: string, stack: string): { start: number; end: number } {
  const [begin, end] = [beginMarker(stack), endMarker(stack)];
  const count = (m: string) => readme.split(m).length - 1;
  if (count(begin) !== 1 || count(end) !== 1 || readme.indexOf(begin) > readme.indexOf(end)) {
    throw new CliError(`--readme: README.md needs exactly one ${begin} line followed by one ${end} line`, 2);
  }
  return { start: readme.indexOf(begin) + begin.length, end: readme.indexOf(end) };
}

/** The README with only the stack's block replaced by `block` (a newline on each side). */
export function withBlock(readme: string, stack: string, block: string): string {
  const { start, end } = readmeBlock(readme, stack);
  return `${readme.slice(0, start)}\n${block}${readme.slice(end)}`;
}

export async function main(argv: string[], root = projectRoot()): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const args = parseArgs(argv);
  const file = readStackFile(args.stack, root);
  // --out is relative to where the command was typed (npm run starts scripts in the project's folder).
  const out = args.out === undefined ? undefined : path.resolve(process.env.INIT_CWD || process.cwd(), args.out);
  // Build contexts are checked relative to the project, as `pulumi up` in it checks them.
  process.chdir(root);
  const mermaid = renderMermaid(stackConfigOf(args.stack, file.config));
  if (args.readme) {
    const readme = path.join(root, "README.md");
    if (!fs.existsSync(readme)) throw new CliError(`--readme: no ${readme}`, 2);
    const text = fs.readFileSync(readme, "utf8");
    const next = withBlock(text, args.stack, markdown(args.stack, mermaid));
    if (next !== text) fs.writeFileSync(readme, next);
    console.error(`diagram: ${next === text ? "README.md already shows" : "README.md now shows"} the ${args.stack} stack`);
    return 0;
  }
  const text = args.markdown ? markdown(args.stack, mermaid) : mermaid;
  if (out !== undefined) fs.writeFileSync(out, text);
  else process.stdout.write(text);
  return 0;
}

if (require.main === module) runMain("diagram", () => main(process.argv.slice(2)));
