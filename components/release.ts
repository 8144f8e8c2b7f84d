/**
 * Release: the record of a `pulumi up` on the host (host/railyard-release.sh). `begin` takes the stack's host lock
 * before any migration or gate runs; once every gate passed, `record` writes the release (who, commit, each
 * service's image, release and gate, the stack file as deployed), makes it live, appends the audit line, keeps its
 * images from pruning and posts the webhook. Both re-run only when the release's content key changes: a sha256 of
 * every service's image and release and the stack file. Two phases, because the key needs the services and their
 * migrations and gates need `begin`: construct it first, give `begin` to them, then call `complete()` once.
 *
 * Day two: the previous run's `release` output is read back through a StackReference to this very stack; when its
 * key is this run's, its context (who, commit, kind…) is reused, so an unchanged stack plans nothing, whoever runs it.
 */
import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { GateArgs, gateArgv } from "../commands/gate";
import { beginCommand, RecordedService, recordCommand } from "../commands/release";
import { removeSecretFileCommand, writeSecretFileCommand } from "../commands/secretFile";
import { requireToolsCommand } from "../commands/tools";
import type { ReleaseContext } from "../config/releaseContext";
import type { Host } from "./host";

/** What the host's release store needs beside Docker: jq for the records, curl for the webhook. */
const TOOLS = [
  { program: "jq", debianPackage: "jq" },
  { program: "curl", debianPackage: "curl" },
];

export interface ReleaseArgs {
  host: Host;
  /** The stack's prefix (its folder on the host, `<dataDir>/<stack>`). */
  stack: string;
  /** Records kept on the host (railyard:deploy.releasesKept); the live one and its rollback target always are. @default 10 */
  keep?: number;
  /** The stack file as deployed (config/stackFile.ts), or null when it is not what this run deployed. */
  stackFile: string | null;
  /** Who releases, which commit, deploy or rollback (config/releaseContext.ts). */
  context: ReleaseContext;
  /**
   * The deploy webhook's URL (a secret, railyard:deploy.webhookSecret): written to
   * `<stackDir>/hooks/deploy-webhook.url` (the SSH user's, folder 0700, file 0600: not under secrets/, which the
   * backups make root's), and told of each release and failure. @default none
   */
  webhook?: pulumi.Input<string>;
}

/** One service of the release, as complete() takes it. */
export interface ReleasedService {
  /** Swarm service name. */
  swarm: string;
  /** The image reference the tasks run. */
  image: pulumi.Input<string>;
  /** RAILYARD_RELEASE of the declared task template. */
  release: pulumi.Input<string>;
  /** Whether it has a preDeployCommand. */
  migration: boolean;
  /** Its health gate's arguments (HealthGate.args). */
  gate: pulumi.Input<GateArgs>;
}

/** The `release` stack output: no secret in it. */
export interface ReleaseSummary {
  /** The record's number on the host, and its time (null until a record ran, e.g. under mocks). */
  seq: number | null;
  at: string | null;
  key: string;
  who: string;
  commit: string;
  kind: ReleaseContext["kind"];
  rollbackOf: number | null;
  lockToken: string | null;
  waitSeconds: number | null;
  /** Service → image. */
  images: Record<string, string>;
}

interface Planned {
  key: string;
  services: Record<string, RecordedService>;
}

export class Release extends pulumi.ComponentResource {
  /** Takes the host lock: every pre-deploy dump, migration job, service update and gate waits for it. */
  readonly begin: pulumi.CustomResource;
  /** The `release` stack output (resolved once complete() ran). */
  readonly summary: pulumi.Output<ReleaseSummary>;
  private readonly args: ReleaseArgs;
  private readonly name: string;
  private readonly planned: pulumi.Output<Planned>;
  private readonly context: pulumi.Output<ReleaseContext>;
  private resolvePlanned?: (p: pulumi.Output<Planned>) => void;
  private resolveRecord?: (r: pulumi.Output<string>) => void;

