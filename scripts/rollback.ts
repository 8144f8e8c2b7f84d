/**
 * npm run rollback -- --stack production [--to N] [--list] [--wait 10m]
 *
 * Brings back a kept release, image AND config, through Pulumi itself: the host's release store
 * (host/railyard-release.sh) is asked for the target — release N, or without --to the previous good release —
 * whether its images are still on the host (none is built or pulled), and its record; the stack file the release
 * was deployed with replaces the `config:` map of Pulumi.<stack>.yaml (comments and the rest of the file kept; the
 * current file saved as Pulumi.<stack>.yaml.before-rollback; a `build:` service is pinned to its recorded image
 * instead, so nothing is built); then `pulumi up --stack <stack> --yes --skip-preview` runs with
 * RAILYARD_RELEASE_KIND=rollback, RAILYARD_ROLLBACK_OF=N and RAILYARD_LOCK_TOKEN (the host lock this command took,
 * kind rollback, so no deploy runs in between; the program's release steps proceed under it): the same gates run
 * and the release is recorded as a rollback. The stack-wide policies run as for a deploy: with the project's policy
 * pack (policy/, or --policy-pack DIR) `pulumi up` gets --policy-pack DIR and, when DIR/config/<stack>.json exists,
 * --policy-pack-config with it; --no-policy-pack runs without. The lock is released whatever happens. Migrations are not run
 * backwards: when releases after the target ran one, it says which (README: Rolling back the schema).
 * RAILYARD_WHO, when set, names who rolls back; otherwise the program finds it as for a deploy (GITHUB_ACTOR, the
 * git author of HEAD, the OS user) from the same environment.
 *
 * Exit codes: 0 rolled back (commit the stack file); 2 bad arguments or stack file; 75 the stack is locked (the
 * holder is named; --wait waits); 76 an image of the release is no longer on the host; 77 no such release, or
 * nothing to roll back to; 78 the release's record cannot be used (no stack file recorded); 255 ssh failed;
 * otherwise `pulumi up`'s own exit code (the stack file is then release N's; the previous one is kept beside it).
 */
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, isScalar, parseDocument } from "yaml";
import { releaseCli } from "../commands/release";
import {
  CliError, durationOption, helpAsked, intOption, parseOptions, projectRoot, readStackFile, readStackHost, runMain, runOnHost, scriptPath, StackHost, stackOption, whoAmI,
} from "./stackHost";

export const USAGE = `Usage: npm run rollback -- --stack STACK [--to N] [--list] [--wait DURATION] [--policy-pack DIR | --no-policy-pack]
  Puts release N (default: the previous good release) back, image and config, through \`pulumi up\`.
  --list            the kept releases, newest first, the live one marked *
  --to N            the release to go back (or forward) to
  --wait DURATION   wait that long (90s, 10m, 1h) for a rollback or manual lock held by someone else
  --policy-pack DIR the policy pack pulumi up runs (relative to the project; default policy/ when it exists),
                    with DIR/config/STACK.json as its config when that exists
  --no-policy-pack  run pulumi up without a policy pack
Exit codes: 0 done (commit Pulumi.<STACK>.yaml); 2 bad arguments; 75 locked; 76 an image is gone from the host;
  77 no such release or nothing to roll back to; 78 the release's record is unusable; 255 ssh failed;
  otherwise pulumi up's exit code.`;

export interface RollbackArgs {
  stack: string;
  to?: number;
  list: boolean;
  waitSeconds?: number;
  /** --policy-pack DIR as given. */
  policyPack?: string;
  /** --no-policy-pack. */
  noPolicyPack?: true;
}

