/**
 * POST /v1/notifications/graph: where Microsoft Graph delivers change and lifecycle notifications
 * for jobs with source.notifications. Open (Graph cannot send our tokens): each notification
 * proves itself with its subscription's clientState. The answer never depends on WordPress or on
 * processing: notifications are stored, then 202; Graph throttles endpoints slower than 3 s and
 * retries undelivered notifications for up to 4 hours, so a store that cannot finish in time
 * answers 503 (Graph retries; a duplicate is harmless, changes are coalesced per user).
 */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { NOTIFICATIONS_PATH, receiveNotifications } from "../../sync/notification-inbox";
import type { AppDeps } from "../deps";
import { sendProblem } from "../problem";
import { NO_AUTH, problem, problems, text } from "../schemas";

/** Graph waits 10 s for the validation answer and 3 s for a notification's. */
const STORE_TIMEOUT_MS = 2500;
/** A changeNotificationCollection of directory notifications is small; Graph batches a few per POST. */
const BODY_LIMIT = 1024 * 1024;
const MAX_VALIDATION_TOKEN = 2048;
const MAX_NOTIFICATIONS = 1000;

export async function registerNotificationRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  // The validation call has a text/plain body (empty); notifications are JSON.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("text/plain", { parseAs: "string", bodyLimit: BODY_LIMIT }, (_request, _body, done) =>
    done(null, undefined),
  );

  const routes = app.withTypeProvider<TypeBoxTypeProvider>();
  routes.post(
    NOTIFICATIONS_PATH,
    {
      bodyLimit: BODY_LIMIT,
      schema: {
        tags: ["open"],
        security: NO_AUTH,
        summary: "Where Microsoft Graph delivers change and lifecycle notifications",
        description:
          'Open: each notification proves itself with the clientState of the subscription it names (the service stores only a hash of it); the others are dropped, counted in entra_wp_sync_notifications_refused_total, and the answer is still 202. Genuine notifications are stored before the answer and applied by runs of kind "notification". With ?validationToken= (Graph\'s handshake when a subscription is created) the token is echoed as text/plain.',
        querystring: Type.Object({
          validationToken: Type.Optional(
            Type.String({ maxLength: MAX_VALIDATION_TOKEN, description: "Graph's validation token, echoed back." }),
          ),
        }),
        // Notifications only: the validation call's body is empty text/plain.
        body: {
          content: {
            "application/json": {
              schema: Type.Object({
                value: Type.Array(Type.Object({}, { description: "A change or lifecycle notification." }), {
                  maxItems: MAX_NOTIFICATIONS,
                }),
              }),
            },
          },
        },
        response: {
          200: text("The validation token, echoed.", "text/plain"),
          202: { description: "Stored (or refused and dropped).", type: "null" },
          ...problems(400),
          413: problem(400, { description: "The body is larger than 1 MB." }),
          503: problem(503, {
            description: "The notifications could not be stored within 2.5 s; Graph delivers them again.",
            headers: undefined,
          }),
        },
      },
    },
    async (request, reply) => {
      reply.header("cache-control", "no-store");
      const token = request.query.validationToken;
      if (token !== undefined) {
        // The subscription handshake: echo the (decoded) token as text/plain within 10 s.
        return reply
          .code(200)
          .type("text/plain; charset=utf-8")
          .header("x-content-type-options", "nosniff")
          .send(token);
      }
      const body = request.body as { value?: unknown } | undefined;
      if (!body || typeof body !== "object" || !Array.isArray(body.value)) {
        return sendProblem(reply, 400, 'The body must be a change notification collection: { "value": [ ... ] }');
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), STORE_TIMEOUT_MS);
      });
      try {
        const outcome = await Promise.race([receiveNotifications(deps.db.pool, { value: body.value }), timeout]);
        if (outcome === "timeout") {
          request.log.warn("storing notifications took too long; Graph will deliver them again");
          return sendProblem(reply, 503, "The notifications could not be stored in time; deliver them again");
        }
        for (const refusal of outcome.refused) deps.notifications?.onRefused(refusal.reason);
        if (outcome.refused.length > 0) {
          request.log.warn({ refused: outcome.refused.length, stored: outcome.stored }, "notifications refused");
        }
        if (outcome.stored > 0) deps.notifications?.onStored();
        return reply.code(202).send();
      } catch (error) {
        request.log.error({ err: error }, "storing notifications failed; Graph will deliver them again");
        return sendProblem(reply, 503, "The notifications could not be stored; deliver them again");
      } finally {
        clearTimeout(timer);
      }
    },
  );
}
