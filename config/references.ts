/**
 * Railway reference variables: `${{<service-or-database>.<VAR>}}` and `${{secrets.<NAME>}}` inside env values.
 * Pure parsing; the loader checks the targets and the env planner expands them.
 */

export type TemplatePart = { kind: "text"; text: string } | { kind: "ref"; target: string; variable: string; raw: string };

export interface ParsedTemplate {
  parts: TemplatePart[];
  /** References that are not of the form `${{name.VAR}}`, as written. */
  malformed: string[];
}

const REFERENCE = /\$\{\{(.*?)\}\}/g;
const INNER = /^\s*([a-z][a-z0-9-]*)\.([A-Za-z_][A-Za-z0-9_]*)\s*$/;

/** Splits an env value into literal text and references. */
export function parseTemplate(value: string): ParsedTemplate {
  const parts: TemplatePart[] = [];
  const malformed: string[] = [];
  let last = 0;
  for (const match of value.matchAll(REFERENCE)) {
    const start = match.index ?? 0;
    if (start > last) parts.push({ kind: "text", text: value.slice(last, start) });
    const inner = INNER.exec(match[1]);
    if (inner) parts.push({ kind: "ref", target: inner[1], variable: inner[2], raw: match[0] });
    else malformed.push(match[0]);
    last = start + match[0].length;
  }
  const rest = value.slice(last);
  if (rest.includes("${{")) malformed.push(rest.slice(rest.indexOf("${{")));
  if (rest.length > 0) parts.push({ kind: "text", text: rest });
  return { parts, malformed };
}

/** The service names a service's env refers to, with the env var that holds each reference. */
export function serviceEdges(
  env: Record<string, string>,
  isService: (name: string) => boolean,
): { variable: string; target: string }[] {
  const edges: { variable: string; target: string }[] = [];
  for (const [variable, value] of Object.entries(env)) {
    for (const part of parseTemplate(value).parts) {
      if (part.kind === "ref" && isService(part.target)) edges.push({ variable, target: part.target });
    }
  }
  return edges;
}

/**
 * Cycles in a directed graph, as lists of nodes from the cycle's smallest member back to it. One depth-first
 * walk (each node and edge visited once, linear in the graph's size) reports the cycle closed by each back edge;
 * every graph with a cycle yields at least one, and a cycle found twice is reported once.
 */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const seen = state.get(next);
      if (seen === "open") {
        const loop = path.slice(path.lastIndexOf(next));
        const smallest = loop.reduce((a, b) => (b < a ? b : a));
        const at = loop.indexOf(smallest);
        const rotated = [...loop.slice(at), ...loop.slice(0, at)];
        cycles.set(rotated.join(" "), [...rotated, smallest]);
      } else if (seen === undefined) {
        visit(next);
      }
    }
    path.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return [...cycles.values()];
}
