/**
 * GET /status: the page for people (rendering in ../status-html.ts). Protected like the admin API
 * (Authorization: Bearer ADMIN_TOKEN, compared in constant time) unless STATUS_PUBLIC is set.
 * A token in the URL is deliberately not accepted: URLs end up in proxy logs, browser history
 * and Referer headers.
 */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from "fastify";
import type { RunItem } from "../../core/runs";
import { entraIdsOf, historyOf } from "../../db/items";
import { notificationStats } from "../../db/notifications";
import type { Queryable } from "../../db/pool";
import { listSubscriptions } from "../../db/subscriptions";
import type { OutboxBacklog } from "../../db/webhook-outbox";
import type { WatchdogWarning } from "../../observe/watchdog";
import type { SyncService } from "../../sync/service";
import { type Access, bearerToken, checkBearerSecret, TokenAuthError, TooManyFailuresError } from "../auth";
import { sendProblem } from "../problem";
import { problems, text } from "../schemas";
import {
  type ApprovalView,
  type JobView,
  type NotificationsView,
  type PersonView,
  renderStatusPage,
  STATUS_STYLE_HASH,
} from "../status-html";

export interface StatusDeps {
  service: SyncService;
  statusPublic: boolean;
  /**
   * The admin token and the budgets of the admin API (../auth.ts), so the page is no easier
   * a place to guess the token than the API. Unused when the page is public.
   */
  admin: Access;
  watchdog?: () => WatchdogWarning[];
  /** Subscriptions and pending notifications, read at each view. */
  notifications?: () => Promise<NotificationsView>;
  /** The webhook outbox's backlog (events waiting, given up). */
  webhooks?: () => Promise<OutboxBacklog>;
  /** One person's items, newest first (the page's search box). */
  history?: (user: string, limit: number) => Promise<PersonView>;
  /** Seconds between automatic reloads (default 5). */
  refreshSeconds?: number;
  now?: () => Date;
}

const STATUS_SCHEMA: FastifySchema = {
  tags: ["open"],
  summary: "Status page for people (jobs, current runs, recent runs, pending approvals, warnings)",
  description:
    "Needs the admin token unless STATUS_PUBLIC is true: in an Authorization Bearer header, or as the password of HTTP Basic auth with any user name (so a browser shows its login prompt). A token in the URL is not accepted. A visit without credentials is answered 401 with the prompt and costs nothing; a wrong token counts against the failed-authentication budget, past which the page still answers 401 with WWW-Authenticate (and Retry-After), so a browser can ask again: the right token is served whatever that budget says.",
  security: [{ adminToken: [] }, { statusLogin: [] }, {}],
  querystring: Type.Object({
    user: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 320,
        description: "Show this person's history (e-mail or Entra object id).",
      }),
    ),
  }),
  response: {
    200: text("A self-contained HTML page.", "text/html"),
    ...problems(401, 429, 503),
  },
};

const RECENT_RUNS = 10;
/** A person's items listed on the page; the admin API pages through them all. */
const HISTORY_SHOWN = 100;
/** Pending removals listed on the page; the admin API lists them all. */
const REMOVALS_SHOWN = 50;

