/**
 * WordPress going away mid-run, behind a TCP proxy the test cuts: steps fail with the error
 * recorded and the run stays where it was; once WordPress is back the run completes with nobody
 * lost and nobody duplicated (users created just before the cut are adopted, not created again).
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
  hostPort,
  linkToken,
  runRow,
  seededRandom,
  serviceEnv,
  sleep,
  startTcpProxy,
  type TcpProxy,
  testSeed,
  throughProxy,
  uniqueDomain,
} from "../helpers/reliability";
import { describeWithWordPress } from "../helpers/wordpress";

const USERS = 30;
const PAGE_SIZE = 5;

describeWithWordPress("WordPress unreachable mid-run", (wp) => {
  const domain = uniqueDomain("wpdown");
  const seed = testSeed("WordPress outage");
  let db: Awaited<ReturnType<typeof makeTestDatabase>>;
  let sim: GraphSimulator;
  let proxy: TcpProxy;
  let server: Server | null = null;

  beforeAll(async () => {
    db = await makeTestDatabase();
    sim = await startGraphSimulator({ tenant: makeTenant({ users: USERS, seed, domain }) });
    proxy = await startTcpProxy(hostPort(wp.url));
  });
  afterAll(async () => {
    await server?.close().catch(() => undefined);
    await proxy?.close();
    await sim?.close();
    await deleteWordPressUsersOf(wp, domain).catch(() => undefined);
    await db?.close();
  });

  itWithPostgres(
    "records the failed steps without moving the run, then completes it with no user lost or duplicated once WordPress is back",
    async () => {
      const random = seededRandom(seed);
      const env = serviceEnv({
        databaseUrl: db.url!,
        sim,
        wp: { ...wp, url: throughProxy(wp.url, proxy) },
        pageSize: PAGE_SIZE,
        stepBudgetMs: 5000,
        maxFailedSteps: 20,
      });
      server = await serve(loadConfig(env), { print: () => undefined, logDestination: logSink().destination });
      const cont = await linkToken(server!.runtime, "continue");
      const started = await callLink(server.url, "start", await linkToken(server!.runtime, "start"));
      const runId: string = started.body.run.id;
      expect((await callLink(server.url, "continue", cont)).body).toMatchObject({ advanced: true });

      // Cut in the middle of a step: some of its creates may already be in WordPress, none committed.
      // The cut waits for the step's first WordPress connection (php -S closes each one), then a
      // seeded few ms, so it lands while creates are in flight however fast the machine is.
      const acceptedBefore = proxy.accepted;
      const during = callLink(server.url, "continue", cont);
      for (let waited = 0; proxy.accepted === acceptedBefore && waited < 10_000; waited += 2) await sleep(2);
      const cutAfter = Math.round(random() * 15);
      await sleep(cutAfter);
      proxy.cut();
      const cutStep = await during;
      expect(cutStep.status).toBe(200);
      const before = await runRow(db.pool, runId);
      expect(before).toMatchObject({ state: "listing", locked_by: null, last_error: expect.any(String) });

      const outage: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await callLink(server.url, "continue", cont);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ advanced: false, reason: "upstream error; will retry" });
        expect(res.body.run).toMatchObject({ state: "listing", step: before.step });
        const { last_error } = await runRow(db.pool, runId);
        expect(last_error).toEqual(expect.any(String));
        outage.push(`${res.ms} ms: ${last_error}`);
      }
      const failing = await runRow(db.pool, runId);
      expect(failing).toMatchObject({ state: "listing", step: before.step, locked_by: null });
      expect(failing.consecutive_failures).toBeGreaterThanOrEqual(3);
      expect(failing.counts).toEqual(before.counts);

      proxy.restore();
      const last = await driveToEnd(server.url, cont);
      process.stdout.write(
        `[reliability] WordPress outage: cut ${cutAfter} ms after step ${before.step + 1} first reached WordPress (${cutStep.body.reason ?? "advanced"}); ` +
          `during the outage:\n  ${outage.join("\n  ")}\n  final counts ${JSON.stringify(last.body.run.counts)}\n`,
      );
      expect(last.body.run).toMatchObject({ state: "completed", counts: { seen: USERS, failed: 0 } });
      expect((await runRow(db.pool, runId)).last_error).toBeNull();
      const users: SimUser[] = [...sim.tenant.users()];
      const map = await expectConsistentDatabase(db.pool, runId, {
        state: "completed",
        entraIds: users.map((u) => u.id),
      });
      await expectWordPressHolds(wp, domain, users, map);
    },
    120_000,
  );
});
