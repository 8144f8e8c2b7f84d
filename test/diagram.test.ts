/**
 * The stack's picture (render/mermaid.ts): exact text of small stacks, every example stack parsed by Mermaid's own
 * parser (mermaid 12 under jsdom) with its nodes, routes and references checked in the parsed graph, labels with
 * hostile-but-valid names and commands coming out of the parser as written, and the README's embedded figures
 * equal to what the code draws now.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { JSDOM } from "jsdom";
import type { Mermaid } from "mermaid";
import { beforeAll, describe, expect, it } from "vitest";
import { parseTemplate } from "../config/references";
import { label, nodeId, renderMermaid, shortImage } from "../render/mermaid";
import { markdown, namedSecrets, PLACEHOLDER, readmeBlock, runtimeConfigOf, stackConfigOf } from "../scripts/diagram";
import { readStackFile } from "../scripts/stackHost";
import type { StackConfig } from "../config/load";

const ROOT = path.join(__dirname, "..");
const DIGEST = `sha256:${"a".repeat(64)}`;
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJhaWx5YXJkLXN0YWdpbmctaG9zdC1rZXktZXhhbXBsZQ";

// ---- Mermaid's parser, as GitHub's renderer runs it ----

interface FlowVertex {
  text?: string;
  type?: string;
}
interface FlowEdge {
  start: string;
  end: string;
  text: string;
  stroke?: string;
}
interface FlowDb {
  getVertices(): Map<string, FlowVertex>;
  getEdges(): FlowEdge[];
  getSubGraphs(): { id: string; title: string; nodes: string[] }[];
}

let mermaid: Mermaid;
let dom: JSDOM;
beforeAll(async () => {
  // Mermaid's DOMPurify binds to a window when the module loads.
  dom = new JSDOM("<!doctype html><html><body></body></html>");
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  mermaid = (await import("mermaid")).default;
});

/** Parses the text with Mermaid (throws on a syntax error) and returns the flowchart's graph. */
async function parsed(text: string): Promise<FlowDb> {
  const result = await mermaid.parse(text);
  expect(result).toMatchObject({ diagramType: "flowchart-v2" });
  return (await mermaid.mermaidAPI.getDiagramFromText(text)).db as unknown as FlowDb;
}

/**
 * A label's lines as a reader sees them: Mermaid's decodeEntities (its stand-ins back to `&…;`, as its renderer
 * does to the SVG), then HTML's decoding of each line between the `<br>` line breaks.
 */
function shown(text: string | undefined): string[] {
  const html = (text ?? "").replace(/ﬂ°°/g, "&#").replace(/ﬂ°/g, "&").replace(/¶ß/g, ";");
  return html.split("<br>").map((line) => {
    const div = dom.window.document.createElement("div");
    div.innerHTML = line;
    expect(div.children.length).toBe(0);
    return div.textContent ?? "";
  });
}

function vertex(db: FlowDb, id: string): FlowVertex {
  const v = db.getVertices().get(id);
  if (v === undefined) throw new Error(`no node ${id}; have ${[...db.getVertices().keys()].join(", ")}`);
  return v;
}

const edgesOf = (db: FlowDb) => db.getEdges().map((e) => `${e.start} -> ${e.end}: ${shown(e.text).join(" / ")}`);

// ---- small stacks, exact text ----

const SMALL_DEV = {
  "railyard:environment": "dev",
  "railyard:host": { mode: "local", dataDir: "/tmp/railyard" },
  "railyard:edge": { tls: "off", httpPort: 8080, replicas: 1 },
  "railyard:databases": { pg: { engine: "postgres" } },
  "railyard:services": {
    web: { kind: "web", image: "nginx:1.27", startCommand: "nginx", port: 80, domains: ["app.localhost"], env: { DB: "${{pg.DATABASE_URL}}" } },
  },
};

