/**
 * A service process killed in the middle of a step (SIGKILL: no graceful shutdown, the lease stays
 * taken) is taken over by another process once the lease expires, and the run completes with every
 * user created exactly once and none missing. Both are the built service (`node dist/src/cli/index.js
 * serve`) configured from environment variables, as deployed.
 */
import { makeTestDatabase } from "../helpers/db";
import {
  ADMIN_TOKEN,
  killedAfterEach,
  listeningUrl,
  serviceEnv,
  startCli,
  startTenant,
  startWordPress,
  waitFor,
} from "./setup";

const USERS = 40;
const children = killedAfterEach();

describe("an instance killed mid-step", () => {
  it("is taken over after its lease expires; the run completes with no duplicates and no user missing", async () => {
    // A step must last long enough to be cut: the fake WordPress delays each create; a real one
    // takes tens of ms per create, one at a time (WP_CONCURRENCY=1), so a page of 10 holds the lease ~0.3 s.
    const wp = await startWordPress({ createDelayMs: 150 });
    const db = await makeTestDatabase();
    const { sim, domain } = await startTenant(USERS);
    try {
      const env = serviceEnv(db.url!, sim, wp, {
        LOG_LEVEL: "info",
        SYNC_TRIGGER_MODE: "manual",
        STEP_BUDGET_MS: "1000",
        LEASE_MS: "2000",
        WP_CONCURRENCY: wp.fake ? "2" : "1",
      });
      const a = startCli(["serve"], env);
      children.push(a);
      const urlA = await waitFor("instance A to listen", async () => listeningUrl(a), 20_000);
      const started = await fetch(`${urlA}/v1/jobs/default/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(started.status).toBe(201);
      const runId = ((await started.json()) as { run: { id: string } }).run.id;

      // Kill A while it holds the lease with some users written and more in flight.
      await waitFor(
        "A to hold the lease mid-run",
        async () => {
          const { rows } = await db.pool.query("select locked_by, created from runs where id = $1::uuid", [runId]);
          const holds = String(rows[0]?.locked_by ?? "").includes(`:${a.child.pid}:`);
          const midStep = wp.fake ? wp.fake.createsInFlight() > 0 && wp.fake.site.creates > 0 : rows[0]?.created > 0;
          return holds && midStep;
        },
        20_000,
        5,
      );
      a.child.kill("SIGKILL");
      await a.exited;
      const atKill = (await db.pool.query("select state, locked_by, created from runs where id = $1::uuid", [runId]))
        .rows[0];
      expect(atKill.state).toBe("listing");
      expect(atKill.locked_by).toContain(`:${a.child.pid}:`);

      const b = startCli(["serve"], env);
      children.push(b);
      const run = await waitFor(
        "B to complete the run",
        async () => {
          const { rows } = await db.pool.query("select * from runs where id = $1::uuid", [runId]);
          return ["completed", "failed"].includes(rows[0].state) ? rows[0] : null;
        },
        40_000,
      );
      expect(run).toMatchObject({ state: "completed", seen: USERS, failed: 0, last_error: null });
      expect(run.created + run.unchanged + run.updated).toBe(USERS);
      expect(b.stdout()).toContain("taking the run over");

      const users = await wp.usersIn(domain);
      expect(users).toHaveLength(USERS);
      expect(new Set(users.map((u) => u.email.toLowerCase())).size).toBe(USERS);
      if (wp.fake) {
        const duplicates = [...wp.fake.createsByEmail.entries()].filter(([, n]) => n !== 1);
        expect(duplicates).toEqual([]);
        expect(wp.fake.site.creates).toBe(USERS);
      }
      const map = await db.pool.query("select count(*)::int as n, count(distinct wp_user_id)::int as d from user_map");
      expect(map.rows[0]).toEqual({ n: USERS, d: USERS });
      const items = await db.pool.query("select count(*)::int as n from run_items where run_id = $1::uuid", [runId]);
      expect(items.rows[0].n).toBe(USERS);
    } finally {
      for (const child of children) if (child.child.exitCode === null) child.child.kill("SIGTERM");
      await Promise.all(children.map((child) => child.exited));
      await sim.close();
      await db.close();
      await wp.close();
    }
  }, 90_000);
});
