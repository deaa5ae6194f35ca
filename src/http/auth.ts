/**
 * Who may call what: the admin token for the admin API (and /status), METRICS_TOKEN for /metrics,
 * link tokens for the trigger links; and the budgets that keep either from being turned against
 * the operator.
 *
 * Verify first: checking a token costs microseconds (a SHA-256 or an HS256 MAC), so every request
 * is judged on its own token. A valid token is always served, whatever other callers at its
 * address did; only failing attempts count against the address's failure budget (a request with
 * no credentials at all is not an attempt), and once it is spent they get 429 instead of 401. Valid calls have their own per-minute budgets, keyed by what
 * was authorised (job and action for a link, the admin token), never by address: a hundred
 * monitors behind one NAT do not share a budget, and one runaway scheduler only spends its own
 * job's. Every count lives in PostgreSQL (src/db/rate-limits.ts), so replicas share them; an
 * address past its failure budget is refused from memory (./address-failures.ts), so a flood of
 * forged attempts costs no database work once the budget is spent.
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { AppError, RateLimitedError } from "../core/errors";
import { secretDigest } from "../core/hash";
import type { Queryable } from "../db/pool";
import { hitBucket } from "../db/rate-limits";
import { makeAddressFailures } from "./address-failures";

const FAILURE_WINDOW_MS = 15 * 60_000;
const CALL_WINDOW_MS = 60_000;

export interface AccessLimits {
  /**
   * Counts a failed authentication against the request's client address (which honours
   * TRUST_PROXY). Past the budget it throws a 429, which the caller lets replace its 401/403; an
   * address already past it is refused from memory, without a database query.
   */
  countFailure(request: FastifyRequest): Promise<void>;
  /** Counts a failed proof that is judged in memory only (a notification's clientState). */
  countLocalFailure(request: FastifyRequest): void;
  /** Whether the request's address has spent its failure budget (this process's view; no I/O). */
  overBudget(request: FastifyRequest): boolean;
  /** Counts one authorised call against `key` (e.g. "link:staff:continue"); throws a 429 past `perMinute`. */
  countCall(key: string, perMinute: number): Promise<void>;
}

/** 429 for a wrong credential from an address past its failure budget (the status page answers it 401). */
export class TooManyFailuresError extends RateLimitedError {
  constructor(retryAfterSeconds: number) {
    super("Too many failed authentications from this address; retry after the time in Retry-After", retryAfterSeconds);
  }
}

export function makeAccessLimits(db: Queryable, failuresPer15Minutes: number): AccessLimits {
  const local = makeAddressFailures(failuresPer15Minutes, FAILURE_WINDOW_MS);
  async function hit(key: string, windowMs: number, max: number) {
    const now = new Date();
    const { hits, windowEndsAt } = await hitBucket(db, key, windowMs, now);
    const retryAfterSeconds = Math.max(1, Math.ceil((windowEndsAt.getTime() - now.getTime()) / 1000));
    return { over: hits > max, first: hits === max + 1, retryAfterSeconds, windowEndsAt };
  }
  // Once per window (and replica): a guesser must not be able to flood the log.
  const warnOverBudget = (request: FastifyRequest) =>
    request.log.warn({ ip: request.ip }, "too many failed authentications from this client address");
  const tooManyFailures = (retryAfterSeconds: number) => new TooManyFailuresError(retryAfterSeconds);
  return {
    async countFailure(request) {
      const { failures } = local.count(request.ip);
      if (failures > failuresPer15Minutes) {
        if (failures === failuresPer15Minutes + 1) warnOverBudget(request);
        throw tooManyFailures(Math.ceil(local.retryAfterMs(request.ip) / 1000));
      }
      const { over, first, retryAfterSeconds, windowEndsAt } = await hit(
        `fail:${request.ip}`,
        FAILURE_WINDOW_MS,
        failuresPer15Minutes,
      );
      if (!over) return;
      local.markOver(request.ip, windowEndsAt.getTime());
      if (first) warnOverBudget(request);
      throw tooManyFailures(retryAfterSeconds);
    },
    countLocalFailure(request) {
      local.count(request.ip);
    },
    overBudget(request) {
      return local.isOver(request.ip);
    },
    async countCall(key, perMinute) {
      const { over, retryAfterSeconds } = await hit(`call:${key}`, CALL_WINDOW_MS, perMinute);
      if (over) {
        throw new RateLimitedError(
          "Too many requests with this token this minute; retry after the time in Retry-After",
          retryAfterSeconds,
        );
      }
    },
  };
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== "string") return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Failed bearer authentication (401; the problem handler adds WWW-Authenticate: Bearer). */
export class TokenAuthError extends AppError {
  constructor(reason: "missing" | "invalid", what: BearerSecret["name"]) {
    super(
      reason === "missing"
        ? `${what === "ADMIN_TOKEN" ? "The admin API" : "This route"} needs an Authorization: Bearer <${what}> header`
        : `The ${what === "ADMIN_TOKEN" ? "admin token" : "token"} is not valid`,
      401,
      "unauthorized",
      { reason },
    );
  }
}

