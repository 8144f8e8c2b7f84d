/**
 * Path routes in stack files: services share a domain under different prefixes; a (domain, prefix) pair has one
 * owner; prefixes are narrow. Each invalid file fails with its key path and "expected …, got …", and the program
 * registers no resource at all.
 */
import { describe, expect, it } from "vitest";
import { ConfigMap, runStack, stackFile, StackRunError, testSecrets } from "./harness";

interface Case {
  name: string;
  /** Changes a deep copy of the valid staging config. */
  mutate: (plain: ConfigMap) => void;
  /** The problem line's start, and a fragment of what was found. */
  line: string;
  contains?: string;
}

const svc = (c: ConfigMap, name: string) => (c["railyard:services"] as Record<string, Record<string, unknown>>)[name];
const edge = (c: ConfigMap) => c["railyard:edge"] as Record<string, unknown>;
const PATH_RULE = "expected a path prefix such as /api/v1 (lower-case letters, digits, - . _ ~; no trailing slash, no . or .. segment";

const cases: Case[] = [
  {
    name: "the same domain and prefix on two services",
    mutate: (c) => (svc(c, "frontend").domains = ["staging.example.com", "staging.example.com/api/v1"]),
    line: "railyard:services.frontend.domains[1]: expected a domain no other service or entry routes",
    contains: 'got "staging.example.com/api/v1", also routed to api',
  },
  {
    name: "the same pair in object form (stripping does not make it another route)",
    mutate: (c) => (svc(c, "frontend").domains = ["staging.example.com", { domain: "staging.example.com", path: "/api/v1", stripPath: true }]),
    line: "railyard:services.frontend.domains[1]: expected a domain no other service or entry routes",
    contains: "also routed to api",
  },
  {
    name: "the same pair twice in one service (a trailing / is the whole domain)",
    mutate: (c) => (svc(c, "api").domains = ["staging.example.com/api/v1", "api.staging.example.com", "api.staging.example.com/"]),
    line: "railyard:services.api.domains[2]: expected a domain no other service or entry routes",
    contains: 'got "api.staging.example.com", also routed to api',
  },
  {
    name: "a redirect from a domain routed only under a prefix",
    mutate: (c) => {
      svc(c, "api").domains = ["staging.example.com/api/v1", "docs.example.com/v1"];
      edge(c).redirects = { "docs.example.com": "staging.example.com" };
    },
    line: 'railyard:edge.redirects["docs.example.com"]: expected a domain that no service routes',
    contains: 'got "docs.example.com", routed to api',
  },
  {
    name: "a redirect from the shared domain names every service on it",
    mutate: (c) => (edge(c).redirects = { "staging.example.com": "api.staging.example.com" }),
    line: 'railyard:edge.redirects["staging.example.com"]: expected a domain that no service routes',
    contains: "routed to api, frontend",
  },
  {
    name: "a path route outside the zone",
    mutate: (c) => (svc(c, "api").domains = ["staging.example.org/api/v1"]),
    line: "railyard:services.api.domains[0]: expected a domain inside the zone example.com",
    contains: 'got "staging.example.org/api/v1"',
  },
  { name: "a trailing slash after the prefix", mutate: (c) => (svc(c, "api").domains = ["staging.example.com/api/v1/"]), line: `railyard:services.api.domains[0]: ${PATH_RULE}`, contains: 'after the domain, got "staging.example.com/api/v1/"' },
  { name: "a wildcard in the prefix", mutate: (c) => (svc(c, "api").domains = ["staging.example.com/api/*"]), line: `railyard:services.api.domains[0]: ${PATH_RULE}` },
  { name: "capitals in the prefix", mutate: (c) => (svc(c, "api").domains = ["staging.example.com/API"]), line: `railyard:services.api.domains[0]: ${PATH_RULE}` },
  { name: "a doubled slash in the prefix", mutate: (c) => (svc(c, "api").domains = ["staging.example.com/api//v1"]), line: `railyard:services.api.domains[0]: ${PATH_RULE}` },
  { name: "a .. segment in the prefix", mutate: (c) => (svc(c, "api").domains = [{ domain: "staging.example.com", path: "/api/../admin" }]), line: `railyard:services.api.domains[0].path: ${PATH_RULE}`, contains: 'got "/api/../admin"' },
  { name: "a prefix without its leading slash", mutate: (c) => (svc(c, "api").domains = [{ domain: "staging.example.com", path: "api" }]), line: `railyard:services.api.domains[0].path: ${PATH_RULE}` },
  { name: "a prefix over 200 characters", mutate: (c) => (svc(c, "api").domains = [{ domain: "staging.example.com", path: `/${"a".repeat(200)}` }]), line: `railyard:services.api.domains[0].path: ${PATH_RULE}` },
  { name: "a shell-special prefix", mutate: (c) => (svc(c, "api").domains = ["staging.example.com/api;rm -rf"]), line: `railyard:services.api.domains[0]: ${PATH_RULE}` },
  { name: "a bad domain in the object form", mutate: (c) => (svc(c, "api").domains = [{ domain: "Staging.example.com", path: "/api/v1" }]), line: "railyard:services.api.domains[0].domain: expected a lower-case domain name" },
  { name: "stripping the whole domain", mutate: (c) => (svc(c, "api").domains = [{ domain: "api.staging.example.com", stripPath: true }]), line: "railyard:services.api.domains[0].stripPath: expected stripPath only with a path prefix other than /" },
  { name: "stripPath as text", mutate: (c) => (svc(c, "api").domains = [{ domain: "staging.example.com", path: "/api/v1", stripPath: "yes" }]), line: "railyard:services.api.domains[0].stripPath: expected true or false", contains: 'got "yes"' },
  { name: "an unknown key in a route", mutate: (c) => (svc(c, "api").domains = [{ domain: "staging.example.com", prefix: "/api/v1" }]), line: "railyard:services.api.domains[0].prefix: expected a known key" },
  { name: "a route that is neither text nor an object", mutate: (c) => (svc(c, "api").domains = [42]), line: "railyard:services.api.domains[0]: expected a domain (example.com), a domain and path prefix (example.com/api/v1) or {domain, path, stripPath}", contains: "got 42" },
  { name: "domains that are not a list", mutate: (c) => (svc(c, "api").domains = "staging.example.com/api/v1"), line: "railyard:services.api.domains: expected a list of domains" },
];

