/**
 * CI: the one pull-request comment of the preview workflow, as markdown in a file that
 * marocchino/sticky-pull-request-comment posts (and edits on each push). For each stack: whether its preview
 * passed, its plan (pulumi preview's output, ANSI codes stripped) and its diagram (scripts/diagram.ts --markdown).
 * The whole body stays under GitHub's 65,536-character limit: each plan gets a fair share, and a long one keeps
 * its head and its tail (the summary) with a line saying how much was cut.
 *
 *   pr-comment.ts --stacks staging,production --out comment.md [--promoted production]
 *
 * Each stack's plan is read from the environment: RAILYARD_PLAN_<STACK> (the preview step's `output`) and
 * RAILYARD_OUTCOME_<STACK> (the step's outcome: success, failure, cancelled or skipped); STACK upper-cased, - as _.
 * --promoted STACK: STACK was pinned by `set-images.ts --promote` before its preview, whose outcome is
 * RAILYARD_PROMOTE_OUTCOME; the comment says whether that worked (it fails, for one, while the source stack has
 * nothing pinned yet: STACK is then previewed with the digests its own file holds).
 *
 * Exit codes: 0 written; 2 bad arguments.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { CliError, helpAsked, NAME, parseOptions, ROOT, runMain } from "../stackHost";

export const USAGE = `Usage: pr-comment.ts --stacks STACK[,STACK…] --out FILE [--promoted STACK]
  Writes the preview comment: each stack's outcome, plan and diagram (plans from RAILYARD_PLAN_<STACK>), and
  whether STACK's promotion (set-images --promote, outcome RAILYARD_PROMOTE_OUTCOME) worked.`;

/** The first line of every comment this script writes: how a reader (or a script) tells it from others. */
export const MARKER = "<!-- railyard:preview -->";
/** GitHub refuses a comment over 65,536 characters; the sticky action adds its own hidden line to the body. */
export const MAX_BODY = 65_000;
/** A diagram larger than this is left out (the plan matters more). */
export const MAX_DIAGRAM = 12_000;
/** Lines of a cut plan's tail that are always kept: pulumi preview ends with its resource summary. */
const TAIL_LINES = 30;

export interface StackPreview {
  stack: string;
  outcome: string;
  plan: string;
  /** The diagram's markdown, or why there is none. */
  diagram: { markdown: string } | { missing: string };
}

const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;
export const stripAnsi = (s: string): string => s.replace(ANSI, "");

/** A code fence longer than any run of backticks in `text`, so the text cannot close it. */
export function fenceFor(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  return "`".repeat(Math.max(3, longest + 1));
}

/** `text` within `budget` characters: its head and its last TAIL_LINES lines, with a line saying what was cut. */
export function truncateMiddle(text: string, budget: number): string {
  if (text.length <= budget) return text;
  const lines = text.split("\n");
  const note = (n: number) => `… ${n} lines cut here to fit GitHub's comment limit: the job log has the whole plan …`;
  let tail = lines.slice(-TAIL_LINES).join("\n");
  const room = budget - note(lines.length).length - 2;
  if (tail.length > room / 2) tail = tail.slice(tail.length - Math.floor(room / 2));
  let head = text.slice(0, Math.max(0, room - tail.length));
  head = head.slice(0, Math.max(0, head.lastIndexOf("\n")));
  const cut = lines.length - head.split("\n").length - tail.split("\n").length;
  return `${head}\n${note(Math.max(cut, 1))}\n${tail}`;
}

const OUTCOME: Record<string, string> = {
  success: "✅ preview passed",
  failure: "❌ preview failed (the plan below ends with the error)",
  cancelled: "⚪ preview cancelled",
  skipped: "⚪ preview skipped",
};

function stackSection(p: StackPreview, plan: string): string {
  const fence = fenceFor(plan);
  const diagram =
    "markdown" in p.diagram
      ? `<details><summary>Diagram of ${p.stack}</summary>\n\n${p.diagram.markdown.trim()}\n\n</details>`
      : `_No diagram: ${p.diagram.missing}_`;
  return [`### ${p.stack}: ${OUTCOME[p.outcome] ?? `outcome ${JSON.stringify(p.outcome)}`}`, "", `${fence}\n${plan}\n${fence}`, "", diagram].join("\n");
}

/** The stack `set-images --promote` pinned before its preview, and that step's outcome. */
export interface Promotion {
  stack: string;
  outcome: string;
}

