/**
 * Secrets the stack file names by key (railyard:secrets entries): each must exist and be usable where the host puts
 * it. A webhook's (backups.webhookSecret, deploy.webhookSecret) is an https URL; its value is never shown.
 */
import { KEY_PART } from "../lib/backupPolicies";
import type { ConfigProblem } from "./problems";

/** The problem with one named secret, if any: missing, or not one word a file line can hold (`key`: an access key's form). */
export function namedSecretProblem(path: (string | number)[], name: string, secrets: Record<string, string>, key = false): ConfigProblem | undefined {
  if (!Object.hasOwn(secrets, name)) {
    return { path, expected: `a secret set with pulumi config set --secret --path 'railyard:secrets.${name}' <value>`, got: `"${name}", which railyard:secrets does not hold` };
  }
  if (key && !KEY_PART.test(secrets[name])) {
    // A key goes into a credentials file's line: one printable word.
    return { path, expected: "a secret holding one key: 3 to 256 printable characters, no space, quote, backslash or backtick", got: `railyard:secrets.${name} (value hidden)` };
  }
  if (/[\s"'\\`]/.test(secrets[name]) || secrets[name].length > 2048) {
    return { path, expected: "a secret of at most 2048 characters without spaces, quotes or backslashes", got: `railyard:secrets.${name} (value hidden)` };
  }
  return undefined;
}

/** A webhook's secret: present, one word, an https:// URL. */
export function webhookSecretProblems(path: (string | number)[], name: string, secrets: Record<string, string>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const problem = namedSecretProblem(path, name, secrets);
  if (problem) out.push(problem);
  if (Object.hasOwn(secrets, name) && !isHttpsUrl(secrets[name])) {
    out.push({ path, expected: "a secret holding an https:// URL", got: `railyard:secrets.${name} (value hidden)` });
  }
  return out;
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === "https:";
  } catch {
    return false;
  }
}