export function parseArgs(argv: string[]): RollbackArgs {
  const p = parseOptions(argv, { "--stack": "value", "--to": "value", "--list": "switch", "--wait": "value", "--policy-pack": "value", "--no-policy-pack": "switch" }, USAGE);
  const out: RollbackArgs = { stack: stackOption(p), list: p.switches.has("--list") };
  const to = intOption(p, "--to", 1, 999999);
  if (to !== undefined) out.to = to;
  const wait = durationOption(p, "--wait");
  if (wait !== undefined) out.waitSeconds = wait;
  if (out.list && (out.to !== undefined || out.waitSeconds !== undefined)) throw new CliError("--list only lists: it takes no --to or --wait", 2);
  const pack = p.values.get("--policy-pack");
  if (pack !== undefined && p.switches.has("--no-policy-pack")) throw new CliError("give --policy-pack or --no-policy-pack, not both", 2);
  if (pack !== undefined) out.policyPack = pack;
  if (p.switches.has("--no-policy-pack")) out.noPolicyPack = true;
  return out;
}

// ---- the records ----

export interface RecordedImage {
  swarm: string;
  image: string;
  release: string;
  migration: boolean;
}

/** A release record as `list --json` gives it (no config, no spec). */
export interface ReleaseSummary {
  seq: number;
  status: "ok" | "failed";
  kind: string;
  at: string;
  who: string;
  commit: string;
  key: string;
  rollbackOf: number | null;
  services: Record<string, RecordedImage>;
  migrated: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** One record read defensively: a record the store wrote, or a CliError 78 naming what is wrong. */
export function summaryOf(v: unknown): ReleaseSummary {
  if (!isObj(v) || typeof v.seq !== "number" || (v.status !== "ok" && v.status !== "failed")) throw new CliError(`a release record is not one railyard wrote: ${JSON.stringify(v).slice(0, 200)}`, 78);
  const services: Record<string, RecordedImage> = {};
  for (const [name, s] of Object.entries(isObj(v.services) ? v.services : {})) {
    if (!isObj(s)) continue;
    services[name] = { swarm: String(s.swarm ?? ""), image: String(s.image ?? ""), release: String(s.release ?? ""), migration: s.migration === true };
  }
  return {
    seq: v.seq,
    status: v.status,
    kind: String(v.kind ?? "deploy"),
    at: String(v.at ?? ""),
    who: String(v.who ?? ""),
    commit: String(v.commit ?? ""),
    key: String(v.key ?? ""),
    rollbackOf: typeof v.rollbackOf === "number" ? v.rollbackOf : null,
    services,
    migrated: Array.isArray(v.migrated) ? v.migrated.map(String) : [],
  };
}

/**
 * The previous good release of live L: R = L.rollbackOf when L is a rollback, else L's own number; the newest ok
 * record numbered below R whose key differs from L's (so repeated rollbacks walk further back).
 */
export function previousGood(records: ReleaseSummary[], live: ReleaseSummary): ReleaseSummary | undefined {
  const r = live.kind !== "deploy" && live.rollbackOf !== null ? live.rollbackOf : live.seq;
  return records.filter((x) => x.status === "ok" && x.seq < r && x.key !== live.key).sort((a, b) => b.seq - a.seq)[0];
}

/** The release to go to: --to N, or the previous good release of the live one. A CliError 77 when there is none. */
export function pickTarget(records: ReleaseSummary[], liveSeq: number | undefined, to?: number): ReleaseSummary {
  const live = records.find((r) => r.seq === liveSeq);
  if (to !== undefined) {
    const t = records.find((r) => r.seq === to);
    if (!t) throw new CliError(`release ${to} is not kept on the host (--list shows the kept ones)`, 77);
    if (t.status !== "ok") throw new CliError(`release ${to} failed: only a release that passed its gates can be brought back (--list)`, 77);
    if (to === liveSeq) throw new CliError(`release ${to} is already live`, 77);
    return t;
  }
  if (!live) throw new CliError(liveSeq === undefined ? "no release is live yet: nothing to roll back to" : `the live release ${liveSeq} is not kept: name one with --to N (--list)`, 77);
  const t = previousGood(records, live);
  if (!t) throw new CliError(`no release before the live one (${live.seq}) differs from it: nothing to roll back to (--list)`, 77);
  return t;
}

/** The kept ok releases between the target and the live one that ran a migration (a rollback does not undo them). */
export function migrationsBetween(records: ReleaseSummary[], target: number, live: number | undefined): { seq: number; services: string[] }[] {
  if (live === undefined || target >= live) return [];
  return records
    .filter((r) => r.status === "ok" && r.seq > target && r.seq <= live && r.migrated.length > 0)
    .sort((a, b) => a.seq - b.seq)
    .map((r) => ({ seq: r.seq, services: r.migrated }));
}

export function migrationWarning(stack: string, target: number, between: { seq: number; services: string[] }[]): string | undefined {
  if (between.length === 0) return undefined;
  const list = between.map((m) => `release ${m.seq} (${m.services.join(", ")})`).join(", ");
  return [
    `rollback: migrations ran after release ${target}: ${list}.`,
    `  A rollback runs no migration, neither these backwards nor release ${target}'s own: release ${target}'s images meet the`,
    `  newer schema. If the schema must go back`,
    `  too, restore the pre-deploy backup taken before the first of them (README: Rolling back the schema;`,
    `  npm run restore -- --stack ${stack} --database <name> --list).`,
  ].join("\n");
}

/** The kept releases newest first, the live one marked * (as seed 001's `make list`), and the default target. */
export function formatReleases(records: ReleaseSummary[], liveSeq: number | undefined): string {
  const sorted = [...records].sort((a, b) => b.seq - a.seq);
  if (sorted.length === 0) return "no release recorded yet";
  const rows = [`  ${"SEQ".padEnd(6)} ${"STATUS".padEnd(6)} ${"KIND".padEnd(16)} ${"TIME".padEnd(20)} ${"WHO".padEnd(16)} ${"COMMIT".padEnd(12)} IMAGES`];
  for (const r of sorted) {
    const kind = r.rollbackOf !== null ? `${r.kind} to ${r.rollbackOf}` : r.kind;
    const images = Object.entries(r.services).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, s]) => `${n}=${s.image}`).join(" ");
    rows.push(`${r.seq === liveSeq ? "*" : " "} ${String(r.seq).padEnd(6)} ${r.status.padEnd(6)} ${kind.padEnd(16)} ${r.at.padEnd(20)} ${r.who.padEnd(16)} ${(r.commit.slice(0, 12) || "-").padEnd(12)} ${images}`);
  }
  const live = sorted.find((r) => r.seq === liveSeq);
  if (!live) {
    rows.push("no release is live");
    return rows.join("\n");
  }
  const target = previousGood(sorted, live);
  rows.push(`* live: release ${live.seq}; npm run rollback without --to goes to ${target ? `release ${target.seq}` : "none (nothing to roll back to)"}`);
  return rows.join("\n");
}

