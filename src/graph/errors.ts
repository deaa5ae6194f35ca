/** What a GraphError means for the engine (UpstreamError kinds in src/core/errors.ts). */
import type { GraphError } from "@microsoft/microsoft-graph-client";
import { UpstreamError, type UpstreamKind } from "../core/errors";
import { parseRetryAfter } from "../net/retry";

export interface GraphFailure {
  /** null when no response came back (network error, reset, timeout). */
  status: number | null;
  code: string | null;
  requestId: string | null;
  retryAfterMs: number | null;
  message: string;
}

export function failureOf(error: GraphError): GraphFailure {
  const status = error.statusCode > 0 ? error.statusCode : null;
  const headers = error.headers;
  return {
    status,
    code: status === null ? null : (error.code ?? null),
    requestId: error.requestId ?? headers?.get("request-id") ?? null,
    retryAfterMs: status === null ? null : parseRetryAfter(headers?.get("retry-after") ?? null),
    message: error.message || (status === null ? "no response from Graph" : `HTTP ${status}`),
  };
}

const DELTA_EXPIRED_CODES = new Set(["syncStateNotFound", "resyncRequired", "syncStateInvalid"]);

export function kindOf(failure: GraphFailure): UpstreamKind {
  const { status, code } = failure;
  if (status === 410 || (status === 400 && code !== null && DELTA_EXPIRED_CODES.has(code))) return "delta-expired";
  if (code === "Directory_ExpiredPageToken") return "page-expired";
  if (status === 401 || status === 403) return "auth";
  if (status === 404) return "not-found";
  if (status === 429) return "throttled";
  // A 4xx other than those is a request we built from job settings (filter, select): fix the job.
  if (status !== null && status >= 400 && status < 500) return "config";
  return "transient";
}

export function toUpstreamError(
  what: string,
  failure: GraphFailure,
  kind = kindOf(failure),
  note?: string,
): UpstreamError {
  const status = failure.status === null ? "no response" : `HTTP ${failure.status}`;
  const code = failure.code ? ` ${failure.code}` : "";
  const requestId = failure.requestId ? ` (request-id ${failure.requestId})` : "";
  const hint = HINTS[kind] ?? "";
  const message = `Graph ${what} failed: ${status}${code}: ${failure.message}${requestId}${note ? `; ${note}` : ""}${hint}`;
  return new UpstreamError(message, "graph", kind, {
    ...(failure.status !== null ? { status: failure.status } : {}),
    ...(failure.code ? { code: failure.code } : {}),
    ...(failure.requestId ? { requestId: failure.requestId } : {}),
  });
}

const HINTS: Partial<Record<UpstreamKind, string>> = {
  auth: ". The app registration needs the application permissions User.Read.All and GroupMember.Read.All with admin consent",
  "delta-expired": ". The delta token is gone (Graph keeps them 7 days); a full listing is needed",
  "page-expired": ". The page token is gone; the listing must restart from the first page",
  config: ". Check the job's source.filter and source.attributes",
};
