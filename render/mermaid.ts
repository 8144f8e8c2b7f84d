/**
 * A picture of a checked stack as a Mermaid flowchart: the public side (DNS, domains, redirects), the edge (the
 * HAProxy front on the host's ports, Caddy behind it), each route to its service, the services, the databases,
 * the references between them (from the env plan), the pre-deploy backup, the scheduled backups with their bucket
 * and drill, the private registry, and the host — with railyard:nodes, the swarm instead: each machine (role,
 * labels, the databases placed on it) and, on the edge and each service, the machines it may run on. Pure text
 * from the StackConfig the program itself builds: everything is sorted, so the same stack file always gives the
 * same text (the README's figures are compared with it).
 *
 * Every label is quoted and escaped with Mermaid's entity codes (image references carry `@ : /`, commands carry
 * anything), and every node id is derived from a name by an injective escape behind a kind prefix, so no name can
 * end a statement, open a comment or directive, or become a keyword such as `end`. Secret values are never read.
 */
import type { StackConfig } from "../config/load";
import { parseTemplate } from "../config/references";
import { registryFor } from "../config/registry";
import { MAIN_NODE, NodeConfig, NodeLabel } from "../config/nodes";
import type { DatabaseConfig, ServiceConfig } from "../config/schema";
import { PLUGINS } from "../databases";

/** Characters Mermaid would read as syntax or markup inside a quoted label, as its entity codes. */
const ENTITIES: Record<string, string> = {
  "#": "#35;",
  '"': "#quot;",
  "&": "#amp;",
  "<": "#lt;",
  ">": "#gt;",
  "`": "#96;",
  "%": "#37;",
  "|": "#124;",
  "\\": "#92;",
  // KaTeX: a label holding $$…$$ would be typeset as math.
  $: "#36;",
  // Mermaid's own stand-ins for entity codes (ﬂ° … ¶ß) between its parser and its renderer.
  "\uFB02": "#64258;",
  "\u00B6": "#182;",
};

/**
 * Mermaid strips the last `;` of any line where "style" or "classDef" comes before `:<non-space>#` (its style
 * statements' colours), which would cut an entity code short: those words never appear literally.
 */
const STYLE_WORDS = /style|classDef/g;

/** One line of label text, quoted: Mermaid's syntax characters as entity codes, control characters as spaces. */
export function label(...lines: string[]): string {
  return `"${lines.map(escapeLine).join("<br>")}"`;
}

