/**
 * One error handler: every error leaves as application/problem+json (RFC 9457). Typed domain
 * errors carry their status; anything else is a 500 whose body never echoes internals.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifySchemaValidationError } from "fastify";
import { AppError, RateLimitedError } from "../core/errors";
import { isDatabaseUnavailable } from "../db/pool";
import { Problem } from "./schemas";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  409: "Conflict",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

export function sendProblem(
  reply: FastifyReply,
  status: number,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  if (status === 401 && !reply.hasHeader("www-authenticate")) {
    // RFC 6750: no error code when no credentials were given at all.
    const invalid = extra.reason === "missing" ? "" : ', error="invalid_token"';
    reply.header("www-authenticate", `Bearer realm="entra-wp-sync"${invalid}`);
  }
  return reply
    .code(status)
    .type("application/problem+json")
    .send({
      type: "about:blank",
      title: TITLES[status] ?? "Error",
      status,
      detail,
      instance: reply.request.url.split("?")[0],
      ...extra,
    });
}

export function registerProblemHandlers(app: FastifyInstance): void {
  // The body schema every route's problem answers refer to (schemas.ts problems()).
  app.addSchema(Problem);
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof AppError) {
      if (error instanceof RateLimitedError) reply.header("retry-after", String(error.retryAfterSeconds));
      return sendProblem(reply, error.status, error.message, error.extra);
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      const context = fastifyError.validationContext ?? "input";
      const errors = fastifyError.validation.map((issue) => describeIssue(context, issue));
      return sendProblem(reply, 400, `Invalid ${context}: ${errors.map((e) => e.message).join("; ")}`, {
        errors,
      });
    }
    const status = fastifyError.statusCode;
    if (status && status >= 400 && status < 500) {
      if (status === 429) return sendProblem(reply, 429, "Too many requests; retry after the time in Retry-After");
      // Fastify's own client errors (bad JSON, body too large, bad content type) are safe to echo.
      return sendProblem(reply, status, error.message);
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, "database unreachable");
      // 503 + Retry-After: the service is healthy but cannot work until PostgreSQL is back.
      reply.header("retry-after", "5");
      return sendProblem(reply, 503, "The database is not reachable right now; try again shortly");
    }
    request.log.error({ err: error }, "request failed");
    return sendProblem(reply, 500, "The server failed to handle the request; the error is in the service log");
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, `No route for ${request.method} ${request.url.split("?")[0]}`),
  );
}

/** Names the field, including the one Ajv reports only in params (an unknown or missing property). */
function describeIssue(context: string, issue: FastifySchemaValidationError): { field: string; message: string } {
  const params = issue.params as { additionalProperty?: string; missingProperty?: string };
  const base = `${context}${issue.instancePath}`;
  if (params.additionalProperty) {
    const field = `${base}/${params.additionalProperty}`;
    return { field, message: `${field} is not allowed` };
  }
  if (params.missingProperty) {
    const field = `${base}/${params.missingProperty}`;
    return { field, message: `${field} is required` };
  }
  return { field: base, message: `${base} ${issue.message ?? "is invalid"}` };
}
