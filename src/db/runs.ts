/**
 * runs: the run state machine. Every transition is one guarded statement: the lease guard
 * (`locked_by = $owner`) for a step's outcome, the state guard for cancel/approve. Zero rows back
 * means the guard did not hold; callers say so rather than guess.
 */

import {
  COUNTERS,
  type RunCounts,
  type RunMode,
  type RunState,
  type RunSummary,
  type RunTrigger,
  zeroCounts,
} from "../core/runs";
import type { Queryable } from "./pool";
import { ACTIVE_SQL, STEPPABLE_SQL } from "./states";

interface DbRun {
  id: string;
  job_id: string;
  state: RunState;
  trigger: RunTrigger;
  dry_run: boolean;
  mode: RunMode;
  phase: "groups" | "users" | "removals";
  group_index: number;
  cursor: string | null;
  page_done: number;
  new_delta_link: string | null;
  step: number;
  total_estimate: number | null;
  seen: number;
  created: number;
  updated: number;
  unchanged: number;
  reactivated: number;
  deactivated: number;
  deleted: number;
  skipped: number;
  failed: number;
  locked_by: string | null;
  locked_until: Date | null;
  consecutive_failures: number;
  last_error: string | null;
  approved: boolean;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  progressed_at: Date;
}

export interface Run {
  id: string;
  jobId: string;
  state: RunState;
  trigger: RunTrigger;
  dryRun: boolean;
  mode: RunMode;
  /** listing: "groups" then "users"; reconciling: "removals" once the candidates are itemised. */
  phase: "groups" | "users" | "removals";
  groupIndex: number;
  cursor: string | null;
  pageDone: number;
  newDeltaLink: string | null;
  step: number;
  totalEstimate: number | null;
  counts: RunCounts;
  lockedBy: string | null;
  consecutiveFailures: number;
  lastError: string | null;
  approved: boolean;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  progressedAt: Date;
}

function toRun(row: DbRun): Run {
  const counts = zeroCounts();
  for (const key of COUNTERS) counts[key] = row[key];
  return {
    id: row.id,
    jobId: row.job_id,
    state: row.state,
    trigger: row.trigger,
    dryRun: row.dry_run,
    mode: row.mode,
    phase: row.phase,
    groupIndex: row.group_index,
    cursor: row.cursor,
    pageDone: row.page_done,
    newDeltaLink: row.new_delta_link,
    step: row.step,
    totalEstimate: row.total_estimate,
    counts,
    lockedBy: row.locked_by,
    consecutiveFailures: row.consecutive_failures,
    lastError: row.last_error,
    approved: row.approved,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    progressedAt: row.progressed_at,
  };
}

/** A run row as to_jsonb made it (the webhook outbox's copy): timestamps come back as strings. */
export function runFromJson(json: Record<string, unknown>): Run {
  const date = (key: keyof DbRun) => (json[key] === null ? null : new Date(String(json[key])));
  return toRun({
    ...(json as unknown as DbRun),
    created_at: date("created_at")!,
    started_at: date("started_at"),
    finished_at: date("finished_at"),
    progressed_at: date("progressed_at")!,
    locked_until: date("locked_until"),
  });
}

