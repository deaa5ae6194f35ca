/**
 * One database per test file, cloned from the migrated template (graphile-worker's helpers.ts
 * pattern), so files run in parallel; a file that fails keeps its database to inspect (until the
 * next run), one that passes has it dropped (./environment.ts).
 * Falls back to an in-memory embedded PostgreSQL when no server was found by global-setup.
 */

import os from "node:os";
import { Client, type Pool } from "pg";
import type { RunCounts } from "../../src/core/runs";
import { migrate } from "../../src/db/migrate";
import { type Database, openDatabase } from "../../src/db/pool";
import { makeLogger } from "../../src/logger";
import { adminUrl, databaseUrl, TEST_DB_PREFIX } from "./db-names";
import { keepIfFailed, makeTempDir } from "./leftovers";

let counter = 0;

export const silentLogger = makeLogger({ level: "silent" });

export const NO_POSTGRES_REASON = "skipped: no PostgreSQL server answers at TEST_DATABASE_URL";

/**
 * `it` for a test that needs a PostgreSQL server, which the embedded database cannot stand in
 * for. Without a server it is skipped and its title says why, rather than passing having checked
 * nothing; under REQUIRE_POSTGRES=1 (CI) global-setup fails the whole run instead.
 */
export function itWithPostgres(name: string, fn: jest.ProvidesCallback, timeout?: number): void {
  if (process.env.TEST_DB_MODE === "postgres") it(name, fn, timeout);
  else it.skip(`${name} (${NO_POSTGRES_REASON})`, fn);
}

/**
 * The database settings of a service opened on the test's server database, or (embedded mode)
 * on a fresh DATA_DIR of its own: never the checkout's ./data, which `npm start` uses.
 */
export function serviceDatabaseEnv(db: { url: string | null }): { DATABASE_URL: string } | { DATA_DIR: string } {
  return db.url ? { DATABASE_URL: db.url } : { DATA_DIR: makeTempDir("ews-service-") };
}

export async function makeTestDatabase(): Promise<Database & { url: string | null }> {
  const template = process.env.TEST_TEMPLATE_DB;
  if (process.env.TEST_DB_MODE !== "postgres" || !template) {
    const dataDir = makeTempDir("ews-pglite-");
    const db = await openDatabase({ url: null, dataDir, logger: silentLogger });
    await migrate(db.pool);
    return { ...db, url: null };
  }
  const name = `${TEST_DB_PREFIX}t_${process.pid}_${Date.now()}_${counter++}`;
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    // Two files cloning at the same instant can see "source database is being accessed" (55006).
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`create database ${name} template ${template}`);
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== "55006" || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  } finally {
    await admin.end();
  }
  keepIfFailed({ kind: "database", name });
  const url = databaseUrl(name);
  const db = await openDatabase({ url, dataDir: os.tmpdir(), logger: silentLogger });
  return { ...db, url };
}

/** The counters recomputed from run_items with one group-by (same rules as the engine's). */
export async function countsFromItems(pool: Pool, runId: string): Promise<RunCounts> {
  const { rows } = await pool.query<RunCounts>(
    `select count(*) filter (where phase = 'listing')::int as seen,
            count(*) filter (where status in ('ok', 'planned') and action = 'create')::int as created,
            count(*) filter (where status in ('ok', 'planned') and action = 'update')::int as updated,
            count(*) filter (where status in ('ok', 'planned') and action = 'unchanged')::int as unchanged,
            count(*) filter (where status in ('ok', 'planned') and action = 'reactivate')::int as reactivated,
            count(*) filter (where status in ('ok', 'planned') and action = 'deactivate')::int as deactivated,
            count(*) filter (where status in ('ok', 'planned') and action = 'delete')::int as deleted,
            count(*) filter (where status in ('ok', 'planned') and action = 'skip')::int as skipped,
            count(*) filter (where status = 'failed')::int as failed
     from run_items where run_id = $1::uuid`,
    [runId],
  );
  return rows[0]!;
}
