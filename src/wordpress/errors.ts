import { UpstreamError, type UpstreamKind } from "../core/errors";
import { PROTECTED_CODE } from "../core/privileges";

/**
 * WordPress error codes -> UpstreamError kinds. WordPress must be switched on `code`, not on the
 * HTTP status: duplicates and an over-long login come back as HTTP 500 with `data: null`
 * (wp_insert_user's WP_Error passed through by the users controller; observed on 6.1.9).
 */
const KIND_BY_CODE: Record<string, UpstreamKind> = {
  existing_user_login: "exists",
  existing_user_email: "exists",
  // wp_insert_user's other refusals (HTTP 500 as well)
  user_login_too_long: "invalid",
  empty_user_login: "invalid",
  invalid_username: "invalid",
  user_nicename_too_long: "invalid",
  rest_user_invalid_role: "invalid",
  rest_user_invalid_email: "invalid",
  rest_invalid_param: "invalid",
  rest_missing_callback_param: "invalid",
  rest_user_invalid_argument: "invalid",
  rest_user_invalid_reassign: "invalid",
  rest_user_invalid_password: "invalid",
  rest_invalid_page_number: "invalid",
  rest_user_invalid_id: "not-found",
  // The companion plugin's network routes (section 8): no such user on the network.
  entra_wp_sync_no_user: "not-found",
};

/** Where the site's URL, user and Application Password were configured, named in messages (never the values). */
export interface WordPressSetting {
  url: string;
  username: string;
  appPassword: string;
}

export const WP_SETTING: WordPressSetting = { url: "WP_URL", username: "WP_USERNAME", appPassword: "WP_APP_PASSWORD" };

/** Where a request went, for messages that tell an operator what to fix (never the password). */
export interface RequestContext {
  url: string;
  username: string;
  /** The settings to name (default the WP_* variables; a named site's `sites.<name>.url` ...). */
  setting?: WordPressSetting;
  method: string;
  path: string;
}

/** HTTP statuses worth another attempt: gateways and overload. 500 is a PHP error or a refusal: not retried. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}

export function classifyResponse(
  status: number,
  body: { code?: unknown; message?: unknown } | null,
  ctx: RequestContext,
): UpstreamError {
  const code = typeof body?.code === "string" ? body.code : undefined;
  const wpMessage = typeof body?.message === "string" ? body.message : `HTTP ${status}`;
  const what = `WordPress ${ctx.method} ${ctx.path}: ${status}${code ? ` ${code}` : ""}: ${wpMessage}`;
  const details = { status, ...(code ? { code } : {}) };

  // The plugin's guard refused a write to one user it found privileged: not the service's credentials.
  if (code === PROTECTED_CODE) return new UpstreamError(what, "wordpress", "invalid", details);
  if (status === 401 || status === 403 || (code !== undefined && isAuthCode(code))) {
    return new UpstreamError(authMessage(status, code, ctx), "wordpress", "auth", details);
  }
  const byCode = code === undefined ? undefined : KIND_BY_CODE[code];
  if (byCode) return new UpstreamError(what, "wordpress", byCode, details);
  if (status === 404) {
    // rest_no_route, or an HTML 404: the URL does not lead to this WordPress route.
    return new UpstreamError(
      `${what}. Check ${settingOf(ctx).url}=${ctx.url} (it should be the site's address; /wp-json/ needs pretty permalinks)` +
        " and that the route exists in this WordPress version",
      "wordpress",
      "config",
      details,
    );
  }
  if (status === 429) return new UpstreamError(what, "wordpress", "throttled", details);
  if (status >= 400 && status < 500) return new UpstreamError(what, "wordpress", "invalid", details);
  return new UpstreamError(what, "wordpress", "transient", details);
}

function isAuthCode(code: string): boolean {
  return (
    code === "rest_forbidden" ||
    code === "rest_forbidden_context" ||
    code === "rest_not_logged_in" ||
    code.startsWith("rest_cannot_") ||
    code.startsWith("rest_user_cannot_")
  );
}

function settingOf(ctx: RequestContext): WordPressSetting {
  return ctx.setting ?? WP_SETTING;
}

function authMessage(status: number, code: string | undefined, ctx: RequestContext): string {
  const setting = settingOf(ctx);
  const got = `HTTP ${status}${code ? ` ${code}` : ""} on ${ctx.method} ${ctx.path}`;
  if (status === 403) {
    return (
      `WordPress at ${setting.url}=${ctx.url} accepted ${setting.username}=${ctx.username} but refused the request (${got}): ` +
      "the account needs the administrator role (list_users, create_users, edit_users, promote_users, delete_users)"
    );
  }
  // A wrong Application Password is not reported as such: WordPress treats the request as
  // anonymous and the endpoint answers 401 rest_not_logged_in / rest_forbidden_context.
  return (
    `WordPress at ${setting.url}=${ctx.url} did not accept the credentials of ${setting.username}=${ctx.username} (${got}). ` +
    `Check that ${setting.appPassword} is an Application Password of that user (Users > Profile > Application Passwords), ` +
    "not the login password, and that the site allows Application Passwords (HTTPS, or WP_ENVIRONMENT_TYPE=local)"
  );
}

export function transportError(cause: unknown, attempts: number, ctx: RequestContext, reason?: string): UpstreamError {
  return new UpstreamError(
    `WordPress ${ctx.method} ${ctx.path} at ${settingOf(ctx).url}=${ctx.url} failed after ${attempts} attempt(s): ${describeTransport(cause)}${reason && !reason.startsWith("gave up") ? `; ${reason}` : ""}`,
    "wordpress",
    "transient",
  );
}

type FetchFailure = { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;

/**
 * fetch() hides the socket error in `cause`; timeouts are DOMExceptions named TimeoutError. Read by
 * shape, not instanceof: undici's errors come from another realm under jest.
 */
export function describeTransport(error: unknown): string {
  const e = error as FetchFailure;
  if (e?.name === "TimeoutError") return "timed out";
  if (typeof e?.cause?.code === "string") return e.cause.code;
  if (typeof e?.cause?.message === "string") return e.cause.message;
  return typeof e?.message === "string" ? e.message : String(error);
}

/** A refused connection never reached WordPress; anything else (reset, timeout, 502/504) may have been applied. */
export function neverReachedServer(error: unknown): boolean {
  return (error as FetchFailure)?.cause?.code === "ECONNREFUSED";
}
