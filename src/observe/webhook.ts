/**
 * Run events POSTed to the job's webhook URL. Fire-and-forget: `notify` serialises the event and
 * returns at once; delivery runs in the background, so a slow or dead receiver never delays or
 * fails a step. Network errors, 5xx and 429 are retried with exponential backoff (bounded
 * attempts, each with its own timeout); other answers are final. `flush` waits for deliveries
 * in flight (graceful shutdown, tests).
 *
 * Webhook URLs carry secrets (userinfo, a query token, or a token path segment as Slack and Teams
 * use), so a log line only ever shows the origin and the path with token-like segments masked.
 */
import { randomUUID } from "node:crypto";
import { coerceError } from "../core/errors";
import type { Job } from "../core/job";
import type { RunSummary } from "../core/runs";
import type { Logger } from "../logger";

export type RunEventType = "run.completed" | "run.failed" | "run.awaiting_approval";

export interface RunEvent {
  type: RunEventType;
  run: RunSummary;
}

/** The JSON body a receiver gets; `id` is the same on every retry of one event (for de-duplication). */
export interface WebhookPayload {
  id: string;
  type: RunEventType;
  job: string;
  occurredAt: string;
  run: RunSummary;
}

export interface Notifier {
  notify(job: Job, event: RunEvent): void;
  /** Resolves when every delivery in flight has finished, or after timeoutMs if given. */
  flush(timeoutMs?: number): Promise<void>;
}

export interface NotifierOptions {
  logger: Logger;
  fetch?: typeof fetch;
  /** Attempts per event, the first included (default 5). */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt (default 1000). */
  baseDelayMs?: number;
  /** Per attempt (default 10000). */
  timeoutMs?: number;
}

const MAX_DELAY_MS = 60_000;

/** Origin and path, no userinfo, no query, no fragment; long token-like path segments masked. */
export function safeWebhookUrl(url: URL): string {
  const path = url.pathname
    .split("/")
    .map((segment) => (/^[A-Za-z0-9_-]{16,}$/.test(segment) && /\d/.test(segment) ? "[REDACTED]" : segment))
    .join("/");
  return `${url.origin}${path}`;
}

function retryable(status: number): boolean {
  return status === 429 || status >= 500;
}

function retryAfterMs(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

export function makeNotifier(options: NotifierOptions): Notifier {
  const fetchFn = options.fetch ?? fetch;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const baseDelayMs = options.baseDelayMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { logger } = options;
  const inFlight = new Set<Promise<void>>();

  async function deliver(target: URL, headers: Record<string, string>, body: string, log: object): Promise<void> {
    // Give the caller its turn first: nothing of the delivery runs inside notify().
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (let attempt = 1; ; attempt++) {
      let wait: number | null = null;
      let problem: string;
      try {
        const res = await fetchFn(target, {
          method: "POST",
          headers,
          body,
          redirect: "error",
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) {
          logger.info({ ...log, attempt, status: res.status }, "webhook delivered");
          return;
        }
        problem = `answered ${res.status}`;
        if (!retryable(res.status)) {
          logger.warn({ ...log, attempt, status: res.status }, `webhook refused the event (${problem}); not retrying`);
          return;
        }
        wait = retryAfterMs(res.headers.get("retry-after"));
      } catch (error) {
        problem = describe(error, target);
      }
      if (attempt >= maxAttempts) {
        logger.warn({ ...log, attempt }, `webhook delivery failed for good (${problem})`);
        return;
      }
      const delay = Math.min(MAX_DELAY_MS, wait ?? baseDelayMs * 2 ** (attempt - 1));
      logger.info({ ...log, attempt, retryInMs: delay }, `webhook delivery failed (${problem}); retrying`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  return {
    notify(job, event) {
      if (!job.webhook) return;
      let target: URL;
      try {
        target = new URL(job.webhook);
      } catch {
        logger.warn({ job: job.id }, "the job's webhook is not a valid URL; event dropped");
        return;
      }
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "user-agent": "entra-wp-sync",
      };
      // fetch refuses URLs with credentials: send them as Basic auth instead.
      if (target.username || target.password) {
        const user = decodeURIComponent(target.username);
        const pass = decodeURIComponent(target.password);
        headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
        target.username = "";
        target.password = "";
      }
      const payload: WebhookPayload = {
        id: randomUUID(),
        type: event.type,
        job: job.id,
        occurredAt: new Date().toISOString(),
        run: event.run,
      };
      // Serialised now: the run object may change after notify returns.
      const body = JSON.stringify(payload);
      const log = { job: job.id, event: event.type, eventId: payload.id, webhook: safeWebhookUrl(target) };
      const delivery = deliver(target, headers, body, log).catch((error) => {
        logger.warn({ ...log, error: describe(error, target) }, "webhook delivery crashed");
      });
      inFlight.add(delivery);
      void delivery.finally(() => inFlight.delete(delivery));
    },

    async flush(timeout) {
      const all = (async () => {
        while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      })();
      if (timeout === undefined) return all;
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeout);
        timer.unref();
      });
      await Promise.race([all, expired]);
      clearTimeout(timer);
    },
  };
}

/**
 * A transport error in words (undici puts the useful part, e.g. ECONNREFUSED, in `cause`), with
 * the URL's secrets masked. Read by shape, not instanceof: fetch's errors may come from another realm.
 */
function describe(error: unknown, target: URL): string {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  let text =
    err?.name === "TimeoutError"
      ? "timed out"
      : (err?.cause?.code ?? err?.cause?.message ?? err?.message ?? coerceError(error).message);
  for (const secret of [target.href, target.search, target.password, target.username]) {
    if (secret && secret.length > 1) text = text.split(secret).join("[REDACTED]");
  }
  return text;
}