// ---- the stack file ----

/**
 * Pulumi.<stack>.yaml with its `config:` map replaced by the one release `seq` was deployed with (`recorded`: that
 * stack file's text): everything else in the current file (comments, other keys such as encryptionsalt) is kept;
 * a service built from a context is pinned to the image its tasks ran (`images`), so the rollback builds nothing.
 */
export function rewriteStackFile(current: string, recorded: string, images: Record<string, string>, seq: number): string {
  const doc = parseDocument(current);
  if (doc.errors.length > 0) throw new CliError(`the current stack file is not valid YAML: ${doc.errors[0].message}`, 2);
  const rec = parseDocument(recorded);
  const config = rec.errors.length > 0 ? undefined : rec.get("config", true);
  if (!isMap(config)) throw new CliError(`release ${seq}'s recorded stack file has no config map: it cannot be restored`, 78);
  const services = config.get("railyard:services", true);
  if (isMap(services)) {
    for (const pair of services.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : "";
      const svc = pair.value;
      if (!isMap(svc)) continue;
      const at = svc.items.findIndex((p) => isScalar(p.key) && p.key.value === "build");
      if (at < 0) continue;
      const image = images[name];
      if (!image) throw new CliError(`release ${seq} records no image for the built service ${name}: it cannot be restored without a build`, 78);
      const pinned = rec.createPair("image", image);
      const old = svc.items[at];
      if (isScalar(old.key) && isScalar(pinned.key)) pinned.key.commentBefore = old.key.commentBefore;
      svc.items[at] = pinned;
    }
  }
  if (!isMap(doc.contents)) throw new CliError("the current stack file is not a YAML map", 2);
  // set keeps the `config` key (and the comments before it) and replaces only its value.
  doc.set("config", config);
  return doc.toString();
}

