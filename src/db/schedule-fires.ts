/**
 * schedule_fires: one row per (job, due time). The primary key makes a due time fire once across
 * every replica: the replica whose insert succeeds starts the run, the others see zero rows.
 */
import type { Queryable } from "./pool";

/**
 * Where to look for the next due time of a job's schedule: its latest recorded fire, else the
 * moment the job was first declared (jobs.created_at), so a new schedule never fires for times
 * before it existed. null when the job is not mirrored yet.
 */
export async function scheduleReference(db: Queryable, jobId: string): Promise<Date | null> {
  const { rows } = await db.query<{ reference: Date | null }>(
    `select coalesce((select max(due_at) from schedule_fires where job_id = $1::text), j.created_at) as reference
     from jobs j where j.id = $1::text`,
    [jobId],
  );
  return rows[0]?.reference ?? null;
}

/** True when this call recorded the fire (and so must act on it); false when another replica did. */
export async function recordFire(db: Queryable, jobId: string, dueAt: Date): Promise<boolean> {
  const { rows } = await db.query(
    `insert into schedule_fires (job_id, due_at) values ($1::text, $2::timestamptz)
     on conflict (job_id, due_at) do nothing
     returning job_id`,
    [jobId, dueAt],
  );
  return rows.length > 0;
}

/** The run a fire started (or found active). */
export async function setFireRun(db: Queryable, jobId: string, dueAt: Date, runId: string): Promise<void> {
  await db.query("update schedule_fires set run_id = $3::uuid where job_id = $1::text and due_at = $2::timestamptz", [
    jobId,
    dueAt,
    runId,
  ]);
}

export interface ScheduleFire {
  jobId: string;
  dueAt: Date;
  runId: string | null;
  firedAt: Date;
}

export async function listFires(db: Queryable, jobId: string): Promise<ScheduleFire[]> {
  const { rows } = await db.query<{ job_id: string; due_at: Date; run_id: string | null; fired_at: Date }>(
    "select job_id, due_at, run_id, fired_at from schedule_fires where job_id = $1::text order by due_at",
    [jobId],
  );
  return rows.map((row) => ({ jobId: row.job_id, dueAt: row.due_at, runId: row.run_id, firedAt: row.fired_at }));
}

/** Gives a fire back (its run could not be started): the next look at the schedule tries the due time again. */
export async function deleteFire(db: Queryable, jobId: string, dueAt: Date): Promise<void> {
  await db.query("delete from schedule_fires where job_id = $1::text and due_at = $2::timestamptz and run_id is null", [
    jobId,
    dueAt,
  ]);
}
