/**
 * The CI scripts that commit, tag and load keys, run for real: temporary git repositories with a bare remote (as a
 * runner's checkout and GitHub), a real ssh-agent and ssh-add with a stand-in `pulumi config get`.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPTS = path.join(__dirname, "..", "scripts", "ci");
const temps: string[] = [];
const agents: number[] = [];
afterAll(() => {
  for (const pid of agents) try { process.kill(pid); } catch { /* already gone */ }
  temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "railyard-git-"));
  temps.push(d);
  return d;
};
// No global or system git config: the runner's checkout has no author either.
const GIT_ENV = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", HOME: "/nonexistent" };
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...GIT_ENV } }).trim();
const gitAs = (cwd: string, ...args: string[]) => git(cwd, "-c", "user.name=dev", "-c", "user.email=dev@example.com", ...args);
function script(name: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync("bash", [path.join(SCRIPTS, name), ...args], { cwd, encoding: "utf8", env: { ...process.env, ...GIT_ENV, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const STACK = [
  "config:",
  "  railyard:other: 1",
  "  railyard:deploy:",
  "    branch: main",
  "    preDeployBackup: false",
  "    releasesKept: 10",
  "    images:",
  "      ghcr.io/acme/api: { context: ./api }",
  "  railyard:services:",
  "    api:",
  "      kind: web",
  "      port: 8000",
  "      image: ghcr.io/acme/api@sha256:" + "1".repeat(64),
  "",
].join("\n");

/** A bare "GitHub" with branch main holding the stack file and a README, and a checkout of it (the runner's). */
function repos() {
  const base = tempDir();
  const remote = path.join(base, "remote.git");
  git(base, "init", "-q", "--bare", "-b", "main", remote);
  const seed = path.join(base, "seed");
  git(base, "clone", "-q", remote, seed);
  fs.writeFileSync(path.join(seed, "Pulumi.staging.yaml"), STACK);
  fs.writeFileSync(path.join(seed, "README.md"), "readme\n");
  gitAs(seed, "add", ".");
  gitAs(seed, "commit", "-q", "-m", "seed");
  git(seed, "push", "-q", "origin", "HEAD:main");
  const checkout = path.join(base, "checkout");
  git(base, "clone", "-q", remote, checkout);
  // The runner checks out the pushed commit, detached.
  git(checkout, "checkout", "-q", "--detach", "HEAD");
  return { base, remote, seed, checkout };
}
const pin = (c: string) => STACK.replace("1".repeat(64), c.repeat(64));
const remoteFile = (remote: string, file: string, ref = "main") => git(remote, "show", `${ref}:${file}`) + "\n";
/** What the build jobs hand the deploy: actions/download-artifact's folder of digest files. */
const digests = (c: string) => {
  const d = tempDir();
  fs.mkdirSync(path.join(d, "digest-0"));
  fs.writeFileSync(path.join(d, "digest-0", "image"), `ghcr.io/acme/api@sha256:${c.repeat(64)}\n`);
  return d;
};
/** A teammate's commit of `change` to main (from the seed clone). */
const teammate = (seed: string, file: string, change: (text: string) => string, message = "teammate") => {
  fs.writeFileSync(path.join(seed, file), change(fs.readFileSync(path.join(seed, file), "utf8")));
  gitAs(seed, "commit", "-q", "-am", message);
  git(seed, "push", "-q", "origin", "HEAD:main");
};

describe("commit-stack-file.sh", () => {
  it("commits the stack file alone, without [skip ci], as the Actions bot, and pushes it; the commit is a step output", () => {
    const { remote, checkout } = repos();
    fs.writeFileSync(path.join(checkout, "Pulumi.staging.yaml"), pin("2"));
    fs.writeFileSync(path.join(checkout, "README.md"), "changed by the job, not to be committed\n");
    const output = path.join(tempDir(), "output");
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main"], checkout, { GITHUB_OUTPUT: output });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/pushed Pulumi.staging.yaml to main/);
    expect(remoteFile(remote, "Pulumi.staging.yaml")).toBe(pin("2"));
    expect(remoteFile(remote, "README.md")).toBe("readme\n");
    // No [skip ci]: it would skip the checks of the develop → main pull request and the deploy of a fast-forward merge.
    expect(git(remote, "log", "-1", "--format=%B|%an|%ae", "main")).toBe("staging: pin the deployed images in Pulumi.staging.yaml\n|github-actions[bot]|41898282+github-actions[bot]@users.noreply.github.com");
    expect(git(remote, "show", "--name-only", "--format=", "main")).toBe("Pulumi.staging.yaml");
    expect(fs.readFileSync(output, "utf8")).toBe(`commit=${git(remote, "rev-parse", "main")}\n`);
  });
  it("does nothing when the stack file is unchanged", () => {
    const { remote, checkout } = repos();
    const before = git(remote, "rev-parse", "main");
    const output = path.join(tempDir(), "output");
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main"], checkout, { GITHUB_OUTPUT: output });
    expect(r.code).toBe(0);
    expect(r.out).toContain("unchanged: nothing to commit");
    expect(git(remote, "rev-parse", "main")).toBe(before);
    expect(fs.readFileSync(output, "utf8")).toBe(`commit=${before}\n`);
  });
  it("makes the commit again on a branch that moved meanwhile, keeping the other commit; the output stays the deployed commit", () => {
    const { remote, seed, checkout } = repos();
    teammate(seed, "README.md", () => "a teammate's change\n");
    fs.writeFileSync(path.join(checkout, "Pulumi.staging.yaml"), pin("3"));
    const output = path.join(tempDir(), "output");
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main", "--from-dir", digests("3")], checkout, { GITHUB_OUTPUT: output });
    expect(r.code).toBe(0);
    expect(r.out).toContain("main moved: making the commit again on its head (attempt 2 of 5)");
    expect(remoteFile(remote, "README.md")).toBe("a teammate's change\n");
    expect(remoteFile(remote, "Pulumi.staging.yaml")).toBe(pin("3"));
    expect(git(remote, "log", "--format=%s", "main").split("\n")).toEqual(["staging: pin the deployed images in Pulumi.staging.yaml", "teammate", "seed"]);
    // The deployed commit (the checkout's HEAD + the pin, made before the retry) is what the tag step tags.
    const deployed = /^commit=([0-9a-f]{40})\n$/.exec(fs.readFileSync(output, "utf8"))?.[1] ?? "";
    expect(git(checkout, "rev-parse", `${deployed}~1`)).toBe(git(seed, "rev-parse", "HEAD~1"));
    expect(git(checkout, "show", `${deployed}:Pulumi.staging.yaml`) + "\n").toBe(pin("3"));
  });
  it("a teammate's edit next to an image line survives: the pins are re-applied on the branch's head (set-images --from-dir)", () => {
    const { remote, seed, checkout } = repos();
    // The line right above the image line, and an earlier deploy's pin of the same line.
    teammate(seed, "Pulumi.staging.yaml", (t) => t.replace("port: 8000", "port: 8001").replace("1".repeat(64), "4".repeat(64)).replace("railyard:other: 1", "railyard:other: 2"));
    fs.writeFileSync(path.join(checkout, "Pulumi.staging.yaml"), pin("5"));
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main", "--from-dir", digests("5")], checkout);
    expect(r.err).not.toContain("set-images");
    expect(r.code).toBe(0);
    expect(remoteFile(remote, "Pulumi.staging.yaml")).toBe(pin("5").replace("port: 8000", "port: 8001").replace("railyard:other: 1", "railyard:other: 2"));
  });
  it("a promotion (--from) re-applies the source stack's digests as this run deployed them, not the branch's newer ones", () => {
    const { remote, seed, checkout } = repos();
    const production = STACK.replace("branch: main", "branch: prod").replace(/    images:\n.*\n/, "    promoteFrom: staging\n").replace("1".repeat(64), "0".repeat(64));
    fs.writeFileSync(path.join(seed, "Pulumi.production.yaml"), production);
    gitAs(seed, "add", "Pulumi.production.yaml");
    gitAs(seed, "commit", "-q", "-m", "production");
    git(seed, "push", "-q", "origin", "HEAD:main");
    git(checkout, "fetch", "-q", "origin", "main");
    git(checkout, "checkout", "-q", "--detach", "FETCH_HEAD");
    // This run promotes staging's digest 1 (its file as checked out); meanwhile staging's next deploy pins digest 9
    // and a teammate edits production's port, next to the image line.
    fs.writeFileSync(path.join(checkout, "Pulumi.production.yaml"), production.replace("0".repeat(64), "1".repeat(64)));
    teammate(seed, "Pulumi.staging.yaml", (t) => t.replace("1".repeat(64), "9".repeat(64)), "staging's next pin");
    teammate(seed, "Pulumi.production.yaml", (t) => t.replace("port: 8000", "port: 8002"));
    const r = script("commit-stack-file.sh", ["--stack", "production", "--branch", "main", "--from", "staging"], checkout);
    expect(r.err).not.toContain("set-images");
    expect(r.code).toBe(0);
    expect(remoteFile(remote, "Pulumi.production.yaml")).toBe(production.replace("0".repeat(64), "1".repeat(64)).replace("port: 8000", "port: 8002"));
  });
  const addWeb = (t: string) =>
    t.replace("      ghcr.io/acme/api: { context: ./api }\n", "      ghcr.io/acme/api: { context: ./api }\n      ghcr.io/acme/web: { context: ./web }\n").replace("  railyard:services:\n", "  railyard:services:\n    web: { image: ghcr.io/acme/web:1 }\n");
  it.each([
    ["a restored file (a rollback: no source) over a branch that changed it", (seed: string) => teammate(seed, "Pulumi.staging.yaml", (t) => t.replace("port: 8000", "port: 8001")), false, "commit-stack-file: main changed Pulumi.staging.yaml since this run's checkout"],
    ["pins set-images refuses on the branch's file (a new deploy.images key without a digest)", (seed: string) => teammate(seed, "Pulumi.staging.yaml", addWeb), true, "commit-stack-file: set-images refused main's Pulumi.staging.yaml"],
    ["a branch that deleted the file", (seed: string) => (gitAs(seed, "rm", "-q", "Pulumi.staging.yaml"), gitAs(seed, "commit", "-q", "-m", "stack removed"), git(seed, "push", "-q", "origin", "HEAD:main")), true, "commit-stack-file: main has no Pulumi.staging.yaml (deleted or renamed)"],
  ])("stops on %s, pushing nothing (exit 5)", (_, moveBranch, withSource, message) => {
    const { remote, seed, checkout } = repos();
    moveBranch(seed);
    const head = git(remote, "rev-parse", "main");
    fs.writeFileSync(path.join(checkout, "Pulumi.staging.yaml"), pin("8"));
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main", ...(withSource ? ["--from-dir", digests("8")] : [])], checkout);
    expect(r.code).toBe(5);
    expect(r.err).toContain(message);
    expect(r.err).toContain("could not be made again on main: nothing is pushed; commit Pulumi.staging.yaml by hand");
    expect(git(remote, "rev-parse", "main")).toBe(head);
  });
  it("gives up after --attempts refusals (a hook that refuses every push)", () => {
    const { remote, checkout } = repos();
    fs.writeFileSync(path.join(remote, "hooks", "pre-receive"), "#!/bin/sh\necho protected >&2\nexit 1\n", { mode: 0o755 });
    fs.writeFileSync(path.join(checkout, "Pulumi.staging.yaml"), pin("7"));
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main", "--attempts", "2"], checkout);
    expect(r.code).toBe(4);
    expect(r.err).toContain("origin refused the push to main 2 times");
  });
  it.each([
    [["--stack", "Bad", "--branch", "main"], 2, "--stack must be a stack name"],
    [["--stack", "staging", "--branch", "-x"], 2, "--branch must be a git branch name"],
    [["--stack", "staging", "--branch", "main", "--attempts", "0"], 2, "--attempts must be a whole number from 1 to 99"],
    [["--stack", "staging"], 2, "--branch must be a git branch name, got ''"],
    [["--stack", "staging", "--branch", "main", "--what"], 2, "unknown argument --what"],
    [["--stack", "staging", "--branch", "main", "--from", "qa", "--from-dir", "/"], 2, "give --from-dir or --from, not both"],
    [["--stack", "staging", "--branch", "main", "--from-dir", "/nonexistent/x"], 2, "--from-dir '/nonexistent/x' is not a directory"],
    [["--stack", "staging", "--branch", "main", "--from", "Qa"], 2, "--from must be a stack name"],
    [["--stack", "production", "--branch", "main"], 3, "no stack file Pulumi.production.yaml"],
  ])("refuses %j", (args, code, message) => {
    const { checkout } = repos();
    const r = script("commit-stack-file.sh", args, checkout);
    expect(r.code).toBe(code);
    expect(r.err).toContain(message);
  });
  it("refuses outside a git checkout and an untracked stack file", () => {
    const plain = tempDir();
    fs.writeFileSync(path.join(plain, "Pulumi.staging.yaml"), STACK);
    expect(script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main"], plain).code).toBe(3);
    const { checkout } = repos();
    fs.writeFileSync(path.join(checkout, "Pulumi.qa.yaml"), STACK);
    const r = script("commit-stack-file.sh", ["--stack", "qa", "--branch", "main"], checkout);
    expect(r.code).toBe(3);
    expect(r.err).toContain("Pulumi.qa.yaml is not tracked by git");
  });
  it("--help lists the exit codes", () => {
    const r = script("commit-stack-file.sh", ["--help"], tempDir());
    expect(r.code).toBe(0);
    expect(r.out).toContain("exit codes: 0 pushed or nothing to commit");
  });
});

describe("tag-release.sh", () => {
  it("tags HEAD railyard/production/<seq> and pushes the tag; again is a no-op", () => {
    const { remote, checkout } = repos();
    const head = git(checkout, "rev-parse", "HEAD");
    const r = script("tag-release.sh", ["--stack", "production", "--seq", "42"], checkout);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(git(remote, "rev-parse", "railyard/production/42^{commit}")).toBe(head);
    expect(git(remote, "for-each-ref", "--format=%(objecttype) %(contents:subject)", "refs/tags/railyard/production/42")).toBe("tag release 42 of production");
    expect(script("tag-release.sh", ["--stack", "production", "--seq", "42"], checkout).code).toBe(0);
  });
  it("tags the deployed commit given by --commit, not HEAD (after a retry HEAD is another commit)", () => {
    const { remote, checkout } = repos();
    fs.writeFileSync(path.join(checkout, "Pulumi.staging.yaml"), pin("2"));
    gitAs(checkout, "commit", "-q", "-am", "the deployed pin");
    const deployed = git(checkout, "rev-parse", "HEAD");
    gitAs(checkout, "commit", "-q", "--allow-empty", "-m", "made again on the moved branch");
    const r = script("tag-release.sh", ["--stack", "production", "--seq", "5", "--commit", deployed], checkout);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`tagged railyard/production/5 on ${deployed.slice(0, 7)}`);
    expect(git(remote, "rev-parse", "railyard/production/5^{commit}")).toBe(deployed);
    expect(script("tag-release.sh", ["--stack", "production", "--seq", "5"], checkout).code).toBe(4);
  });
  it("sends GIT_PUSH_TOKEN as checkout's header for GITHUB_SERVER_URL only, through git's environment: never in an argument or the output", () => {
    const { checkout } = repos();
    const bin = tempDir();
    const log = path.join(bin, "log");
    const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
    fs.writeFileSync(path.join(bin, "git"), `#!/bin/bash\nprintf '%s|%s|%s|%s\\n' "$1" "\${GIT_CONFIG_COUNT:-}" "\${GIT_CONFIG_KEY_0:-}" "\${GIT_CONFIG_VALUE_0:-}" >> '${log}'\nprintf 'argv: %s\\n' "$*" >> '${log}'\nexec '${realGit}' "$@"\n`, { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH}`, GIT_PUSH_TOKEN: "ghs_s3cretT0ken", GITHUB_SERVER_URL: "https://github.example" };
    const r = script("tag-release.sh", ["--stack", "production", "--seq", "8"], checkout, env);
    expect(r.code).toBe(0);
    const lines = fs.readFileSync(log, "utf8").trim().split("\n");
    const header = `AUTHORIZATION: basic ${Buffer.from("x-access-token:ghs_s3cretT0ken").toString("base64")}`;
    const remoteCalls = lines.filter((l) => /^(fetch|push|ls-remote)\|/.test(l));
    expect(remoteCalls.map((l) => l.split("|")[0])).toEqual(["fetch", "push", "ls-remote"]);
    for (const l of remoteCalls) expect(l.split("|").slice(1)).toEqual(["1", "http.https://github.example/.extraheader", header]);
    // Local commands get no header; no argument list and no output holds the token.
    expect(lines.filter((l) => /^(rev-parse|tag)\|/.test(l)).every((l) => l.endsWith("||"))).toBe(true);
    for (const l of lines.filter((x) => x.startsWith("argv: "))) expect(l).not.toContain("s3cret");
    expect(r.out + r.err).not.toContain("s3cret");
    expect(r.out + r.err).not.toContain(Buffer.from("x-access-token:ghs_s3cretT0ken").toString("base64"));
  });
  it("never moves a release's tag to another commit", () => {
    const { remote, seed, checkout } = repos();
    gitAs(seed, "tag", "-a", "-m", "earlier", "railyard/production/7");
    git(seed, "push", "-q", "origin", "railyard/production/7");
    gitAs(seed, "commit", "-q", "--allow-empty", "-m", "later");
    git(seed, "push", "-q", "origin", "HEAD:main");
    git(checkout, "fetch", "-q", "origin", "main");
    git(checkout, "checkout", "-q", "--detach", "FETCH_HEAD");
    const r = script("tag-release.sh", ["--stack", "production", "--seq", "7"], checkout);
    expect(r.code).toBe(4);
    expect(r.err).toContain("railyard/production/7 already tags");
    expect(git(remote, "rev-parse", "railyard/production/7^{commit}")).toBe(git(seed, "rev-parse", "HEAD~1"));
  });
  it.each([
    [["--stack", "production", "--seq", ""], "--seq must be a release number (1 or more), got '': did pulumi up record a release?"],
    [["--stack", "production", "--seq", "null"], "--seq must be a release number"],
    [["--stack", "production", "--seq", "0"], "--seq must be a release number"],
    [["--stack", "Prod", "--seq", "1"], "--stack must be a stack name"],
    [["--stack", "production", "--seq", "1", "--commit", "main; x"], "--commit must be HEAD or a commit id"],
  ])("refuses %j with exit 2", (args, message) => {
    const r = script("tag-release.sh", args, tempDir());
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });
  it("a push that fails is exit 5", () => {
    const { checkout } = repos();
    git(checkout, "remote", "set-url", "origin", path.join(tempDir(), "gone.git"));
    const r = script("tag-release.sh", ["--stack", "production", "--seq", "3"], checkout);
    expect(r.code).toBe(5);
    expect(r.err).toContain("could not push railyard/production/3 to origin");
  });
});

describe("ssh-agent.sh", () => {
  /** A `pulumi` stand-in: `config get railyard:sshPrivateKey --stack S` prints KEY_FILE's content, or fails. */
  function fakePulumi(keyFile: string | null): string {
    const bin = tempDir();
    const body = keyFile === null ? 'echo "error: configuration key \'railyard:sshPrivateKey\' not found for stack" >&2; exit 255' : `cat '${keyFile}'`;
    fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\n[ "$1 $2 $3 $4 $5" = "config get railyard:sshPrivateKey --stack staging" ] || { echo "unexpected: $*" >&2; exit 9; }\n${body}\n`, { mode: 0o755 });
    return bin;
  }
  const envFile = () => path.join(tempDir(), "github_env");

  it("loads the stack's key into a new agent and hands its socket to later steps, never printing the key", () => {
    const dir = tempDir();
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "railyard-ci-test", "-f", path.join(dir, "key")]);
    const key = fs.readFileSync(path.join(dir, "key"), "utf8");
    const env = envFile();
    const r = script("ssh-agent.sh", ["--stack", "staging"], dir, { PATH: `${fakePulumi(path.join(dir, "key"))}:${process.env.PATH}`, GITHUB_ENV: env, RUNNER_TEMP: dir });
    const vars = Object.fromEntries(fs.readFileSync(env, "utf8").trim().split("\n").map((l) => l.split("=") as [string, string]));
    if (vars.SSH_AGENT_PID) agents.push(Number(vars.SSH_AGENT_PID));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(vars.SSH_AUTH_SOCK.startsWith(`${dir}/`)).toBe(true);
    const listed = execFileSync("ssh-add", ["-l"], { env: { ...process.env, SSH_AUTH_SOCK: vars.SSH_AUTH_SOCK }, encoding: "utf8" });
    expect(listed).toContain("railyard-ci-test");
    expect(listed).toContain(execFileSync("ssh-keygen", ["-l", "-f", path.join(dir, "key.pub")], { encoding: "utf8" }).split(" ")[1]);
    const secretLine = key.split("\n")[1];
    expect(r.out + r.err + fs.readFileSync(env, "utf8")).not.toContain(secretLine);
  });
  it("a stack without the key is exit 4 and leaves no agent", () => {
    const dir = tempDir();
    const r = script("ssh-agent.sh", ["--stack", "staging"], dir, { PATH: `${fakePulumi(null)}:${process.env.PATH}`, GITHUB_ENV: envFile(), RUNNER_TEMP: dir });
    expect(r.code).toBe(4);
    expect(r.err).toContain("could not read railyard:sshPrivateKey of staging");
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".sock"))).toEqual([]);
  });
  it("a value that is not a key is exit 5", () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "notakey"), "hello\n");
    const r = script("ssh-agent.sh", ["--stack", "staging"], dir, { PATH: `${fakePulumi(path.join(dir, "notakey"))}:${process.env.PATH}`, GITHUB_ENV: envFile(), RUNNER_TEMP: dir });
    expect(r.code).toBe(5);
    expect(r.err).toContain("ssh-add refused railyard:sshPrivateKey of staging");
  });
  it("refuses a bad stack and a missing GITHUB_ENV", () => {
    expect(script("ssh-agent.sh", ["--stack", "x y"], tempDir(), { GITHUB_ENV: "/tmp/e" }).code).toBe(2);
    const r = script("ssh-agent.sh", ["--stack", "staging"], tempDir(), { GITHUB_ENV: "" });
    expect(r.code).toBe(2);
    expect(r.err).toContain("GITHUB_ENV must be the absolute path");
  });
});
