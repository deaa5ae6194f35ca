/**
 * Row "one person's history": the two queries behind GET /v1/users/{entraId or email}/history
 * (entraIdsOf, then historyOf: the newest 100 items) over 1,000,000 run_items on PostgreSQL:
 * 10,000 people seen by 100 completed runs, each person's e-mail changed halfway, so a lookup by
 * e-mail goes through the Entra id to the items under both e-mails. Also how long migration
 * 0013 takes to build its indexes on that table (writes of run items wait meanwhile).
 */
import fs from "node:fs";
import path from "node:path";
import { Pool } from "pg";
import { entraIdsOf, historyOf } from "../../src/db/items";
import { MIGRATIONS_DIR, migrate } from "../../src/db/migrate";
import { benchDatabase } from "../lib/service";

export interface HistoryResult {
  items: number;
  people: number;
  runs: number;
  byIdMs: number[];
  byEmailMs: number[];
  /** Items a lookup returned (the page), to show the lookups found something. */
  found: number;
  indexBuildMs: number;
}

const RUNS = 100;
const LOOKUPS = 300;

export async function benchHistory(items: number): Promise<HistoryResult> {
  const database = await benchDatabase("history");
  if (!database.DATABASE_URL)
    throw new Error("the history row needs PostgreSQL (BENCH_DATABASE_URL or 127.0.0.1:5432)");
  const pool = new Pool({ connectionString: database.DATABASE_URL, max: 2 });
  try {
    await migrate(pool);
    const people = Math.ceil(items / RUNS);
    await pool.query(`insert into jobs (id, config) values ('bench', '{}'::jsonb)`);
    await pool.query(
      `insert into runs (job_id, trigger, state, created_at)
       select 'bench', 'manual', 'completed', now() - make_interval(days => ${RUNS} - n) from generate_series(1, $1::int) n`,
      [RUNS],
    );
    // Run by run, in run order (ids grow with time, as they do in production).
    await pool.query(
      `insert into run_items (run_id, entra_id, action, status, email, display_name)
       select r.id, 'person-' || p, 'unchanged', 'ok',
              case when r.n <= ${RUNS / 2} then 'before' else 'after' end || '-' || p || '@bench.example', 'Person ' || p
       from (select id, row_number() over (order by created_at) n from runs) r
       cross join generate_series(1, $1::int) p
       order by r.n, p`,
      [people],
    );
    const indexSql = fs.readFileSync(path.join(MIGRATIONS_DIR, "0013_person_history.sql"), "utf8");
    await pool.query("drop index run_items_entra_history; drop index run_items_email_history");
    const building = performance.now();
    await pool.query(indexSql);
    const indexBuildMs = performance.now() - building;
    await pool.query("analyze run_items");

    const pick = (i: number) => 1 + ((i * 7919) % people);
    const byIdMs: number[] = [];
    const byEmailMs: number[] = [];
    let found = 0;
    for (let i = 0; i < LOOKUPS; i++) {
      let started = performance.now();
      const byId = await historyOf(pool, await entraIdsOf(pool, `person-${pick(i)}`), { limit: 100 });
      byIdMs.push(performance.now() - started);
      started = performance.now();
      // The e-mail of before the change: found through the Entra id, with the items under the new one.
      const byEmail = await historyOf(pool, await entraIdsOf(pool, `BEFORE-${pick(i + 1)}@bench.example`), {
        limit: 100,
      });
      byEmailMs.push(performance.now() - started);
      found = Math.min(byId.items.length, byEmail.items.length);
    }
    return { items: people * RUNS, people, runs: RUNS, byIdMs, byEmailMs, found, indexBuildMs };
  } finally {
    await pool.end();
  }
}
