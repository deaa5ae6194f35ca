import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps";
import { sendProblem } from "../problem";
import { json, NO_AUTH, problem, StringEnum } from "../schemas";

const open = { tags: ["open"], security: NO_AUTH };

export async function registerHealthRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const routes = app.withTypeProvider<TypeBoxTypeProvider>();

  routes.get(
    "/healthz",
    {
      schema: {
        ...open,
        summary: "Liveness",
        response: { 200: json("The process is up.", Type.Object({ status: Type.Literal("ok") })) },
      },
    },
    async () => ({ status: "ok" as const }),
  );

  // Ready means the database answers: a replica that lost PostgreSQL stops taking traffic
  // until the pool reconnects by itself.
  routes.get(
    "/readyz",
    {
      schema: {
        ...open,
        summary: "Readiness (the database answers)",
        response: {
          200: json(
            "Ready.",
            Type.Object({ status: Type.Literal("ready"), database: StringEnum(["postgres", "embedded"]) }),
          ),
          503: problem(503, {
            description: "The database is not reachable (no Retry-After: probes poll anyway).",
            headers: undefined,
          }),
        },
      },
    },
    async (_request, reply) => {
      try {
        await deps.db.pool.query("select 1");
        return { status: "ready" as const, database: deps.db.kind };
      } catch {
        return sendProblem(reply, 503, "The database is not reachable");
      }
    },
  );
}
