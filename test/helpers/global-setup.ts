/**
 * Once per `jest` run: find the PostgreSQL server (TEST_DATABASE_URL, default the local one),
 * create a migrated template database, and hand its name to the workers through the environment.
 * Each test file then clones its own database from it (test/helpers/db.ts). With no server
 * reachable the files fall back to the embedded PostgreSQL, so `npm test` passes on any machine.
 */
import { Client, Pool } from "pg";
import { migrate } from "../../src/db/migrate";
import { fingerprint } from "./checkout-data";
import { adminUrl, databaseUrl, TEST_DB_PREFIX } from "./db-names";

export default async function globalSetup(): Promise<void> {
  process.env.TEST_CHECKOUT_DATA = fingerprint();
  const admin = new Client({ connectionString: adminUrl(), connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    // CI (.ci/run) sets REQUIRE_POSTGRES=1: the reliability tests that need a server must run, not skip.
    if (process.env.REQUIRE_POSTGRES === "1") {
      throw new Error(
        `REQUIRE_POSTGRES=1 but no PostgreSQL server answers at ${adminUrl()} (TEST_DATABASE_URL): ${(error as Error).message}`,
      );
    }
    process.env.TEST_DB_MODE = "embedded";
    console.log("\n[tests] no PostgreSQL server at TEST_DATABASE_URL: using the embedded PostgreSQL (PGlite)\n");
    return;
  }
  try {
    await dropStaleDatabases(admin);
    const template = `${TEST_DB_PREFIX}tpl_${process.pid}`;
    await admin.query(`drop database if exists ${template}`);
    await admin.query(`create database ${template}`);
    const pool = new Pool({ connectionString: databaseUrl(template), max: 1 });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
    process.env.TEST_DB_MODE = "postgres";
    process.env.TEST_TEMPLATE_DB = template;
  } finally {
    await admin.end();
  }
}

/** Databases of earlier runs whose jest process is gone (kept until now so failures can be inspected). */
async function dropStaleDatabases(admin: Client): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(
    "select datname from pg_database where datname like $1::text",
    [`${TEST_DB_PREFIX}%`],
  );
  for (const { datname } of rows) {
    const pid = Number(datname.split("_")[2]);
    if (Number.isInteger(pid) && isAlive(pid)) continue;
    await admin.query(`drop database if exists ${datname} with (force)`).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
