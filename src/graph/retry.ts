/**
 * Retrying Graph calls within a step budget. Graph says: on 429 (and 503/504 when given) wait
 * Retry-After, seconds or an HTTP date, possibly fractional (throttling.md); otherwise back off
 * exponentially. A wait that would end past budget.deadline is not started: the step gives up at
 * once so the engine can commit what it has and try again next step.
 */
import { GraphError } from "@microsoft/microsoft-graph-client";
import type { Budget } from "../sync/ports";
import { CredentialFailure } from "./credential";
import { failureOf, type GraphFailure, toUpstreamError } from "./errors";
import type { GraphMetrics } from "./options";

export interface RetryPolicy {
  maxRetries: number;
  maxRetryAfterMs: number;
  baseDelayMs: number;
  maxBackoffMs: number;
  metrics: GraphMetrics;
  sleep?: (ms: number) => Promise<void>;
}

const THROTTLE_STATUSES = new Set([429, 503, 504]);

export async function withRetries<T>(
  what: string,
  budget: Budget,
  policy: RetryPolicy,
  call: () => Promise<T>,
): Promise<T> {
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((ok) => setTimeout(ok, ms)));
  for (let attempt = 0; ; attempt++) {
    let failure: GraphFailure;
    try {
      return await call();
    } catch (error) {
      if (error instanceof CredentialFailure) throw error.upstream;
      if (!(error instanceof GraphError)) throw error;
      failure = failureOf(error);
    }
    const throttled = failure.status !== null && THROTTLE_STATUSES.has(failure.status);
    const retryable = throttled || failure.status === null || failure.status >= 500;
    if (!retryable) throw toUpstreamError(what, failure);
    const kind = failure.status === 429 ? "throttled" : "transient";
    if (attempt >= policy.maxRetries) {
      throw toUpstreamError(what, failure, kind, `gave up after ${attempt + 1} attempts`);
    }
    const wait =
      failure.retryAfterMs !== null
        ? Math.min(failure.retryAfterMs, policy.maxRetryAfterMs)
        : backoff(attempt, policy.baseDelayMs, policy.maxBackoffMs);
    if (Date.now() + wait > budget.deadline) {
      const left = Math.max(0, budget.deadline - Date.now());
      const reason = `retrying would wait ${wait} ms but the step has ${left} ms left`;
      throw toUpstreamError(what, failure, kind, reason);
    }
    if (throttled) policy.metrics.onThrottle?.(wait);
    await sleep(wait);
  }
}

/** Full jitter (AWS architecture blog): spreads replicas that were throttled together. */
function backoff(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
