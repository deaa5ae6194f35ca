/**
 * run_items: one outcome per user per run, and the run's counters kept equal to them. Every write
 * here returns the rows it changed so the caller can add exactly those to the counters in the same
 * transaction (countsOf): a replayed user is ignored by the unique (run_id, entra_id) index.
 */
import {
  COUNTER_OF,
  type HistoryItem,
  type ItemAction,
  type ItemQuery,
  type ItemStatus,
  type RunCounts,
  type RunItem,
  type RunMode,
  zeroCounts,
} from "../core/runs";
import type { Queryable } from "./pool";

export type ItemPhase = "listing" | "removal";

/** An item as a step writes it: the row gets its id and created_at from the database. */
export type ItemInput = Omit<RunItem, "id" | "createdAt">;

interface DbItem {
  id: string;
  run_id: string;
  entra_id: string;
  wp_user_id: number | null;
  action: ItemAction;
  status: ItemStatus;
  diff: Record<string, [unknown, unknown]>;
  email: string | null;
  display_name: string | null;
  reason: string | null;
  error: string | null;
  phase: ItemPhase;
  created_at: Date;
}

type Counted = Pick<DbItem, "action" | "status" | "phase">;

/**
 * The counters' definition: seen = listing items; failed = failed items; every other applied
 * (or, in a dry run, planned) item counts under its action; pending removals count nowhere yet.
 */
export function countsOf(rows: Counted[]): RunCounts {
  const counts = zeroCounts();
  for (const row of rows) {
    if (row.phase === "listing") counts.seen++;
    if (row.status === "failed") counts.failed++;
    else if (row.status === "ok" || row.status === "planned") counts[COUNTER_OF[row.action]]++;
  }
  return counts;
}

function toRecords(items: ItemInput[], phase: ItemPhase): string {
  return JSON.stringify(
    items.map((i) => ({
      entra_id: i.entraId,
      wp_user_id: i.wpUserId,
      action: i.action,
      status: i.status,
      diff: i.diff,
      email: i.email,
      display_name: i.displayName,
      reason: i.reason,
      error: i.error,
      phase,
    })),
  );
}

/** Inserts new items; users already itemised in this run are left as they are (and not counted again). */
export async function insertItems(
  db: Queryable,
  runId: string,
  items: ItemInput[],
  phase: ItemPhase = "listing",
): Promise<RunCounts> {
  if (items.length === 0) return zeroCounts();
  const { rows } = await db.query<Counted>(
    `insert into run_items (run_id, entra_id, wp_user_id, action, status, diff, email, display_name, reason, error, phase)
     select $1::uuid, i.entra_id, i.wp_user_id, i.action, i.status, coalesce(i.diff, '{}'::jsonb), i.email,
            i.display_name, i.reason, i.error, i.phase
     from jsonb_to_recordset($2::jsonb) as i (entra_id text, wp_user_id int, action text, status text, diff jsonb,
            email text, display_name text, reason text, error text, phase text)
     on conflict (run_id, entra_id) do nothing
     returning action, status, phase`,
    [runId, toRecords(items, phase)],
  );
  return countsOf(rows);
}

/** Settles pending removal items (by entra id); items no longer pending are left alone. */
export async function settlePendingItems(db: Queryable, runId: string, items: ItemInput[]): Promise<RunCounts> {
  if (items.length === 0) return zeroCounts();
  const { rows } = await db.query<Counted>(
    `update run_items r set wp_user_id = i.wp_user_id, action = i.action, status = i.status,
            diff = coalesce(i.diff, '{}'::jsonb), reason = i.reason, error = i.error,
            email = coalesce(i.email, r.email), display_name = coalesce(i.display_name, r.display_name)
     from jsonb_to_recordset($2::jsonb) as i (entra_id text, wp_user_id int, action text, status text, diff jsonb,
            reason text, error text, email text, display_name text)
     where r.run_id = $1::uuid and r.entra_id = i.entra_id and r.status = 'pending'
     returning r.action, r.status, r.phase`,
    [runId, toRecords(items, "removal")],
  );
  return countsOf(rows);
}

/** Which of these users already have an item in this run (one query per page). */
export async function itemisedAmong(db: Queryable, runId: string, entraIds: string[]): Promise<Set<string>> {
  if (entraIds.length === 0) return new Set();
  const { rows } = await db.query<{ entra_id: string }>(
    "select entra_id from run_items where run_id = $1::uuid and entra_id = any($2::text[])",
    [runId, entraIds],
  );
  return new Set(rows.map((row) => row.entra_id));
}

/** run_removals: ids a delta listing reported removed or disabled, or that left the job's groups. */
export async function addRemovals(db: Queryable, runId: string, entraIds: string[]): Promise<void> {
  if (entraIds.length === 0) return;
  await db.query(
    `insert into run_removals (run_id, entra_id) select $1::uuid, r.id from unnest($2::text[]) as r (id)
     on conflict do nothing`,
    [runId, entraIds],
  );
}

/**
 * Itemises the run's removal candidates as "pending" (one statement) and returns how many there
 * are. full: the job's active mapped users with no listing item in this run (present means
 * created/updated/unchanged/reactivated, skipped, or failed). delta: the reported removals that
 * are mapped and active. Users itemised in the listing are never candidates (the unique index),
 * nor are users whose map entry was written after the run started (provision on demand).
 */