const CSP = [
  "default-src 'none'",
  `style-src ${STATUS_STYLE_HASH}`,
  "base-uri 'none'",
  // The search box submits to this page.
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The admin token as a bearer token (scripts), or as the password of HTTP Basic auth with any user
 * name: a browser then asks for it with its own login prompt, so people can open the page
 * without a proxy that adds headers.
 */
function presentedToken(request: FastifyRequest): string | null {
  const bearer = bearerToken(request);
  if (bearer !== null) return bearer;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(request.headers.authorization ?? "");
  if (!basic) return null;
  const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? null : decoded.slice(colon + 1);
}

/**
 * Always 401 with both challenges, also past the failure budget: only a 401 makes a browser show
 * its login prompt, and a 429 would leave a person who mistyped the token with an error page
 * and no way to try again. The budget still says when to retry.
 */
function refuse(reply: FastifyReply, given: string | null, limited: TooManyFailuresError | null): FastifyReply {
  const error = given === null ? "" : `, error="invalid_token"`;
  reply.header("www-authenticate", [
    `Bearer realm="entra-wp-sync"${error}`,
    `Basic realm="entra-wp-sync status", charset="UTF-8"`,
  ]);
  if (limited) reply.header("retry-after", String(limited.retryAfterSeconds));
  const detail =
    given === null
      ? "The status page needs the admin token: Authorization: Bearer <ADMIN_TOKEN>, or a browser login with any user name and the admin token as password (or STATUS_PUBLIC=true); tokens in the URL are not accepted"
      : limited
        ? "The token is not the admin token, and this address has failed too often: wait for the time in Retry-After"
        : "The token is not the admin token";
  return sendProblem(reply, 401, detail);
}

async function pendingRemovals(service: SyncService, runId: string): Promise<{ items: RunItem[]; more: boolean }> {
  const items: RunItem[] = [];
  let more = false;
  for (const action of ["delete", "deactivate"] as const) {
    const page = await service.items(runId, { action, limit: REMOVALS_SHOWN + 1 });
    const pending = page.items.filter((item) => item.status === "pending");
    items.push(...pending);
    // A full page may hide pending items behind the cursor: say "more" rather than page through it all.
    if (page.nextCursor !== null) more = true;
  }
  if (items.length > REMOVALS_SHOWN) more = true;
  return { items: items.slice(0, REMOVALS_SHOWN), more };
}

export async function gatherJobViews(service: SyncService): Promise<JobView[]> {
  return Promise.all(
    service.jobs().map(async (job): Promise<JobView> => {
      const [active, recent] = await Promise.all([
        service.activeRun(job.id),
        service.runs(job.id, { limit: RECENT_RUNS }),
      ]);
      let approval: ApprovalView | null = null;
      if (active?.state === "awaiting_approval") {
        const { items, more } = await pendingRemovals(service, active.id);
        approval = { run: active, removals: items, more };
      }
      return { job, active, recent: recent.slice(0, RECENT_RUNS), approval };
    }),
  );
}

export function registerStatusRoutes(app: FastifyInstance, deps: StatusDeps): void {
  const now = deps.now ?? (() => new Date());
  app.get("/status", { schema: STATUS_SCHEMA }, async (request, reply) => {
    if (!deps.statusPublic) {
      const given = presentedToken(request);
      try {
        await checkBearerSecret(request, given, deps.admin.adminToken, deps.admin.limits);
      } catch (error) {
        if (error instanceof TokenAuthError) return refuse(reply, given, null);
        // A wrong token past the address's budget; the right one's own call limit stays a 429.
        if (error instanceof TooManyFailuresError) return refuse(reply, given, error);
        throw error;
      }
    }
    const user = (request.query as { user?: string }).user?.trim();
    const person = user && deps.history ? await deps.history(user, HISTORY_SHOWN) : undefined;
    const jobs = await gatherJobViews(deps.service);
    const html = renderStatusPage({
      now: now(),
      jobs,
      warnings: deps.watchdog?.() ?? [],
      webhooks: (await deps.webhooks?.().catch(() => null)) ?? null,
      refreshSeconds: deps.refreshSeconds ?? 5,
      ...(person ? { person } : {}),
      ...(deps.notifications ? { notifications: await deps.notifications() } : {}),
    });
    return reply
      .header("cache-control", "no-store")
      .header("content-security-policy", CSP)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .type("text/html; charset=utf-8")
      .send(html);
  });
}

/** One person's items for the page, from the database (the admin API's history, its first page). */
export async function readPersonView(db: Queryable, user: string, limit: number): Promise<PersonView> {
  const entraIds = await entraIdsOf(db, user);
  const { items, nextCursor } = await historyOf(db, entraIds, { limit });
  return { user, entraIds, items, more: nextCursor !== null };
}

/** What the page shows about change notifications, from the database. */
export async function readNotificationsView(db: Queryable): Promise<NotificationsView> {
  const [subscriptions, pending] = await Promise.all([listSubscriptions(db), notificationStats(db)]);
  return { subscriptions: subscriptions.filter((s) => s.wanted), pending };
}
