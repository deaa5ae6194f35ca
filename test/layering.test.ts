/**
 * The dependency rules of src/ (docs/development.md's "Layout" section states them for users):
 *
 *   cli ──> main, runtime, unconfigured (the composition root: wires adapters into the engine)
 *             ──> http ──> observe ──> sync (engine) ──> db ──> core
 *   graph, wordpress (adapters) ──> sync/ports (the interfaces the engine owns) ──> core
 *   graph, wordpress, db, observe, sync, http ──> net (outbound HTTP) ──> core
 *
 * - core (domain types and pure rules) imports nothing outside core.
 * - db (all SQL) serves the engine and never imports it; it knows core and the logger only.
 * - graph and wordpress implement sync/ports and import nothing else of the engine; the engine
 *   never imports an adapter (the composition root hands them over as ports).
 * - observe (metrics, watchdog, webhooks, pruning) reads sync and db; only http and the root import it.
 * - net (outbound HTTP shared by the adapters and webhooks: the retry loop, the limiter, the step's
 *   deadline, the URL redactor, webhook signatures) imports only core, so the adapters can use it
 *   without reaching into the engine.
 * - No import cycle between any two files, type-only imports included (a cycle is a sign that a
 *   third module wants to exist).
 *
 * Every import of every file under src/ is read with the TypeScript compiler's own pre-processor,
 * so `import type`, `export ... from` and dynamic imports all count.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

type Layer =
  | "core"
  | "support"
  | "config"
  | "links"
  | "db"
  | "ports"
  | "net"
  | "sync"
  | "graph"
  | "wordpress"
  | "observe"
  | "bootstrap"
  | "http"
  | "root"
  | "cli";

/** What each layer may import besides itself. */
const ALLOWED: Record<Layer, readonly Layer[]> = {
  core: [],
  // Leaf utilities of the process (logger.ts, private-files.ts, package-root.ts).
  support: [],
  links: ["core"],
  config: ["core", "links"],
  db: ["core", "support", "net"],
  ports: ["core"],
  // Outbound HTTP (src/net): neutral, below the adapters and the engine.
  net: ["core"],
  sync: ["core", "ports", "db", "config", "support", "net"],
  graph: ["core", "ports", "net"],
  wordpress: ["core", "ports", "net"],
  observe: ["core", "sync", "db", "support", "net"],
  bootstrap: ["core", "config", "db", "links", "support"],
  http: ["core", "sync", "db", "links", "observe", "bootstrap", "config", "support", "net"],
  root: [
    "core",
    "ports",
    "net",
    "sync",
    "db",
    "graph",
    "wordpress",
    "links",
    "observe",
    "bootstrap",
    "http",
    "config",
    "support",
  ],
  cli: ["core", "sync", "db", "links", "root", "config", "support"],
};

/** The layer of a path relative to src/, e.g. "sync/engine.ts" -> sync, "config.ts" -> config. */
function layerOf(file: string): Layer {
  if (file === "sync/ports.ts") return "ports";
  const [first] = file.split("/");
  switch (first) {
    case "core":
    case "net":
    case "links":
    case "db":
    case "sync":
    case "graph":
    case "wordpress":
    case "observe":
    case "http":
    case "cli":
      return first;
    case "config.ts":
      return "config";
    case "logger.ts":
    case "private-files.ts":
    case "package-root.ts":
      return "support";
    case "bootstrap.ts":
      return "bootstrap";
    case "main.ts":
    case "local-service.ts":
    case "runtime.ts":
    case "connections.ts":
    case "startup-checks.ts":
    case "unconfigured.ts":
      return "root";
    default:
      throw new Error(`src/${file} belongs to no layer: add it to layerOf in test/layering.test.ts`);
  }
}

/** file -> the files it imports, all relative to src/. */
type ImportGraph = Map<string, string[]>;

const SRC = path.resolve(__dirname, "../src");

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

function resolveImport(from: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null; // a package
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, path.join(base, "index.ts")]) {
    if (candidate.endsWith(".ts") && fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`${path.relative(SRC, from)}: cannot resolve import "${specifier}"`);
}

function readImportGraph(): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
    const targets = info.importedFiles
      .map((imported) => resolveImport(file, imported.fileName))
      .filter((target): target is string => target !== null)
      .map((target) => path.relative(SRC, target));
    graph.set(path.relative(SRC, file), [...new Set(targets)]);
  }
  return graph;
}

function wrongWayImports(graph: ImportGraph): string[] {
  const found: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    for (const target of targets) {
      const to = layerOf(target);
      if (to !== from && !ALLOWED[from].includes(to)) found.push(`${file} (${from}) imports ${target} (${to})`);
    }
  }
  return found;
}

/** Every strongly connected component of more than one file (Tarjan), plus files importing themselves. */
function importCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1 || graph.get(file)?.includes(file)) cycles.push(component.sort());
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return cycles;
}

describe("the layering of src/", () => {
  const graph = readImportGraph();

  it("reads the imports of every source file", () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get("sync/engine.ts")).toEqual(expect.arrayContaining(["sync/ports.ts", "core/errors.ts"]));
    // `import type` counts: core/match.ts uses users only as types.
    expect(graph.get("core/match.ts")).toContain("core/users.ts");
  });

  it("has no import running against the layer rules", () => {
    expect(wrongWayImports(graph)).toEqual([]);
  });

  it("has no import cycle", () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it("keeps the allowed dependencies between layers themselves free of cycles", () => {
    const layers = new Map(Object.entries(ALLOWED).map(([layer, allowed]) => [layer, [...allowed]]));
    expect(importCycles(layers)).toEqual([]);
  });

  describe("the checks themselves", () => {
    it("report an import running the wrong way", () => {
      const bad: ImportGraph = new Map([
        ["db/runs.ts", ["sync/service.ts", "core/runs.ts"]],
        ["wordpress/site.ts", ["sync/ports.ts", "sync/engine.ts"]],
        ["sync/engine.ts", ["wordpress/site.ts"]],
        ["net/retry.ts", ["net/deadline.ts", "core/errors.ts", "sync/ports.ts"]],
      ]);
      expect(wrongWayImports(bad)).toEqual([
        "db/runs.ts (db) imports sync/service.ts (sync)",
        "wordpress/site.ts (wordpress) imports sync/engine.ts (sync)",
        "sync/engine.ts (sync) imports wordpress/site.ts (wordpress)",
        "net/retry.ts (net) imports sync/ports.ts (ports)",
      ]);
    });

    it("report a cycle, however long", () => {
      const cyclic: ImportGraph = new Map([
        ["sync/step.ts", ["sync/listing.ts"]],
        ["sync/listing.ts", ["sync/reconcile.ts"]],
        ["sync/reconcile.ts", ["sync/step.ts"]],
        ["sync/engine.ts", ["sync/step.ts"]],
      ]);
      expect(importCycles(cyclic)).toEqual([["sync/listing.ts", "sync/reconcile.ts", "sync/step.ts"]]);
    });

    it("refuse a file that belongs to no layer", () => {
      expect(() => layerOf("helpers.ts")).toThrow(/belongs to no layer/);
    });
  });
});