function fresh(): { plain: ConfigMap; secret: ConfigMap } {
  return { plain: structuredClone(stackFile("staging")), secret: structuredClone(testSecrets("staging")) };
}

async function failure(plain: ConfigMap, secret: ConfigMap): Promise<{ message: string; registered: number }> {
  let registered = -1;
  try {
    registered = (await runStack("staging", plain, secret)).resources.length;
  } catch (e) {
    if (!(e instanceof StackRunError)) throw e;
    return { message: e.message, registered: e.resources.length };
  }
  throw new Error(`expected the program to fail, but it registered ${registered} resources`);
}

describe("path routes in stack files", () => {
  it("accepts services sharing a domain under different prefixes, kept or stripped", async () => {
    const { plain, secret } = fresh();
    svc(plain, "frontend").domains = ["staging.example.com", { domain: "staging.example.com", path: "/static", stripPath: true }];
    const run = await runStack("staging", plain, secret);
    expect(run.resources.length).toBeGreaterThan(10);
  });

  it.each(cases)("$name", async (c) => {
    const { plain, secret } = fresh();
    c.mutate(plain);
    const { message, registered } = await failure(plain, secret);
    const line = message
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.startsWith(c.line));
    expect(line, `no line starting with ${c.line} in:\n${message}`).toBeDefined();
    expect(line).toMatch(/^railyard:[^:]+: expected .+, got .+$/s);
    if (c.contains) expect(line).toContain(c.contains);
    expect(registered).toBe(0);
  });
});
