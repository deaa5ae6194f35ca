/**
 * Run events delivered to the job's webhook from the PostgreSQL outbox (src/db/webhook-outbox.ts;
 * the runs trigger writes each event in the transaction that settles the run). Every replica
 * polls for due events, claims some under a lease, POSTs them signed the Standard Webhooks way
 * (webhook-signature.ts), and records the outcome: delivered, another attempt later (Retry-After
 * or capped backoff with jitter, src/net/retry.ts), or given up once the event is older than
 * giveUpAfterMs or the receiver refused it with a 4xx. At least once: a crash after the POST and
 * before the record means one more delivery with the same webhook-id, which receivers de-duplicate.
 * A step never waits for any of this.
 *
 * Webhook URLs carry secrets (userinfo, a query token, a path segment): logs show the origin only.
 */
import type { Job } from "../core/job";
import type { RunSummary } from "../core/runs";
import type { Queryable } from "../db/pool";
import { toSummary } from "../db/runs";
import { claimDue, markDelivered, markFailed, type OutboxEvent, type OutboxEventType } from "../db/webhook-outbox";
import type { Logger } from "../logger";
import { makeLimiter } from "../net/limiter";
import { redactUrl, redactUrlIn } from "../net/redact";
import { backoffMs, parseRetryAfter } from "../net/retry";
import { signWebhook } from "../net/webhook-signature";

/** The JSON body a receiver gets; `id` is the webhook-id header, the same on every attempt. */
export interface WebhookPayload {
  id: string;
  type: OutboxEventType;
  job: string;
  occurredAt: string;
  run: RunSummary;
}

export type DeliveryResult = "delivered" | "retry" | "gave_up";

export interface WebhookDeliveryOptions {
  db: Queryable;
  jobs: readonly Job[];
  logger: Logger;
  /** This process, as the outbox lease owner. */
  owner: string;
  onDelivery?(result: DeliveryResult): void;
  fetch?: typeof fetch;
  /** Per attempt (default 10000). */
  timeoutMs?: number;
  /** First retry delay, doubled per attempt, with jitter (default 5000). */
  baseDelayMs?: number;
  /** Longest wait between attempts, Retry-After included (default 900000: 15 minutes). */
  maxDelayMs?: number;
  /** A failing event is given up this long after it occurred (default 86400000: 24 hours). */
  giveUpAfterMs?: number;
  /** How often due events are looked for (default 2000). */
  intervalMs?: number;
}

export interface WebhookDelivery {
  /** Looks for due events now (a run just settled) rather than at the next interval. */
  wake(): void;
  /** Delivers what is due now; resolves with the number of attempts once they are recorded. */
  deliverDue(): Promise<number>;
  start(): void;
  /** Stops polling and waits for the attempts in flight. */
  stop(): Promise<void>;
}

/** Events claimed per round, and POSTs in flight at once. */
const BATCH = 20;
const CONCURRENCY = 4;

