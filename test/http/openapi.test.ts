import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { type Harness, makeHarness } from "./harness";

// biome-ignore lint/suspicious/noExplicitAny: a parsed YAML document, walked freely
type Json = Record<string, any>;
const spec: Json = parse(fs.readFileSync(path.join(__dirname, "../../openapi.yaml"), "utf8"));
const METHODS = ["get", "head", "post", "put", "patch", "delete"];

let h: Harness;
beforeAll(async () => {
  h = await makeHarness();
});
afterAll(async () => {
  await h.app.close();
});

const toOpenApiPath = (url: string) => url.replace(/:(\w+)/g, "{$1}");

/** Fastify adds a HEAD to every GET by itself; only the trigger links declare (and document) theirs. */
function registeredOperations(): Set<string> {
  const operations = new Set<string>();
  for (const route of h.routes) {
    for (const method of [route.method].flat()) {
      const url = toOpenApiPath(route.url);
      if (method === "HEAD" && !/\/(start|continue)$/.test(url)) continue;
      operations.add(`${method} ${url}`);
    }
  }
  return operations;
}

function documentedOperations(): Set<string> {
  const operations = new Set<string>();
  for (const [url, item] of Object.entries(spec.paths as Json)) {
    for (const method of METHODS) if (item[method]) operations.add(`${method.toUpperCase()} ${url}`);
  }
  return operations;
}

function resolve(node: Json): Json {
  if (!node.$ref) return node;
  return node.$ref
    .slice(2)
    .split("/")
    .reduce((at: Json, part: string) => at[part], spec);
}

function documentedParameters(url: string, method: string, where: "query" | "path"): string[] {
  const item = spec.paths[url];
  return [...(item.parameters ?? []), ...(item[method].parameters ?? [])]
    .map(resolve)
    .filter((p: Json) => p.in === where)
    .map((p: Json) => p.name)
    .sort();
}

describe("openapi.yaml", () => {
  it("is OpenAPI 3.1 and documents exactly the routes the app registers", () => {
    expect(spec.openapi).toBe("3.1.0");
    const registered = registeredOperations();
    const documented = documentedOperations();
    expect([...registered].filter((op) => !documented.has(op)).sort()).toEqual([]);
    expect([...documented].filter((op) => !registered.has(op)).sort()).toEqual([]);
    expect(registered.has("HEAD /v1/jobs/{job}/start")).toBe(true);
  });

  it("documents the same path and query parameters the routes validate", () => {
    for (const route of h.routes) {
      for (const method of [route.method].flat()) {
        const url = toOpenApiPath(route.url);
        const op = method.toLowerCase();
        if (!spec.paths[url]?.[op]) continue;
        const schema = (route.schema ?? {}) as Json;
        const query = Object.keys(schema.querystring?.properties ?? {}).sort();
        expect([`${method} ${url}`, documentedParameters(url, op, "query")]).toEqual([`${method} ${url}`, query]);
        const params = Object.keys(schema.params?.properties ?? {}).sort();
        expect([`${method} ${url}`, documentedParameters(url, op, "path")]).toEqual([`${method} ${url}`, params]);
      }
    }
  });

  it("gives every API route a JSON schema for its params, query and (for POST) body", () => {
    for (const route of h.routes) {
      if (!route.url.startsWith("/v1/")) continue;
      const schema = (route.schema ?? {}) as Json;
      expect([route.url, Boolean(schema.querystring)]).toEqual([route.url, true]);
      if (route.url.includes(":")) expect([route.url, Boolean(schema.params)]).toEqual([route.url, true]);
      const methods = [route.method].flat();
      const isTrigger = /\/(start|continue)$/.test(route.url);
      if (methods.includes("POST") && !isTrigger) expect([route.url, Boolean(schema.body)]).toEqual([route.url, true]);
    }
  });

  it("resolves every $ref it uses", () => {
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "$ref") refs.push(value as string);
          else walk(value);
        }
      }
    };
    walk(spec);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of new Set(refs)) expect([ref, Object.keys(resolve({ $ref: ref })).length > 0]).toEqual([ref, true]);
  });

  it("is served as YAML at /openapi.yaml without authentication", async () => {
    const response = await h.app.inject({ method: "GET", url: "/openapi.yaml" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/yaml/);
    expect(parse(response.body)).toEqual(spec);
  });

  it("is browsable at /docs as a self-contained page listing every operation", async () => {
    const response = await h.app.inject({ method: "GET", url: "/docs" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/html/);
    expect(response.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(response.body).not.toMatch(/<script|https?:\/\/(?!sync)[^"<\s]*\.(js|css)/);
    for (const op of documentedOperations()) {
      const [method, url] = op.split(" ");
      expect(response.body).toContain(`${method}</span> <code>${url!.replace(/&/g, "&amp;")}</code>`);
    }
    expect(response.body).toContain('id="schema-RunSummary"');
    expect(response.body).toContain('id="schema-RunItem"');
    expect(response.body).toContain('id="schema-Problem"');
  });
});
