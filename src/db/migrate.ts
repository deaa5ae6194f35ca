/**
 * Forward-only numbered migrations (migrations/NNNN_name.sql), applied at start-up and by
 * `entra-wp-sync migrate`. Safe when several processes migrate at once: each file is applied in
 * a transaction that first inserts its version row, so a second migrator blocks on that row and
 * then sees a unique violation and skips the file (as graphile-worker's migrate.ts does).
 */
import fs from "node:fs";
import path from "node:path";
import type { Pool } from "pg";
import type { Logger } from "../logger";
import { PACKAGE_ROOT } from "../package-root";
import { withTransaction } from "./pool";

/** migrations/ beside package.json. */
export const MIGRATIONS_DIR = path.join(PACKAGE_ROOT, "migrations");

const UNIQUE_VIOLATION = "23505";
const CATALOG_RACE = new Set([UNIQUE_VIOLATION, "42710", "42P07"]);

interface MigrationFile {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): MigrationFile[] {
  return fs
    .readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file,
      sql: fs.readFileSync(path.join(dir, file), "utf8"),
    }));
}

async function ensureMigrationsTable(pool: Pool): Promise<void> {
  try {
    await pool.query(
      "create table if not exists schema_migrations (version int primary key, name text not null, applied_at timestamptz not null default now())",
    );
  } catch (error) {
    // Two processes racing on "create table if not exists" can both pass the check; the loser
    // gets a unique violation on the catalog (23505), or "type ... already exists" (42710) or
    // "relation ... already exists" (42P07), depending on where it lost. The table exists then,
    // which is all we need.
    if (!CATALOG_RACE.has((error as { code?: string }).code ?? "")) throw error;
  }
}

/** Applies what is missing; returns the names applied by this call. */
export async function migrate(pool: Pool, logger?: Logger, dir = MIGRATIONS_DIR): Promise<string[]> {
  await ensureMigrationsTable(pool);
  const applied: string[] = [];
  for (const migration of readMigrations(dir)) {
    const done = await pool.query("select 1 from schema_migrations where version = $1::int", [migration.version]);
    if (done.rowCount) continue;
    const won = await withTransaction(pool, async (client) => {
      try {
        await client.query("insert into schema_migrations (version, name) values ($1::int, $2::text)", [
          migration.version,
          migration.name,
        ]);
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) return false;
        throw error;
      }
      await client.query(migration.sql);
      return true;
    });
    if (won) {
      applied.push(migration.name);
      logger?.info({ migration: migration.name }, "migration applied");
    }
  }
  return applied;
}
