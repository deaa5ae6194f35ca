import { Client, Pool } from "pg";
import { migrate, readMigrations } from "../../src/db/migrate";
import { itWithPostgres, makeTestDatabase } from "../helpers/db";
import { adminUrl, databaseUrl } from "../helpers/db-names";

describe("migrations", () => {
  it("bring a fresh database to the latest version, and a second run applies nothing", async () => {
    const db = await makeTestDatabase();
    try {
      const versions = await db.pool.query<{ version: number }>(
        "select version from schema_migrations order by version",
      );
      expect(versions.rows.map((row) => row.version)).toEqual(readMigrations().map((m) => m.version));
      expect(await migrate(db.pool)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  itWithPostgres(
    "apply each file exactly once when several processes migrate an empty database at the same time",
    async () => {
      // Several rounds of six migrators: the catalog race in "create table if not exists" is rare
      // (it showed once in a handful of CI runs with three migrators and one round).
      const admin = new Client({ connectionString: adminUrl() });
      await admin.connect();
      try {
        for (let round = 0; round < 5; round++) {
          const name = `ews_race_${process.pid}_${Date.now()}_${round}`;
          await admin.query(`create database ${name}`);
          const pools = Array.from({ length: 6 }, () => new Pool({ connectionString: databaseUrl(name), max: 2 }));
          // The forced drop below terminates whatever is still connected; that is expected here.
          for (const pool of pools) pool.on("error", () => undefined);
          try {
            const results = await Promise.all(pools.map((pool) => migrate(pool)));
            expect(results.flat().sort()).toEqual(readMigrations().map((m) => m.name));
            const tables = await pools[0]!.query(
              "select count(*)::int as n from information_schema.tables where table_name = 'runs'",
            );
            expect(tables.rows[0].n).toBe(1);
          } finally {
            await Promise.all(pools.map((pool) => pool.end()));
            await admin.query(`drop database if exists ${name} with (force)`);
          }
        }
      } finally {
        await admin.end();
      }
    },
  );
});