const SMALL_STAGING = {
  "railyard:environment": "staging",
  "railyard:host": { mode: "ssh", address: "203.0.113.9", user: "deploy", hostKey: HOST_KEY },
  "railyard:deploy": { preDeployBackup: true, backupRetention: 3 },
  "railyard:edge": {
    tls: "acme",
    acmeEmail: "ops@example.com",
    image: `caddy:2@${DIGEST}`,
    frontImage: `haproxy:2@${DIGEST}`,
    redirects: { "www.example.com": "example.com" },
  },
  "railyard:databases": { cache: { engine: "redis", image: `redis:7@${DIGEST}` } },
  "railyard:backups": {
    bucket: {
      provider: "s3",
      name: "team-backups",
      endpoint: "https://minio.example.com",
      uploader: { accessKeyIdSecret: "UP_ID", secretAccessKeySecret: "UP_KEY" },
    },
    schedules: ["0 3 * * *", "0 15 * * *"],
    retentionDays: 14,
    preDeployToBucket: false,
    drill: { enabled: false },
  },
  "railyard:services": {
    api: {
      image: `ghcr.io/example/api@${DIGEST}`,
      startCommand: "serve",
      preDeployCommand: "migrate",
      pauseDuringMigration: ["jobs"],
      port: 3000,
      domains: [{ domain: "example.com", path: "/api", stripPath: true }],
      healthcheck: { path: "/health" },
      env: { CACHE: "${{cache.REDIS_URL}}" },
    },
    site: { image: `ghcr.io/example/site@${DIGEST}`, port: 80, replicas: 2, domains: ["example.com"] },
    jobs: { kind: "worker", build: { context: "./examples/app", target: "worker" }, startCommand: "work", env: { API: "${{api.URL}}" } },
  },
};

