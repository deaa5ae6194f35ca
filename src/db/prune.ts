/**
 * History retention (HISTORY_DAYS): terminal runs finished more than N days ago go, with their
 * items and group members (on delete cascade), and so do schedule fires of that age. Active runs
 * are never touched, whatever their age. Ended rate-limit windows and applied Graph notifications go too.
 */
import type { Queryable } from "./pool";
import { pruneBuckets } from "./rate-limits";
import { TERMINAL_SQL } from "./states";

/** Runs deleted per statement: one run of a big tenant holds ~100k items, so keep statements short. */
const BATCH = 20;

export async function pruneHistory(db: Queryable, olderThanDays: number): Promise<{ runs: number; items: number }> {
  if (!Number.isInteger(olderThanDays) || olderThanDays < 1) {
    throw new RangeError(`olderThanDays must be a whole number of days, at least 1 (got ${olderThanDays})`);
  }
  const total = { runs: 0, items: 0 };
  for (;;) {
    // Items are deleted explicitly (rather than left to the cascade) only so they can be counted.
    // skip locked: two replicas pruning at once share the work instead of waiting on each other.
    const { rows } = await db.query<{ runs: number; items: number }>(
      `with doomed as (
         select id from runs
         where state in (${TERMINAL_SQL})
           and coalesce(finished_at, created_at) < now() - make_interval(days => $1::int)
         order by coalesce(finished_at, created_at)
         limit $2::int
         for update skip locked
       ),
       gone_items as (delete from run_items where run_id in (select id from doomed) returning 1),
       gone_runs as (delete from runs where id in (select id from doomed) returning 1)
       select (select count(*) from gone_runs)::int as runs, (select count(*) from gone_items)::int as items`,
      [olderThanDays, BATCH],
    );
    const row = rows[0] ?? { runs: 0, items: 0 };
    total.runs += row.runs;
    total.items += row.items;
    if (row.runs < BATCH) break;
  }
  // Schedule fires of the same age go too, except each job's latest: the driver reckons the next
  // due time from it (src/db/schedule-fires.ts).
  await db.query(
    `delete from schedule_fires f
     where f.due_at < now() - make_interval(days => $1::int)
       and f.due_at < (select max(g.due_at) from schedule_fires g where g.job_id = f.job_id)`,
    [olderThanDays],
  );
  // Applied (or handled lifecycle) notifications of the same age.
  await db.query("delete from graph_notifications where done_at < now() - make_interval(days => $1::int)", [
    olderThanDays,
  ]);
  // Rate-limit windows that are over hold nothing worth keeping.
  await pruneBuckets(db, new Date());
  return total;
}
