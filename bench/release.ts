/**
 * What both benchmarks deploy: the dev stack on the real engine under a benchmark's own prefix, and a release of
 * its api as `pulumi up` applies it after an image change — the steps taken from the program's declared
 * resources (the service and every command its image triggers: the migration job before it, the health gate
 * after it), applied by the engine test bed's applyStack.
 */
import { execFileSync } from "node:child_process";
import { inject } from "vitest";
import { ConfigMap, reveal, runStack, StackRun } from "../test/harness";
import { applyStack, ApplyResult, CommandFailed } from "../test/engine/apply";
import { onLocalEngine } from "../test/engine/probe";
import { DeclaredService, revealDeep } from "../test/engine/spec";

export const QUICK = process.env.RAILYARD_BENCH_QUICK === "1";
export const MODE = QUICK ? "quick" : "full";

export const images = () => inject("images");

export const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** Removes a plain container if it exists. */
export const removeContainer = (name: string) => execFileSync("bash", ["-c", `docker rm -f ${name} >/dev/null 2>&1 || true`]);

/** The dev stack file on this engine under `prefix`, with extra env for the api. */
export function devStack(prefix: string, apiEnv: Record<string, string> = {}): ConfigMap {
  const c = onLocalEngine("dev", prefix);
  Object.assign((c["railyard:services"] as Record<string, { env: Record<string, string> }>).api.env, apiEnv);
  return c;
}

/** The test image for each declared service: `api` for the api, the matching test image for the others. */
export const imageFor = (api: string) => (name: string) => {
  const i = images();
  return ({ postgres: i.POSTGRES, redis: i.REDIS, edge: i.EDGE, "edge-front": i.FRONT, api })[name] ?? i.APP_V1;
};

/** Deploys the whole dev stack with `api` as the api's image (a first `pulumi up`). */
export async function deployStack(prefix: string, api: string): Promise<ApplyResult> {
  return applyStack(await runStack("dev", devStack(prefix)), imageFor(api));
}

/**
 * The resources `pulumi up` changes when only the service's image changes, in registration order: the service
 * and the commands whose triggers hold its declared image (migration job, health gate).
 */
export function releaseSteps(run: StackRun, service: string): string[] {
  const declared = run.resources.find((r) => r.type === "docker:index/service:Service" && r.name === service);
  if (!declared) throw new Error(`the stack declares no service ${service}`);
  const image = String((revealDeep(declared.inputs) as DeclaredService).taskSpec.containerSpec.image);
  return run.resources
    .filter((r) => r === declared || (r.type === "command:local:Command" && JSON.stringify(reveal(r.inputs.triggers) ?? []).includes(image)))
    .map((r) => r.name);
}

export interface Release {
  steps: string[];
  /** The applied result, or the failed step (`pulumi up` stops there). */
  result: ApplyResult | CommandFailed;
  seconds: number;
}

/** Releases `api` as the api's image (with extra api env): the release steps only, as `pulumi up` would. Never rejects with CommandFailed. */
export async function releaseApi(prefix: string, api: string, apiEnv: Record<string, string> = {}): Promise<Release> {
  const run = await runStack("dev", devStack(prefix, apiEnv));
  const steps = releaseSteps(run, "api");
  const started = Date.now();
  const result = await applyStack(run, imageFor(api), (name) => steps.includes(name)).catch((e: unknown) => {
    if (e instanceof CommandFailed) return e;
    throw e;
  });
  return { steps, result, seconds: (Date.now() - started) / 1000 };
}

/** "migration job 3.3 s, update 0.2 s, gate 5.5 s": each release step's time. */
export function stepTimes(release: Release): string {
  const durations = release.result instanceof CommandFailed ? release.result.partial.durations : release.result.durations;
  const what = (step: string) => (step.endsWith("-migrate") ? "migration job" : step.endsWith("-gate") ? "gate" : "update");
  return release.steps.map((s) => `${what(s)} ${((durations[s] ?? 0) / 1000).toFixed(1)} s`).join(", ");
}
