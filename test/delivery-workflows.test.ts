/**
 * The workflows' invariants, read from .github/workflows/*.yml, and the lint (actionlint + shellcheck over every
 * run script) over them and over planted faults. What only GitHub proves is a workflow run itself.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { lintWorkflow, main as lintMain, workflowFiles } from "../scripts/ci/lint-workflows";
import { branchOf, resolve as resolveStack, stackNames } from "../scripts/ci/stack-for-branch";
import { readStackFile } from "../scripts/stackHost";

const ROOT = path.join(__dirname, "..");
type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; id?: string; if?: string };
type Job = { permissions?: Record<string, string>; environment?: string; concurrency?: Record<string, unknown>; steps: Step[]; needs?: string | string[]; if?: string; strategy?: unknown; env?: Record<string, string> };
type Workflow = { on: Record<string, unknown>; permissions?: unknown; concurrency?: Record<string, unknown>; jobs: Record<string, Job>; env?: Record<string, string> };
const text = (name: string) => fs.readFileSync(path.join(ROOT, ".github", "workflows", name), "utf8");
const wf = (name: string) => parse(text(name)) as Workflow;
const NAMES = ["deploy.yml", "preview.yml", "rollback.yml"];
const all = () => NAMES.map((n) => [n, wf(n)] as const);
/** Every stack whose file names a deploy branch, with it (the real stack files). */
const deployed = () => Object.fromEntries(stackNames(ROOT).flatMap((s) => { const b = branchOf(readStackFile(s, ROOT).config, s); return b ? [[s, b]] : []; }));

