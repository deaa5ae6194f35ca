/**
 * Graph throttling: a storm of 429s with a short Retry-After slows the run but it completes
 * correctly; a Retry-After longer than the step budget makes the step give up at once (no request
 * left hanging) and the next step carries on.
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
  linkToken,
  runRow,
  serviceEnv,
  testSeed,
  uniqueDomain,
} from "../helpers/reliability";
import { describeWithWordPress } from "../helpers/wordpress";

const USERS = 30;
const PAGE_SIZE = 5;
const STEP_BUDGET_MS = 2000;
const STORM = 14;

describeWithWordPress("Graph throttling storms", (wp) => {
  const domain = uniqueDomain("throttle");
  let db: Awaited<ReturnType<typeof makeTestDatabase>>;
  let sim: GraphSimulator;
  let server: Server | null = null;

  beforeAll(async () => {
    db = await makeTestDatabase();
    sim = await startGraphSimulator({
      tenant: makeTenant({ users: USERS, seed: testSeed("Graph throttling"), domain }),
    });
  });
  afterAll(async () => {
    await server?.close().catch(() => undefined);
    await sim?.close();
    await deleteWordPressUsersOf(wp, domain).catch(() => undefined);
    await db?.close();
  });

  itWithPostgres(
    "gives up a step at once on a Retry-After past the budget, rides out a 429 storm, and completes the run correctly",
    async () => {
      const env = serviceEnv({ databaseUrl: db.url!, sim, wp, pageSize: PAGE_SIZE, stepBudgetMs: STEP_BUDGET_MS });
      server = await serve(loadConfig(env), { print: () => undefined, logDestination: logSink().destination });
      const cont = await linkToken(server!.runtime, "continue");
      const runId: string = (await callLink(server.url, "start", await linkToken(server!.runtime, "start"))).body.run
        .id;
      const first = await callLink(server.url, "continue", cont);
      expect(first.body).toMatchObject({ advanced: true, run: { step: 1 } });

      // Retry-After 30 s against a 2 s budget: the step must not wait for it, nor hang.
      sim.faults.throttle(30, 1, ["users"]);
      const gaveUp = await callLink(server.url, "continue", cont);
      expect(gaveUp.status).toBe(200);
      expect(gaveUp.body).toMatchObject({ advanced: false, reason: "upstream error; will retry", run: { step: 1 } });
      // The link answer shows progress only; the error is the operator's to read.
      expect(gaveUp.body.run.lastError).toBeUndefined();
      expect((await runRow(db.pool, runId)).last_error).toMatch(/retrying would wait 30000 ms/);
      expect(gaveUp.ms).toBeLessThan(STEP_BUDGET_MS);
      const next = await callLink(server.url, "continue", cont);
      expect(next.body).toMatchObject({ advanced: true, run: { step: 2 } });
      expect((await runRow(db.pool, runId)).last_error).toBeNull();

      // A storm: the next STORM users-page requests are throttled with a short Retry-After.
      sim.resetCounters();
      sim.faults.throttle(0.2, STORM, ["users"]);
      const begun = Date.now();
      let calls = 0;
      let failedSteps = 0;
      let last = null;
      for (let i = 0; i < 100; i++) {
        last = await callLink(server.url, "continue", cont);
        calls++;
        expect(last.status).toBe(200);
        if (last.body.reason === "upstream error; will retry") failedSteps++;
        if (last.body.run.state === "completed") break;
      }
      const throttled = sim.requestLog.filter((r) => r.status === 429).length;
      process.stdout.write(
        `[reliability] Graph throttling: gave up in ${gaveUp.ms} ms on Retry-After 30 s; storm of ${throttled} 429s ` +
          `cost ${failedSteps} failed step(s), ${calls} calls, ${Date.now() - begun} ms\n`,
      );
      expect(throttled).toBe(STORM);
      expect(sim.faults.pending).toBe(0);
      expect(last!.body.run).toMatchObject({ state: "completed", counts: { seen: USERS, created: USERS, failed: 0 } });

      const users: SimUser[] = [...sim.tenant.users()];
      const map = await expectConsistentDatabase(db.pool, runId, {
        state: "completed",
        entraIds: users.map((u) => u.id),
      });
      await expectWordPressHolds(wp, domain, users, map);
      // Nothing is left to do: a further call is a healthy 200 too.
      expect((await driveToEnd(server.url, cont, 1)).body).toMatchObject({ advanced: false, reason: "no active run" });
    },
    120_000,
  );
});
