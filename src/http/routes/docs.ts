/** GET /openapi.yaml (generated from the route schemas) and GET /docs (it, as a page). */
import type { FastifyInstance } from "fastify";
import { renderDocsPage } from "../docs-page";
import { openApiYaml } from "../openapi";
import { NO_AUTH, text } from "../schemas";

// Any query is tolerated (a cache-busting parameter, say): there is none to validate.
const open = { tags: ["open"], security: NO_AUTH };

export async function registerDocsRoutes(app: FastifyInstance): Promise<void> {
  // Built once, on the first request: the document is complete only when every route is registered.
  let yaml: string | undefined;
  let page: string | undefined;

  app.get(
    "/openapi.yaml",
    {
      schema: {
        ...open,
        summary: "This description",
        response: { 200: text("The OpenAPI document.", "application/yaml") },
      },
    },
    async (_request, reply) => {
      yaml ??= openApiYaml(app);
      return reply.type("application/yaml; charset=utf-8").send(yaml);
    },
  );

  app.get(
    "/docs",
    {
      schema: {
        ...open,
        summary: "This description as a readable page",
        response: { 200: text("A self-contained HTML page (no scripts, no external resources).", "text/html") },
      },
    },
    async (_request, reply) => {
      page ??= renderDocsPage(app.swagger() as unknown as Record<string, unknown>);
      return reply
        .type("text/html; charset=utf-8")
        .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
        .send(page);
    },
  );
}