describe("renderMermaid: exact text", () => {
  it("draws a small dev stack: plain HTTP edge, one route, one reference", () => {
    expect(renderMermaid(stackConfigOf("dev", SMALL_DEV))).toBe(`flowchart LR
  %% railyard stack dev (dev)
  subgraph public["DNS outside railyard: point each domain at the host"]
    dom_app_2e_localhost["app.localhost"]
  end
  public -->|"HTTP :8080"| front
  subgraph host["host this machine's Docker engine: Swarm network dev-net, /tmp/railyard/dev"]
    front["dev-front: HAProxy, TCP<br>haproxy:2.6<br>host ports 8080"]
    edge["dev-edge: Caddy ×1<br>caddy:2.10-alpine<br>plain HTTP"]
    front --> edge
    svc_web["web: web ×1<br>nginx:1.27<br>port 80"]
    db_pg[("pg: postgres<br>postgres:16-bookworm<br>volume dev-pg-data")]
    edge -->|"app.localhost"| svc_web
    svc_web -->|"DB"| db_pg
  end
`);
  });

  it("draws a small staging stack: ACME, a redirect, a stripped prefix, a worker built here, S3 backups without a drill", () => {
    expect(renderMermaid(stackConfigOf("staging", SMALL_STAGING))).toBe(`flowchart LR
  %% railyard stack staging (staging)
  subgraph public["DNS outside railyard: point each domain at the host"]
    dom_example_2e_com["example.com"]
    dom_www_2e_example_2e_com["www.example.com"]
  end
  dom_www_2e_example_2e_com -.->|"permanent redirect"| dom_example_2e_com
  public -->|"HTTPS :443, HTTP :80 (redirects to HTTPS)"| front
  subgraph host["host deploy@203.0.113.9:22: Swarm network staging-net, /var/lib/railyard/staging"]
    front["staging-front: HAProxy, TCP<br>haproxy:2@sha256:aaaaaaaaaaaa…<br>host ports 80, 443"]
    edge["staging-edge: Caddy ×2<br>caddy:2@sha256:aaaaaaaaaaaa…<br>TLS: Caddy's ACME certificates"]
    front --> edge
    svc_api["api: web ×1<br>ghcr.io/example/api@sha256:aaaaaaaaaaaa…<br>port 3000 · health /health<br>pre-deploy: migrate (pauses jobs)"]
    svc_jobs[["jobs: worker ×1<br>built from ./examples/app (target worker)"]]
    svc_site["site: web ×2<br>ghcr.io/example/site@sha256:aaaaaaaaaaaa…<br>port 80"]
    db_cache[("cache: redis<br>redis:7@sha256:aaaaaaaaaaaa…<br>volume staging-cache-data")]
    edge -->|"example.com/api (prefix stripped)"| svc_api
    edge -->|"example.com"| svc_site
    svc_api -->|"CACHE"| db_cache
    svc_jobs -->|"API"| svc_api
    predeploy{{"pre-deploy backup: every database dumped<br>before each release's migrations<br>keeps 3 per database on the host"}}
    db_cache -.-> predeploy
    backups{{"scheduled dumps, streamed<br>OnCalendar *-*-* 03:00:00 UTC<br>OnCalendar *-*-* 15:00:00 UTC"}}
    db_cache -.-> backups
  end
  bucket[("bucket team-backups<br>S3-compatible, https://minio.example.com<br>objects kept 14 days")]
  backups -->|"put-only key"| bucket
`);
  });

  it("draws a stack without domains or databases as its host alone", () => {
    const c = stackConfigOf("dev", {
      "railyard:host": { mode: "local" },
      "railyard:services": { w: { kind: "worker", image: "busybox:1", startCommand: "sleep 1d" } },
    });
    expect(renderMermaid(c)).toBe(`flowchart LR
  %% railyard stack dev (dev)
  subgraph host["host this machine's Docker engine: Swarm network dev-net, /var/lib/railyard/dev"]
    svc_w[["w: worker ×1<br>busybox:1"]]
  end
`);
  });

  it("draws the private registry and the pulls its credentials go to: only images on its server", async () => {
    const c = stackConfigOf("staging", {
      ...SMALL_STAGING,
      "railyard:registry": { server: "ghcr.io", username: "example-bot", passwordSecret: "REGISTRY_TOKEN" },
      "railyard:edge": { ...SMALL_STAGING["railyard:edge"], frontImage: `ghcr.io/example/haproxy:2@${DIGEST}` },
      "railyard:databases": { cache: { engine: "redis", image: `ghcr.io/example/redis:7@${DIGEST}` }, pg: { engine: "postgres", image: `postgres:16@${DIGEST}` } },
    });
    const text = renderMermaid(c);
    expect(text.endsWith(`  registry[("registry ghcr.io<br>user example-bot")]
  registry -.->|"pulls with credentials: api, site, cache, staging-front"| host
`)).toBe(true);
    expect(edgesOf(await parsed(text))).toContain("registry -> host: pulls with credentials: api, site, cache, staging-front");
    // jobs is built on the host, pg and the Caddy image come from Docker Hub: no credentials for them.
    const none = renderMermaid(stackConfigOf("staging", { ...SMALL_STAGING, "railyard:registry": { server: "registry.example.com:5000", username: "u", passwordSecret: "T" } }));
    expect(none).toContain('registry -.->|"no image of the stack is on it"| host');
  });

  it("draws a multi-node stack as a swarm of machines: each one's role and labels, its databases inside it, where the edge and services may run", async () => {
    const c = stackConfigOf("staging", {
      ...SMALL_STAGING,
      "railyard:host": { ...SMALL_STAGING["railyard:host"], labels: ["data", "edge"] },
      "railyard:encryptNetwork": true,
      "railyard:nodes": {
        "db-1": { address: "203.0.113.21", hostKey: HOST_KEY, labels: ["data"] },
        "app-1": { address: "203.0.113.22", hostKey: HOST_KEY, role: "manager" },
        "app-2": { address: "203.0.113.23", hostKey: HOST_KEY, role: "manager", labels: ["app", "edge"], drain: true },
      },
      "railyard:databases": {
        cache: { engine: "redis", image: `redis:7@${DIGEST}`, node: "db-1" },
        pg: { engine: "postgres", image: `postgres:16@${DIGEST}` },
        queue: { engine: "redis", image: `redis:7@${DIGEST}`, node: "db-1" },
      },
    });
    const text = renderMermaid(c);
    expect(text).toBe(`flowchart LR
  %% railyard stack staging (staging)
  subgraph public["DNS outside railyard: point each domain at an edge node"]
    dom_example_2e_com["example.com"]
    dom_www_2e_example_2e_com["www.example.com"]
  end
  dom_www_2e_example_2e_com -.->|"permanent redirect"| dom_example_2e_com
  public -->|"HTTPS :443, HTTP :80 (redirects to HTTPS)"| front
  subgraph host["swarm of 4 machines: network staging-net, /var/lib/railyard/staging on the main host"]
    subgraph node_host["main host deploy@203.0.113.9:22: manager<br>labels data, edge"]
      db_pg[("pg: postgres<br>postgres:16@sha256:aaaaaaaaaaaa…<br>volume staging-pg-data")]
    end
    node_app_2d_1["node app-1: manager<br>labels app<br>deploy@203.0.113.22:22"]
    node_app_2d_2["node app-2: manager, drained<br>labels app, edge<br>deploy@203.0.113.23:22"]
    subgraph node_db_2d_1["node db-1: worker<br>labels data<br>deploy@203.0.113.21:22"]
      db_cache[("cache: redis<br>redis:7@sha256:aaaaaaaaaaaa…<br>volume staging-cache-data")]
      db_queue[("queue: redis<br>redis:7@sha256:aaaaaaaaaaaa…<br>volume staging-queue-data")]
    end
    node_host ---|"joined, overlay staging-net encrypted"| node_app_2d_1
    node_host ---|"joined, overlay staging-net encrypted"| node_app_2d_2
    node_host ---|"joined, overlay staging-net encrypted"| node_db_2d_1
    front["staging-front: HAProxy, TCP<br>haproxy:2@sha256:aaaaaaaaaaaa…<br>host ports 80, 443<br>on nodes: host"]
    edge["staging-edge: Caddy ×2<br>caddy:2@sha256:aaaaaaaaaaaa…<br>TLS: Caddy's ACME certificates<br>on nodes: host"]
    front --> edge
    svc_api["api: web ×1<br>ghcr.io/example/api@sha256:aaaaaaaaaaaa…<br>port 3000 · health /health<br>pre-deploy on the main host: migrate (pauses jobs)<br>on nodes: app-1"]
    svc_jobs[["jobs: worker ×1<br>built from ./examples/app (target worker)<br>on nodes: app-1"]]
    svc_site["site: web ×2<br>ghcr.io/example/site@sha256:aaaaaaaaaaaa…<br>port 80<br>on nodes: app-1"]
    edge -->|"example.com/api (prefix stripped)"| svc_api
    edge -->|"example.com"| svc_site
    svc_api -->|"CACHE"| db_cache
    svc_jobs -->|"API"| svc_api
    predeploy{{"pre-deploy backup: every database dumped<br>before each release's migrations<br>keeps 3 per database on the main host"}}
    db_cache -.-> predeploy
    db_pg -.-> predeploy
    db_queue -.-> predeploy
    backups{{"scheduled dumps, streamed<br>OnCalendar *-*-* 03:00:00 UTC<br>OnCalendar *-*-* 15:00:00 UTC"}}
    db_cache -.-> backups
    db_pg -.-> backups
    db_queue -.-> backups
  end
  bucket[("bucket team-backups<br>S3-compatible, https://minio.example.com<br>objects kept 14 days")]
  backups -->|"put-only key"| bucket
`);
    // Mermaid keeps each database in the subgraph of the node it is placed on, though the host's references point at it.
    const db = await parsed(text);
    const members = Object.fromEntries(db.getSubGraphs().map((g) => [g.id, [...g.nodes].sort()]));
    expect(members.node_db_2d_1).toEqual(["db_cache", "db_queue"]);
    expect(members.node_host).toEqual(["db_pg"]);
    expect(Object.keys(members).sort()).toEqual(["host", "node_db_2d_1", "node_host", "public"]);
    for (const machine of ["node_host", "node_db_2d_1", "node_app_2d_1", "node_app_2d_2", "svc_api", "edge"]) expect(members.host).toContain(machine);
    for (const inner of ["db_pg", "db_cache", "db_queue"]) expect(members.host).not.toContain(inner);
    expect(edgesOf(db)).toContain("svc_api -> db_cache: CACHE");
    expect(edgesOf(db)).toContain("node_host -> node_db_2d_1: joined, overlay staging-net encrypted");
  });

  it("is deterministic: the order of the stack file's keys does not change the text", () => {
    const reversed = Object.fromEntries(
      Object.entries(SMALL_STAGING).reverse().map(([k, v]) => [k, k === "railyard:services" ? Object.fromEntries(Object.entries(v).reverse()) : v]),
    );
    expect(renderMermaid(stackConfigOf("staging", reversed))).toBe(renderMermaid(stackConfigOf("staging", SMALL_STAGING)));
  });
});

