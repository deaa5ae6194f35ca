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
import type { Logger } from "../../logger";
import { makeNotificationInbox, NOTIFICATIONS_PATH, type RefusalReason } from "../../sync/notification-inbox";
import type { AccessLimits } from "../auth";
import type { AppDeps } from "../deps";
import { sendProblem } from "../problem";
import { NO_AUTH, problem, problems, text } from "../schemas";

/** Graph waits 10 s for the validation answer and 3 s for a notification's. */
const STORE_TIMEOUT_MS = 2500;
/** A changeNotificationCollection of directory notifications is small; Graph batches a few per POST. */
const BODY_LIMIT = 1024 * 1024;
const MAX_VALIDATION_TOKEN = 2048;
const MAX_NOTIFICATIONS = 1000;

/** Refusals are logged as one line per interval, not one per forged post. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * Refused notifications in the log: the first of a quiet interval at once (an operator sees it
 * start), the rest of the interval summed in one line at its end (or when the service stops), so
 * a flood of forged posts writes two lines a minute, not one per post.
 */
function makeRefusalLog(logger: Logger, intervalMs: number) {
  let open: {
    requests: number;
    notifications: number;
    addresses: Set<string>;
    reasons: Record<string, number>;
  } | null = null;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    const summary = open;
    open = null;
    if (summary && summary.requests > 0) {
      const { requests, notifications, addresses, reasons } = summary;
      logger.warn(
        { requests, notifications, addresses: addresses.size, reasons, seconds: intervalMs / 1000 },
        "more notifications refused in this interval",
      );
    }
  };
  return {
    note(address: string, refused: ReadonlyArray<{ reason: RefusalReason }>, stored: number) {
      if (open === null) {
        logger.warn(
          { ip: address, refused: refused.length, stored },
          "notifications refused (further refusals are summed in one line a minute)",
        );
        open = { requests: 0, notifications: 0, addresses: new Set(), reasons: {} };
        timer = setTimeout(flush, intervalMs);
        timer.unref();
        return;
      }
      open.requests += 1;
      open.notifications += refused.length;
      if (open.addresses.size < 10_000) open.addresses.add(address);
      for (const { reason } of refused) open.reasons[reason] = (open.reasons[reason] ?? 0) + 1;
    },
    flush,
  };
}

export async function registerNotificationRoutes(
  app: FastifyInstance,
  deps: AppDeps,
  limits: AccessLimits,
): Promise<void> {
  const inbox = makeNotificationInbox(deps.db.pool);
  const refusals = makeRefusalLog(deps.logger.child({ component: "notifications" }), REFUSAL_LOG_INTERVAL_MS);
  app.addHook("onClose", async () => refusals.flush());

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
        // A caller past its failure budget is checked against known subscriptions only: no query.
        const lookUp = !limits.overBudget(request);
        const outcome = await Promise.race([inbox.receive({ value: body.value }, { lookUp }), timeout]);
        if (outcome === "timeout") {
          request.log.warn("storing notifications took too long; Graph will deliver them again");
          return sendProblem(reply, 503, "The notifications could not be stored in time; deliver them again");
        }
        for (const refusal of outcome.refused) deps.notifications?.onRefused(refusal.reason);
        if (outcome.refused.length > 0) {
          limits.countLocalFailure(request);
          refusals.note(request.ip, outcome.refused, outcome.stored);
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