export function makeWebhookDelivery(options: WebhookDeliveryOptions): WebhookDelivery {
  const fetchFn = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retry = { baseDelayMs: options.baseDelayMs ?? 5000, maxDelayMs: options.maxDelayMs ?? 900_000 };
  const giveUpAfterMs = options.giveUpAfterMs ?? 86_400_000;
  const intervalMs = options.intervalMs ?? 2000;
  // Longer than one attempt can take: the lease only matters when this process dies mid-attempt.
  const leaseMs = timeoutMs * 2 + 5000;
  const { db, logger, owner } = options;
  const jobs = new Map(options.jobs.map((job) => [job.id, job]));
  const limiter = makeLimiter(CONCURRENCY);

  let round: Promise<number> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  let stopped = true;

  async function deliverDue(): Promise<number> {
    if (round) {
      again = true; // a wake during a round: look once more when it ends
      return round;
    }
    round = (async () => {
      let attempts = 0;
      do {
        again = false;
        const due = await claimDue(db, owner, leaseMs, BATCH);
        await Promise.all(due.map((event) => limiter.run(() => attempt(event))));
        attempts += due.length;
        if (due.length === BATCH) again = true;
      } while (again && !stopped);
      return attempts;
    })().finally(() => {
      round = null;
    });
    return round;
  }

  async function attempt(event: OutboxEvent): Promise<void> {
    const job = jobs.get(event.jobId);
    const log = { job: event.jobId, event: event.type, eventId: event.id, attempt: event.attempts };
    if (!job?.webhook || !job.webhookSecret) {
      await record(event, log, "gave_up", `job ${event.jobId} has no webhook any more`);
      return;
    }
    const target = new URL(job.webhook);
    const where = { ...log, webhook: redactUrl(target) };
    const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "entra-wp-sync" };
    // fetch refuses URLs with credentials: send them as Basic auth instead.
    if (target.username || target.password) {
      const credentials = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
      headers.authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
      target.username = "";
      target.password = "";
    }
    const body = JSON.stringify(payloadOf(event));
    const timestamp = Math.floor(Date.now() / 1000);
    headers["webhook-id"] = event.id;
    headers["webhook-timestamp"] = String(timestamp);
    headers["webhook-signature"] = signWebhook(job.webhookSecret, event.id, timestamp, body);

    let problem: string;
    let retryAfterMs: number | null = null;
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
        await record(event, where, "delivered", null, res.status);
        return;
      }
      problem = `answered ${res.status}`;
      if (res.status !== 429 && res.status < 500) {
        await record(event, where, "gave_up", `${problem}: a refusal, not retried`, res.status);
        return;
      }
      retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
    } catch (error) {
      problem = redactUrlIn(describeTransport(error), new URL(job.webhook));
    }
    const delayMs = Math.min(retry.maxDelayMs, retryAfterMs ?? backoffMs(event.attempts - 1, retry));
    if (Date.now() + delayMs > event.occurredAt.getTime() + giveUpAfterMs) {
      await record(
        event,
        where,
        "gave_up",
        `${problem}; given up ${Math.round(giveUpAfterMs / 60_000)} min after the event`,
      );
    } else {
      await record(event, where, "retry", problem, undefined, delayMs);
    }
  }

  async function record(
    event: OutboxEvent,
    log: object,
    result: DeliveryResult,
    problem: string | null,
    status?: number,
    delayMs?: number,
  ): Promise<void> {
    const kept =
      result === "delivered"
        ? await markDelivered(db, event.id, owner)
        : await markFailed(db, event.id, owner, problem ?? "", result === "retry" ? { delayMs: delayMs! } : false);
    if (!kept) {
      logger.warn(log, "webhook outbox lease lost: another replica took this event over");
      return;
    }
    options.onDelivery?.(result);
    if (result === "delivered") logger.info({ ...log, status }, "webhook delivered");
    else if (result === "retry")
      logger.info({ ...log, retryInMs: delayMs }, `webhook delivery failed (${problem}); will retry`);
    else logger.warn({ ...log, status }, `webhook delivery given up (${problem})`);
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      deliverDue()
        .catch((error) => logger.warn({ err: error }, "webhook outbox round failed; trying again next interval"))
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  }

  return {
    wake() {
      if (stopped) return;
      deliverDue().catch((error) => logger.warn({ err: error }, "webhook outbox round failed"));
    },
    deliverDue,
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await round?.catch(() => undefined);
    },
  };
}

function payloadOf(event: OutboxEvent): WebhookPayload {
  return {
    id: event.id,
    type: event.type,
    job: event.jobId,
    occurredAt: event.occurredAt.toISOString(),
    run: toSummary(event.run),
  };
}

/** undici puts the useful part (ECONNREFUSED) in `cause`; read by shape: fetch's errors may come from another realm. */
function describeTransport(error: unknown): string {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  if (err?.name === "TimeoutError") return "timed out";
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(error);
}