/** The line saying how the promoted stack's images were pinned for its preview. */
export function promotionLine(p: Promotion): string {
  if (p.outcome === "success") return `${p.stack} is previewed with the images its deploy will pin (\`set-images --stack ${p.stack} --promote\`).`;
  return (
    `⚠️ \`set-images --stack ${p.stack} --promote\` did not succeed (${p.outcome || "not run"}): ${p.stack} is previewed with the digests ` +
    `its own stack file holds, not those its deploy will promote. On a first setup the source stack has nothing pinned ` +
    `until its first deploy; otherwise the job log says why.`
  );
}

/** The comment body: marker, heading, each stack's section; never over MAX_BODY characters. */
export function composeComment(previews: StackPreview[], sha = "", promotion?: Promotion): string {
  const head = [MARKER, `## Pulumi preview${sha ? ` of ${sha.slice(0, 12)}` : ""}`, "", ...(promotion ? [promotionLine(promotion), ""] : []), ""].join("\n");
  const plans = previews.map((p) => stripAnsi(p.plan).trimEnd() || "(no output)");
  const withDiagrams = previews.map((p) =>
    "markdown" in p.diagram && p.diagram.markdown.length > MAX_DIAGRAM
      ? { ...p, diagram: { missing: `over ${MAX_DIAGRAM} characters; npm run diagram -- --stack ${p.stack} draws it` } }
      : p,
  );
  // What the sections take besides their plans; the plans share the rest, a short one leaving its room to others.
  const fixed = head.length + withDiagrams.reduce((n, p, i) => n + stackSection(p, "").length + fenceFor(plans[i]).length * 2 + 2, 0);
  let room = MAX_BODY - fixed;
  const order = plans.map((_, i) => i).sort((a, b) => plans[a].length - plans[b].length);
  const fitted: string[] = [...plans];
  order.forEach((i, k) => {
    const share = Math.floor(room / (order.length - k));
    fitted[i] = truncateMiddle(plans[i], Math.max(0, share));
    room -= fitted[i].length;
  });
  const body = `${head}${withDiagrams.map((p, i) => stackSection(p, fitted[i])).join("\n\n")}\n`;
  return body.length <= MAX_BODY ? body : `${body.slice(0, MAX_BODY - 40)}\n… (cut to fit GitHub's limit)\n`;
}

/** The stack's diagram from scripts/diagram.ts, or why there is none. */
export function diagramOf(stack: string, root = ROOT): StackPreview["diagram"] {
  const script = path.join(root, "scripts", "diagram.ts");
  if (!fs.existsSync(script)) return { missing: "scripts/diagram.ts is not in this checkout" };
  const r = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", script, "--stack", stack, "--markdown"], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 8 * 1024 * 1024,
  });
  if (r.status === 0 && r.stdout.trim() !== "") return { markdown: r.stdout };
  const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split("\n")[0];
  return { missing: `npm run diagram -- --stack ${stack} failed: ${why.slice(0, 300)}` };
}

export const envName = (kind: "PLAN" | "OUTCOME", stack: string): string => `RAILYARD_${kind}_${stack.toUpperCase().replace(/-/g, "_")}`;

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, root = ROOT): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const p = parseOptions(argv, { "--stacks": "value", "--out": "value", "--promoted": "value" }, USAGE);
  const stacks = (p.values.get("--stacks") ?? "").split(",").filter((s) => s !== "");
  if (stacks.length === 0) throw new CliError(`--stacks is required: the previewed stacks, comma-separated\n${USAGE}`, 2);
  for (const s of stacks) if (!NAME.test(s)) throw new CliError(`--stacks: ${JSON.stringify(s)} is not a stack name`, 2);
  if (new Set(stacks).size !== stacks.length) throw new CliError("--stacks names a stack twice", 2);
  const out = p.values.get("--out");
  if (out === undefined) throw new CliError(`--out is required: the file the comment is written to\n${USAGE}`, 2);
  const promoted = p.values.get("--promoted");
  if (promoted !== undefined && !stacks.includes(promoted)) throw new CliError(`--promoted ${JSON.stringify(promoted)} is not one of --stacks`, 2);
  const promotion = promoted === undefined ? undefined : { stack: promoted, outcome: env.RAILYARD_PROMOTE_OUTCOME ?? "" };
  const previews = stacks.map((stack) => ({
    stack,
    outcome: env[envName("OUTCOME", stack)] || "skipped",
    plan: env[envName("PLAN", stack)] ?? "",
    diagram: diagramOf(stack, root),
  }));
  const body = composeComment(previews, env.GITHUB_SHA ?? "", promotion);
  fs.writeFileSync(out, body);
  console.log(`${out}: ${body.length} characters, ${stacks.join(" and ")}`);
  return 0;
}

if (require.main === module) runMain("pr-comment", () => main(process.argv.slice(2)));
