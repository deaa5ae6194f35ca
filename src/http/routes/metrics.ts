/** GET /metrics: the registry of src/observe/metrics.ts in the Prometheus text format. */
import type { FastifyInstance, FastifySchema, onRequestAsyncHookHandler } from "fastify";
import type { Metrics } from "../../observe/metrics";
import { problems, text } from "../schemas";

const METRICS_SCHEMA: FastifySchema = {
  tags: ["open"],
  summary: "Prometheus metrics",
  description:
    "Open unless METRICS_TOKEN is set; then it needs Authorization Bearer METRICS_TOKEN, and a missing or wrong token counts against the failed-authentication budget.",
  security: [{}, { metricsToken: [] }],
  response: { 200: text("The Prometheus text exposition.", "text/plain"), ...problems(401, 429) },
};

/** GET /metrics; behind `authorize` (METRICS_TOKEN) when given, else open. */
export function registerMetricsRoute(
  app: FastifyInstance,
  metrics: Pick<Metrics, "registry">,
  authorize?: onRequestAsyncHookHandler,
): void {
  app.get(
    "/metrics",
    { ...(authorize ? { onRequest: authorize } : {}), schema: METRICS_SCHEMA },
    async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.header("cache-control", "no-store").type(metrics.registry.contentType).send(body);
    },
  );
}