function escapeLine(line: string): string {
  return line
    .replace(/[#"&<>`%|\\$\uFB02\u00B6]|[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => ENTITIES[c] ?? " ")
    .replace(STYLE_WORDS, (w) => `#${w.charCodeAt(0)};${w.slice(1)}`);
}

/**
 * A node id for a name: the kind, "_", then the name with every character other than a-z and 0-9 written as
 * `_<hex>_` (so `api.example.com` is `dom_api_2e_example_2e_com`), and the "e" of "style" too (see STYLE_WORDS).
 * Injective (each id decodes back to its name), and never a Mermaid keyword.
 */
export function nodeId(kind: string, name: string): string {
  const escaped = [...name].map((c) => (/[a-z0-9]/.test(c) ? c : `_${c.codePointAt(0)?.toString(16)}_`)).join("");
  return `${kind}_${escaped.replace(/style/g, "styl_65_")}`;
}

/** An image reference as a label shows it: a digest cut to 12 hex digits (`repo@sha256:333333333333…`). */
export function shortImage(image: string): string {
  return image.replace(/@sha256:([0-9a-f]{12})[0-9a-f]{52}$/, "@sha256:$1…");
}

function imageOf(service: ServiceConfig): string {
  if (service.image !== undefined) return shortImage(service.image);
  const b = service.build;
  if (b === undefined) return "no image";
  const extra = [b.dockerfile && `Dockerfile ${b.dockerfile}`, b.target && `target ${b.target}`].filter(Boolean).join(", ");
  return `built from ${b.context}${extra ? ` (${extra})` : ""}`;
}

function databaseImage(db: DatabaseConfig): string {
  return shortImage(db.image ?? PLUGINS[db.engine].defaultImage);
}

const sorted = (names: Iterable<string>) => [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
/** The stack declares railyard:nodes: it is drawn as a swarm of machines. */
const multiNode = (c: StackConfig) => Object.keys(c.nodes).length > 0;
const databasesOn = (c: StackConfig, node: string) => sorted(Object.keys(c.databases)).filter((n) => c.databases[n].node === node);
const SVC = "svc";
const DB = "db";
const DOMAIN = "dom";
const NODE = "node";

/** Lines of the diagram, indented under `flowchart LR`. */
class Lines {
  readonly out: string[] = [];
  add(depth: number, line: string): void {
    this.out.push(`${"  ".repeat(depth)}${line}`);
  }
}

function publicSide(c: StackConfig, l: Lines): void {
  const plan = c.edge;
  if (plan === undefined) return;
  const cf = plan.settings.cloudflare;
  const dns =
    cf && plan.dnsTarget !== undefined
      ? `Cloudflare DNS, ${plan.tls === "cloudflare" ? "proxied" : "DNS only"}: zone ${cf.zone} → ${plan.dnsTarget}`
      : `DNS outside railyard: point each domain at ${multiNode(c) ? "an edge node" : "the host"}`;
  l.add(1, `subgraph public[${label(dns)}]`);
  for (const host of plan.hostnames) l.add(2, `${nodeId(DOMAIN, host)}[${label(host)}]`);
  l.add(1, "end");
  for (const r of plan.redirects) l.add(1, `${nodeId(DOMAIN, r.from)} -.->|${label("permanent redirect")}| ${nodeId(DOMAIN, r.to)}`);
  const s = plan.settings;
  const ports = plan.tls === "off" ? `HTTP :${s.httpPort}` : `HTTPS :${s.httpsPort}, HTTP :${s.httpPort} (redirects to HTTPS)`;
  l.add(1, `public -->|${label(ports)}| front`);
}

const TLS: Record<NonNullable<StackConfig["edge"]>["tls"], string> = {
  cloudflare: "TLS: Cloudflare origin certificate (strict)",
  acme: "TLS: Caddy's ACME certificates",
  internal: "TLS: Caddy's internal CA",
  off: "plain HTTP",
};

function edgeNodes(c: StackConfig, l: Lines): void {
  const plan = c.edge;
  if (plan === undefined) return;
  const s = plan.settings;
  const ports = plan.tls === "off" ? [s.httpPort] : [s.httpPort, s.httpsPort];
  const on = runsOn(c, "edge");
  l.add(2, `front[${label(`${c.names.edge.front}: HAProxy, TCP`, shortImage(s.frontImage), `host ports ${ports.join(", ")}`, ...on)}]`);
  l.add(2, `edge[${label(`${c.names.edge.caddy}: Caddy ×${s.replicas}`, shortImage(s.image), TLS[plan.tls], ...on)}]`);
  l.add(2, "front --> edge");
}

function routes(c: StackConfig, l: Lines): void {
  for (const r of c.edge?.routes ?? []) {
    const prefix = r.path === "/" ? "" : ` (prefix ${r.stripPath ? "stripped" : "kept"})`;
    l.add(2, `edge -->|${label(`${r.domain}${r.path === "/" ? "" : r.path}${prefix}`)}| ${nodeId(SVC, r.service)}`);
  }
}

function serviceNode(c: StackConfig, name: string, service: ServiceConfig): string {
  const lines = [`${name}: ${service.kind} ×${service.replicas}`, imageOf(service)];
  const health = service.healthcheck?.path !== undefined ? `health ${service.healthcheck.path}` : service.healthcheck?.command !== undefined ? "health command" : undefined;
  const port = service.port === undefined ? undefined : `port ${service.port}`;
  if (port || health) lines.push([port, health].filter(Boolean).join(" · "));
  if (service.preDeployCommand !== undefined) {
    const pauses = service.pauseDuringMigration.length > 0 ? ` (pauses ${sorted(service.pauseDuringMigration).join(", ")})` : "";
    lines.push(`pre-deploy${multiNode(c) ? " on the main host" : ""}: ${service.preDeployCommand}${pauses}`);
  }
  lines.push(...runsOn(c, "app"));
  const id = nodeId(SVC, name);
  // A web service is a box, a worker a subroutine, a scheduler (one task at most) a stadium.
  return service.kind === "web" ? `${id}[${label(...lines)}]` : service.kind === "worker" ? `${id}[[${label(...lines)}]]` : `${id}([${label(...lines)}])`;
}

function databaseNode(c: StackConfig, name: string, db: DatabaseConfig): string {
  return `${nodeId(DB, name)}[(${label(`${name}: ${db.engine}`, databaseImage(db), `volume ${c.names.databases[name].volume}`)})]`;
}

/**
 * Where tasks with a placement label may run, as a label line: the main host and each node carrying `label` and not
 * drained. Nothing for a single-node stack (it places nothing).
 */
function runsOn(c: StackConfig, nodeLabel: NodeLabel): string[] {
  if (!multiNode(c)) return [];
  const main = c.host.labels.includes(nodeLabel) ? [MAIN_NODE] : [];
  const others = sorted(Object.keys(c.nodes)).filter((n) => c.nodes[n].labels.includes(nodeLabel) && !c.nodes[n].drain);
  return [`on nodes: ${[...main, ...others].join(", ")}`];
}

/** `user@address:port`, an IPv6 address in brackets. */
const sshAddress = (user: string | undefined, address: string | undefined, port: number | undefined) =>
  `${user}@${address?.includes(":") ? `[${address}]` : address}:${port}`;

/**
 * Each machine of a multi-node stack inside the swarm's box, the main host first: role, labels, SSH address; a
 * machine holding databases is a subgraph around them. Drawn before anything points at those databases, so Mermaid
 * keeps each one in its machine's subgraph.
 */
function machines(c: StackConfig, l: Lines): void {
  const main = c.host.mode === "ssh" ? sshAddress(c.host.user, c.host.address, c.host.port) : "this machine's Docker engine";
  const all: [string, string[]][] = [
    [MAIN_NODE, [`main host ${main}: manager`, `labels ${sorted(c.host.labels).join(", ") || "none"}`]],
    ...sorted(Object.keys(c.nodes)).map((name): [string, string[]] => {
      const n: NodeConfig = c.nodes[name];
      return [name, [`node ${name}: ${n.role}${n.drain ? ", drained" : ""}`, `labels ${sorted(n.labels).join(", ") || "none"}`, sshAddress(n.user, n.address, n.port)]];
    }),
  ];
  for (const [name, lines] of all) {
    const held = databasesOn(c, name);
    if (held.length === 0) {
      l.add(2, `${nodeId(NODE, name)}[${label(...lines)}]`);
      continue;
    }
    l.add(2, `subgraph ${nodeId(NODE, name)}[${label(...lines)}]`);
    for (const db of held) l.add(3, databaseNode(c, db, c.databases[db]));
    l.add(2, "end");
  }
  const how = `joined, overlay ${c.network}${c.encryptNetwork ? " encrypted" : ""}`;
  for (const name of sorted(Object.keys(c.nodes))) l.add(2, `${nodeId(NODE, MAIN_NODE)} ---|${label(how)}| ${nodeId(NODE, name)}`);
}

/** For each service, the variables that read each database and each other service: `DATABASE_URL` → postgres. */
function references(c: StackConfig, l: Lines): void {
  for (const name of sorted(Object.keys(c.services))) {
    const plan = c.env[name];
    const reads = new Map<string, Set<string>>();
    const note = (target: string, variable: string) => reads.set(target, new Set([...(reads.get(target) ?? []), variable]));
    for (const [variable, v] of Object.entries(plan.vars)) {
      for (const part of v.parts) if (part.kind === "database") note(nodeId(DB, part.database), variable);
      for (const part of parseTemplate(c.services[name].env[variable] ?? "").parts) {
        if (part.kind === "ref" && part.target !== "secrets" && Object.hasOwn(c.services, part.target)) note(nodeId(SVC, part.target), variable);
      }
    }
    for (const target of sorted(reads.keys())) {
      l.add(2, `${nodeId(SVC, name)} -->|${label(sorted(reads.get(target) ?? []).join(", "))}| ${target}`);
    }
  }
}

function preDeployBackup(c: StackConfig, l: Lines): void {
  if (!c.deploy.preDeployBackup || Object.keys(c.databases).length === 0) return;
  const toBucket = c.backups?.preDeployToBucket ? sorted(c.backups.databases) : [];
  const where = `keeps ${c.deploy.backupRetention} per database on the ${multiNode(c) ? "main " : ""}host${toBucket.length > 0 ? ", copies to the bucket" : ""}`;
  l.add(2, `predeploy{{${label("pre-deploy backup: every database dumped", "before each release's migrations", where)}}}`);
  for (const db of sorted(Object.keys(c.databases))) l.add(2, `${nodeId(DB, db)} -.-> predeploy`);
}

function backups(c: StackConfig, l: Lines): void {
  const b = c.backups;
  if (b === undefined) return;
  l.add(2, `backups{{${label("scheduled dumps, streamed", ...b.calendars.map((cal) => `OnCalendar ${cal}`))}}}`);
  for (const db of sorted(b.databases)) l.add(2, `${nodeId(DB, db)} -.-> backups`);
  if (b.drill !== undefined) {
    l.add(2, `drill{{${label("restore drill", `OnCalendar ${b.drill.calendar}`, `newest dump at most ${b.drill.maxDumpAgeHours} h old`)}}}`);
  }
}

function bucket(c: StackConfig, l: Lines): void {
  const b = c.backups;
  if (b === undefined) return;
  const where =
    b.bucket.provider === "aws"
      ? `AWS S3, ${b.bucket.region}${b.bucket.objectLock ? ", Object Lock" : ""}`
      : `S3-compatible, ${b.bucket.endpoint}`;
  l.add(1, `bucket[(${label(`bucket ${b.bucket.name}`, where, `objects kept ${b.retentionDays} days`)})]`);
  l.add(1, `backups -->|${label("put-only key")}| bucket`);
  if (c.deploy.preDeployBackup && b.preDeployToBucket && b.databases.length > 0 && Object.keys(c.databases).length > 0) l.add(1, "predeploy -.-> bucket");
  if (b.drill !== undefined) l.add(1, `bucket -.->|${label("restore newest dump")}| drill`);
}

/**
 * The private registry (railyard:registry) and what the host pulls from it with its credentials: only images on
 * its server get them (services with their migration jobs, databases, the edge's two images).
 */
function registry(c: StackConfig, l: Lines): void {
  const r = c.registry;
  if (r === undefined) return;
  const on = (image: string | undefined) => image !== undefined && registryFor(image, r) !== undefined;
  const pulls = [
    ...sorted(Object.keys(c.services)).filter((n) => on(c.services[n].image)),
    ...sorted(Object.keys(c.databases)).filter((n) => on(c.databases[n].image ?? PLUGINS[c.databases[n].engine].defaultImage)),
    ...(on(c.edge?.settings.image) ? [c.names.edge.caddy] : []),
    ...(on(c.edge?.settings.frontImage) ? [c.names.edge.front] : []),
  ];
  l.add(1, `registry[(${label(`registry ${r.server}`, `user ${r.username}`)})]`);
  l.add(1, `registry -.->|${label(pulls.length > 0 ? `pulls with credentials: ${pulls.join(", ")}` : "no image of the stack is on it")}| host`);
}

function hostTitle(c: StackConfig): string {
  if (multiNode(c)) return `swarm of ${Object.keys(c.nodes).length + 1} machines: network ${c.network}, ${c.host.dataDir}/${c.prefix} on the main host`;
  const where = c.host.mode === "ssh" ? `${c.host.user}@${c.host.address}:${c.host.port}` : "this machine's Docker engine";
  return `host ${where}: Swarm network ${c.network}, ${c.host.dataDir}/${c.prefix}`;
}

/** The stack as a Mermaid flowchart (`flowchart LR`), ending with a newline. */
export function renderMermaid(c: StackConfig): string {
  const l = new Lines();
  l.add(0, "flowchart LR");
  l.add(1, `%% railyard stack ${c.stack.replace(/[^a-z0-9-]/g, "?")} (${c.environment})`);
  publicSide(c, l);
  l.add(1, `subgraph host[${label(hostTitle(c))}]`);
  if (multiNode(c)) machines(c, l);
  edgeNodes(c, l);
  for (const name of sorted(Object.keys(c.services))) l.add(2, serviceNode(c, name, c.services[name]));
  if (!multiNode(c)) for (const name of sorted(Object.keys(c.databases))) l.add(2, databaseNode(c, name, c.databases[name]));
  routes(c, l);
  references(c, l);
  preDeployBackup(c, l);
  backups(c, l);
  l.add(1, "end");
  bucket(c, l);
  registry(c, l);
  return `${l.out.join("\n")}\n`;
}
