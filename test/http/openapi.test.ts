import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { generateOpenApi } from "../../tools/openapi";
import { type Harness, makeHarness } from "./harness";

// biome-ignore lint/suspicious/noExplicitAny: a parsed YAML document, walked freely
type Json = Record<string, any>;
const committedText = fs.readFileSync(path.join(__dirname, "../../openapi.yaml"), "utf8");
const spec: Json = parse(committedText);
const METHODS = ["get", "head", "post", "put", "patch", "delete"];

let h: Harness;
beforeAll(async () => {
  h = await makeHarness();
});
afterAll(async () => {
  await h.app.close();
});

function operations(): Array<[string, string, Json]> {
  return Object.entries(spec.paths as Json).flatMap(([url, item]) =>
    METHODS.filter((method) => item[method]).map((method): [string, string, Json] => [url, method, item[method]]),
  );
}

function resolve(node: Json): Json {
  if (!node.$ref) return node;
  return node.$ref
    .slice(2)
    .split("/")
    .reduce((at: Json, part: string) => at[part], spec);
}

describe("openapi.yaml", () => {
  it("is exactly what the route schemas generate (after changing a route, run npm run openapi)", async () => {
    const generated = await generateOpenApi();
    // A line-by-line diff in the failure message, rather than two 70 KB strings.
    expect(committedText.split("\n")).toEqual(generated.split("\n"));
  });

  it("is the document the service serves at /openapi.yaml, without authentication", async () => {
    const response = await h.app.inject({ method: "GET", url: "/openapi.yaml" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/yaml/);
    expect(response.body).toBe(committedText);
  });

  it("is OpenAPI 3.1 with the package's version", () => {
    expect(spec.openapi).toBe("3.1.0");
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "../../package.json"), "utf8"));
    expect(spec.info.version).toBe(pkg.version);
  });

  it("documents every route the app registers, and the HEAD of the trigger links only", () => {
    const documented = new Set(operations().map(([url, method]) => `${method.toUpperCase()} ${url}`));
    for (const route of h.routes) {
      const url = route.url.replace(/:(\w+)/g, "{$1}");
      for (const method of [route.method].flat()) {
        // Fastify adds a HEAD to every GET by itself; only the trigger links declare (and document) theirs.
        if (method === "HEAD" && !/\/(start|continue)$/.test(url)) continue;
        expect([url, method, documented.has(`${method} ${url}`)]).toEqual([url, method, true]);
      }
    }
    expect(documented.has("HEAD /v1/jobs/{job}/start")).toBe(true);
  });

  it("gives every API route a schema for its params, query, body (POST) and responses", () => {
    for (const route of h.routes) {
      if (!route.url.startsWith("/v1/")) continue;
      const schema = (route.schema ?? {}) as Json;
      const isTrigger = /\/(start|continue)$/.test(route.url);
      const needs = ["querystring", "response"];
      if (route.url.includes(":")) needs.push("params");
      if ([route.method].flat().includes("POST") && !isTrigger) needs.push("body");
      for (const part of needs) expect([route.url, part, Boolean(schema[part])]).toEqual([route.url, part, true]);
    }
  });

  it("says for every operation what it does, who may call it and each problem it can answer", () => {
    for (const [url, method, op] of operations()) {
      const where = `${method} ${url}`;
      expect([where, typeof op.summary]).toEqual([where, "string"]);
      expect([where, op.tags?.length]).toEqual([where, 1]);
      const responses = op.responses as Json;
      expect([where, Object.values(responses).every((r: Json) => (resolve(r).description ?? "").length > 0)]).toEqual([
        where,
        true,
      ]);
      // 204: a SCIM delete (RFC 7644 §3.6).
      const success = ["200", "201", "204"].some((status) => Object.keys(responses).includes(status));
      expect([where, success]).toEqual([where, true]);
      if (url.startsWith("/v1/")) {
        // An open route (Graph's notification endpoint: security []) answers no 401 or 429.
        const open = Array.isArray(op.security) && op.security.length === 0;
        for (const status of open ? ["400"] : ["400", "401", "429"]) {
          const problem = resolve(responses[status] ?? {});
          expect([where, status, Object.keys(problem.content ?? {})]).toEqual([
            where,
            status,
            ["application/problem+json"],
          ]);
        }
      }
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

  it("is browsable at /docs as a self-contained page listing every operation", async () => {
    const response = await h.app.inject({ method: "GET", url: "/docs" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/html/);
    expect(response.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(response.body).not.toMatch(/<script|https?:\/\/(?!sync)[^"<\s]*\.(js|css)/);
    for (const [url, method] of operations()) {
      expect(response.body).toContain(`${method.toUpperCase()}</span> <code>${url.replace(/&/g, "&amp;")}</code>`);
    }
    expect(response.body).toContain('id="schema-RunSummary"');
    expect(response.body).toContain('id="schema-RunItem"');
    expect(response.body).toContain('id="schema-Problem"');
    for (const scheme of Object.keys(spec.components.securitySchemes))
      expect(response.body).toContain(`<code>${scheme}</code>`);
  });
});
