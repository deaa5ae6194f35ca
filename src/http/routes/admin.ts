/** The admin API (Authorization: Bearer ADMIN_TOKEN): jobs, runs, items, links and people's histories. */
import type { FastifyInstance } from "fastify";
import { type Access, requireBearer } from "../auth";
import type { AppDeps } from "../deps";
import { registerJobRoutes } from "./jobs";
import { registerRunRoutes } from "./runs";
import { registerUserRoutes } from "./users";

export async function registerAdminRoutes(app: FastifyInstance, deps: AppDeps, access: Access): Promise<void> {
  app.addHook("onRequest", requireBearer(access.adminToken, access.limits));
  app.addHook("onSend", async (_request, reply) => {
    reply.header("cache-control", "no-store");
  });
  // Every admin POST body is optional: no body at all reads as {} (Ajv would refuse undefined).
  app.addHook("preValidation", async (request) => {
    if (request.method === "POST" && request.body === undefined) request.body = {};
  });
  await registerJobRoutes(app, deps);
  await registerRunRoutes(app, deps);
  await registerUserRoutes(app, deps);
}
