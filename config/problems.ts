/**
 * Config problems: each names its key path under `railyard:` and reads "expected …, got …". All problems of a
 * stack file are gathered and thrown together, before any resource exists.
 */
import { z } from "zod";

export type PathPart = string | number;

export interface ConfigProblem {
  /** Path below the namespace, e.g. ["services", "api", "port"]. */
  path: PathPart[];
  /** What was expected (the message adds the word "expected"). */
  expected: string;
  /** What was found, already described (never a secret's value). */
  got: string;
  /** A key outside the namespace (e.g. "cloudflare:apiToken"), printed instead of `path`. */
  key?: string;
}

/**
 * Characters a terminal would act on rather than print: C0 and C1 controls, DEL, line and paragraph
 * separators, and the invisible direction marks and overrides that make text read differently than it is.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** Text safe to print: every unsafe character becomes its \uXXXX escape. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A value quoted for a message: JSON's quoting, then the characters JSON leaves raw escaped too. */
function quoted(value: string): string {
  return terminalSafe(JSON.stringify(value));
}

/** Dotted key path as the Pulumi CLI writes it for `--path`: railyard:services.api.env.FOO, secrets[0]. */
export function keyPath(path: PathPart[]): string {
  let out = "railyard:";
  path.forEach((part, i) => {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(part)) out += i === 0 ? part : `.${part}`;
    else out += `[${quoted(part)}]`;
  });
  return out;
}

/** One problem as a line; nothing in it can act on the terminal, whatever the stack file held. */
export function formatProblem(p: ConfigProblem): string {
  return terminalSafe(`${p.key ?? keyPath(p.path)}: expected ${p.expected}, got ${p.got}`);
}

/** Describes a found value for an error message; secret values are described by kind only. */
export function describe(value: unknown, secret = false): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (secret) return `a secret ${Array.isArray(value) ? "list" : typeof value} (value hidden)`;
  if (typeof value === "string") {
    const shown = value.length > 80 ? `${value.slice(0, 77)}…` : value;
    return quoted(shown);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return kindOf(value);
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object" && value !== null) return "an object";
  return `a ${typeof value}`;
}

/** Turns zod issues for a value found at `base` into problems. */
export function problemsFromZod(base: PathPart[], error: z.ZodError, secret = false): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const path = [...base, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({ path: [...path, key], expected: "a known key", got: "an unknown key" });
      }
      continue;
    }
    out.push({ path, expected: expectedOf(issue), got: describe(issue.input, secret) });
  }
  return out;
}

/** The "expected" phrase of an issue: the schema's own message, or one made from the issue's code. */
function expectedOf(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_key" && issue.issues.length > 0) return expectedOf(issue.issues[0]);
  if (issue.message.startsWith("expected ")) return issue.message.slice("expected ".length);
  switch (issue.code) {
    case "invalid_type":
      return issue.expected === "object" ? "an object (a map of keys)" : `a ${issue.expected}`;
    case "invalid_value":
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message;
  }
}

/** Thrown by the loader with every problem of the stack file. */
export class RailyardConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `railyard: the stack configuration has ${problems.length} problem${problems.length === 1 ? "" : "s"}; ` +
        `no resource was registered:\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join("\n"),
    );
    this.name = "RailyardConfigError";
  }
}
