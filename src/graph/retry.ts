/**
 * Retrying Graph calls within a step budget (the loop itself is src/net/retry.ts). Graph says: on
 * 429 (and 503/504 when given) wait Retry-After, seconds or an HTTP date, possibly fractional
 * (throttling.md); otherwise back off exponentially; 5xx and network errors are worth another
 * attempt. A wait that would end past budget.deadline is not started: the step gives up at once
 * so the engine can commit what it has and try again next step.
 */
import { GraphError } from "@microsoft/microsoft-graph-client";
import { UpstreamError } from "../core/errors";
import { DeadlineExceeded } from "../net/deadline";
import { withRetries as retry } from "../net/retry";
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
  const failure = (error: unknown): GraphFailure | null => (error instanceof GraphError ? failureOf(error) : null);
  const kindOf = (f: GraphFailure) => (f.status === 429 ? "throttled" : "transient");
  try {
    return await retry(
      {
        retries: policy.maxRetries,
        baseDelayMs: policy.baseDelayMs,
        maxDelayMs: policy.maxBackoffMs,
        maxRetryAfterMs: policy.maxRetryAfterMs,
        sleep: policy.sleep,
      },
      {
        attempt: call,
        judge(error) {
          const f = failure(error);
          if (f === null) return { retry: false };
          const retryable = f.status === null || f.status >= 500 || f.status === 429;
          return retryable ? { retry: true, retryAfterMs: f.retryAfterMs } : { retry: false };
        },
        giveUp: (error, reason) => {
          const f = failure(error)!;
          return toUpstreamError(what, f, kindOf(f), reason);
        },
        onWait(ms, error) {
          const status = failure(error)?.status ?? null;
          if (status !== null && THROTTLE_STATUSES.has(status)) policy.metrics.onThrottle?.(ms);
        },
      },
      budget.deadline,
    );
  } catch (error) {
    if (error instanceof CredentialFailure) throw error.upstream;
    if (error instanceof GraphError) throw toUpstreamError(what, failureOf(error));
    if (error instanceof DeadlineExceeded) {
      throw new UpstreamError(`Graph ${what} not started: ${error.message}`, "graph", "transient");
    }
    throw error;
  }
}