  constructor(name: string, args: ReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:Release", name, {}, opts);
    this.args = args;
    this.name = name;
    this.planned = pulumi.output(new Promise<pulumi.Output<Planned>>((resolve) => (this.resolvePlanned = resolve)));
    this.context = contextOf(this.planned.key, previousSummary(name, this), args.context);
    const ready = [toolsCheck(name, this, args.host), ...webhookFile(name, this, args.host, args.webhook)];
    this.begin = args.host.run(
      `${name}-begin`,
      { create: beginLine(args, this.planned.key, this.context), triggers: [this.planned.key] },
      { parent: this, dependsOn: [...args.host.scriptsReady, ...ready] },
    );
    const stdout = pulumi.output(new Promise<pulumi.Output<string>>((resolve) => (this.resolveRecord = resolve)));
    this.summary = pulumi.all([this.planned, this.context, stdout]).apply(([p, c, out]) => summaryOf(p, c, out));
    this.registerOutputs({ summary: this.summary });
  }

  /** Gives the release its services; `record` runs after `after` (the gates). Call once, after the services exist. */
  complete(done: { services: Record<string, ReleasedService>; after: pulumi.Resource[] }): void {
    if (!this.resolvePlanned || !this.resolveRecord) throw new Error(`railyard: release ${this.name} was completed twice`);
    const planned = plan(done.services, this.args.stackFile);
    this.resolvePlanned(planned);
    const record = this.args.host.run(
      `${this.name}-record`,
      { create: recordLine(this.args, planned, this.context), triggers: [planned.key] },
      { parent: this, dependsOn: [this.begin, ...done.after] },
    );
    this.resolveRecord(stdoutOf(record));
    this.resolvePlanned = undefined;
    this.resolveRecord = undefined;
  }
}

/** The content key: sha256 of every service's image and release (in name order) and the stack file. */
export function releaseKey(services: Record<string, { image: string; release: string }>, config: string | null): string {
  const ordered = Object.fromEntries(Object.keys(services).sort().map((n) => [n, { image: services[n].image, release: services[n].release }]));
  return createHash("sha256").update(JSON.stringify({ services: ordered, config })).digest("hex");
}

function plan(services: Record<string, ReleasedService>, config: string | null): pulumi.Output<Planned> {
  const resolved = Object.entries(services).map(([name, s]) =>
    pulumi.all([s.image, s.release, s.gate]).apply(([image, release, gate]): [string, RecordedService] => [
      name,
      { swarm: s.swarm, image, release, migration: s.migration, gate: gateArgv(gate) },
    ]),
  );
  return pulumi.all(resolved).apply((entries) => {
    const recorded = Object.fromEntries(entries);
    return { key: releaseKey(recorded, config), services: recorded };
  });
}

/** The previous `pulumi up`'s `release` output, read back from this very stack's state. */
function previousSummary(name: string, parent: Release): pulumi.Output<unknown> {
  const self = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
  return new pulumi.StackReference(`${name}-previous`, { name: self }, { parent }).getOutput("release");
}

/** This run's context, or the previous run's when its key is this run's (an unchanged stack plans nothing). */
function contextOf(key: pulumi.Output<string>, previous: pulumi.Output<unknown>, current: ReleaseContext): pulumi.Output<ReleaseContext> {
  return pulumi.all([key, previous]).apply(([k, prev]) => {
    const reused = asSummary(prev);
    return reused && reused.key === k ? contextFromSummary(reused) : current;
  });
}

function contextFromSummary(s: ReleaseSummary): ReleaseContext {
  return {
    who: s.who,
    commit: s.commit,
    kind: s.kind,
    ...(s.rollbackOf === null ? {} : { rollbackOf: s.rollbackOf }),
    ...(s.lockToken === null ? {} : { lockToken: s.lockToken }),
    ...(s.waitSeconds === null ? {} : { waitSeconds: s.waitSeconds }),
  };
}

/** A previous output read back, when it has the summary's shape (anything else is not reused). */
function asSummary(v: unknown): ReleaseSummary | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const s = v as Record<string, unknown>;
  const optional = (x: unknown, type: "number" | "string") => x === null || x === undefined || typeof x === type;
  const ok =
    typeof s.key === "string" &&
    typeof s.who === "string" &&
    s.who !== "" &&
    typeof s.commit === "string" &&
    (s.kind === "deploy" || s.kind === "rollback") &&
    optional(s.rollbackOf, "number") &&
    optional(s.lockToken, "string") &&
    optional(s.waitSeconds, "number");
  if (!ok) return undefined;
  return {
    seq: typeof s.seq === "number" ? s.seq : null,
    at: typeof s.at === "string" ? s.at : null,
    key: s.key as string,
    who: s.who as string,
    commit: s.commit as string,
    kind: s.kind as ReleaseContext["kind"],
    rollbackOf: typeof s.rollbackOf === "number" ? s.rollbackOf : null,
    lockToken: typeof s.lockToken === "string" ? s.lockToken : null,
    waitSeconds: typeof s.waitSeconds === "number" ? s.waitSeconds : null,
    images: {},
  };
}

