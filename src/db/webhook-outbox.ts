/**
 * webhook_outbox: events written by the runs trigger (migrations/0006), delivered by
 * src/observe/webhook.ts. A delivery is claimed with one guarded update (skip locked, a lease like
 * the runs'), and its outcome is recorded under that lease.
 */

import type { WebhookEventType } from "../core/runs";
import type { Queryable } from "./pool";
import { type Run, runFromJson } from "./runs";

export type OutboxEventType = WebhookEventType;

export interface OutboxEvent {
  id: string;
  jobId: string;
  type: OutboxEventType;
  run: Run;
  occurredAt: Date;
  /** Attempts made so far, this one included. */
  attempts: number;
}

interface DbOutboxRow {
  id: string;
  job_id: string;
  type: OutboxEventType;
  run: Record<string, unknown>;
  occurred_at: Date;
  attempts: number;
}

/** Claims up to `limit` due events for `leaseMs`; a crashed claimer's rows come back when its lease ends. */
export async function claimDue(db: Queryable, owner: string, leaseMs: number, limit: number): Promise<OutboxEvent[]> {
  const { rows } = await db.query<DbOutboxRow>(
    `update webhook_outbox o
     set locked_by = $1::text, locked_until = now() + $2::int * interval '1 millisecond', attempts = o.attempts + 1
     where o.id in (
       select id from webhook_outbox
       where delivered_at is null and gave_up_at is null and next_attempt_at <= now()
         and (locked_until is null or locked_until < now())
       order by next_attempt_at
       limit $3::int
       for update skip locked)
     returning o.id, o.job_id, o.type, o.run, o.occurred_at, o.attempts`,
    [owner, leaseMs, limit],
  );
  return rows.map((row) => ({
    id: row.id,
    jobId: row.job_id,
    type: row.type,
    run: runFromJson(row.run),
    occurredAt: row.occurred_at,
    attempts: row.attempts,
  }));
}

export async function markDelivered(db: Queryable, id: string, owner: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `update webhook_outbox set delivered_at = now(), locked_by = null, locked_until = null, last_error = null
     where id = $1::uuid and locked_by = $2::text`,
    [id, owner],
  );
  return rowCount === 1;
}

/** Another attempt after `delayMs`, or (retry false) none: given up, with the reason kept. */
export async function markFailed(
  db: Queryable,
  id: string,
  owner: string,
  error: string,
  retry: { delayMs: number } | false,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update webhook_outbox
     set locked_by = null, locked_until = null, last_error = $3::text,
         next_attempt_at = case when $4::int is null then next_attempt_at else now() + $4::int * interval '1 millisecond' end,
         gave_up_at = case when $4::int is null then now() else null end
     where id = $1::uuid and locked_by = $2::text`,
    [id, owner, error, retry === false ? null : Math.round(retry.delayMs)],
  );
  return rowCount === 1;
}

export interface OutboxBacklog {
  /** Not yet delivered and not given up. */
  pending: number;
  /** When the oldest pending event occurred. */
  oldestPendingAt: Date | null;
  givenUp: number;
  delivered: number;
}

export async function outboxBacklog(db: Queryable): Promise<OutboxBacklog> {
  const { rows } = await db.query<{
    pending: number;
    oldest: Date | null;
    given_up: number;
    delivered: number;
  }>(
    `select count(*) filter (where delivered_at is null and gave_up_at is null)::int as pending,
            min(occurred_at) filter (where delivered_at is null and gave_up_at is null) as oldest,
            count(*) filter (where gave_up_at is not null)::int as given_up,
            count(*) filter (where delivered_at is not null)::int as delivered
     from webhook_outbox`,
  );
  const row = rows[0]!;
  return { pending: row.pending, oldestPendingAt: row.oldest, givenUp: row.given_up, delivered: row.delivered };
}
