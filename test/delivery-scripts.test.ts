/**
 * The CI scripts the workflows run (scripts/ci/*.ts), run for real as the workflows run them (ts-node, exit codes,
 * messages naming the key or argument at fault), over the real stack files and over temporary copies.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { composeComment, fenceFor, main as prCommentMain, MARKER, MAX_BODY, StackPreview, stripAnsi, truncateMiddle } from "../scripts/ci/pr-comment";
import { main as stackForBranchMain, resolve } from "../scripts/ci/stack-for-branch";
import { main as setImagesMain, setImages } from "../scripts/ci/set-images";
import { CliError } from "../scripts/stackHost";

const ROOT = path.join(__dirname, "..");
const TS_NODE = require.resolve("ts-node/dist/bin.js");
const temps: string[] = [];
afterAll(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-ci-"));
  temps.push(d);
  return d;
};

/** Runs scripts/ci/<script> as the workflow does; RAILYARD_PROJECT_DIR points it at `root`. */
function run(script: string, args: string[], opts: { root?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [TS_NODE, "--transpile-only", path.join(ROOT, "scripts", "ci", script), ...args], {
    cwd: opts.root ?? ROOT,
    encoding: "utf8",
    env: { ...process.env, RAILYARD_PROJECT_DIR: opts.root ?? ROOT, GITHUB_OUTPUT: "", ...opts.env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * The same script's main in this process, as runMain would end it (exit code, "<name>: message" on stderr): the
 * many refusal cases run here, a spawned run per path above proves the CLI around them.
 */
const MAINS: Record<string, (args: string[], root: string, env: NodeJS.ProcessEnv) => Promise<number>> = {
  "stack-for-branch.ts": (a, root, env) => stackForBranchMain(a, root, env),
  "set-images.ts": (a, root) => setImagesMain(a, root),
  "pr-comment.ts": (a, root, env) => prCommentMain(a, env, root),
};
async function call(script: string, args: string[], opts: { root?: string; env?: NodeJS.ProcessEnv } = {}) {
  const out: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  try {
    const code = await MAINS[script](args, opts.root ?? ROOT, { GITHUB_OUTPUT: "", ...opts.env });
    return { code, out: out.map((l) => `${l}\n`).join(""), err: "" };
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    return { code: e.code, out: out.map((l) => `${l}\n`).join(""), err: `${script.replace(/\.ts$/, "")}: ${e.message}\n` };
  } finally {
    spy.mockRestore();
  }
}

const D = (c: string) => `sha256:${c.repeat(64)}`;
const STAGING = `# Staging: comments stay.
config:
  railyard:environment: staging
  railyard:deploy:
    branch: develop   # pushes to develop deploy here
    images:
      ghcr.io/acme/api: { context: ./api }
      ghcr.io/acme/web: { context: ./web, dockerfile: web/Dockerfile.prod, target: prod, args: { NODE_ENV: production } }
  railyard:services:
    api:
      kind: web
      # the backend
      image: ghcr.io/acme/api@${D("1")}
      domains: [staging.example.com/api]
    worker:
      image: "ghcr.io/acme/api:1.2@${D("1")}"   # same repository, tag and all
    web:
      image: ghcr.io/acme/web@${D("2")}
    cache:
      image: redis:7@${D("3")}
`;
const PRODUCTION = `config:
  railyard:environment: production
  railyard:deploy:
    branch: main
    promoteFrom: staging
  railyard:services:
    api:
      image: ghcr.io/acme/api@${D("a")}
    web:
      image: ghcr.io/acme/web@${D("b")}   # frontend
    other:
      image: ghcr.io/acme/other@${D("c")}
`;
/** A project folder with the given stack files. */
function project(files: Record<string, string>): string {
  const d = tempDir();
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(d, name), text);
  return d;
}
/** Digest files as actions/download-artifact lays them out: "digest-0/image" is artifact digest-0's file. */
const digestDir = (lines: Record<string, string>) => {
  const d = tempDir();
  for (const [f, text] of Object.entries(lines)) {
    fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    fs.writeFileSync(path.join(d, f), text);
  }
  return d;
};

describe("stack-for-branch over the real stack files", () => {
  it("develop deploys staging and main deploys production", () => {
    const dev = run("stack-for-branch.ts", ["--branch", "develop"]);
    expect(dev.code).toBe(0);
    expect(dev.out).toContain("stack=staging\nbranch=develop\n");
    const main = run("stack-for-branch.ts", ["--branch", "main"]);
    expect(main.code).toBe(0);
    expect(main.out).toContain("stack=production\nbranch=main\n");
  });
  it("a mismatch fails, naming the key and both branches", () => {
    const r = run("stack-for-branch.ts", ["--branch", "main", "--stack", "staging"]);
    expect(r.code).toBe(3);
    expect(r.err).toContain('stack-for-branch: Pulumi.staging.yaml: railyard:deploy.branch is "develop", not "main": this branch does not deploy staging');
  });
  it("a branch no stack claims fails, naming the key", async () => {
    const r = await call("stack-for-branch.ts", ["--branch", "feature/x"]);
    expect(r.code).toBe(3);
    expect(r.err).toContain('no stack file sets railyard:deploy.branch to "feature/x"');
  });
  it("--stack alone gives the stack's branch (rollback's concurrency group)", async () => {
    const r = await call("stack-for-branch.ts", ["--stack", "production"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("branch=main");
  });
  it("the dev stack claims no branch", async () => {
    const r = await call("stack-for-branch.ts", ["--stack", "dev"]);
    expect(r.code).toBe(3);
    expect(r.err).toContain("Pulumi.dev.yaml sets no railyard:deploy.branch");
  });
  it.each([
    [["--branch", "a b"], '--branch must be a git branch name, got "a b"'],
    [["--stack", "../x"], "--stack must be a railyard name"],
    [["--stack", "nope"], "no stack file"],
    [[], "give --branch, --stack or both"],
    [["--bogus"], 'unknown argument "--bogus"'],
  ])("refuses %j with exit 2", async (args, message) => {
    const r = await call("stack-for-branch.ts", args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });
});

describe("stack-for-branch over copies", () => {
  it("two stacks claiming one branch fail, naming both files and the key", async () => {
    const root = project({ "Pulumi.staging.yaml": STAGING, "Pulumi.qa.yaml": STAGING.replace("# Staging", "# QA") });
    const r = await call("stack-for-branch.ts", ["--branch", "develop"], { root });
    expect(r.code).toBe(3);
    expect(r.err).toContain("Pulumi.qa.yaml and Pulumi.staging.yaml all set railyard:deploy.branch to \"develop\": one branch deploys one stack");
  });
  it("writes the build matrix to GITHUB_OUTPUT", () => {
    const root = project({ "Pulumi.staging.yaml": STAGING, "Pulumi.production.yaml": PRODUCTION });
    const out = path.join(tempDir(), "output");
    const r = run("stack-for-branch.ts", ["--branch", "develop", "--github-output"], { root, env: { GITHUB_OUTPUT: out } });
    expect(r.code).toBe(0);
    const lines = fs.readFileSync(out, "utf8").trimEnd().split("\n");
    expect(lines.slice(0, 3)).toEqual(["stack=staging", "branch=develop", "promote-from="]);
    expect(JSON.parse(lines[3].slice("images=".length))).toEqual([
      { repository: "ghcr.io/acme/api", registry: "ghcr.io", context: "./api", file: "", target: "", buildArgs: "" },
      { repository: "ghcr.io/acme/web", registry: "ghcr.io", context: "./web", file: "web/Dockerfile.prod", target: "prod", buildArgs: "NODE_ENV=production" },
    ]);
  });
  it("pushes to railyard:registry.server when every deploy.images repository is on it", () => {
    const text = STAGING.replaceAll("ghcr.io/acme/", "registry.example.com:5000/acme/").replace("  railyard:services:", "  railyard:registry: { server: registry.example.com:5000, username: bot, passwordSecret: REGISTRY_TOKEN }\n  railyard:services:");
    const root = project({ "Pulumi.staging.yaml": text });
    expect(resolve(root, "develop", undefined).images.map((i) => [i.repository, i.registry])).toEqual([
      ["registry.example.com:5000/acme/api", "registry.example.com:5000"], ["registry.example.com:5000/acme/web", "registry.example.com:5000"],
    ]);
  });
  it("a promoted stack builds nothing and names its source", () => {
    const root = project({ "Pulumi.staging.yaml": STAGING, "Pulumi.production.yaml": PRODUCTION });
    expect(resolve(root, "main", undefined)).toEqual({ stack: "production", branch: "main", promoteFrom: "staging", images: [] });
  });
  it("--github-output without GITHUB_OUTPUT fails", async () => {
    const root = project({ "Pulumi.staging.yaml": STAGING });
    const r = await call("stack-for-branch.ts", ["--branch", "develop", "--github-output"], { root });
    expect(r.code).toBe(2);
    expect(r.err).toContain("--github-output needs GITHUB_OUTPUT");
  });
  it.each([
    [STAGING.replace("ghcr.io/acme/api: { context: ./api }", "ghcr.io/acme/api:1: { context: ./api }"), 'railyard:deploy.images["ghcr.io/acme/api:1"]: expected an image repository without a tag or digest'],
    [STAGING.replace("ghcr.io/acme/api: { context: ./api }", "ghcr.io/acme/apx: { context: ./api }"), 'railyard:deploy.images["ghcr.io/acme/apx"]: expected a repository some service\'s image is in'],
    [STAGING.replace("{ context: ./api }", "{ context: /abs }"), 'railyard:deploy.images["ghcr.io/acme/api"]["context"]: expected a build context path relative'],
    [STAGING.replace("branch: develop ", "branch: [develop]"), "railyard:deploy.branch must be a git branch name"],
    [PRODUCTION.replace("promoteFrom: staging", "promoteFrom: Staging"), "railyard:deploy.promoteFrom: expected a stack name"],
    [PRODUCTION.replace("promoteFrom: staging", "promoteFrom: production"), "railyard:deploy.promoteFrom: expected another stack's name"],
    [STAGING.replaceAll("ghcr.io/acme/api", "registry.example.com/acme/api"), 'railyard:deploy.images["registry.example.com/acme/api"]: is on registry.example.com, not on railyard:registry.server (ghcr.io): CI pushes only to the stack\'s registry'],
    [STAGING.replaceAll("ghcr.io/acme/api", "acme/api"), 'railyard:deploy.images["acme/api"]: is on docker.io, not on railyard:registry.server (ghcr.io)'],
    [STAGING.replace("  railyard:services:", "  railyard:registry: { server: registry.example.com, username: bot, passwordSecret: REGISTRY_TOKEN }\n  railyard:services:"), 'railyard:deploy.images["ghcr.io/acme/api"]: is on ghcr.io, not on railyard:registry.server (registry.example.com)'],
    ["config: [", "is not valid YAML"],
  ])("an invalid stack file fails with exit 4 naming the key (%#)", async (text, message) => {
    const stack = text.includes("branch: main") ? "production" : "staging";
    const root = project({ [`Pulumi.${stack}.yaml`]: text });
    const r = await call("stack-for-branch.ts", ["--stack", stack], { root });
    expect(r.code).toBe(4);
    expect(r.err).toContain(message);
  });
});

describe("set-images", () => {
  it("pins every service of each pushed repository, byte for byte elsewhere", () => {
    const root = project({ "Pulumi.staging.yaml": STAGING });
    const digests = digestDir({ "digest-0/image": `ghcr.io/acme/api@${D("d")}\n`, "digest-1/image": `ghcr.io/acme/web@${D("e")}` });
    const r = run("set-images.ts", ["--stack", "staging", "--from-dir", digests], { root });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`api: ghcr.io/acme/api@${D("1")} -> ghcr.io/acme/api@${D("d")}`);
    const after = fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8");
    const expected = STAGING.replace(`image: ghcr.io/acme/api@${D("1")}`, `image: ghcr.io/acme/api@${D("d")}`)
      .replace(`image: "ghcr.io/acme/api:1.2@${D("1")}"`, `image: ghcr.io/acme/api@${D("d")}`)
      .replace(`image: ghcr.io/acme/web@${D("2")}`, `image: ghcr.io/acme/web@${D("e")}`);
    expect(after).toBe(expected);
    expect(after).toContain("# the backend");
    expect(after).toContain("# same repository, tag and all");
    expect(parse(after).config["railyard:services"].cache.image).toBe(`redis:7@${D("3")}`);
  });
  it("run again with the same digests, changes nothing", async () => {
    const root = project({ "Pulumi.staging.yaml": STAGING });
    const digests = digestDir({ a: `ghcr.io/acme/api@${D("1")}\nghcr.io/acme/web@${D("2")}\n` });
    const before = fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8");
    // worker's tag is dropped on the first run; the rest already is pinned so.
    const first = await call("set-images.ts", ["--stack", "staging", "--from-dir", digests], { root });
    expect(first.code).toBe(0);
    const once = fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8");
    expect(once).not.toBe(before);
    const again = await call("set-images.ts", ["--stack", "staging", "--from-dir", digests], { root });
    expect(again.code).toBe(0);
    expect(again.out).toContain("unchanged");
    expect(fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8")).toBe(once);
  });
  it.each([
    [{ a: `ghcr.io/acme/api@${D("d")}\nghcr.io/acme/web@sha256:abc\n` }, 2, 'a:2: expected <repository>@sha256:<64 lower-case hex>, got "ghcr.io/acme/web@sha256:abc"'],
    [{ a: `ghcr.io/acme/api@${D("D")}\n` }, 2, "a:1: expected <repository>@sha256:<64 lower-case hex>"],
    [{ a: `ghcr.io/acme/api@${D("d")}\nghcr.io/acme/web@${D("e")}\nghcr.io/acme/evil@${D("f")}\n` }, 2, "ghcr.io/acme/evil is not a key of railyard:deploy.images in Pulumi.staging.yaml (it has ghcr.io/acme/api, ghcr.io/acme/web)"],
    [{ a: `ghcr.io/acme/api@${D("d")}\n` }, 2, "no digest for ghcr.io/acme/web (railyard:deploy.images in Pulumi.staging.yaml): was it built and pushed?"],
    [{ a: `ghcr.io/acme/api@${D("d")}\n`, b: `ghcr.io/acme/api@${D("e")}\nghcr.io/acme/web@${D("e")}\n` }, 2, "b:1: ghcr.io/acme/api is given two digests"],
  ])("refuses bad input and writes nothing (%#)", async (files, code, message) => {
    const root = project({ "Pulumi.staging.yaml": STAGING });
    const r = await call("set-images.ts", ["--stack", "staging", "--from-dir", digestDir(files)], { root });
    expect(r.code).toBe(code);
    expect(r.err).toContain(message);
    expect(fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8")).toBe(STAGING);
    expect(fs.readdirSync(root)).toEqual(["Pulumi.staging.yaml"]);
  });
  it("a missing stack file is exit 3, invalid YAML exit 4, bad arguments exit 2", () => {
    const root = project({ "Pulumi.staging.yaml": "config: [\n" });
    const digests = digestDir({ a: `ghcr.io/acme/api@${D("d")}\n` });
    const missing = run("set-images.ts", ["--stack", "production", "--from-dir", digests], { root });
    expect([missing.code, missing.err]).toEqual([3, expect.stringContaining("no stack file")]);
    const invalid = run("set-images.ts", ["--stack", "staging", "--from-dir", digests], { root });
    expect([invalid.code, invalid.err]).toEqual([4, expect.stringContaining("Pulumi.staging.yaml is not valid YAML")]);
    expect(fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8")).toBe("config: [\n");
    const both = run("set-images.ts", ["--stack", "staging"], { root });
    expect([both.code, both.err]).toEqual([2, expect.stringContaining("give one of --from-dir, --from or --promote")]);
    const noDir = run("set-images.ts", ["--stack", "staging", "--from-dir", path.join(root, "nope")], { root });
    expect([noDir.code, noDir.err]).toEqual([2, expect.stringContaining("is not a directory")]);
  });
  it("a deploy.images key no service uses is refused before anything is written", () => {
    const text = STAGING.replace("      ghcr.io/acme/web: {", "      ghcr.io/acme/gone: { context: . }\n      ghcr.io/acme/web: {");
    expect(() => setImages(text, "staging", new Map([["ghcr.io/acme/api", D("d")]]))).toThrow(/railyard:deploy.images\["ghcr.io\/acme\/gone"\]/);
  });
});

describe("set-images --from (promotion)", () => {
  it("production takes the digests staging runs for the repositories staging builds", () => {
    const root = project({ "Pulumi.staging.yaml": STAGING, "Pulumi.production.yaml": PRODUCTION });
    const r = run("set-images.ts", ["--stack", "production", "--from", "staging"], { root });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const after = fs.readFileSync(path.join(root, "Pulumi.production.yaml"), "utf8");
    expect(after).toBe(PRODUCTION.replace(`ghcr.io/acme/api@${D("a")}`, `ghcr.io/acme/api@${D("1")}`).replace(`ghcr.io/acme/web@${D("b")}`, `ghcr.io/acme/web@${D("2")}`));
    // A repository staging does not build keeps production's own pin.
    expect(after).toContain(`ghcr.io/acme/other@${D("c")}`);
  });
  it("--promote takes the stack's promoteFrom, and does nothing for a stack that builds", async () => {
    const root = project({ "Pulumi.staging.yaml": STAGING, "Pulumi.production.yaml": PRODUCTION });
    const r = await call("set-images.ts", ["--stack", "production", "--promote"], { root });
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(fs.readFileSync(path.join(root, "Pulumi.production.yaml"), "utf8")).toContain(`ghcr.io/acme/api@${D("1")}`);
    const staging = await call("set-images.ts", ["--stack", "staging", "--promote"], { root });
    expect(staging).toEqual({ code: 0, out: "Pulumi.staging.yaml sets no railyard:deploy.promoteFrom: nothing to promote\n", err: "" });
    expect(fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8")).toBe(STAGING);
    const both = await call("set-images.ts", ["--stack", "production", "--promote", "--from", "staging"], { root });
    expect([both.code, both.err]).toEqual([2, expect.stringContaining("give one of --from-dir, --from or --promote")]);
  });
  it("refuses a source that runs two digests of one repository, naming it, and writes nothing", () => {
    const split = STAGING.replace(`image: "ghcr.io/acme/api:1.2@${D("1")}"`, `image: ghcr.io/acme/api@${D("9")}`);
    const root = project({ "Pulumi.staging.yaml": split, "Pulumi.production.yaml": PRODUCTION });
    const r = run("set-images.ts", ["--stack", "production", "--from", "staging"], { root });
    expect(r.code).toBe(2);
    expect(r.err).toContain(`Pulumi.staging.yaml does not run one pinned digest of ghcr.io/acme/api (api: ghcr.io/acme/api@${D("1")}, worker: ghcr.io/acme/api@${D("9")}): deploy staging first`);
    expect(fs.readFileSync(path.join(root, "Pulumi.production.yaml"), "utf8")).toBe(PRODUCTION);
  });
  it("refuses a source whose image is not pinned by digest", async () => {
    const tagged = STAGING.replace(`image: ghcr.io/acme/web@${D("2")}`, "image: ghcr.io/acme/web:latest");
    const root = project({ "Pulumi.staging.yaml": tagged, "Pulumi.production.yaml": PRODUCTION });
    const r = await call("set-images.ts", ["--stack", "production", "--from", "staging"], { root });
    expect(r.code).toBe(2);
    expect(r.err).toContain("does not run one pinned digest of ghcr.io/acme/web (web: ghcr.io/acme/web:latest)");
  });
  it("refuses a source other than the stack's promoteFrom, and itself", async () => {
    const root = project({ "Pulumi.staging.yaml": STAGING, "Pulumi.qa.yaml": STAGING, "Pulumi.production.yaml": PRODUCTION });
    const other = await call("set-images.ts", ["--stack", "production", "--from", "qa"], { root });
    expect(other.code).toBe(2);
    expect(other.err).toContain("railyard:deploy.promoteFrom is staging, not qa");
    const self = await call("set-images.ts", ["--stack", "production", "--from", "production"], { root });
    expect(self.code).toBe(2);
    expect(self.err).toContain('--from must name another stack, got "production"');
    const none = await call("set-images.ts", ["--stack", "production", "--from", "nope"], { root });
    expect(none.code).toBe(3);
  });
  it("refuses when no service runs an image the source builds", async () => {
    const root = project({ "Pulumi.staging.yaml": STAGING, "Pulumi.production.yaml": PRODUCTION.replace(/ghcr\.io\/acme\/(api|web)/g, "ghcr.io/acme/other") });
    const r = await call("set-images.ts", ["--stack", "production", "--from", "staging"], { root });
    expect(r.code).toBe(2);
    expect(r.err).toContain("no service of Pulumi.production.yaml runs an image staging builds");
  });
});

describe("pr-comment", () => {
  const preview = (stack: string, plan: string, outcome = "success"): StackPreview => ({ stack, outcome, plan, diagram: { markdown: "```mermaid\nflowchart LR\n  a --> b\n```" } });

  it("holds the marker, both stacks' plans and diagrams", () => {
    const body = composeComment([preview("staging", "Previewing update (staging)\n + create x\nResources:\n    + 1 to create"), preview("production", "boom", "failure")], "0123456789abcdef");
    expect(body.split("\n")[0]).toBe(MARKER);
    expect(body).toContain("## Pulumi preview of 0123456789ab");
    expect(body).toContain("### staging: ✅ preview passed");
    expect(body).toContain("### production: ❌ preview failed");
    expect(body).toContain("Resources:\n    + 1 to create");
    expect(body.match(/<summary>Diagram of (staging|production)<\/summary>/g)).toHaveLength(2);
  });
  it("stays under GitHub's limit with two huge plans, keeping each plan's head and summary", () => {
    const huge = (stack: string) => `Previewing update (${stack})\n${Array.from({ length: 20_000 }, (_, i) => ` ~ docker:index:Service ${stack}-${i} update [diff: ~image]`).join("\n")}\nResources:\n    ~ 20000 to update`;
    const body = composeComment([preview("staging", huge("staging")), preview("production", huge("production"))]);
    expect(body.length).toBeLessThanOrEqual(MAX_BODY);
    expect(body.length).toBeGreaterThan(MAX_BODY - 2000);
    for (const s of ["staging", "production"]) {
      expect(body).toContain(`Previewing update (${s})`);
      expect(body).toContain(`### ${s}:`);
    }
    expect(body.match(/Resources:\n {4}~ 20000 to update/g)).toHaveLength(2);
    expect(body.match(/lines cut here to fit GitHub's comment limit/g)).toHaveLength(2);
  });
  it("gives a short plan's unused room to the long one", () => {
    const long = Array.from({ length: 5000 }, (_, i) => `line ${i} ${"x".repeat(20)}`).join("\n");
    const body = composeComment([preview("staging", "short"), preview("production", long)]);
    expect(body.length).toBeLessThanOrEqual(MAX_BODY);
    expect(body).toContain("\nshort\n");
    expect(body.length).toBeGreaterThan(MAX_BODY - 2000);
  });
  it("leaves out a diagram too large to fit, saying how to draw it", () => {
    const p = { ...preview("production", "ok"), diagram: { markdown: "x".repeat(20_000) } };
    expect(composeComment([p])).toContain("_No diagram: over 12000 characters; npm run diagram -- --stack production draws it_");
  });
  it("strips ANSI codes and cannot be broken out of by backticks in a plan", () => {
    expect(stripAnsi("\u001b[32m+ create\u001b[0m")).toBe("+ create");
    const body = composeComment([preview("staging", "a ```` b")]);
    expect(fenceFor("a ```` b")).toBe("`````");
    expect(body).toContain("`````\na ```` b\n`````");
  });
  it("says whether the promoted stack's pins worked (a first setup has nothing to promote yet), after the heading", () => {
    const ok = composeComment([preview("production", "ok")], "", { stack: "production", outcome: "success" });
    expect(ok.split("\n").slice(0, 4)).toEqual([MARKER, "## Pulumi preview", "", "production is previewed with the images its deploy will pin (`set-images --stack production --promote`)."]);
    const failed = composeComment([preview("production", "ok")], "", { stack: "production", outcome: "failure" });
    expect(failed).toContain("⚠️ `set-images --stack production --promote` did not succeed (failure): production is previewed with the digests its own stack file holds");
    expect(composeComment([preview("production", "ok")])).not.toContain("set-images");
  });
  it("truncateMiddle keeps within budget", () => {
    const text = Array.from({ length: 1000 }, (_, i) => `l${i}`).join("\n");
    for (const budget of [300, 1000, 3000]) expect(truncateMiddle(text, budget).length).toBeLessThanOrEqual(budget);
    expect(truncateMiddle("short", 100)).toBe("short");
  });
  it("the CLI reads both plans from the environment and draws both diagrams with scripts/diagram.ts", () => {
    const out = path.join(tempDir(), "comment.md");
    const r = run("pr-comment.ts", ["--stacks", "staging,production", "--out", out, "--promoted", "production"], {
      env: {
        RAILYARD_PLAN_STAGING: "\u001b[1mPreviewing update (staging)\u001b[0m", RAILYARD_OUTCOME_STAGING: "success", RAILYARD_PLAN_PRODUCTION: "error: policy violated", RAILYARD_OUTCOME_PRODUCTION: "failure",
        GITHUB_SHA: "feedfacefeedface", RAILYARD_PROMOTE_OUTCOME: "failure",
      },
    });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const body = fs.readFileSync(out, "utf8");
    expect(body.startsWith(`${MARKER}\n## Pulumi preview of feedfacefeed`)).toBe(true);
    expect(body).toContain("```\nPreviewing update (staging)\n```");
    expect(body).toContain("### production: ❌ preview failed");
    expect(body).toContain("error: policy violated");
    expect(body).toContain("⚠️ `set-images --stack production --promote` did not succeed (failure)");
    // The diagram is the one scripts/diagram.ts draws of each real stack file.
    expect(body).toContain("Diagram of staging</summary>");
    expect(body).toMatch(/```mermaid\nflowchart/);
    expect(body).toContain("staging-front");
    expect(body).toContain("production-front");
  });
  it.each([
    [["--out", "x"], "--stacks is required"],
    [["--stacks", "staging"], "--out is required"],
    [["--stacks", "Staging", "--out", "x"], '--stacks: "Staging" is not a stack name'],
    [["--stacks", "a,a", "--out", "x"], "--stacks names a stack twice"],
    [["--stacks", "staging", "--out", "x", "--promoted", "production"], '--promoted "production" is not one of --stacks'],
  ])("refuses %j with exit 2", async (args, message) => {
    const r = await call("pr-comment.ts", args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });
});
