/**
 * WordPress core's own batch route, POST /wp-json/batch/v1, for sites without the companion plugin.
 * From WordPress 6.6 on the users controller allows its routes in it (`allow_batch` v1; 6.1-6.5 do
 * not). Unlike the plugin's batch there is no transaction: every sub-request runs and commits on
 * its own (WP_REST_Server::serve_batch_request_v1), so a failing operation cannot fail its
 * neighbours, and a retried batch whose first answer was lost re-runs writes that were applied;
 * site.ts reads those answers the way it reads the same retry on the per-user path.
 */
import { UpstreamError } from "../core/errors";
import type { BatchOp, BatchResult, SendBatch } from "./batch";
import type { WordPressClient, WpRequest } from "./client";

export const CORE_BATCH_ROUTE = "/batch/v1";

/** One sub-request of a core batch: the per-user request of the same write, as method, path and body. */
interface SubRequest {
  method: "POST" | "DELETE";
  path: string;
  body?: Record<string, unknown>;
}

/**
 * How many operations one core batch may carry for user writes: the route's `maxItems` (25 unless
 * the `rest_get_max_batch_size` filter says otherwise), or 0 when core does not batch user routes
 * (WordPress < 6.6, or OPTIONS refused by a proxy or security plugin: the per-user path then works
 * as before). Two OPTIONS requests, asked once per site.
 */
export async function detectCoreBatch(client: WordPressClient): Promise<number> {
  try {
    const [users, batch] = await Promise.all([
      client.request({ method: "OPTIONS", route: "/wp/v2/users" }),
      client.request({ method: "OPTIONS", route: CORE_BATCH_ROUTE }),
    ]);
    if (!endpointAllowsBatch(users.body, "POST")) return 0;
    const max = maxItems(batch.body);
    return max ?? 0;
  } catch (error) {
    if (error instanceof UpstreamError && error.kind !== "transient" && error.kind !== "throttled") return 0;
    throw error;
  }
}

function endpointAllowsBatch(routeData: unknown, method: string): boolean {
  const endpoints = (routeData as { endpoints?: unknown } | null)?.endpoints;
  if (!Array.isArray(endpoints)) return false;
  return endpoints.some((e: { methods?: unknown; allow_batch?: { v1?: unknown } }) => {
    return Array.isArray(e?.methods) && e.methods.includes(method) && e.allow_batch?.v1 === true;
  });
}

function maxItems(routeData: unknown): number | null {
  const endpoints = (routeData as { endpoints?: unknown } | null)?.endpoints;
  if (!Array.isArray(endpoints)) return null;
  for (const e of endpoints as Array<{ args?: { requests?: { maxItems?: unknown } } }>) {
    const max = e?.args?.requests?.maxItems;
    if (Number.isInteger(max) && (max as number) > 0) return max as number;
  }
  return null;
}

/**
 * A batcher's `send` through core's route: each operation becomes the request the per-user path
 * sends, with validation "normal" so that one invalid operation does not stop the others
 * ("require-all-validate" would refuse the whole batch). site.ts hands deactivations and
 * reactivations over as updates carrying the per-user body; the mapping below is what that body is
 * without the plugin (the only case where core's batch is used).
 */
export function coreBatchSender(client: WordPressClient, query: Record<string, string>): SendBatch {
  const search = new URLSearchParams(query).toString();
  const toRequest = (op: BatchOp): SubRequest => {
    switch (op.op) {
      case "create":
        return { method: "POST", path: `/wp/v2/users?${search}`, body: withoutId(op.body) };
      case "update":
      case "reactivate":
        return { method: "POST", path: `/wp/v2/users/${op.id}?${search}`, body: withoutId(op.body) };
      case "deactivate":
        return { method: "POST", path: `/wp/v2/users/${op.id}?${search}`, body: { roles: [] } };
      case "delete":
        return { method: "DELETE", path: `/wp/v2/users/${op.id}?force=true&reassign=${op.reassign}` };
    }
  };
  return async (ops) => {
    const req: WpRequest = {
      method: "POST",
      route: CORE_BATCH_ROUTE,
      body: { validation: "normal", requests: ops.map(toRequest) },
      batch: true,
    };
    const res = await client.request(req);
    const responses = (res.body as { responses?: unknown }).responses;
    return {
      // An extra response has no operation to belong to: it is passed on for the batcher to refuse the answer.
      results: Array.isArray(responses)
        ? responses.map((r, i) => (i < ops.length ? toResult(ops[i]!, r) : { status: 500, outcome: "failed" as const }))
        : [],
      afterAmbiguousFailure: res.afterAmbiguousFailure,
    };
  };
}

/**
 * Core reads a sub-request's body parameters before its URL parameters, so an `id` in the body would
 * redirect the write to another user than the path names (the plugin strips it for the same reason).
 * The service never puts one there; this keeps it that way whatever builds the body.
 */
function withoutId(body: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, ...rest } = body;
  return rest;
}

/** A core sub-response ({status, body, headers}) in the plugin's result shape, which site.ts reads. */
function toResult(op: BatchOp, response: unknown): BatchResult {
  const { status, body } = (response ?? {}) as { status?: unknown; body?: unknown };
  const code = Number.isInteger(status) ? (status as number) : 500;
  if (code >= 200 && code < 300) {
    const outcome = op.op === "create" ? "created" : op.op === "delete" ? "deleted" : "updated";
    return { status: code, outcome, user: body };
  }
  const error = (body ?? {}) as { code?: unknown; message?: unknown };
  return {
    status: code,
    outcome: "failed",
    ...(typeof error.code === "string" ? { code: error.code } : {}),
    ...(typeof error.message === "string" ? { message: error.message } : {}),
  };
}