// ---- running ----

/** The policy pack `pulumi up` runs: its folder and, when it has one for the stack, its config file. */
export interface PolicyPack {
  dir: string;
  config?: string;
}

/**
 * The policy pack of a rollback of `stack`: --policy-pack DIR (relative to `root`; refused, 2, when it holds no
 * PulumiPolicy.yaml), else `root`/policy when it is one, else none; none with --no-policy-pack.
 */
export function policyPackFor(cli: Pick<RollbackArgs, "stack" | "policyPack" | "noPolicyPack">, root: string): PolicyPack | undefined {
  if (cli.noPolicyPack) return undefined;
  const dir = path.resolve(root, cli.policyPack ?? "policy");
  if (!fs.existsSync(path.join(dir, "PulumiPolicy.yaml"))) {
    if (cli.policyPack === undefined) return undefined;
    throw new CliError(`--policy-pack ${JSON.stringify(cli.policyPack)} is not a policy pack (no PulumiPolicy.yaml in ${dir})`, 2);
  }
  const config = path.join(dir, "config", `${cli.stack}.json`);
  return fs.existsSync(config) ? { dir, config } : { dir };
}

/** `pulumi up` of the stack (injectable: the engine test stands its bed in for it); resolves to its exit code. */
export type Up = (stack: string, env: Record<string, string>, argv: string[]) => Promise<number>;

export function upArgv(stack: string, policy?: PolicyPack): string[] {
  return [
    "pulumi", "up", "--stack", stack, "--yes", "--skip-preview",
    ...(policy ? ["--policy-pack", policy.dir, ...(policy.config ? ["--policy-pack-config", policy.config] : [])] : []),
  ];
}

