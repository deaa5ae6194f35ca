/**
 * The jobs table mirrors the declared jobs without their secrets: nothing reads the webhook URL
 * or its signing secret back (the outbox trigger asks only whether there is a webhook), so a copy
 * of the database (a backup, a support dump) must not hand them out.
 */
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../src/config";
import { serve } from "../../src/main";
import { itWithPostgres, makeTestDatabase } from "../helpers/db";
import { logSink } from "../helpers/log-sink";

const ADMIN_TOKEN = "jobs-config-admin-token-0123456789";
const WEBHOOK_PASSWORD = "hookPassw0rdNotToStore";
const PATH_SECRET = "T00000000-B00000000-PathSecretNotToStore";
const QUERY_SECRET = "qsNotToStore";
const WEBHOOK_URL = `https://hook-user:${WEBHOOK_PASSWORD}@hooks.example.org/services/${PATH_SECRET}?sig=${QUERY_SECRET}`;
const SIGNING_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const OLD_SIGNING_SECRET = `whsec_${randomBytes(32).toString("base64")}`;

// The service and the test share the database: a server's (the embedded one is the test's alone).
itWithPostgres(
  "stores the jobs without webhook URLs or secrets, also scrubbing rows an earlier version stored",
  async () => {
    const db = await makeTestDatabase();
    try {
      // A database as the previous version left it: migration 0012 not yet applied, and a job that
      // is no longer declared (start-up does not rewrite its row) stored with its secrets.
      await db.pool.query("delete from schema_migrations where version = 12");
      await db.pool.query("insert into jobs (id, config) values ('retired', $1::jsonb)", [
        JSON.stringify({ id: "retired", webhook: WEBHOOK_URL, webhookSecret: OLD_SIGNING_SECRET, photos: false }),
      ]);
      const server = await serve(
        loadConfig({
          DATABASE_URL: db.url!,
          PORT: "0",
          HOST: "127.0.0.1",
          ADMIN_TOKEN,
          SYNC_WEBHOOK_URL: WEBHOOK_URL,
          SYNC_WEBHOOK_SECRET: SIGNING_SECRET,
        }),
        { print: () => undefined, logDestination: logSink().destination },
      );
      try {
        const job = await fetch(`${server.url}/v1/jobs/default`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        expect(job.status).toBe(200);
      } finally {
        await server.close();
      }
      const { rows } = await db.pool.query<{ id: string; config: Record<string, unknown> }>(
        "select id, config from jobs order by id",
      );
      expect(rows.map((row) => row.id)).toEqual(["default", "retired"]);
      const stored = JSON.stringify(rows);
      for (const secret of [
        WEBHOOK_PASSWORD,
        PATH_SECRET,
        QUERY_SECRET,
        "hooks.example.org",
        SIGNING_SECRET,
        OLD_SIGNING_SECRET,
      ]) {
        expect(stored).not.toContain(secret);
      }
      expect(stored).not.toContain("webhookSecret");
      // What the outbox trigger reads back: that each job has a webhook.
      expect(rows.map((row) => row.config.webhook)).toEqual([true, true]);
      expect(rows[0]!.config).toMatchObject({ id: "default", actions: expect.any(Object) });
    } finally {
      await db.close();
    }
  },
);
