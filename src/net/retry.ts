/**
 * The one retry loop of the outbound clients (Graph, WordPress) and the one backoff schedule of
 * webhook deliveries: Retry-After honoured when the upstream gives it (seconds, possibly
 * fractional, or an HTTP date), otherwise exponential backoff with jitter, both capped; and no
 * wait is started that would end past the deadline in force (src/net/deadline.ts), so a step
 * gives up in time to commit what it has.
 */
import { currentDeadline } from "./deadline";

export interface RetryPolicy {
  /** Extra attempts after the first. */
  retries: number;
  /** First backoff; doubles per attempt, capped at maxDelayMs, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Longest Retry-After honoured as given; longer ones are shortened to this (default maxDelayMs). */
  maxRetryAfterMs?: number;
  /** Test hook. */
  sleep?: (ms: number) => Promise<void>;
}

/** What a failed attempt means: not worth retrying, or retry after the upstream's Retry-After (ms) if it gave one. */
export type Verdict = { retry: false } | { retry: true; retryAfterMs: number | null };

export interface RetryCall<T> {
  attempt(n: number): Promise<T>;
  judge(error: unknown): Verdict;
  /** The error to throw when a retryable failure is given up (attempts or time spent); `reason` in words. */
  giveUp(error: unknown, reason: string, attempts: number): unknown;
  /** Before each wait (metrics of throttling). */
  onWait?(ms: number, error: unknown): void;
}

export async function withRetries<T>(
  policy: RetryPolicy,
  call: RetryCall<T>,
  deadline = currentDeadline(),
): Promise<T> {
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let n = 0; ; n++) {
    let error: unknown;
    try {
      return await call.attempt(n);
    } catch (caught) {
      error = caught;
    }
    const verdict = call.judge(error);
    if (!verdict.retry) throw error;
    if (n >= policy.retries) throw call.giveUp(error, `gave up after ${n + 1} attempts`, n + 1);
    const wait =
      verdict.retryAfterMs !== null
        ? Math.min(verdict.retryAfterMs, policy.maxRetryAfterMs ?? policy.maxDelayMs)
        : backoffMs(n, policy);
    if (deadline !== null && Date.now() + wait > deadline) {
      const left = Math.max(0, deadline - Date.now());
      throw call.giveUp(error, `retrying would wait ${wait} ms but the step has ${left} ms left`, n + 1);
    }
    call.onWait?.(wait, error);
    await sleep(wait);
  }
}

/**
 * The wait before retry number n+1 (n from 0): base * 2^n capped at maxDelayMs, then "equal
 * jitter" (half fixed, half random; AWS architecture blog) so that callers that failed together
 * do not come back together.
 */
export function backoffMs(n: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** n);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** Retry-After (RFC 9110 §10.2.3): delta-seconds, possibly fractional (Graph sends 2.128), or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | null {
  if (value === null || value === undefined || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
