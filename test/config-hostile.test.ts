/**
 * Every key of the staging stack file, replaced in turn by hostile values: the program either accepts the file or
 * refuses it with the config error (every problem as `railyard:<path>: expected …, got …`) and registers nothing.
 * A raw exception (a TypeError from a value the checks let through) fails this test.
 */
import { describe, expect, it } from "vitest";
import { ConfigMap, runStack, stackFile, StackRunError, testSecrets } from "./harness";

const HOSTILE: unknown[] = [
  null,
  [],
  {},
  "",
  -1,
  1e21,
  "constructor",
  "__proto__",
  "x\u001b[2J\u202e",
  { __proto__: null, constructor: { a: 1 } },
];

/** Every key path in a value, objects and lists included. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== "object" || value === null) return [at];
  const inner = Object.entries(value).flatMap(([k, v]) => paths(v, [...at, Array.isArray(value) ? Number(k) : k]));
  return at.length === 0 ? inner : [at, ...inner];
}

function setAt(root: ConfigMap, path: (string | number)[], value: unknown): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  Object.defineProperty(node, path[path.length - 1], { value, enumerable: true, writable: true, configurable: true });
}

const base = stackFile("staging");
const cases = paths(base).flatMap((path) => HOSTILE.map((value, i) => ({ path, value, label: `${path.join(".")} = #${i}` })));

describe("hostile values at every key of the staging stack file", () => {
  it("covers every key", () => {
    expect(cases.length).toBeGreaterThan(500);
  });

  it.each(cases)("$label", async ({ path, value }) => {
    const plain = structuredClone(base);
    setAt(plain, path, structuredClone(value));
    try {
      const run = await runStack("staging", plain, structuredClone(testSecrets("staging")));
      expect(run.resources.length).toBeGreaterThan(0);
    } catch (e) {
      if (!(e instanceof StackRunError)) throw e;
      expect(e.message).toMatch(/^railyard: the stack configuration has \d+ problems?; no resource was registered:\n/);
      for (const line of e.message.split("\n").slice(1)) expect(line).toMatch(/^ {2}(railyard|cloudflare):[^\n]*: expected .+, got .+$/);
      expect(e.message).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
      expect(e.resources).toHaveLength(0);
    }
  });
});
