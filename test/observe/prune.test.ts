import { pruneHistory } from "../../src/db/prune";
import { startPruner } from "../../src/observe/pruner";
import { makeTestDatabase, silentLogger } from "../helpers/db";

type TestDb = Awaited<ReturnType<typeof makeTestDatabase>>;
let db: TestDb;

beforeAll(async () => {
  db = await makeTestDatabase();
});
afterAll(async () => {
  await db.close();
});

let jobSeq = 0;
async function aJobRow(): Promise<string> {
  const id = `job${++jobSeq}`;
  await db.pool.query("insert into jobs (id, config) values ($1::text, '{}'::jsonb)", [id]);
  return id;
}

/** A run in `state` that finished (or, when active, was created) `daysAgo` days ago, with `items` items. */
async function aRunRow(job: string, state: string, daysAgo: number, items = 2): Promise<string> {
  const terminal = ["completed", "failed", "cancelled"].includes(state);
  const { rows } = await db.pool.query<{ id: string }>(
    `insert into runs (job_id, state, trigger, created_at, started_at, finished_at, progressed_at)
     values ($1::text, $2::text, 'link', now() - make_interval(days => $3::int + 1),
             now() - make_interval(days => $3::int + 1),
             case when $4::boolean then now() - make_interval(days => $3::int) end,
             now() - make_interval(days => $3::int))
     returning id`,
    [job, state, daysAgo, terminal],
  );
  const id = rows[0]!.id;
  await db.pool.query(
    `insert into run_items (run_id, entra_id, action, status)
     select $1::uuid, 'entra-' || n, 'create', 'ok' from generate_series(1, $2::int) n`,
    [id, items],
  );
  return id;
}

async function remainingRuns(job: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>("select id from runs where job_id = $1::text", [job]);
  return rows.map((r) => r.id).sort();
}

async function itemsOf(runId: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    "select count(*)::int as n from run_items where run_id = $1::uuid",
    [runId],
  );
  return rows[0]!.n;
}

describe("pruning run history", () => {
  it("deletes terminal runs and their items finished before the limit and keeps younger ones", async () => {
    const job = await aJobRow();
    const oldCompleted = await aRunRow(job, "completed", 40, 3);
    const oldFailed = await aRunRow(job, "failed", 31, 2);
    const oldCancelled = await aRunRow(job, "cancelled", 90, 0);
    const young = await aRunRow(job, "completed", 29, 4);

    const result = await pruneHistory(db.pool, 30);

    expect(result).toEqual({ runs: 3, items: 5 });
    expect(await remainingRuns(job)).toEqual([young]);
    expect(await itemsOf(young)).toBe(4);
    for (const gone of [oldCompleted, oldFailed, oldCancelled]) expect(await itemsOf(gone)).toBe(0);
  });

  it("never deletes an active run, however old", async () => {
    const states = ["queued", "listing", "reconciling", "awaiting_approval"];
    const kept: string[] = [];
    for (const state of states) kept.push(await aRunRow(await aJobRow(), state, 400, 2));

    await pruneHistory(db.pool, 1);

    for (const id of kept) expect(await itemsOf(id)).toBe(2);
    const { rows } = await db.pool.query<{ n: number }>(
      "select count(*)::int as n from runs where id = any($1::uuid[])",
      [kept],
    );
    expect(rows[0]!.n).toBe(states.length);
  });

  it("works through more old runs than one batch deletes", async () => {
    const job = await aJobRow();
    for (let i = 0; i < 45; i++) await aRunRow(job, "completed", 50, 1);
    const young = await aRunRow(job, "completed", 2, 1);

    expect(await pruneHistory(db.pool, 30)).toEqual({ runs: 45, items: 45 });
    expect(await remainingRuns(job)).toEqual([young]);
  });

  it("refuses a limit that is not a whole number of days", async () => {
    await expect(pruneHistory(db.pool, 0)).rejects.toThrow(/at least 1/);
    await expect(pruneHistory(db.pool, 1.5)).rejects.toThrow(/whole number/);
  });

  it("prunes in the background once started and stops cleanly", async () => {
    const job = await aJobRow();
    const old = await aRunRow(job, "completed", 10, 1);
    const pruner = startPruner({ db: db.pool, days: 7, intervalMs: 60_000, logger: silentLogger });
    try {
      for (let i = 0; i < 100 && (await remainingRuns(job)).includes(old); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await remainingRuns(job)).toEqual([]);
      const later = await aRunRow(job, "failed", 8, 1);
      expect(await pruner.runNow()).toEqual({ runs: 1, items: 1 });
      expect(await remainingRuns(job)).not.toContain(later);
    } finally {
      await pruner.stop();
    }
  });
});

describe("pruning schedule fires", () => {
  it("deletes fires older than the limit but keeps each job's latest, which the schedule reckons from", async () => {
    const job = await aJobRow();
    const other = await aJobRow();
    const fire = (id: string, daysAgo: number) =>
      db.pool.query(
        "insert into schedule_fires (job_id, due_at) values ($1::text, date_trunc('minute', now()) - make_interval(days => $2::int))",
        [id, daysAgo],
      );
    for (const daysAgo of [60, 45, 31, 10]) await fire(job, daysAgo);
    await fire(other, 90); // old, but the only one of its job
    await pruneHistory(db.pool, 30);
    const { rows } = await db.pool.query<{ job_id: string; days: number }>(
      `select job_id, extract(day from date_trunc('minute', now()) - due_at)::int as days
       from schedule_fires where job_id in ($1::text, $2::text) order by job_id, due_at`,
      [job, other],
    );
    expect(rows.map((r) => [r.job_id, r.days])).toEqual([
      [job, 10],
      [other, 90],
    ]);
  });
});
