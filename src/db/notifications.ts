/**
 * graph_notifications: Microsoft Graph change and lifecycle notifications, stored before Graph is
 * answered 202 so a crash loses none. A change notification is pending until the notification run
 * that claimed it completes; a run that failed or was cancelled leaves them to the next one.
 */
import type { Queryable } from "./pool";

export interface NotificationInput {
  jobId: string;
  subscriptionId: string;
  entraId: string | null;
  changeType: string | null;
  lifecycleEvent: string | null;
  /** Handled on receipt (a group's change asks for a reconciliation): kept as done, pruned with the rest. */
  done?: boolean;
}

export async function insertNotifications(db: Queryable, notifications: NotificationInput[]): Promise<void> {
  if (notifications.length === 0) return;
  await db.query(
    `insert into graph_notifications (job_id, subscription_id, entra_id, change_type, lifecycle_event, done_at)
     select n.job_id, n.subscription_id, n.entra_id, n.change_type, n.lifecycle_event, case when n.done then now() end
     from jsonb_to_recordset($1::jsonb)
       as n (job_id text, subscription_id text, entra_id text, change_type text, lifecycle_event text, done boolean)`,
    [
      JSON.stringify(
        notifications.map((n) => ({
          job_id: n.jobId,
          subscription_id: n.subscriptionId,
          entra_id: n.entraId,
          change_type: n.changeType,
          lifecycle_event: n.lifecycleEvent,
          done: n.done === true,
        })),
      ),
    ],
  );
}

const PENDING_CHANGE = `n.done_at is null and n.lifecycle_event is null and n.entra_id is not null
  and (n.run_id is null or not exists (
    select 1 from runs r where r.id = n.run_id and r.state in ('queued', 'listing', 'reconciling', 'awaiting_approval')))`;

export async function hasPendingChanges(db: Queryable, jobId: string): Promise<boolean> {
  const { rows } = await db.query(
    `select 1 from graph_notifications n where n.job_id = $1::text and ${PENDING_CHANGE} limit 1`,
    [jobId],
  );
  return rows.length > 0;
}

/**
 * Gives the pending change notifications of the job (at most `limit`, oldest first) to a run that
 * was just inserted; called in the run's insert transaction, so two replicas never share one.
 */
export async function claimPendingChanges(db: Queryable, jobId: string, runId: string, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `update graph_notifications set run_id = $2::uuid
     where id in (select n.id from graph_notifications n where n.job_id = $1::text and ${PENDING_CHANGE}
                  order by n.id limit $3::int for update skip locked)`,
    [jobId, runId, limit],
  );
  return rowCount ?? 0;
}

/** The distinct users a notification run's notifications name: five changes of one user are one sync. */
export async function runTargets(db: Queryable, runId: string, offset: number, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ entra_id: string }>(
    `select distinct entra_id from graph_notifications where run_id = $1::uuid and entra_id is not null
     order by entra_id offset $2::int limit $3::int`,
    [runId, offset, limit],
  );
  return rows.map((row) => row.entra_id);
}

/**
 * Marks a completed notification run's notifications done; returns the oldest one's age in
 * seconds (receipt -> applied: the notification lag), or null when it had none.
 */
export async function completeRunNotifications(db: Queryable, runId: string): Promise<number | null> {
  const { rows } = await db.query<{ lag: number | null }>(
    `with done as (
       update graph_notifications set done_at = now() where run_id = $1::uuid and done_at is null returning received_at)
     select extract(epoch from now() - min(received_at))::float8 as lag from done`,
    [runId],
  );
  return rows[0]?.lag ?? null;
}

export interface LifecycleEvent {
  id: string;
  jobId: string;
  subscriptionId: string;
  event: string;
}

/** Takes the unhandled lifecycle events of a job (each taken by one replica only). */
export async function takeLifecycleEvents(db: Queryable, jobId: string): Promise<LifecycleEvent[]> {
  const { rows } = await db.query<{ id: string; job_id: string; subscription_id: string; lifecycle_event: string }>(
    `update graph_notifications set done_at = now()
     where id in (select id from graph_notifications where job_id = $1::text and done_at is null
                  and lifecycle_event is not null order by id for update skip locked)
     returning id, job_id, subscription_id, lifecycle_event`,
    [jobId],
  );
  return rows.map((row) => ({
    id: row.id,
    jobId: row.job_id,
    subscriptionId: row.subscription_id,
    event: row.lifecycle_event,
  }));
}

/**
 * Changes stored and not applied yet, whether or not a run has claimed them: what the backlog
 * metric and /status show. A run that keeps failing (WordPress down) holds its claim until it
 * fails, and the changes it holds are as far from WordPress as the others.
 */
const UNAPPLIED_CHANGE = "n.done_at is null and n.lifecycle_event is null and n.entra_id is not null";

export interface NotificationStats {
  jobId: string;
  /** Change notifications not applied yet (claimed by a run or not). */
  pending: number;
  /** Age in seconds of the oldest of them (0 when none): how far behind the job is. */
  oldestPendingAge: number;
  /** Receipt -> applied, in seconds, of the slowest notification of the job's last notification run. */
  lastAppliedLag: number | null;
}

export async function notificationStats(db: Queryable): Promise<NotificationStats[]> {
  const { rows } = await db.query<{ job_id: string; pending: number; oldest: number; applied: number | null }>(
    `select j.id as job_id,
       (select count(*)::int from graph_notifications n where n.job_id = j.id and ${UNAPPLIED_CHANGE}) as pending,
       coalesce((select extract(epoch from now() - min(n.received_at))::float8 from graph_notifications n
                 where n.job_id = j.id and ${UNAPPLIED_CHANGE}), 0) as oldest,
       (select extract(epoch from max(n.done_at - n.received_at))::float8 from graph_notifications n
        where n.run_id = (select r.id from runs r where r.job_id = j.id and r.mode = 'notification'
                          and r.state = 'completed' order by r.finished_at desc limit 1)) as applied
     from jobs j where exists (select 1 from graph_notifications n where n.job_id = j.id)`,
  );
  return rows.map((row) => ({
    jobId: row.job_id,
    pending: row.pending,
    oldestPendingAge: row.oldest,
    lastAppliedLag: row.applied,
  }));
}

/** Asks for a reconciliation (delta or full) run of the job soon. */
export async function requestReconcile(db: Queryable, jobId: string): Promise<void> {
  await db.query("update jobs set reconcile_requested_at = now() where id = $1::text", [jobId]);
}

/**
 * A reconciliation is due when one was asked for after the job's last listing run (full or
 * delta, whatever its outcome) started, or when none completed within maxAgeMs and none started
 * within retryMs (a failing one is not restarted in a loop).
 */
export async function reconcileDue(db: Queryable, jobId: string, maxAgeMs: number, retryMs: number): Promise<boolean> {
  const { rows } = await db.query<{ due: boolean }>(
    `with listing as (
       select coalesce(r.started_at, r.created_at) as started, r.state from runs r
       where r.job_id = $1::text and r.mode <> 'notification')
     select coalesce(j.reconcile_requested_at > (select max(started) from listing), j.reconcile_requested_at is not null)
       or (coalesce((select max(started) from listing where state = 'completed') < now() - make_interval(secs => $2::float8 / 1000), true)
           and coalesce((select max(started) from listing) < now() - make_interval(secs => $3::float8 / 1000), true)) as due
     from jobs j where j.id = $1::text`,
    [jobId, maxAgeMs, retryMs],
  );
  return rows[0]?.due ?? false;
}