describe("labels and ids", () => {
  it("escapes every character Mermaid reads as syntax, and keeps the rest", () => {
    expect(label('a"b', "#<>&`%|\\$", "plain: /x@y:1")).toBe('"a#quot;b<br>#35;#lt;#gt;#amp;#96;#37;#124;#92;#36;<br>plain: /x@y:1"');
    expect(label("line\nbreak\ttab\u2028")).toBe('"line break tab "');
    expect(label("style a:#f", "classDef")).toBe('"#115;tyle a:#35;f<br>#99;lassDef"');
  });

  it("derives ids injectively behind a kind prefix, never containing 'style'", () => {
    expect(nodeId("dom", "api.example.com")).toBe("dom_api_2e_example_2e_com");
    expect(nodeId("svc", "end")).toBe("svc_end");
    expect(nodeId("svc", "lifestyle")).toBe("svc_lifestyl_65_");
    const names = ["a-b", "a.b", "a_b", "a_2d_b", "style", "styl_65_", "A", "é", "a b"];
    const ids = names.map((n) => nodeId("svc", n));
    expect(new Set(ids).size).toBe(names.length);
    for (const id of ids) expect(id).toMatch(/^svc_[a-z0-9_]*$/);
  });

  it("cuts a digest to 12 hex digits and leaves tags alone", () => {
    expect(shortImage(`r.example.com:5000/a/b:v1@sha256:${"0123456789ab".repeat(5)}0123`)).toBe("r.example.com:5000/a/b:v1@sha256:0123456789ab…");
    expect(shortImage("postgres:16")).toBe("postgres:16");
  });
});

