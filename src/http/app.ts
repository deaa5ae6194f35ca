/**
 * Builds the Fastify app from its dependencies; never listens (main.ts owns the process).
 * Route modules register themselves from src/http/routes/*, given the dependencies of deps.ts.
 */
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from "fastify";
import { outboxBacklog } from "../db/webhook-outbox";
import { type BearerSecret, makeAccess, requireBearer } from "./auth";
import type { AppDeps } from "./deps";
import { registerOpenApi } from "./openapi";
import { registerProblemHandlers, sendProblem } from "./problem";
import { registerAdminRoutes } from "./routes/admin";
import { registerDocsRoutes } from "./routes/docs";
import { registerHealthRoutes } from "./routes/health";
import { registerMetricsRoute } from "./routes/metrics";
import { registerNotificationRoutes } from "./routes/notifications";
import { readNotificationsView, readPersonView, registerStatusRoutes } from "./routes/status";
import { registerTriggerRoutes } from "./routes/triggers";

export interface BuildOptions {
  /** Sees every route as it is registered (the OpenAPI test uses it). */
  onRoute?: (route: RouteOptions) => void;
}

export async function buildApp(deps: AppDeps, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    trustProxy: deps.config.trustProxy,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && /^[A-Za-z0-9._-]{1,100}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    bodyLimit: 64 * 1024,
    // additionalProperties:false must refuse an unknown field (a typo like "dryrun"), not drop it silently.
    ajv: { customOptions: { removeAdditional: false } },
    // Errors Fastify raises before routing (bad percent-encoding, an over-long path parameter) would
    // otherwise answer plain JSON echoing the whole URL, link token included.
    frameworkErrors: (error, _request, reply) =>
      sendProblem(
        reply,
        error.code === "FST_ERR_MAX_PARAM_LENGTH" ? 414 : 400,
        error.code === "FST_ERR_MAX_PARAM_LENGTH" ? "A path segment of the URL is too long" : "The URL is not valid",
      ),
  });
  if (options.onRoute) app.addHook("onRoute", options.onRoute);
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  registerProblemHandlers(app);
  // Before the routes: the generator collects them as they are added.
  await registerOpenApi(app);
  const access = makeAccess(deps.db.pool, deps.secrets.adminTokenDigest, deps.config.rateLimit, deps.localTokenDigest);
  await registerHealthRoutes(app, deps);
  await registerDocsRoutes(app);
  if (deps.metrics) {
    const { metricsTokenDigest } = deps.secrets;
    const secret: BearerSecret | null =
      metricsTokenDigest === null ? null : { name: "METRICS_TOKEN", digest: metricsTokenDigest, perMinute: null };
    registerMetricsRoute(app, deps.metrics, secret === null ? undefined : requireBearer(secret, access.limits));
  }
  registerStatusRoutes(app, {
    service: deps.sync,
    statusPublic: deps.config.statusPublic,
    admin: access,
    ...(deps.watchdog ? { watchdog: () => deps.watchdog!.warnings() } : {}),
    notifications: () => readNotificationsView(deps.db.pool),
    history: (user, limit) => readPersonView(deps.db.pool, user, limit),
    webhooks: () => outboxBacklog(deps.db.pool),
  });
  await app.register(async (scope) => registerTriggerRoutes(scope, deps, access.limits));
  await app.register(async (scope) => registerAdminRoutes(scope, deps, access));
  await app.register(async (scope) => registerNotificationRoutes(scope, deps, access.limits));
  return app;
}
