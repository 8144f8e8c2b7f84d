/**
 * The stack file a release records (Pulumi.<stack>.yaml as deployed): a rollback restores it, so it is kept only
 * when it is what this run deployed: every plain railyard:* value equal to the run's config, and every secret key
 * present as `secure:` ciphertext (never a plain secret). Otherwise the release records no config, and says why.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { parse } from "yaml";
import { RECORD_CONFIG_MAX } from "../commands/release";
import { isSecretKey } from "./load";

export type StackFileVerdict = { text: string; why?: undefined } | { text: null; why: string };

const NAMESPACE = "railyard:";

/**
 * `text` (the stack file) if it is the config of this run: `config` as the runtime holds it (objects as JSON text),
 * `secretKeys` the keys it holds as secrets. `file` names the file in the reason.
 */
export function stackFileForRecord(text: string, config: Record<string, string>, secretKeys: string[], file: string): StackFileVerdict {
  if (text.length > RECORD_CONFIG_MAX) return { text: null, why: `${file} is over ${RECORD_CONFIG_MAX} characters, more than a record's command line carries` };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return { text: null, why: `${file} is not YAML (${e instanceof Error ? e.message.split("\n")[0] : String(e)})` };
  }
  const declared = isMap(doc) && isMap(doc.config) ? doc.config : isMap(doc) && doc.config === undefined ? {} : undefined;
  if (declared === undefined) return { text: null, why: `${file} has no config map` };
  const secrets = new Set(secretKeys);
  for (const key of secretKeys) {
    if (!Object.hasOwn(declared, key)) return { text: null, why: `${file} does not hold the secret ${key} this run uses` };
    if (!encryptedLike(declared[key], parseJson(config[key]))) return { text: null, why: `${file} holds ${key} otherwise than as the run's secure: ciphertext` };
  }
  const keys = new Set([...Object.keys(config), ...Object.keys(declared)].filter((k) => k.startsWith(NAMESPACE) && !secrets.has(k)));
  for (const key of [...keys].sort()) {
    if (!Object.hasOwn(config, key)) return { text: null, why: `${file} sets ${key}, which this run's config does not` };
    if (!Object.hasOwn(declared, key)) return { text: null, why: `${file} does not set ${key}, which this run's config does` };
    if (!samePlain(declared[key], config[key])) return { text: null, why: `${file}'s ${key} differs from this run's config` };
  }
  return { text };
}

/**
 * The stack file to record for `stack`: Pulumi.<stack>.yaml in RAILYARD_PROJECT_DIR (else the working directory,
 * where Pulumi runs the program), checked against the running program's config.
 */
export function recordedStackFile(stack: string, env: NodeJS.ProcessEnv = process.env): StackFileVerdict {
  const dir = env.RAILYARD_PROJECT_DIR || process.cwd();
  const name = `Pulumi.${stack}.yaml`;
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, name), "utf8");
  } catch {
    return { text: null, why: `${name} is not in ${dir}` };
  }
  const config = runtimeConfig.allConfig();
  return stackFileForRecord(text, config, Object.keys(config).filter(isSecretKey), name);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `{secure: …}`, or a map of them shaped like the run's (decrypted) value: `pulumi config set --secret --path`. */
function encryptedLike(declared: unknown, value: unknown): boolean {
  if (!isMap(declared)) return false;
  const keys = Object.keys(declared);
  if (keys.length === 1 && keys[0] === "secure") return typeof declared.secure === "string" && declared.secure !== "";
  if (!isMap(value)) return false;
  const valueKeys = Object.keys(value);
  return keys.length === valueKeys.length && keys.every((k) => Object.hasOwn(value, k) && encryptedLike(declared[k], value[k]));
}

/** A plain value of the file against the runtime's text: objects as JSON, scalars as the text the CLI passes. */
function samePlain(declared: unknown, runtime: string): boolean {
  if (typeof declared === "object" && declared !== null) return isDeepStrictEqual(declared, parseJson(runtime));
  return String(declared) === runtime;
}