// ---- hostile but valid ----

/** Every character Mermaid, HTML or KaTeX could read as syntax, Mermaid's own stand-ins, and a line break. */
const HOSTILE_COMMAND =
  'echo "it\'s" <b>$$x$$</b> & %% end; style a:#f00; classDef x fill:#f00; %%{init: {}}%%\n`tick` | tee \\n ### {{ }} [[ ]] (( )) --> -.-> ; end\t#quot; &amp; ¶ß ﬂ° ﬂ°° <script>alert(1)</script>';
const KEYWORDS = ["end", "subgraph", "style", "o", "x", "click", "class", "default", "graph", "lifestyle", "direction"];

function hostileStack(): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  for (const n of KEYWORDS) {
    services[n] = {
      image: `registry.example.com:5000/te-am/${n}:v1.2-rc_3@${DIGEST}`,
      startCommand: "app serve",
      port: 8080,
      domains: [`${n}.example.com`, { domain: "end.example.com", path: `/${n}/a_b.c~d-e`, stripPath: true }],
      preDeployCommand: HOSTILE_COMMAND,
      env: { U: "${{subgraph-db.DATABASE_URL}}", S: "${{secrets.K}}", ...(n === "end" ? {} : { E: "${{end.URL}}" }) },
    };
  }
  return {
    "railyard:environment": "staging",
    "railyard:host": { mode: "ssh", address: "203.0.113.9", user: "deploy", hostKey: HOST_KEY },
    "railyard:edge": { tls: "internal", image: `caddy:2@${DIGEST}`, frontImage: `haproxy:2@${DIGEST}`, redirects: { "www.end.example.com": "end.example.com" } },
    "railyard:databases": { "subgraph-db": { engine: "postgres", image: `postgres:16@${DIGEST}` }, flowchart: { engine: "redis", image: `redis:7@${DIGEST}` } },
    "railyard:services": services,
  };
}

