import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps";
import { sendProblem } from "../problem";

export async function registerHealthRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.get("/healthz", async () => ({ status: "ok" }));

  // Ready means the database answers: a replica that lost PostgreSQL stops taking traffic
  // until the pool reconnects by itself.
  app.get("/readyz", async (_request, reply) => {
    try {
      await deps.db.pool.query("select 1");
      return { status: "ready", database: deps.db.kind };
    } catch {
      return sendProblem(reply, 503, "The database is not reachable");
    }
  });
}
