/**
 * Who may call what: the admin token for the admin API, link tokens for the trigger links, and
 * a budget of failed authentications per client IP that makes guessing either one slow.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { AppError } from "../core/errors";
import { sendProblem } from "./problem";

const FAILURE_WINDOW_MS = 15 * 60_000;

export interface AuthFailureBudget {
  /** onRequest hook: a client IP that used up its failures gets 429 before anything is verified. */
  guard: onRequestAsyncHookHandler;
  /** Counts one failed authentication (401, or 403 for a genuine token of another job/action) for the IP. */
  fail(request: FastifyRequest): Promise<void>;
}

/**
 * Only failures count, so a monitor calling its link once a minute never gets near the budget
 * while a guesser gets `max` tries per 15 minutes. A locked-out IP is refused before its token
 * is checked: checking it anyway would still answer the guess. Counters live in this process
 * (the plugin's in-memory store); with N replicas a guesser gets at most N times the budget.
 */
export function makeAuthFailureBudget(app: FastifyInstance, max: number): AuthFailureBudget {
  // The plugin's default key is the client IP, which honours trustProxy.
  const limiter = app.createRateLimit({ max, timeWindow: FAILURE_WINDOW_MS });
  return {
    async guard(request, reply) {
      const status = await limiter(request, { increment: false });
      if (!status.isAllowed && status.remaining === 0) {
        request.log.warn({ ip: request.ip }, "too many failed authentications from this client; refusing for now");
        reply.header("retry-after", String(Math.max(1, status.ttlInSeconds)));
        return sendProblem(
          reply,
          429,
          "Too many failed authentications from this address; retry after the time in Retry-After",
        );
      }
    },
    async fail(request) {
      await limiter(request);
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

/** Failed admin authentication (401; the problem handler adds WWW-Authenticate: Bearer). */
export class AdminAuthError extends AppError {
  constructor(reason: "missing" | "invalid") {
    super(
      reason === "missing"
        ? "The admin API needs an Authorization: Bearer <ADMIN_TOKEN> header"
        : "The admin token is not valid",
      401,
      "unauthorized",
      { reason },
    );
  }
}

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/**
 * Constant-time comparison of a presented secret with the expected one. Comparing SHA-256 digests
 * keeps timingSafeEqual's inputs the same length, so neither the content nor the length leaks.
 */
export function secretEquals(given: string, expected: string): boolean {
  return expected.length > 0 && timingSafeEqual(digest(given), digest(expected));
}

/** onRequest hook for the admin API (and anything else behind the admin token). */
export function requireAdminToken(adminToken: string, budget: AuthFailureBudget): onRequestAsyncHookHandler {
  return async (request) => {
    const given = bearerToken(request);
    if (given === null) {
      await budget.fail(request);
      throw new AdminAuthError("missing");
    }
    if (!secretEquals(given, adminToken)) {
      await budget.fail(request);
      throw new AdminAuthError("invalid");
    }
  };
}
