/**
 * Fixed-window counters shared by every replica (table rate_limit_buckets). One guarded upsert
 * per hit: PostgreSQL serialises concurrent hits on the same key, so two replicas never both
 * see "one left".
 */
import type { Queryable } from "./pool";

export interface BucketState {
  /** Hits in the current window, this one included. */
  hits: number;
  windowEndsAt: Date;
}

/**
 * Counts one hit on `key`. The window starts at the first hit and lasts windowMs; a hit after
 * it ends starts a new one. `now` is the caller's clock, so every replica's windows agree with
 * the Retry-After it computes.
 */
export async function hitBucket(db: Queryable, key: string, windowMs: number, now: Date): Promise<BucketState> {
  const { rows } = await db.query<{ hits: number; window_ends_at: Date }>(
    `insert into rate_limit_buckets as b (key, hits, window_ends_at)
     values ($1::text, 1, $2::timestamptz + make_interval(secs => $3::int / 1000.0))
     on conflict (key) do update set
       hits = case when b.window_ends_at <= $2::timestamptz then 1 else b.hits + 1 end,
       window_ends_at = case when b.window_ends_at <= $2::timestamptz then excluded.window_ends_at else b.window_ends_at end
     returning hits, window_ends_at`,
    [key, now, windowMs],
  );
  const row = rows[0]!;
  return { hits: row.hits, windowEndsAt: row.window_ends_at };
}

/** Drops windows that ended before `before` (a guesser rotating addresses leaves one row each). */
export async function pruneBuckets(db: Queryable, before: Date): Promise<number> {
  const { rowCount } = await db.query("delete from rate_limit_buckets where window_ends_at < $1::timestamptz", [
    before,
  ]);
  return rowCount ?? 0;
}
