/** GET /openapi.yaml (the file at the repository root, as is) and GET /docs (it, as a page). */
import fs from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { parse } from "yaml";
import { renderDocsPage } from "../docs-page";

/** The package root holds openapi.yaml, from src/http/routes or from dist/src/http/routes alike. */
export function findOpenApiFile(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "openapi.yaml");
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`openapi.yaml not found above ${from}`);
  }
}

export async function registerDocsRoutes(app: FastifyInstance): Promise<void> {
  const yamlText = fs.readFileSync(findOpenApiFile(), "utf8");
  const page = renderDocsPage(parse(yamlText) as Record<string, unknown>);

  app.get("/openapi.yaml", { schema: { querystring: { type: "object", properties: {} } } }, async (_request, reply) =>
    reply.type("application/yaml; charset=utf-8").send(yamlText),
  );

  app.get("/docs", { schema: { querystring: { type: "object", properties: {} } } }, async (_request, reply) =>
    reply
      .type("text/html; charset=utf-8")
      .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
      .send(page),
  );
}