export async function itemiseRemovals(
  db: Queryable,
  run: { id: string; jobId: string; mode: RunMode },
  action: "deactivate" | "delete",
): Promise<number> {
  const { rowCount } = await db.query(
    `insert into run_items (run_id, entra_id, wp_user_id, action, status, email, display_name, phase)
     select $1::uuid, m.entra_id, m.wp_user_id, $4::text, 'pending', m.email, m.fields->>'name', 'removal'
     from user_map m
     where m.job_id = $2::text and m.state = 'active'
       -- Only a full listing removes whoever it did not return; delta and notification runs name their removals.
       and ($3::text = 'full' or exists (
         select 1 from run_removals r where r.run_id = $1::uuid and r.entra_id = m.entra_id))
       -- A user synced on demand while this run was listing is present, though this run never listed it.
       and ($3::text <> 'full' or m.updated_at < (
         select coalesce(r.started_at, r.created_at) from runs r where r.id = $1::uuid))
     order by m.entra_id
     on conflict (run_id, entra_id) do nothing`,
    [run.id, run.jobId, run.mode, action],
  );
  return rowCount ?? 0;
}

export interface PendingRemoval {
  entraId: string;
  wpUserId: number;
  action: "deactivate" | "delete";
  email: string | null;
}

export async function pendingRemovals(db: Queryable, runId: string, limit: number): Promise<PendingRemoval[]> {
  const { rows } = await db.query<Pick<DbItem, "entra_id" | "wp_user_id" | "action" | "email">>(
    `select entra_id, wp_user_id, action, email from run_items
     where run_id = $1::uuid and status = 'pending'
     order by id limit $2::int`,
    [runId, limit],
  );
  return rows.map((row) => ({
    entraId: row.entra_id,
    wpUserId: row.wp_user_id!,
    action: row.action as "deactivate" | "delete",
    email: row.email,
  }));
}

function toItem(row: DbItem): RunItem {
  return {
    id: String(row.id),
    entraId: row.entra_id,
    wpUserId: row.wp_user_id,
    action: row.action,
    status: row.status,
    diff: row.diff,
    email: row.email,
    displayName: row.display_name,
    reason: row.reason,
    error: row.error,
    createdAt: row.created_at.toISOString(),
  };
}

/** The cursor is opaque to callers: the last item id, base64url-encoded. */
function decodeCursor(cursor: string | undefined): string | null {
  if (!cursor) return null;
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  return /^\d{1,18}$/.test(id) ? id : null;
}

function encodeCursor(id: string): string {
  return Buffer.from(id).toString("base64url");
}

/** An e-mail reused for many accounts over the years is still one page of people, not thousands. */
const MAX_PEOPLE_PER_EMAIL = 50;

/**
 * The Entra ids a person is known by: the id itself, or, for an e-mail (anything with an @), every
 * Entra user an item ever recorded under that e-mail, case-insensitively (index run_items_email_history).
 * Items keep the e-mail of their day, so through the Entra id this finds items from before and after
 * a change of e-mail alike.
 */
export async function entraIdsOf(db: Queryable, person: string): Promise<string[]> {
  if (!person.includes("@")) return [person];
  const { rows } = await db.query<{ entra_id: string }>(
    `select distinct entra_id from run_items
     where lower(email) = lower($1::text) and email is not null
     order by entra_id limit $2::int`,
    [person, MAX_PEOPLE_PER_EMAIL],
  );
  return rows.map((row) => row.entra_id);
}

/** Items about these Entra users across runs and jobs, newest first (index run_items_entra_history). */
export async function historyOf(
  db: Queryable,
  entraIds: string[],
  query: { cursor?: string; limit: number },
): Promise<{ items: HistoryItem[]; nextCursor: string | null }> {
  if (entraIds.length === 0) return { items: [], nextCursor: null };
  const { rows } = await db.query<DbItem & { job_id: string; dry_run: boolean }>(
    `select i.*, r.job_id, r.dry_run
     from run_items i join runs r on r.id = i.run_id
     where i.entra_id = any($1::text[]) and ($2::bigint is null or i.id < $2::bigint)
     order by i.id desc
     limit $3::int`,
    [entraIds, decodeCursor(query.cursor), query.limit + 1],
  );
  const items = rows
    .slice(0, query.limit)
    .map((row) => ({ ...toItem(row), job: row.job_id, runId: row.run_id, dryRun: row.dry_run }));
  const nextCursor = rows.length > query.limit ? encodeCursor(items[items.length - 1]!.id) : null;
  return { items, nextCursor };
}

export async function listItems(
  db: Queryable,
  runId: string,
  query: ItemQuery,
): Promise<{ items: RunItem[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
  const search = query.search ? `%${query.search.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%` : null;
  const { rows } = await db.query<DbItem>(
    `select * from run_items
     where run_id = $1::uuid
       and ($2::bigint is null or id > $2::bigint)
       and ($3::text is null or action = $3::text)
       and ($4::text is null or email ilike $4::text or display_name ilike $4::text)
     order by id
     limit $5::int`,
    [runId, decodeCursor(query.cursor), query.action ?? null, search, limit + 1],
  );
  const items = rows.slice(0, limit).map(toItem);
  const nextCursor = rows.length > limit ? encodeCursor(items[items.length - 1]!.id) : null;
  return { items, nextCursor };
}
