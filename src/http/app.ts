/**
 * Builds the Fastify app from its dependencies; never listens (main.ts owns the process).
 * Route modules register themselves from src/http/routes/*.
 */
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from "fastify";
import type { ServiceSecrets } from "../bootstrap";
import type { Config } from "../config";
import type { Database } from "../db/pool";
import type { LinkCutoffs } from "../links/revocations";
import type { Logger } from "../logger";
import { type Metrics, registerMetricsRoute } from "../observe/metrics";
import { readNotificationsView, registerStatusRoutes } from "../observe/status-page";
import type { Watchdog } from "../observe/watchdog";
import type { RefusalReason } from "../sync/notification-inbox";
import type { ProvisionService } from "../sync/provision";
import type { SyncService } from "../sync/service";
import { type BearerSecret, makeAccess, requireBearer } from "./auth";
import { registerOpenApi } from "./openapi";
import { registerProblemHandlers, sendProblem } from "./problem";
import { registerAdminRoutes } from "./routes/admin";
import { registerDocsRoutes } from "./routes/docs";
import { registerHealthRoutes } from "./routes/health";
import { registerNotificationRoutes } from "./routes/notifications";
import { registerTriggerRoutes } from "./routes/triggers";

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Database;
  secrets: ServiceSecrets;
  sync: SyncService;
  linkCutoffs: LinkCutoffs;
  /** Serves GET /metrics when given. */
  metrics?: Pick<Metrics, "registry">;
  /** Its stalled-run warnings are shown on /status. */
  watchdog?: Pick<Watchdog, "warnings">;
  /** Told when the notification endpoint stored notifications (to apply them now) or refused one. */
  notifications?: { onStored(): void; onRefused(reason: RefusalReason): void };
  /** Syncs one user on demand (POST /v1/jobs/{job}/users/{entraId}/sync); 501 without it. */
  provision?: Pick<ProvisionService, "syncUser">;
}

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
  const access = makeAccess(deps.db.pool, deps.secrets.adminTokenDigest, deps.config.rateLimit);
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
  });
  await app.register(async (scope) => registerTriggerRoutes(scope, deps, access.limits));
  await app.register(async (scope) => registerAdminRoutes(scope, deps, access));
  await app.register(async (scope) => registerNotificationRoutes(scope, deps));
  return app;
}