describe("the workflows' invariants", () => {
  it("are the three workflows", () => {
    expect(workflowFiles(ROOT).map((f) => path.basename(f))).toEqual(NAMES);
  });

  it("grant nothing at the top and least permissions per job", () => {
    const granted: Record<string, Record<string, Record<string, string> | undefined>> = {};
    for (const [n, w] of all()) {
      expect(w.permissions, n).toEqual({});
      granted[n] = Object.fromEntries(Object.entries(w.jobs).map(([id, j]) => [id, j.permissions]));
    }
    expect(granted).toEqual({
      "deploy.yml": { test: { contents: "read" }, resolve: { contents: "read" }, build: { contents: "read", packages: "write" }, deploy: { contents: "write" } },
      "preview.yml": { test: { contents: "read" }, "preview-staging": { contents: "read" }, "preview-production": { contents: "read" }, comment: { contents: "read", "pull-requests": "write" } },
      "rollback.yml": { resolve: { contents: "read" }, rollback: { contents: "write" } },
    });
  });

  // Secrets live in environments (staging, production, production-preview), not at repository level: a job without an
  // environment reads none (the workflow's own GITHUB_TOKEN aside), and within a job only the steps that use them.
  const BACKEND = ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
  const backendEnv = Object.fromEntries(BACKEND.map((k) => [k, `\${{ secrets.${k} }}`]));
  const secretsIn = (x: unknown) => [...JSON.stringify(x ?? {}).matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]);
  const runsPulumi = (s: Step) => !!s.uses?.startsWith("pulumi/actions@") && s.with?.command !== undefined || /scripts\/ci\/ssh-agent\.sh|npm run -s rollback/.test(s.run ?? "");

  it("keep secrets out of the workflow's and the jobs' env: only steps get them", () => {
    for (const [n, w] of all()) {
      expect(secretsIn(w.env), n).toEqual([]);
      for (const [id, j] of Object.entries(w.jobs)) expect(secretsIn(j.env), `${n} ${id}`).toEqual([]);
    }
  });

  it("run every job that reads a secret or runs pulumi in an environment; the others read none but GITHUB_TOKEN", () => {
    const environments: Record<string, string | undefined> = {};
    for (const [n, w] of all()) {
      for (const [id, j] of Object.entries(w.jobs)) {
        const own = secretsIn(j.steps).filter((x) => x !== "GITHUB_TOKEN");
        if (own.length > 0 || j.steps.some(runsPulumi)) expect(j.environment, `${n} ${id} reads ${own.join(", ")}`).toBeDefined();
        if (j.environment !== undefined) environments[`${n} ${id}`] = j.environment;
      }
    }
    expect(environments).toEqual({
      "deploy.yml build": "${{ needs.resolve.outputs.stack }}",
      "deploy.yml deploy": "${{ needs.resolve.outputs.stack }}",
      "preview.yml preview-staging": "staging",
      "preview.yml preview-production": "production-preview",
      "rollback.yml rollback": "${{ inputs.stack }}",
    });
  });

  it("hand the backend's secrets to the steps that run pulumi alone, GITHUB_TOKEN to the push steps and GHCR's login alone", () => {
    for (const [n, w] of all()) {
      for (const [id, j] of Object.entries(w.jobs)) {
        for (const s of j.steps) {
          const where = `${n} ${id} ${s.id ?? s.uses ?? s.run}`;
          const got = secretsIn([s.env, s.with]).sort();
          if (runsPulumi(s)) expect(s.env, where).toMatchObject(backendEnv);
          else if (s.uses?.startsWith("docker/login-action@")) expect(got, where).toEqual(["GITHUB_TOKEN", "REGISTRY_PUSH_TOKEN"]);
          else if (/scripts\/ci\/(commit-stack-file|tag-release)\.sh/.test(s.run ?? "")) expect(s.env?.GIT_PUSH_TOKEN, where).toBe("${{ secrets.GITHUB_TOKEN }}");
          else expect(got, where).toEqual([]);
          if (runsPulumi(s)) expect(got, where).toEqual([...BACKEND].sort());
        }
      }
    }
  });

  it("check out without persisting a token, and install without running packages' install scripts", () => {
    let checkouts = 0;
    let installs = 0;
    for (const [n, w] of all()) {
      for (const [id, j] of Object.entries(w.jobs)) {
        for (const s of j.steps) {
          if (s.uses?.startsWith("actions/checkout@")) {
            checkouts++;
            expect(s.with?.["persist-credentials"], `${n} ${id}`).toBe(false);
          }
          if (/^npm ci\b/.test(s.run ?? "")) {
            installs++;
            expect(s.run, `${n} ${id}`).toContain("--ignore-scripts");
          }
        }
      }
    }
    expect([checkouts, installs]).toEqual([10, 11]);
  });

  it("pin every action to a commit, with its version beside it", () => {
    for (const n of NAMES) {
      const lines = text(n).split("\n").filter((l) => /^\s*(?:-\s+)?uses:/.test(l));
      expect(lines.length, n).toBeGreaterThan(0);
      for (const l of lines) expect(l, `${n}: ${l.trim()}`).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
  });

  it("run only repo scripts, npm scripts and one-liners, with no expression inside a script and no secret in one", () => {
    const allowed = [
      /^npm ci --ignore-scripts --no-audit --no-fund( --prefix policy)?$/,
      /^npm run -s (lint:shell|lint:workflows|test:unit)$/,
      /^bash scripts\/test\.sh --prereqs-only$/,
      /^npx ts-node --transpile-only scripts\/ci\/[a-z-]+\.ts( [^;|&`]*)?$/,
      /^bash scripts\/ci\/[a-z-]+\.sh( [^;|&`]*)?$/,
      /^env -u GITHUB_SHA npm run -s rollback -- [^;|&`]*$/,
      /^exit 1$/,
      /^mkdir -p "\$RUNNER_TEMP\/digest" && printf '%s@%s\\n' "\$REPOSITORY" "\$DIGEST" > "\$RUNNER_TEMP\/digest\/image"$/,
    ];
    for (const [n, w] of all()) {
      const secretVars = new Set<string>();
      const collect = (env?: Record<string, string>) => Object.entries(env ?? {}).forEach(([k, v]) => /secrets\./.test(String(v)) && secretVars.add(k));
      collect(w.env);
      for (const j of Object.values(w.jobs)) {
        collect(j.env);
        for (const s of j.steps) collect(s.env);
      }
      for (const [id, j] of Object.entries(w.jobs)) {
        for (const s of j.steps) {
          if (s.run === undefined) continue;
          const run = s.run.trim();
          expect(run.includes("\n"), `${n} ${id}: one line: ${run}`).toBe(false);
          expect(run, `${n} ${id}: no \${{ }} in a script (pass values through env)`).not.toContain("${{");
          expect(allowed.some((a) => a.test(run)), `${n} ${id}: ${run}`).toBe(true);
          for (const v of secretVars) expect(run, `${n} ${id} uses secret ${v}`).not.toMatch(new RegExp(`\\$\\{?${v}\\b`));
          for (const file of run.match(/scripts\/ci\/[a-z-]+\.(?:ts|sh)/g) ?? []) expect(fs.existsSync(path.join(ROOT, file)), file).toBe(true);
        }
      }
    }
  });

  it("preview: every pull request, each stack previewed in its own environment under the policy pack, one edited comment", () => {
    const w = wf("preview.yml");
    expect(Object.keys(w.on)).toEqual(["pull_request"]);
    const jobs = { staging: w.jobs["preview-staging"], production: w.jobs["preview-production"] };
    for (const [stack, j] of Object.entries(jobs)) {
      expect(j.needs, stack).toBe("test");
      const previews = j.steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
      expect(previews.map((s) => [s.id, s.with?.command, s.with?.["stack-name"], s.with?.policyPacks, s.with?.policyPackConfigs]), stack).toEqual([["preview", "preview", stack, "policy", `policy/config/${stack}.json`]]);
      expect(fs.existsSync(path.join(ROOT, String(previews[0].with?.policyPackConfigs)))).toBe(true);
      // pulumi/actions' own comment (one per stack) stays off; the preview's failure is reported, not fatal here.
      expect(previews[0].with?.["comment-on-pr"]).toBeUndefined();
      expect((previews[0] as Step & { "continue-on-error"?: boolean })["continue-on-error"]).toBe(true);
      expect((j as Job & { outputs?: Record<string, string> }).outputs).toMatchObject({ plan: "${{ steps.preview.outputs.output }}", outcome: "${{ steps.preview.outcome }}" });
    }
    expect(fs.existsSync(path.join(ROOT, "policy", "PulumiPolicy.yaml"))).toBe(true);
    // Production is previewed as its deploy will pin it (promoted from staging when its stack file says so); with
    // nothing to promote yet (a first setup) the step fails, the preview goes on and the comment says so.
    const steps = jobs.production.steps;
    const promote = steps.findIndex((s) => s.run === "npx ts-node --transpile-only scripts/ci/set-images.ts --stack production --promote");
    expect(promote).toBeGreaterThan(-1);
    expect(promote).toBeLessThan(steps.findIndex((s) => s.id === "preview"));
    expect(steps[promote]).toMatchObject({ id: "promote", "continue-on-error": true });
    expect((jobs.production as Job & { outputs?: Record<string, string> }).outputs?.promote).toBe("${{ steps.promote.outcome }}");
    const comment = w.jobs.comment;
    expect(comment.needs).toEqual(["preview-staging", "preview-production"]);
    expect(comment.if).toBe("${{ !cancelled() }}");
    const compose = comment.steps.find((s) => s.run?.includes("scripts/ci/pr-comment.ts"));
    expect(compose?.run).toContain('--stacks staging,production --promoted production --out "$RUNNER_TEMP/preview.md"');
    expect(compose?.env).toEqual({
      RAILYARD_PLAN_STAGING: "${{ needs.preview-staging.outputs.plan }}", RAILYARD_OUTCOME_STAGING: "${{ needs.preview-staging.outputs.outcome }}",
      RAILYARD_PLAN_PRODUCTION: "${{ needs.preview-production.outputs.plan }}", RAILYARD_OUTCOME_PRODUCTION: "${{ needs.preview-production.outputs.outcome }}",
      RAILYARD_PROMOTE_OUTCOME: "${{ needs.preview-production.outputs.promote }}",
    });
    const sticky = comment.steps.filter((s) => s.uses?.startsWith("marocchino/sticky-pull-request-comment@"));
    expect(sticky).toHaveLength(1);
    expect(sticky[0].with).toEqual({ header: "railyard-preview", path: "${{ runner.temp }}/preview.md" });
    expect(comment.steps.at(-1)).toMatchObject({ if: "needs.preview-staging.outputs.outcome != 'success' || needs.preview-production.outputs.outcome != 'success'", run: "exit 1" });
  });

  it("preview and deploy test first, as npm test does: Debian bookworm as root, lint, type check, unit tests", () => {
    for (const n of ["preview.yml", "deploy.yml"]) {
      const t = wf(n).jobs.test as Job & { container?: string };
      expect(t.container, n).toBe("node:20-bookworm");
      expect(t.steps.map((s) => s.run).filter(Boolean), n).toEqual(["bash scripts/test.sh --prereqs-only", "npm run -s lint:shell", "npm run -s lint:workflows", "npm run -s test:unit"]);
    }
    const { build, deploy } = wf("deploy.yml").jobs;
    expect(build.needs).toEqual(["test", "resolve"]);
    expect(deploy.needs).toEqual(["test", "resolve", "build"]);
    expect(deploy.if).toContain("needs.test.result == 'success'");
    expect(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts["test:unit"]).toBe("tsc --noEmit && vitest run");
  });

  it("deploy: the branches the stack files name, serialised per stack, never cancelling a queued run", () => {
    const w = wf("deploy.yml");
    expect((w.on.push as { branches: string[] }).branches.sort()).toEqual(Object.values(deployed()).sort());
    expect(w.concurrency).toEqual({ group: "railyard-deploy-${{ github.ref_name }}", "cancel-in-progress": false, queue: "max" });
    for (const j of Object.values(w.jobs)) expect(j.concurrency).toBeUndefined();
  });

  it("deploy: production behind its environment, images built and pinned, pulumi up under the policy pack, committed and tagged", () => {
    const { resolve, build, deploy } = wf("deploy.yml").jobs;
    expect(resolve.steps.at(-1)?.run).toBe('npx ts-node --transpile-only scripts/ci/stack-for-branch.ts --branch "$GITHUB_REF_NAME" --github-output');
    // The environment is the stack's name: production deploys wait for the production environment's reviewers.
    expect(deploy.environment).toBe("${{ needs.resolve.outputs.stack }}");
    // …which for a push to main is "production" (the real stack files), and for develop "staging".
    expect(resolveStack(ROOT, "main", undefined).stack).toBe("production");
    expect(resolveStack(ROOT, "develop", undefined).stack).toBe("staging");
    expect(deploy.env?.STACK).toBe("${{ needs.resolve.outputs.stack }}");
    expect(build.strategy).toEqual({ matrix: { include: "${{ fromJSON(needs.resolve.outputs.images) }}" } });
    const uses = (j: Job) => j.steps.map((s) => s.uses?.split("@")[0] ?? s.run?.split(" ").slice(0, 4).join(" "));
    expect(uses(build)).toEqual([
      "actions/checkout", "docker/setup-buildx-action", "docker/login-action", "docker/build-push-action", "mkdir -p \"$RUNNER_TEMP/digest\" &&", "actions/upload-artifact",
    ]);
    // The workflow's token goes to GHCR alone; any other registry gets REGISTRY_PUSH_USERNAME/_TOKEN (and only the
    // stack's railyard:registry.server is ever in the matrix: stack-for-branch refuses others).
    expect(build.steps[2].with).toEqual({
      registry: "${{ matrix.registry }}",
      username: "${{ matrix.registry == 'ghcr.io' && github.actor || vars.REGISTRY_PUSH_USERNAME }}",
      password: "${{ matrix.registry == 'ghcr.io' && secrets.GITHUB_TOKEN || secrets.REGISTRY_PUSH_TOKEN }}",
    });
    expect(build.steps[3].with).toMatchObject({ push: true, context: "${{ matrix.context }}", file: "${{ matrix.file }}" });
    const order = deploy.steps.map((s) => s.uses?.split("@")[0] ?? s.run);
    const at = (pred: (x: string | undefined) => boolean) => order.findIndex(pred);
    const pinBuilt = at((x) => !!x?.includes("set-images.ts --stack \"$STACK\" --from-dir"));
    const promote = at((x) => !!x?.includes("set-images.ts --stack \"$STACK\" --from \"$PROMOTE_FROM\""));
    const preview = deploy.steps.findIndex((s) => s.id === "preview");
    const up = deploy.steps.findIndex((s) => s.id === "up");
    const commit = at((x) => !!x?.includes("commit-stack-file.sh"));
    const tag = at((x) => !!x?.includes("tag-release.sh"));
    expect([pinBuilt, promote, preview, up, commit, tag].every((i) => i >= 0)).toBe(true);
    expect(pinBuilt < preview && promote < preview && preview < up && up < commit && commit < tag).toBe(true);
    // `up` runs with --skip-preview (the Automation API): the preview before it runs every policy, the stack-wide
    // ones included, and fails the job before anything changes. Same pack, same config, no continue-on-error.
    const policy = { "stack-name": "${{ needs.resolve.outputs.stack }}", policyPacks: "policy", policyPackConfigs: "policy/config/${{ needs.resolve.outputs.stack }}.json" };
    expect(deploy.steps[preview].with).toMatchObject({ command: "preview", ...policy });
    expect(deploy.steps[up].with).toMatchObject({ command: "up", ...policy });
    expect(deploy.steps.filter((s) => s.uses?.startsWith("pulumi/actions@"))).toHaveLength(2);
    expect(deploy.steps[preview]).not.toHaveProperty("continue-on-error");
    for (const s of Object.keys(deployed())) expect(fs.existsSync(path.join(ROOT, "policy", "config", `${s}.json`)), s).toBe(true);
    // The pins are re-applied from the same source when the branch moved; the tag goes on the deployed commit,
    // whenever up succeeded (even if the commit back failed).
    expect(deploy.steps[commit]).toMatchObject({
      id: "commit",
      env: { DIGESTS: "${{ needs.build.result == 'success' && format('{0}/digests', runner.temp) || '' }}" },
      run: 'bash scripts/ci/commit-stack-file.sh --stack "$STACK" --branch "$GITHUB_REF_NAME" ${DIGESTS:+--from-dir "$DIGESTS"} ${PROMOTE_FROM:+--from "$PROMOTE_FROM"}',
    });
    expect(deploy.steps[pinBuilt].run).toContain('--from-dir "$RUNNER_TEMP/digests"');
    expect(deploy.steps[tag].if).toBe("${{ !cancelled() && steps.up.outcome == 'success' && needs.resolve.outputs.stack == 'production' }}");
    expect(deploy.steps[tag].run).toBe('bash scripts/ci/tag-release.sh --stack "$STACK" --seq "$SEQ" --commit "$DEPLOYED"');
    expect(deploy.steps[tag].env?.DEPLOYED).toBe("${{ steps.commit.outputs.commit }}");
    expect(deploy.env?.RAILYARD_LOCK_WAIT).toBe("30m");
  });

  it("rollback: by hand, a stack and a release, in the deploys' group for that stack, production behind its environment", () => {
    const w = wf("rollback.yml");
    const inputs = (w.on.workflow_dispatch as { inputs: Record<string, { type: string; options?: string[] }> }).inputs;
    expect(inputs.stack.type).toBe("choice");
    expect(inputs.stack.options?.sort()).toEqual(Object.keys(deployed()).sort());
    expect(inputs.release.type).toBe("string");
    const job = w.jobs.rollback;
    expect(job.environment).toBe("${{ inputs.stack }}");
    expect(job.concurrency).toEqual({ group: "railyard-deploy-${{ needs.resolve.outputs.branch }}", "cancel-in-progress": false, queue: "max" });
    // The same group string as deploy.yml's for the stack's branch.
    const deployGroup = String(wf("deploy.yml").concurrency?.group);
    for (const branch of Object.values(deployed())) {
      expect(deployGroup.replace("${{ github.ref_name }}", branch)).toBe(String(job.concurrency?.group).replace("${{ needs.resolve.outputs.branch }}", branch));
    }
    const runs = job.steps.map((s) => s.run).filter(Boolean);
    // GITHUB_SHA is the dispatch ref's commit, not the stack branch's checked out here (GitHub ignores a step
    // setting it): unset, the release records git HEAD.
    expect(runs).toContain('env -u GITHUB_SHA npm run -s rollback -- --stack "$STACK" ${RELEASE:+--to "$RELEASE"} --wait 30m');
    // npm run rollback runs the policy pack (policy/ with its config for the stack): its packages are installed.
    expect(runs).toContain("npm ci --ignore-scripts --no-audit --no-fund --prefix policy");
    expect(runs).toContain('bash scripts/ci/commit-stack-file.sh --stack "$STACK" --branch "$BRANCH"');
    // pulumi/actions installs the CLI only (no command): npm run rollback runs pulumi up itself.
    const pulumi = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
    expect(pulumi?.with).toEqual({ "pulumi-version": "^3" });
  });
});

describe("lint:workflows", () => {
  it("finds nothing in the workflows (actionlint and shellcheck)", async () => {
    expect(await lintMain([], ROOT)).toBe(0);
  });

  const base = `name: t
on: push
permissions: {}
jobs:
  a:
    runs-on: ubuntu-latest
    outputs:
      x: \${{ steps.s.outputs.x }}
    steps:
      - id: s
        run: echo "x=1" >> "$GITHUB_OUTPUT"
`;
  it("accepts the clean fixture", async () => {
    expect(await lintWorkflow("t.yml", base)).toEqual([]);
  });
  it.each([
    ["an undefined job in needs", base + "  b:\n    needs: nope\n    runs-on: ubuntu-latest\n    steps:\n      - run: exit 0\n", /job "b" needs job "nope" which does not exist/],
    ["an untrusted expression in a script", base.replace('echo "x=1"', 'echo "${{ github.event.head_commit.message }}"'), /potentially untrusted/],
    ["a shellcheck finding in a run script", base.replace('echo "x=1" >> "$GITHUB_OUTPUT"', "cat $FILE"), /jobs\.a\.steps\[0\]\.run: SC2086/],
    ["queue with another value", base.replace("jobs:", "concurrency:\n  group: g\n  queue: 2\njobs:"), /unexpected key "queue"/],
    ["queue: max that also cancels in progress", base.replace("jobs:", "concurrency:\n  group: g\n  cancel-in-progress: true\n  queue: max\njobs:"), /unexpected key "queue"/],
    ["an unknown concurrency key", base.replace("jobs:", "concurrency:\n  group: g\n  queued: max\njobs:"), /unexpected key "queued"/],
  ])("reports %s", async (_, yaml, message) => {
    const found = await lintWorkflow("t.yml", yaml);
    expect(found.map((f) => f.message).join("\n")).toMatch(message);
  });
  it("lets through `queue: max` alone, at the workflow and at a job", async () => {
    expect(await lintWorkflow("t.yml", base.replace("jobs:", "concurrency:\n  group: g\n  cancel-in-progress: false\n  queue: max\njobs:"))).toEqual([]);
    expect(await lintWorkflow("t.yml", base.replace("    runs-on: ubuntu-latest\n    outputs:", "    runs-on: ubuntu-latest\n    concurrency:\n      group: g\n      queue: max\n    outputs:"))).toEqual([]);
  });
  it("fails with no workflow to lint", async () => {
    await expect(lintMain([], path.join(ROOT, "test"))).rejects.toThrow(/no workflow files/);
  });
});