/** What the lock's holder shows to whoever meets it. */
function lockMessage(c: ReleaseContext): string {
  if (c.kind === "rollback") return `pulumi up: rollback to release ${c.rollbackOf ?? "?"}`;
  return c.commit ? `pulumi up: deploy of ${c.commit.slice(0, 12)}` : "pulumi up: deploy";
}

function toolsCheck(name: string, parent: Release, host: Host): pulumi.CustomResource {
  return host.run(`${name}-tools`, { create: requireToolsCommand("release records", TOOLS), triggers: [] }, { parent, dependsOn: [host.ready] });
}

/** The webhook's URL as the SSH user's own file (the release script posts as that user); none without a webhook. */
function webhookFile(name: string, parent: Release, host: Host, url: pulumi.Input<string> | undefined): pulumi.CustomResource[] {
  if (url === undefined) return [];
  const file = `${host.stackDir}/hooks/deploy-webhook.url`;
  const owner = { owner: "ssh-user" as const };
  return [
    host.run(
      `${name}-webhook`,
      { create: writeSecretFileCommand(file, owner), stdin: pulumi.output(url).apply((u) => `${u}\n`), triggers: [file], delete: removeSecretFileCommand(file, owner) },
      { parent, dependsOn: [host.ready] },
    ),
  ];
}

/** begin's line: the lock for this release's key, with who runs it. */
function beginLine(args: ReleaseArgs, key: pulumi.Output<string>, context: pulumi.Output<ReleaseContext>): pulumi.Output<string> {
  return pulumi.all([key, context]).apply(([token, c]) =>
    beginCommand(args.host.scriptPath("railyard-release.sh"), { stackDir: args.host.stackDir, stack: args.stack, token, ...c, message: lockMessage(c) }),
  );
}

/** record's line: the services, the stack file and who ran it (no lock token or wait: record holds the key's lock). */
function recordLine(args: ReleaseArgs, planned: pulumi.Output<Planned>, context: pulumi.Output<ReleaseContext>): pulumi.Output<string> {
  return pulumi.all([planned, context]).apply(([p, c]) =>
    recordCommand(args.host.scriptPath("railyard-release.sh"), {
      stackDir: args.host.stackDir,
      stack: args.stack,
      token: p.key,
      who: c.who,
      commit: c.commit,
      kind: c.kind,
      ...(c.rollbackOf === undefined ? {} : { rollbackOf: c.rollbackOf }),
      keep: args.keep ?? 10,
      services: p.services,
      config: args.stackFile,
    }),
  );
}

function stdoutOf(r: pulumi.CustomResource): pulumi.Output<string> {
  if (r instanceof command.local.Command || r instanceof command.remote.Command) return r.stdout;
  throw new Error("railyard: a host command without stdout");
}

/** The summary: the record's number and time from its stdout ({"seq":N,"at":"…"}, the last line), and the context. */
function summaryOf(p: Planned, c: ReleaseContext, stdout: string | undefined): ReleaseSummary {
  const line = (stdout ?? "").trim().split("\n").pop() ?? "";
  let seq: number | null = null;
  let at: string | null = null;
  try {
    const parsed = JSON.parse(line) as { seq?: unknown; at?: unknown };
    if (typeof parsed.seq === "number") seq = parsed.seq;
    if (typeof parsed.at === "string") at = parsed.at;
  } catch {
    // No record ran (mocks), or it printed no summary: seq and at stay null.
  }
  return {
    seq,
    at,
    key: p.key,
    who: c.who,
    commit: c.commit,
    kind: c.kind,
    rollbackOf: c.rollbackOf ?? null,
    lockToken: c.lockToken ?? null,
    waitSeconds: c.waitSeconds ?? null,
    images: Object.fromEntries(Object.entries(p.services).map(([n, s]) => [n, s.image])),
  };
}
