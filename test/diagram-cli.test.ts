/**
 * `npm run diagram` run for real as a child process (ts-node, as npm runs it): exit codes and messages, stdout,
 * --markdown, --out, --readme on a temporary project's copy of the README (only the stack's block changes), stack
 * files holding `secure:` ciphertext, and bad stack files failing with the loader's own messages.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderMermaid } from "../render/mermaid";
import { beginMarker, endMarker, markdown, parseArgs, stackConfigOf, withBlock } from "../scripts/diagram";
import { readStackFile } from "../scripts/stackHost";

const ROOT = path.join(__dirname, "..");
const TS_NODE = path.join(ROOT, "node_modules", "ts-node", "dist", "bin.js");
const temps: string[] = [];
afterAll(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Runs the CLI (each start takes seconds: the tests run concurrently). */
function run(args: string[], projectDir?: string, cwd = os.tmpdir()): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.INIT_CWD;
  if (projectDir === undefined) delete env.RAILYARD_PROJECT_DIR;
  else env.RAILYARD_PROJECT_DIR = projectDir;
  const child = spawn(process.execPath, [TS_NODE, "--transpile-only", path.join(ROOT, "scripts", "diagram.ts"), ...args], {
    cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 60_000,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => void (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => void (stderr += c));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** A temporary project holding copies of the given stack files (and anything else written into it). */
function project(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-diagram-"));
  temps.push(dir);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

const stackText = (stack: string) => fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
const expected = (stack: string) => renderMermaid(stackConfigOf(stack, readStackFile(stack, ROOT).config));

describe.concurrent("npm run diagram", () => {
  it("prints the production stack's Mermaid (exit 0), the same text the renderer gives", async () => {
    const r = await run(["--stack", "production"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected("production"));
  });

  it("--markdown wraps it in a mermaid fence with a one-line caption; --out writes it to a file", async () => {
    const md = await run(["--stack", "staging", "--markdown"]);
    expect(md.code).toBe(0);
    expect(md.stdout).toBe(markdown("staging", expected("staging")));
    expect(md.stdout.split("\n").slice(0, 3)).toEqual(["The `staging` stack as `npm run diagram -- --stack staging` draws it from `Pulumi.staging.yaml`:", "", "```mermaid"]);
    expect(md.stdout.endsWith("```\n")).toBe(true);
    const dir = project({});
    const out = path.join(dir, "stack.mmd");
    const r = await run(["--stack", "production", "--out", out]);
    expect([r.code, r.stdout]).toEqual([0, ""]);
    expect(fs.readFileSync(out, "utf8")).toBe(expected("production"));
    // A relative --out is where the command was typed, not the project (whose folder the CLI works in).
    const here = project({});
    expect((await run(["--stack", "production", "--out", "here.mmd"], undefined, here)).code).toBe(0);
    expect(fs.readFileSync(path.join(here, "here.mmd"), "utf8")).toBe(expected("production"));
    expect(fs.existsSync(path.join(ROOT, "here.mmd"))).toBe(false);
  });

  it.each([
    [[], "--stack is required"],
    [["--stack", "production", "--colour"], 'unknown argument "--colour"'],
    [["--stack", "nowhere"], "no stack file"],
  ])("refuses %j with exit 2, naming the argument", async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`diagram: ${message}`);
    expect(r.stdout).toBe("");
  });

  it.each([
    [["--stack"], "--stack needs a value"],
    [["--stack", "Prod"], "--stack must be a railyard name"],
    [["--stack", "production", "--stack", "staging"], "--stack is given twice"],
    [["--stack", "production", "--out", "x", "--readme"], "--out and --readme exclude each other"],
  ])("parseArgs refuses %j (exit 2), naming the argument", (args, message) => {
    expect(() => parseArgs(args)).toThrow(message);
    try {
      parseArgs(args);
    } catch (e) {
      expect(e).toMatchObject({ code: 2 });
    }
  });

  it("--help prints the usage (exit 0)", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: npm run diagram -- --stack STACK");
  });

  it("fails a bad stack file with the loader's own messages, every problem at once (exit 2)", async () => {
    const bad = stackText("production").replace("      replicas: 2\n      domains: [api.example.com]", "      replicas: 99\n      domains: [api.example.com]") + "  railyard:colour: blue\n";
    const r = await run(["--stack", "production"], project({ "Pulumi.production.yaml": bad }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the stack configuration has 2 problems");
    expect(r.stderr).toContain("railyard:services.api.replicas: expected 0 to 50 replicas");
    expect(r.stderr).toContain("railyard:colour: expected one of the keys");
    expect(r.stdout).toBe("");
  });

  it("refuses a plain value where a secret belongs, as `pulumi up` would", async () => {
    const r = await run(["--stack", "production"], project({ "Pulumi.production.yaml": `${stackText("production")}  railyard:sshPrivateKey: not-a-secret\n` }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("railyard:sshPrivateKey: expected a secret value");
    expect(r.stderr).not.toContain("not-a-secret");
  });

  it("draws a stack file holding secrets as `secure:` ciphertext, showing no ciphertext", async () => {
    const sealed =
      stackText("production") +
      "  railyard:sshPrivateKey:\n    secure: v1:AAAAsealedkey\n" +
      "  railyard:secrets:\n    SECRET_KEY:\n      secure: v1:AAAAsealedsecret\n" +
      "  cloudflare:apiToken:\n    secure: v1:AAAAsealedtoken\n";
    const r = await run(["--stack", "production"], project({ "Pulumi.production.yaml": sealed }));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected("production"));
    expect(r.stdout + r.stderr).not.toContain("sealed");
  });
});

describe.concurrent("npm run diagram --readme", () => {
  const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const block = (stack: string) => `${beginMarker(stack)}\n${markdown(stack, expected(stack))}${endMarker(stack)}`;

  it("rewrites only the stack's block of the project's README, and leaves an up-to-date one as it is", async () => {
    const stale = README.replace(block("staging"), `${beginMarker("staging")}\nan old figure\n${endMarker("staging")}`);
    expect(stale).not.toBe(README);
    const dir = project({ "README.md": stale, "Pulumi.staging.yaml": stackText("staging") });
    const r = await run(["--stack", "staging", "--readme"], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("README.md now shows the staging stack");
    expect(fs.readFileSync(path.join(dir, "README.md"), "utf8")).toBe(README);
    const mtime = fs.statSync(path.join(dir, "README.md")).mtimeMs;
    const again = await run(["--stack", "staging", "--readme"], dir);
    expect([again.code, again.stdout]).toEqual([0, ""]);
    expect(again.stderr).toContain("README.md already shows the staging stack");
    expect(fs.statSync(path.join(dir, "README.md")).mtimeMs).toBe(mtime);
  });

  it("keeps every byte around the block, whatever surrounds it", async () => {
    const around = ["# Title\r\n\nsome ``` fence text\n", `${beginMarker("production")}\n`, "stale\n", `${endMarker("production")}`, "\ntrailing, no newline"];
    const dir = project({ "README.md": around.join(""), "Pulumi.production.yaml": stackText("production") });
    expect((await run(["--stack", "production", "--readme"], dir)).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, "README.md"), "utf8")).toBe(`${around[0]}${block("production")}${around[4]}`);
  });

  it("refuses a README without the stack's markers (exit 2, naming --readme), changing nothing", async () => {
    const text = `# Title\n${beginMarker("staging")}\n${endMarker("staging")}\n`;
    const dir = project({ "README.md": text, "Pulumi.production.yaml": stackText("production") });
    const r = await run(["--stack", "production", "--readme"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("diagram: --readme: README.md needs exactly one <!-- diagram:production:begin -->");
    expect(fs.readFileSync(path.join(dir, "README.md"), "utf8")).toBe(text);
  });

  it.each([
    ["no markers", "# Title\n"],
    ["a second begin marker", `${beginMarker("production")}\n${beginMarker("production")}\n${endMarker("production")}\n`],
    ["the end before the begin", `${endMarker("production")}\n${beginMarker("production")}\n`],
    ["only another stack's markers", `${beginMarker("staging")}\n${endMarker("staging")}\n`],
  ])("finds no block in a README with %s", (_, text) => {
    expect(() => withBlock(text, "production", "x")).toThrow("--readme: README.md needs exactly one <!-- diagram:production:begin --> line followed by one");
  });

  it("refuses --readme without a README (exit 2)", async () => {
    const r = await run(["--stack", "production", "--readme"], project({ "Pulumi.production.yaml": stackText("production") }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("diagram: --readme: no ");
  });
});
