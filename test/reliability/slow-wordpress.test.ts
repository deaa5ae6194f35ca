/**
 * A WordPress that answers each request only after 25 s, behind a proxy that forwards requests at
 * once (so a write the service gave up on is applied anyway). Every continue call returns within
 * STEP_BUDGET_MS + 1 s, the lease is released by each step and never taken over, and once
 * WordPress answers again the run completes with every user created exactly once.
 */
import { loadConfig } from "../../src/config";
import { type Server, serve } from "../../src/main";
import { type GraphSimulator, makeTenant, type SimUser, startGraphSimulator } from "../../tools/graph-sim";
import { itWithPostgres, makeTestDatabase } from "../helpers/db";
import { logSink } from "../helpers/log-sink";
import {
  callLink,
  deleteWordPressUsersOf,
  driveToEnd,
  expectConsistentDatabase,
  expectWordPressHolds,
  type LinkResponse,
  linkToken,
  recordLeaseChanges,
  runRow,
  type SlowHttpProxy,
  serviceEnv,
  startSlowHttpProxy,
  testSeed,
  uniqueDomain,
} from "../helpers/reliability";
import { describeWithWordPress } from "../helpers/wordpress";

const USERS = 12;
const PAGE_SIZE = 6;
const STEP_BUDGET_MS = 3000;
const WORDPRESS_ANSWERS_AFTER_MS = 25_000;

describeWithWordPress("a WordPress slower than the step budget", (wp) => {
  const domain = uniqueDomain("slowwp");
  let db: Awaited<ReturnType<typeof makeTestDatabase>>;
  let sim: GraphSimulator;
  let proxy: SlowHttpProxy;
  let server: Server | null = null;

  beforeAll(async () => {
    db = await makeTestDatabase();
    sim = await startGraphSimulator({ tenant: makeTenant({ users: USERS, seed: testSeed("slow WordPress"), domain }) });
    proxy = await startSlowHttpProxy(wp.url);
  });
  afterAll(async () => {
    proxy?.release();
    await server?.close().catch(() => undefined);
    await proxy?.close();
    await sim?.close();
    await deleteWordPressUsersOf(wp, domain).catch(() => undefined);
    await db?.close();
  });

  itWithPostgres(
    "returns every continue call within the budget, keeps the lease, and writes no user twice",
    async () => {
      const logs = logSink();
      const env = serviceEnv({
        databaseUrl: db.url!,
        sim,
        wp: { ...wp, url: proxy.url },
        pageSize: PAGE_SIZE,
        stepBudgetMs: STEP_BUDGET_MS,
        maxFailedSteps: 50,
      });
      server = await serve(loadConfig(env), { print: () => undefined, logDestination: logs.destination });
      const leaseChanges = await recordLeaseChanges(db.pool);
      const cont = await linkToken(server.runtime, "continue");
      const runId: string = (await callLink(server.url, "start", await linkToken(server.runtime, "start"))).body.run.id;
      const slowCalls: LinkResponse[] = [];
      const continueSlowly = async (): Promise<void> => {
        const res = await callLink(server!.url, "continue", cont);
        slowCalls.push(res);
        expect(res.status).toBe(200);
        expect(res.ms).toBeLessThan(STEP_BUDGET_MS + 1000);
        expect(await runRow(db.pool, runId)).toMatchObject({ state: "listing", locked_by: null });
      };

      // Every answer late: nothing can finish inside a step.
      proxy.delayMs = WORDPRESS_ANSWERS_AFTER_MS;
      await continueSlowly();
      await continueSlowly();
      expect(slowCalls.map((c) => c.body.reason)).toEqual(["upstream error; will retry", "upstream error; will retry"]);
      expect((await runRow(db.pool, runId)).last_error).toMatch(/WordPress .* timed out|time budget/);

      // Reads answer, writes are late: the creates reach WordPress and are applied, but their
      // answers come after the step gave up on them.
      proxy.release();
      proxy.slowMethods = new Set(["POST"]);
      const postsBefore = proxy.forwarded.POST ?? 0;
      for (let i = 0; i < 3 && (proxy.forwarded.POST ?? 0) === postsBefore; i++) await continueSlowly();
      expect(proxy.forwarded.POST ?? 0).toBeGreaterThan(postsBefore);

      proxy.delayMs = 0;
      proxy.release();
      const last = await driveToEnd(server.url, cont);
      // Creates whose answers were cut short are found under their Entra id and counted as the creates they were.
      expect(last.body.run).toMatchObject({ state: "completed", counts: { seen: USERS, created: USERS, failed: 0 } });
      process.stdout.write(
        `[reliability] slow WordPress: continue calls while it answered after ${WORDPRESS_ANSWERS_AFTER_MS} ms took ` +
          `${slowCalls.map((c) => c.ms).join(", ")} ms (budget ${STEP_BUDGET_MS} ms); requests forwarded ${JSON.stringify(proxy.forwarded)}\n`,
      );

      const users: SimUser[] = [...sim.tenant.users()];
      const map = await expectConsistentDatabase(db.pool, runId, {
        state: "completed",
        entraIds: users.map((u) => u.id),
      });
      await expectWordPressHolds(wp, domain, users, map);
      // The lease went from nobody to this service and back at every step: never lost, never taken over.
      const changes = await leaseChanges();
      expect(changes.filter((c) => c.from !== null && c.to !== null)).toEqual([]);
      expect(logs.text()).not.toMatch(/lost the lease|taking the run over/);
    },
    180_000,
  );
});
