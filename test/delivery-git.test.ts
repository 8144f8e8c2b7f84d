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

describe("commit-stack-file.sh", () => {
  it("commits the stack file alone, [skip ci], as the Actions bot, and pushes it", () => {
    const { remote, checkout } = repos();
    fs.writeFileSync(path.join(checkout, "Pulumi.staging.yaml"), pin("2"));
    fs.writeFileSync(path.join(checkout, "README.md"), "changed by the job, not to be committed\n");
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main"], checkout);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/pushed Pulumi.staging.yaml to main/);
    expect(remoteFile(remote, "Pulumi.staging.yaml")).toBe(pin("2"));
    expect(remoteFile(remote, "README.md")).toBe("readme\n");
    expect(git(remote, "log", "-1", "--format=%s|%an|%ae", "main")).toBe("staging: pin the deployed images in Pulumi.staging.yaml [skip ci]|github-actions[bot]|41898282+github-actions[bot]@users.noreply.github.com");
    expect(git(remote, "show", "--name-only", "--format=", "main")).toBe("Pulumi.staging.yaml");
  });
  it("does nothing when the stack file is unchanged", () => {
    const { remote, checkout } = repos();
    const before = git(remote, "rev-parse", "main");
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main"], checkout);
    expect(r.code).toBe(0);
    expect(r.out).toContain("unchanged: nothing to commit");
    expect(git(remote, "rev-parse", "main")).toBe(before);
  });
  it("rebases onto a branch that moved meanwhile, keeping the other commit", () => {
    const { remote, seed, checkout } = repos();
    fs.writeFileSync(path.join(seed, "README.md"), "a teammate's change\n");
    gitAs(seed, "commit", "-q", "-am", "teammate");
    git(seed, "push", "-q", "origin", "HEAD:main");
    fs.writeFileSync(path.join(checkout, "Pulumi.staging.yaml"), pin("3"));
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main"], checkout);
    expect(r.code).toBe(0);
    expect(r.out).toContain("main moved: rebasing onto it (attempt 2 of 5)");
    expect(remoteFile(remote, "README.md")).toBe("a teammate's change\n");
    expect(remoteFile(remote, "Pulumi.staging.yaml")).toBe(pin("3"));
    expect(git(remote, "log", "--format=%s", "main").split("\n")).toEqual(["staging: pin the deployed images in Pulumi.staging.yaml [skip ci]", "teammate", "seed"]);
  });
  it("where an earlier deploy pinned the same lines, the deployed file's lines win; other lines merge", () => {
    const { remote, seed, checkout } = repos();
    fs.writeFileSync(path.join(seed, "Pulumi.staging.yaml"), pin("4").replace("railyard:other: 1", "railyard:other: 2"));
    gitAs(seed, "commit", "-q", "-am", "an earlier deploy's pin and a teammate's edit");
    git(seed, "push", "-q", "origin", "HEAD:main");
    fs.writeFileSync(path.join(checkout, "Pulumi.staging.yaml"), pin("5"));
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main"], checkout);
    expect(r.code).toBe(0);
    expect(remoteFile(remote, "Pulumi.staging.yaml")).toBe(pin("5").replace("railyard:other: 1", "railyard:other: 2"));
  });
  it("stops on a conflict it cannot resolve (the branch deleted the file), pushing nothing", () => {
    const { remote, seed, checkout } = repos();
    gitAs(seed, "rm", "-q", "Pulumi.staging.yaml");
    gitAs(seed, "commit", "-q", "-m", "stack removed");
    git(seed, "push", "-q", "origin", "HEAD:main");
    const head = git(remote, "rev-parse", "main");
    fs.writeFileSync(path.join(checkout, "Pulumi.staging.yaml"), pin("6"));
    const r = script("commit-stack-file.sh", ["--stack", "staging", "--branch", "main"], checkout);
    expect(r.code).toBe(5);
    expect(r.err).toContain("commit-stack-file: rebasing the deploy's Pulumi.staging.yaml onto main stopped on a conflict");
    expect(git(remote, "rev-parse", "main")).toBe(head);
    expect(fs.existsSync(path.join(checkout, ".git", "rebase-merge"))).toBe(false);
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
