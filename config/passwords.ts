/**
 * Database passwords from secret config (railyard:databases.<name>.passwordSecret naming an entry of
 * railyard:secrets): the entry must exist, and its value must pass through every engine's start (Redis reads it
 * from a config line, the host script from one line of stdin) and every rotation unchanged.
 */
import type { ConfigProblem } from "./problems";
import type { DatabaseConfig } from "./schema";

/** 16 to 128 printable ASCII characters other than space, quotes, backslash and backtick. */
export const DATABASE_PASSWORD = /^[!#-&(-[\]-_a-~]{16,128}$/;
export const DATABASE_PASSWORD_RULE = "16 to 128 printable ASCII characters other than space, quotes, backslash and backtick";

/**
 * Problems of each database's passwordSecret and passwordVersion. `secrets` is railyard:secrets as parsed
 * (undefined when it did not parse: its own problem is reported, and the names are not judged). A value is never
 * shown, only what is wrong with it.
 */
export function databasePasswordProblems(databases: Record<string, DatabaseConfig>, secrets: Record<string, string> | undefined): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const [name, db] of Object.entries(databases)) {
    if (db.passwordSecret !== undefined && db.passwordVersion !== undefined) {
      out.push({
        path: ["databases", name, "passwordVersion"],
        expected: "no passwordVersion with passwordSecret (a new secret value rotates the password)",
        got: String(db.passwordVersion),
      });
    }
    const secret = db.passwordSecret;
    if (secret === undefined || secrets === undefined) continue;
    const path = ["databases", name, "passwordSecret"];
    if (!Object.hasOwn(secrets, secret)) {
      out.push({ path, expected: `a secret set with pulumi config set --secret --path 'railyard:secrets.${secret}' <password>`, got: `"${secret}", which railyard:secrets does not hold` });
    } else if (!DATABASE_PASSWORD.test(secrets[secret])) {
      out.push({ path, expected: `a secret holding ${DATABASE_PASSWORD_RULE}`, got: `railyard:secrets.${secret}: ${flaw(secrets[secret])} (value hidden)` });
    }
  }
  return out;
}

/** What is wrong with a password, without showing it. */
function flaw(value: string): string {
  if (value.length < 16 || value.length > 128) return `${value.length} characters`;
  return "a character outside that set";
}