describe("hostile but valid names and commands", () => {
  it("parse, and every label comes out of Mermaid's parser as written", async () => {
    const c = stackConfigOf("staging", hostileStack());
    const db = await parsed(renderMermaid(c));
    const command = HOSTILE_COMMAND.replace(/[\n\t]/g, " ");
    for (const n of KEYWORDS) {
      expect(shown(vertex(db, nodeId("svc", n)).text)).toEqual([
        `${n}: web ×1`,
        `registry.example.com:5000/te-am/${n}:v1.2-rc_3@sha256:aaaaaaaaaaaa…`,
        "port 8080",
        `pre-deploy: ${command}`,
      ]);
      expect(shown(vertex(db, nodeId("dom", `${n}.example.com`)).text)).toEqual([`${n}.example.com`]);
    }
    // Databases named like keywords.
    expect(shown(vertex(db, "db_flowchart").text)[0]).toBe("flowchart: redis");
    expect(shown(vertex(db, "db_subgraph_2d_db").text)[0]).toBe("subgraph-db: postgres");
    const edges = edgesOf(db);
    for (const n of KEYWORDS) {
      expect(edges).toContain(`edge -> ${nodeId("svc", n)}: ${n}.example.com`);
      expect(edges).toContain(`edge -> ${nodeId("svc", n)}: end.example.com/${n}/a_b.c~d-e (prefix stripped)`);
      expect(edges).toContain(`${nodeId("svc", n)} -> db_subgraph_2d_db: U`);
      if (n !== "end") expect(edges).toContain(`${nodeId("svc", n)} -> svc_end: E`);
    }
    expect(edges).toContain("dom_www_2e_end_2e_example_2e_com -> dom_end_2e_example_2e_com: permanent redirect");
    // Nothing but the stack's own nodes and the edge's: no stray node from a label read as syntax.
    const expected = new Set([
      ...KEYWORDS.map((n) => nodeId("svc", n)),
      ...c.edge!.hostnames.map((h) => nodeId("dom", h)),
      "db_flowchart", "db_subgraph_2d_db", "front", "edge", "public",
    ]);
    expect(new Set(db.getVertices().keys())).toEqual(expected);
    expect(db.getSubGraphs().map((s) => s.id).sort()).toEqual(["host", "public"]);
  });

  it("never shows a secret's value, nor the placeholder standing in for one", () => {
    const text = renderMermaid(stackConfigOf("staging", { ...hostileStack(), "railyard:secrets": { K: { secure: "v1:c2VjcmV0LWNpcGhlcnRleHQ=" } } }));
    expect(text).not.toContain(PLACEHOLDER);
    expect(text).not.toContain("v1:");
    expect(text).not.toContain("OPENSSH");
  });
});

// ---- the example stacks ----

function exampleStack(stack: string): StackConfig {
  return stackConfigOf(stack, readStackFile(stack, ROOT).config);
}

