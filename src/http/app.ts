/**
 * Builds the Fastify app from its dependencies; never listens (main.ts owns the process).
 * Route modules register themselves from src/http/routes/*.
 */
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { ServiceSecrets } from "../bootstrap";
import type { Config } from "../config";
import type { Database } from "../db/pool";
import type { Logger } from "../logger";
import { registerProblemHandlers } from "./problem";
import { registerHealthRoutes } from "./routes/health";

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Database;
  secrets: ServiceSecrets;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    trustProxy: deps.config.trustProxy,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && /^[A-Za-z0-9._-]{1,100}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    bodyLimit: 64 * 1024,
  });
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  registerProblemHandlers(app);
  await registerHealthRoutes(app, deps);
  return app;
}