export function defaultUp(root: string): Up {
  return (_stack, env, argv) =>
    new Promise((resolve) => {
      const child = spawn(argv[0], argv.slice(1), { cwd: root, stdio: "inherit", env: { ...process.env, RAILYARD_PROJECT_DIR: root, ...env } });
      child.on("error", (e) => {
        console.error(`rollback: pulumi could not start: ${e.message}`);
        resolve(127);
      });
      child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
}

/** The environment of the rollback's `pulumi up`: what the program's release context reads. */
export function upEnv(target: number, token: string, who: string | undefined): Record<string, string> {
  return {
    RAILYARD_RELEASE_KIND: "rollback",
    RAILYARD_ROLLBACK_OF: String(target),
    RAILYARD_LOCK_TOKEN: token,
    ...(who ? { RAILYARD_WHO: who } : {}),
  };
}

/** The release store on the stack's host: one subcommand, its stdout kept, its stderr shown. */
async function store(h: StackHost, args: string[]): Promise<{ code: number; stdout: string }> {
  return runOnHost(h.host, releaseCli(scriptPath(h, "railyard-release.sh"), h.stackDir, h.prefix, args), { capture: true });
}

async function storeJson(h: StackHost, args: string[]): Promise<unknown> {
  const r = await store(h, args);
  if (r.code !== 0) throw new CliError(`the host's release store failed (${args.join(" ")}, exit ${r.code})`, r.code);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new CliError(`the host's release store answered ${args.join(" ")} with no JSON`, 78);
  }
}

/** The live release's number, or undefined when none is (exit 77 of `live`). */
async function liveSeq(h: StackHost): Promise<number | undefined> {
  const r = await store(h, ["live"]);
  if (r.code === 77) return undefined;
  if (r.code !== 0 || !/^[0-9]+$/.test(r.stdout.trim())) throw new CliError(`the host's release store failed (live, exit ${r.code})`, r.code || 78);
  return Number(r.stdout.trim());
}

export interface Deps {
  up?: Up;
}

/** The command: `root` holds the stack files (this checkout). */
export async function main(argv: string[], root = projectRoot(), deps: Deps = {}): Promise<number> {
  if (helpAsked(argv, USAGE)) return 0;
  const cli = parseArgs(argv);
  const h = readStackHost(cli.stack, root);
  const listed = await storeJson(h, ["list", "--json"]);
  const records = (Array.isArray(listed) ? listed : []).map(summaryOf);
  const live = await liveSeq(h);
  if (cli.list) {
    console.log(formatReleases(records, live));
    return 0;
  }
  const target = pickTarget(records, live, cli.to);
  const policy = policyPackFor(cli, root);
  // Refusals first, before anything changes: an image gone (76), a record without its stack file (78).
  const images = await store(h, ["check-images", String(target.seq)]);
  if (images.code !== 0) return images.code;
  const full = await storeJson(h, ["show", String(target.seq)]);
  const config = isObj(full) && typeof full.config === "string" ? full.config : null;
  if (config === null) {
    throw new CliError(`release ${target.seq} was recorded without its stack file (the deploy's warning said why): its config cannot be restored`, 78);
  }
  const file = readStackFile(cli.stack, root);
  const pinned = Object.fromEntries(Object.entries(target.services).map(([n, s]) => [n, s.image]));
  const rewritten = rewriteStackFile(file.text, config, pinned, target.seq);
  const warning = migrationWarning(cli.stack, target.seq, migrationsBetween(records, target.seq, live));
  if (warning) console.error(warning);

  const token = crypto.randomBytes(16).toString("hex");
  const who = whoAmI(root);
  const lock = await store(h, [
    "lock", "acquire", "--who", who, "--kind", "rollback", "--message", `rollback of ${cli.stack} to release ${target.seq}`, "--token", token,
    ...(cli.waitSeconds !== undefined ? ["--wait", String(cli.waitSeconds)] : []),
  ]);
  if (lock.code !== 0) return lock.code;
  let code: number;
  // Ctrl-C reaches `pulumi up` (same process group), which stops cleanly; this process waits for it and then
  // releases the lock.
  // A closed terminal (SIGHUP) or a kill (SIGTERM) waits the same way: the lock is released, then this exits.
  const ignore = () => undefined;
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGHUP", "SIGTERM"];
  for (const s of signals) process.on(s, ignore);
  try {
    fs.writeFileSync(`${file.file}.before-rollback`, file.text);
    fs.writeFileSync(file.file, rewritten);
    console.error(`rollback: ${cli.stack} to release ${target.seq} (${target.at}, ${target.who}); Pulumi.${cli.stack}.yaml is release ${target.seq}'s now, the previous one is Pulumi.${cli.stack}.yaml.before-rollback`);
    code = await (deps.up ?? defaultUp(root))(cli.stack, upEnv(target.seq, token, process.env.RAILYARD_WHO), upArgv(cli.stack, policy));
  } finally {
    for (const s of signals) process.off(s, ignore);
    const released = await store(h, ["lock", "release", "--token", token]);
    if (released.code !== 0) console.error(`rollback: the host lock could not be released (exit ${released.code}): npm run lock -- --stack ${cli.stack} --status`);
  }
  if (code !== 0) {
    console.error(`rollback: pulumi up failed (exit ${code}). Pulumi.${cli.stack}.yaml holds release ${target.seq}'s config; run the rollback again, or put the previous file back: mv Pulumi.${cli.stack}.yaml.before-rollback Pulumi.${cli.stack}.yaml`);
    return code;
  }
  console.log(`rollback: ${cli.stack} runs release ${target.seq}'s images and config. Commit the stack file: git commit -m "Roll ${cli.stack} back to release ${target.seq}" Pulumi.${cli.stack}.yaml`);
  return 0;
}

if (require.main === module) runMain("rollback", () => main(process.argv.slice(2)));
