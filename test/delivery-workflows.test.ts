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
      "preview.yml": { test: { contents: "read" }, preview: { contents: "read", "pull-requests": "write" } },
      "rollback.yml": { resolve: { contents: "read" }, rollback: { contents: "write" } },
    });
  });

  it("hand the state backend's secrets only to the jobs that run pulumi", () => {
    for (const [n, w] of all()) {
      expect(JSON.stringify(w.env ?? {}), n).not.toContain("secrets.");
      for (const [id, j] of Object.entries(w.jobs)) {
        const runsPulumi = j.steps.some((s) => s.uses?.startsWith("pulumi/actions@"));
        expect(JSON.stringify(j.env ?? {}).includes("secrets.PULUMI_"), `${n} ${id}`).toBe(runsPulumi);
      }
    }
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
      /^npm ci --no-audit --no-fund( --prefix policy)?$/,
      /^npm run -s (lint:shell|lint:workflows|test:unit)$/,
      /^bash scripts\/test\.sh --prereqs-only$/,
      /^npx ts-node --transpile-only scripts\/ci\/[a-z-]+\.ts( [^;|&`]*)?$/,
      /^bash scripts\/ci\/[a-z-]+\.sh( [^;|&`]*)?$/,
      /^npm run -s rollback -- [^;|&`]*$/,
      /^exit 1$/,
      /^mkdir -p "\$RUNNER_TEMP\/digest" && printf '%s@%s\\n' "\$REPOSITORY" "\$DIGEST" > "\$RUNNER_TEMP\/digest\/image"$/,
    ];
    for (const [n, w] of all()) {
      const secretVars = new Set<string>();
      const collect = (env?: Record<string, string>) => Object.entries(env ?? {}).forEach(([k, v]) => /secrets\./.test(String(v)) && secretVars.add(k));
      collect(w.env);
      for (const j of Object.values(w.jobs)) collect(j.env);
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

  it("preview: every pull request, both stacks previewed under the policy pack, one edited comment", () => {
    const w = wf("preview.yml");
    expect(Object.keys(w.on)).toEqual(["pull_request"]);
    const steps = w.jobs.preview.steps;
    const previews = steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
    expect(previews.map((s) => [s.id, s.with?.command, s.with?.["stack-name"]])).toEqual([["staging", "preview", "staging"], ["production", "preview", "production"]]);
    for (const p of previews) {
      expect([p.with?.policyPacks, p.with?.policyPackConfigs]).toEqual(["policy", `policy/config/${p.id}.json`]);
      expect(fs.existsSync(path.join(ROOT, String(p.with?.policyPackConfigs)))).toBe(true);
    }
    expect(fs.existsSync(path.join(ROOT, "policy", "PulumiPolicy.yaml"))).toBe(true);
    // Production is previewed as its deploy will pin it (promoted from staging when its stack file says so).
    const promote = steps.findIndex((s) => s.run === "npx ts-node --transpile-only scripts/ci/set-images.ts --stack production --promote");
    expect(promote).toBeGreaterThan(-1);
    expect(promote).toBeLessThan(steps.indexOf(previews[1]));
    const compose = steps.find((s) => s.run?.includes("scripts/ci/pr-comment.ts"));
    expect(compose?.run).toContain('--stacks staging,production --out "$RUNNER_TEMP/preview.md"');
    expect(compose?.env).toMatchObject({ RAILYARD_PLAN_STAGING: "${{ steps.staging.outputs.output }}", RAILYARD_PLAN_PRODUCTION: "${{ steps.production.outputs.output }}" });
    const sticky = steps.filter((s) => s.uses?.startsWith("marocchino/sticky-pull-request-comment@"));
    expect(sticky).toHaveLength(1);
    expect(sticky[0].with).toEqual({ header: "railyard-preview", path: "${{ runner.temp }}/preview.md" });
    // pulumi/actions' own comment (one per stack) stays off.
    for (const p of previews) expect(p.with?.["comment-on-pr"]).toBeUndefined();
    expect(steps.at(-1)).toMatchObject({ if: "steps.staging.outcome != 'success' || steps.production.outcome != 'success'", run: "exit 1" });
    expect(w.jobs.preview.needs).toBe("test");
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
    expect(build.steps[2].with).toEqual({ registry: "${{ matrix.registry }}", username: "${{ vars.REGISTRY_PUSH_USERNAME || github.actor }}", password: "${{ secrets.REGISTRY_PUSH_TOKEN || secrets.GITHUB_TOKEN }}" });
    expect(build.steps[3].with).toMatchObject({ push: true, context: "${{ matrix.context }}", file: "${{ matrix.file }}" });
    const order = deploy.steps.map((s) => s.uses?.split("@")[0] ?? s.run);
    const at = (pred: (x: string | undefined) => boolean) => order.findIndex(pred);
    const pinBuilt = at((x) => !!x?.includes("set-images.ts --stack \"$STACK\" --from-dir"));
    const promote = at((x) => !!x?.includes("set-images.ts --stack \"$STACK\" --from \"$PROMOTE_FROM\""));
    const up = at((x) => x === "pulumi/actions");
    const commit = at((x) => !!x?.includes("commit-stack-file.sh"));
    const tag = at((x) => !!x?.includes("tag-release.sh"));
    expect([pinBuilt, promote, up, commit, tag].every((i) => i >= 0)).toBe(true);
    expect(pinBuilt < up && promote < up && up < commit && commit < tag).toBe(true);
    expect(deploy.steps[up].with).toMatchObject({ command: "up", "stack-name": "${{ needs.resolve.outputs.stack }}", policyPacks: "policy", policyPackConfigs: "policy/config/${{ needs.resolve.outputs.stack }}.json" });
    for (const s of Object.keys(deployed())) expect(fs.existsSync(path.join(ROOT, "policy", "config", `${s}.json`)), s).toBe(true);
    expect(deploy.steps[tag].if).toBe("needs.resolve.outputs.stack == 'production'");
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
    expect(runs).toContain('npm run -s rollback -- --stack "$STACK" ${RELEASE:+--to "$RELEASE"} --wait 30m');
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
