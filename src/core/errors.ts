/**
 * Typed errors. HTTP status lives on the error type (never matched from message text), and
 * upstream errors keep what helps an operator: status, upstream code, request id.
 */

export class AppError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, extra?: Record<string, unknown>) {
    super(message, 400, "invalid_input", extra);
  }
}
export class NotFoundError extends AppError {
  constructor(message: string) {
    super(message, 404, "not_found");
  }
}
export class ConflictError extends AppError {
  constructor(message: string, extra?: Record<string, unknown>) {
    super(message, 409, "conflict", extra);
  }
}

/** 429: a budget is spent; the problem handler sends Retry-After. */
export class RateLimitedError extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, 429, "rate_limited");
  }
}

/** A setting is missing or wrong: the message names the variable (or job field) and what is expected. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * What went wrong upstream, as the engine needs to know it:
 * - auth, config: going on is pointless (the run fails with last_error)
 * - transient, throttled: retries exhausted; the run stays where it is and the next step tries again
 * - delta-expired: Graph says the delta token is gone; a full run is needed
 * - page-expired: Graph says the page token is gone; restart the listing
 * - exists: WordPress says the login or e-mail is already taken (create must adopt)
 * - invalid: WordPress refused this one user's data (recorded on the item; the run goes on)
 * - not-found: the object is gone
 */
export type UpstreamKind =
  | "auth"
  | "config"
  | "transient"
  | "throttled"
  | "delta-expired"
  | "page-expired"
  | "exists"
  | "invalid"
  | "not-found";

export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    message: string,
    readonly source: "graph" | "wordpress",
    readonly kind: UpstreamKind,
    readonly details: { status?: number; code?: string; requestId?: string } = {},
  ) {
    super(message);
  }
}

/** A caught `unknown` is coerced once, then handled as an Error. */
export function coerceError(error: unknown): Error {
  if (error instanceof Error) return error;
  // Errors made in another realm (Node internals under jest's vm) fail instanceof: keep their message and fields.
  if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
    return Object.assign(new Error((error as { message: string }).message), error);
  }
  return new Error(typeof error === "string" ? error : JSON.stringify(error));
}