export function toSummary(run: Run): RunSummary {
  return {
    id: run.id,
    job: run.jobId,
    state: run.state,
    trigger: run.trigger,
    dryRun: run.dryRun,
    mode: run.mode,
    step: run.step,
    counts: { ...run.counts },
    totalEstimate: run.totalEstimate,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    progressedAt: run.progressedAt.toISOString(),
    lastError: run.lastError,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids from URLs: anything that is not a uuid is simply not found (never a 500 from a cast). */
export function isRunId(id: string): boolean {
  return UUID.test(id);
}

/** Null when the job already has an active run (runs_one_active_per_job). */
export async function insertRun(
  db: Queryable,
  run: {
    jobId: string;
    trigger: RunTrigger;
    dryRun: boolean;
    mode: RunMode;
    phase: "groups" | "users";
    cursor: string | null;
  },
): Promise<Run | null> {
  const { rows } = await db.query<DbRun>(
    `insert into runs (job_id, trigger, dry_run, mode, phase, cursor)
     values ($1::text, $2::text, $3::boolean, $4::text, $5::text, $6::text)
     on conflict (job_id) where state in (${ACTIVE_SQL}) do nothing
     returning *`,
    [run.jobId, run.trigger, run.dryRun, run.mode, run.phase, run.cursor],
  );
  return rows[0] ? toRun(rows[0]) : null;
}

export async function findRun(db: Queryable, id: string): Promise<Run | null> {
  if (!isRunId(id)) return null;
  const { rows } = await db.query<DbRun>("select * from runs where id = $1::uuid", [id]);
  return rows[0] ? toRun(rows[0]) : null;
}

export async function findActiveRun(db: Queryable, jobId: string): Promise<Run | null> {
  const { rows } = await db.query<DbRun>(
    `select * from runs where job_id = $1::text
       and state in (${ACTIVE_SQL})`,
    [jobId],
  );
  return rows[0] ? toRun(rows[0]) : null;
}

/** Newest first; `before` is a run id (keyset on created_at, id). */
export async function listRuns(db: Queryable, jobId: string, limit: number, before: string | null): Promise<Run[]> {
  const { rows } = await db.query<DbRun>(
    `select * from runs r
     where r.job_id = $1::text
       and ($3::uuid is null or (r.created_at, r.id) < (select b.created_at, b.id from runs b where b.id = $3::uuid))
     order by r.created_at desc, r.id desc
     limit $2::int`,
    [jobId, limit, before],
  );
  return rows.map(toRun);
}

/**
 * Takes the lease with one guarded update: free, or expired (taken over). Never waits for a
 * running step: a held lease gives null at once. `previousOwner` is set on a takeover.
 */
export async function claimLease(
  db: Queryable,
  id: string,
  owner: string,
  leaseMs: number,
): Promise<{ run: Run; previousOwner: string | null } | null> {
  const { rows } = await db.query<DbRun & { previous_owner: string | null }>(
    `update runs r set
       locked_by = $2::text,
       locked_until = now() + $3::int * interval '1 millisecond',
       state = case when r.state = 'queued' then 'listing' else r.state end,
       started_at = coalesce(r.started_at, now())
     from (select id, locked_by from runs where id = $1::uuid) as before
     where r.id = before.id
       and r.state in (${STEPPABLE_SQL})
       and (r.locked_by is null or r.locked_until < now())
     returning r.*, before.locked_by as previous_owner`,
    [id, owner, leaseMs],
  );
  const row = rows[0];
  return row ? { run: toRun(row), previousOwner: row.previous_owner } : null;
}

/** Columns a step may set; `counts` are increments. */
export interface RunPatch {
  state?: RunState;
  mode?: RunMode;
  phase?: Run["phase"];
  groupIndex?: number;
  cursor?: string | null;
  pageDone?: number;
  newDeltaLink?: string | null;
  totalEstimate?: number | null;
  lastError?: string | null;
  consecutiveFailures?: number;
  counts?: Partial<RunCounts>;
  /** The step made progress: step + 1, progressed_at = now(). */
  progressed?: boolean;
  finished?: boolean;
  release?: boolean;
}

const COLUMNS: Record<string, [column: string, cast: string]> = {
  state: ["state", "text"],
  mode: ["mode", "text"],
  phase: ["phase", "text"],
  groupIndex: ["group_index", "int"],
  cursor: ["cursor", "text"],
  pageDone: ["page_done", "int"],
  newDeltaLink: ["new_delta_link", "text"],
  totalEstimate: ["total_estimate", "int"],
  lastError: ["last_error", "text"],
  consecutiveFailures: ["consecutive_failures", "int"],
};

/**
 * The outcome of a step, guarded by the lease: null when the lease was lost (another process
 * took it over, or the run was cancelled); inside a transaction the caller then rolls back.
 */
export async function updateLeased(db: Queryable, id: string, owner: string, patch: RunPatch): Promise<Run | null> {
  const sets: string[] = [];
  const params: unknown[] = [id, owner];
  for (const [key, [column, cast]] of Object.entries(COLUMNS)) {
    const value = (patch as Record<string, unknown>)[key];
    if (value === undefined) continue;
    params.push(value);
    sets.push(`${column} = $${params.length}::${cast}`);
  }
  for (const key of COUNTERS) {
    const value = patch.counts?.[key];
    if (!value) continue;
    params.push(value);
    sets.push(`${key} = ${key} + $${params.length}::int`);
  }
  if (patch.progressed) sets.push("step = step + 1", "progressed_at = now()");
  if (patch.finished) sets.push("finished_at = now()");
  if (patch.release) sets.push("locked_by = null", "locked_until = null");
  if (sets.length === 0) sets.push("locked_by = locked_by");
  const { rows } = await db.query<DbRun>(
    `update runs set ${sets.join(", ")} where id = $1::uuid and locked_by = $2::text returning *`,
    params,
  );
  return rows[0] ? toRun(rows[0]) : null;
}

/**
 * A step that failed for a retryable reason: the run stays where it was; after maxFailedSteps
 * consecutive failures it fails. Releases the lease.
 */
export async function recordStepFailure(
  db: Queryable,
  id: string,
  owner: string,
  message: string,
  maxFailedSteps: number,
): Promise<Run | null> {
  const { rows } = await db.query<DbRun>(
    `update runs set
       consecutive_failures = consecutive_failures + 1,
       last_error = $3::text,
       state = case when consecutive_failures + 1 >= $4::int then 'failed' else state end,
       finished_at = case when consecutive_failures + 1 >= $4::int then now() else finished_at end,
       locked_by = null, locked_until = null
     where id = $1::uuid and locked_by = $2::text
     returning *`,
    [id, owner, message, maxFailedSteps],
  );
  return rows[0] ? toRun(rows[0]) : null;
}

/** Any non-terminal run -> cancelled; null when the run is terminal (or unknown). Clears the lease. */
export async function cancelRun(db: Queryable, id: string): Promise<Run | null> {
  const { rows } = await db.query<DbRun>(
    `update runs set state = 'cancelled', finished_at = now(), locked_by = null, locked_until = null
     where id = $1::uuid and state in (${ACTIVE_SQL})
     returning *`,
    [id],
  );
  return rows[0] ? toRun(rows[0]) : null;
}

/** awaiting_approval -> reconciling with the removals approved; null otherwise. */
export async function approveRun(db: Queryable, id: string): Promise<Run | null> {
  const { rows } = await db.query<DbRun>(
    `update runs set state = 'reconciling', approved = true, progressed_at = now()
     where id = $1::uuid and state = 'awaiting_approval'
     returning *`,
    [id],
  );
  return rows[0] ? toRun(rows[0]) : null;
}
