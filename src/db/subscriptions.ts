/**
 * graph_subscriptions: one row per job and Graph resource, worked on (create, renew, delete in
 * Graph) by one replica at a time under a lease; the outcome is committed guarded by that lease.
 */
import type { Queryable } from "./pool";

interface DbSubscription {
  job_id: string;
  resource: string;
  wanted: boolean;
  subscription_id: string | null;
  client_state_hash: Buffer | null;
  expires_at: Date | null;
  last_error: string | null;
}

export interface Subscription {
  jobId: string;
  resource: string;
  wanted: boolean;
  subscriptionId: string | null;
  clientStateHash: Buffer | null;
  expiresAt: Date | null;
  lastError: string | null;
}

function toSubscription(row: DbSubscription): Subscription {
  return {
    jobId: row.job_id,
    resource: row.resource,
    wanted: row.wanted,
    subscriptionId: row.subscription_id,
    clientStateHash: row.client_state_hash,
    expiresAt: row.expires_at,
    lastError: row.last_error,
  };
}

/**
 * Declares the subscriptions each job wants (job id -> resources); every other row becomes
 * unwanted (option turned off, group dropped, job no longer declared) and is deleted by the worker.
 */
export async function declareWanted(db: Queryable, wanted: Array<{ jobId: string; resource: string }>): Promise<void> {
  const rows = JSON.stringify(wanted.map((w) => ({ job_id: w.jobId, resource: w.resource })));
  await db.query(
    `with w as (select * from jsonb_to_recordset($1::jsonb) as w (job_id text, resource text)),
     upserted as (
       insert into graph_subscriptions (job_id, resource) select job_id, resource from w
       on conflict (job_id, resource) do update set wanted = true where graph_subscriptions.wanted = false)
     update graph_subscriptions s set wanted = false
     where s.wanted and not exists (select 1 from w where w.job_id = s.job_id and w.resource = s.resource)`,
    [rows],
  );
}

/**
 * Claims rows needing Graph work: wanted but missing or expiring before `renewBefore`, or
 * unwanted. At most `limit`, each for `leaseMs`.
 */
export async function claimDue(
  db: Queryable,
  owner: string,
  leaseMs: number,
  renewBefore: Date,
  limit: number,
): Promise<Subscription[]> {
  const { rows } = await db.query<DbSubscription>(
    `update graph_subscriptions s set locked_by = $1::text, locked_until = now() + make_interval(secs => $2::float8 / 1000)
     where (s.job_id, s.resource) in (
       select job_id, resource from graph_subscriptions
       where (locked_until is null or locked_until < now())
         and (not wanted or subscription_id is null or expires_at < $3::timestamptz)
       order by job_id, resource limit $4::int for update skip locked)
     returning s.*`,
    [owner, leaseMs, renewBefore, limit],
  );
  return rows.map(toSubscription);
}

/** Records what Graph answered (created or renewed), guarded by the lease; false when the lease was lost. */
export async function recordSubscription(
  db: Queryable,
  key: { jobId: string; resource: string },
  owner: string,
  outcome: { subscriptionId: string; clientStateHash?: Buffer; expiresAt: Date } | { error: string; forget?: boolean },
): Promise<boolean> {
  const ok = "subscriptionId" in outcome;
  const { rowCount } = await db.query(
    `update graph_subscriptions set
       subscription_id = case when $4::boolean then $5::text when $8::boolean then null else subscription_id end,
       client_state_hash = case when $6::bytea is not null then $6::bytea when $8::boolean then null else client_state_hash end,
       expires_at = case when $4::boolean then $7::timestamptz when $8::boolean then null else expires_at end,
       renewed_at = case when $4::boolean then now() else renewed_at end,
       last_error = $9::text, locked_by = null, locked_until = null
     where job_id = $1::text and resource = $2::text and locked_by = $3::text`,
    [
      key.jobId,
      key.resource,
      owner,
      ok,
      ok ? outcome.subscriptionId : null,
      ok ? (outcome.clientStateHash ?? null) : null,
      ok ? outcome.expiresAt : null,
      !ok && outcome.forget === true,
      ok ? null : outcome.error,
    ],
  );
  return rowCount === 1;
}

/** Drops an unwanted row once its Graph subscription is gone, guarded by the lease. */
export async function dropSubscription(
  db: Queryable,
  key: { jobId: string; resource: string },
  owner: string,
): Promise<void> {
  await db.query(
    "delete from graph_subscriptions where job_id = $1::text and resource = $2::text and locked_by = $3::text and not wanted",
    [key.jobId, key.resource, owner],
  );
}

/** Forgets Graph's subscription (removed by Graph): the worker creates a new one on its next pass. */
export async function forgetSubscription(db: Queryable, subscriptionId: string): Promise<void> {
  await db.query(
    "update graph_subscriptions set subscription_id = null, client_state_hash = null, expires_at = null where subscription_id = $1::text",
    [subscriptionId],
  );
}

/** Renews a subscription on the worker's next pass (reauthorizationRequired). */
export async function renewSoon(db: Queryable, subscriptionId: string): Promise<void> {
  await db.query("update graph_subscriptions set expires_at = now() where subscription_id = $1::text", [
    subscriptionId,
  ]);
}

/** The rows of the given Graph subscription ids (one query, however many a notification body names). */
export async function findBySubscriptionIds(db: Queryable, subscriptionIds: string[]): Promise<Subscription[]> {
  const { rows } = await db.query<DbSubscription>(
    "select * from graph_subscriptions where subscription_id = any($1::text[])",
    [subscriptionIds],
  );
  return rows.map(toSubscription);
}

export async function listSubscriptions(db: Queryable): Promise<Subscription[]> {
  const { rows } = await db.query<DbSubscription>("select * from graph_subscriptions order by job_id, resource");
  return rows.map(toSubscription);
}