/**
 * Constant-time comparison of a presented secret with the digest kept of the expected one:
 * digests have the same length whatever was presented, so neither content nor length leaks.
 */
export function matchesDigest(given: string, digest: Buffer): boolean {
  return timingSafeEqual(secretDigest(given), digest);
}

export interface BearerSecret {
  name: "ADMIN_TOKEN" | "METRICS_TOKEN";
  digest: Buffer;
  /** Authorised calls per minute (all callers with the secret together); null: not limited. */
  perMinute: number | null;
  /**
   * The digest of this process's local token (src/local-service.ts): the CLI on this machine,
   * beside the service or inside its own process, presents it instead of the secret. Accepted like
   * the secret, and not counted against perMinute: it is the operator at the machine, not a caller
   * of the deployment's shared budget.
   */
  local?: Buffer;
}

/**
 * Checks a presented secret: a wrong one counts as a failure of the address (401, or 429 past the
 * budget); a right one counts as a call of that secret's holder. None at all is no guess (a
 * browser's first visit, before its login prompt): 401, and nothing counted.
 */
export async function checkBearerSecret(
  request: FastifyRequest,
  given: string | null,
  secret: BearerSecret,
  limits: AccessLimits,
): Promise<void> {
  if (given === null) throw new TokenAuthError("missing", secret.name);
  // Both compared, always: which one matched must not show in the time taken.
  const matches = [matchesDigest(given, secret.digest), !!secret.local && matchesDigest(given, secret.local)];
  if (!matches.some(Boolean)) {
    await limits.countFailure(request);
    throw new TokenAuthError("invalid", secret.name);
  }
  if (secret.perMinute !== null && !matches[1]) await limits.countCall(secret.name.toLowerCase(), secret.perMinute);
}

/** The budgets (shared through the database) and the admin token, as the routes check them. */
export interface Access {
  limits: AccessLimits;
  adminToken: BearerSecret;
}

/** The admin API's Access from its settings (RATE_LIMIT_AUTH_FAILURES, RATE_LIMIT_ADMIN_MAX). */
export function makeAccess(
  db: Queryable,
  adminTokenDigest: Buffer,
  rateLimit: { authFailures: number; adminMax: number },
  localTokenDigest?: Buffer,
): Access {
  return {
    limits: makeAccessLimits(db, rateLimit.authFailures),
    adminToken: {
      name: "ADMIN_TOKEN",
      digest: adminTokenDigest,
      perMinute: rateLimit.adminMax,
      ...(localTokenDigest ? { local: localTokenDigest } : {}),
    },
  };
}

/** onRequest hook for routes behind a bearer secret (the admin API, /metrics with METRICS_TOKEN). */
export function requireBearer(secret: BearerSecret, limits: AccessLimits): onRequestAsyncHookHandler {
  return (request) => checkBearerSecret(request, bearerToken(request), secret, limits);
}