describe.each(["dev", "staging", "production"])("the %s stack", (stack) => {
  it("parses, with a node for each service and database, an edge for each route and each reference", async () => {
    const c = exampleStack(stack);
    const db = await parsed(renderMermaid(c));
    const edges = edgesOf(db);
    for (const [name, s] of Object.entries(c.services)) {
      const lines = shown(vertex(db, nodeId("svc", name)).text);
      expect(lines[0]).toBe(`${name}: ${s.kind} ×${s.replicas}`);
      if (s.preDeployCommand) expect(lines.at(-1)).toContain(`pre-deploy: ${s.preDeployCommand}`);
      for (const db of c.env[name].databases) expect(edges.some((e) => e.startsWith(`${nodeId("svc", name)} -> ${nodeId("db", db)}: `))).toBe(true);
      for (const other of c.env[name].services) {
        const vars = Object.entries(s.env).filter(([, v]) => parseTemplate(v).parts.some((p) => p.kind === "ref" && p.target === other)).map(([k]) => k).sort();
        expect(edges).toContain(`${nodeId("svc", name)} -> ${nodeId("svc", other)}: ${vars.join(", ")}`);
      }
    }
    for (const [name, d] of Object.entries(c.databases)) {
      expect(shown(vertex(db, nodeId("db", name)).text)).toContain(`volume ${c.names.databases[name].volume}`);
      expect(vertex(db, nodeId("db", name)).type).toBe("cylinder");
      expect(shown(vertex(db, nodeId("db", name)).text)[0]).toBe(`${name}: ${d.engine}`);
    }
    for (const r of c.edge?.routes ?? []) expect(edges.some((e) => e.startsWith(`edge -> ${nodeId("svc", r.service)}: ${r.domain}${r.path === "/" ? "" : r.path}`))).toBe(true);
    for (const r of c.edge?.redirects ?? []) expect(edges).toContain(`${nodeId("dom", r.from)} -> ${nodeId("dom", r.to)}: permanent redirect`);
    if (c.backups) {
      for (const d of c.backups.databases) expect(edges).toContain(`${nodeId("db", d)} -> backups: `);
      expect(shown(vertex(db, "bucket").text)[0]).toBe(`bucket ${c.backups.bucket.name}`);
    }
    expect(db.getVertices().has("predeploy")).toBe(c.deploy.preDeployBackup);
  });

  it("is embedded in the README exactly as the code draws it now", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const { start, end } = readmeBlock(readme, stack);
    expect(readme.slice(start, end)).toBe(`\n${markdown(stack, renderMermaid(exampleStack(stack)))}`);
  });
});

describe("the stack file as the runtime holds it", () => {
  it("names the secrets a stack file refers to", () => {
    const production = namedSecrets(readStackFile("production", ROOT).config);
    expect(production).toEqual(expect.arrayContaining(["BACKUP_WEBHOOK_URL", "SECRET_KEY", "SMTP_PASSWORD"]));
    expect(production).toEqual([...production].sort());
    expect(namedSecrets({ "railyard:services": { a: { secrets: ["FILE_ONE"], env: { X: "a${{secrets.B}}c" } } }, "railyard:databases": { d: { passwordSecret: "PW" } } })).toEqual([
      "B",
      "FILE_ONE",
      "PW",
    ]);
  });

  it("keeps plain values plain (the loader refuses a plain secret) and marks ciphertext and placeholders secret", () => {
    const r = runtimeConfigOf({
      "railyard:host": { mode: "ssh" },
      "railyard:sshPrivateKey": "not a secret",
      "railyard:secrets": { A: { secure: "v1:x" } },
      "railyard:services": { s: { env: { X: "${{secrets.B}}" } } },
      "railyard:edge": { cloudflare: { zone: "example.com" } },
    });
    expect(r.secretKeys.sort()).toEqual(["cloudflare:apiToken", "railyard:secrets"]);
    expect(r.values["railyard:sshPrivateKey"]).toBe("not a secret");
    expect(JSON.parse(r.values["railyard:secrets"])).toEqual({ A: PLACEHOLDER, B: PLACEHOLDER });
    expect(runtimeConfigOf({ "railyard:host": { mode: "local" } }).secretKeys).toEqual([]);
  });
});
