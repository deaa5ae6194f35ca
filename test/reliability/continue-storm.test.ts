/**
 * Hundreds of continue calls at once, spread over two service instances on one database, while a
 * run is listing: the lease lets exactly one step run at a time and every caller gets a 200 at once.
 * Ends by checking the WordPress user set and the database, not only the status codes.
 */
import { loadConfig } from "../../src/config";
import { type Server, serve } from "../../src/main";
import { type GraphSimulator, makeTenant, type SimUser, startGraphSimulator } from "../../tools/graph-sim";
import { itWithPostgres, makeTestDatabase } from "../helpers/db";
import { logSink } from "../helpers/log-sink";
import {
  callLink,
  deleteWordPressUsersOf,
  expectConsistentDatabase,
  expectWordPressHolds,
  linkToken,
  recordLeaseChanges,
  serviceEnv,
  testSeed,
  uniqueDomain,
} from "../helpers/reliability";
import { describeWithWordPress } from "../helpers/wordpress";

const USERS = 60;
const PAGE_SIZE = 10;
const FIRST_WAVE = 300;
const WAVE = 60;
const MAX_WAVES = 40;

describeWithWordPress("a storm of continue calls on two instances", (wp) => {
  const domain = uniqueDomain("storm");
  let db: Awaited<ReturnType<typeof makeTestDatabase>>;
  let sim: GraphSimulator;
  const servers: Server[] = [];

  beforeAll(async () => {
    db = await makeTestDatabase();
    sim = await startGraphSimulator({ tenant: makeTenant({ users: USERS, seed: testSeed("continue storm"), domain }) });
  });
  afterAll(async () => {
    for (const server of servers) await server.close().catch(() => undefined);
    await sim?.close();
    await deleteWordPressUsersOf(wp, domain).catch(() => undefined);
    await db?.close();
  });

  itWithPostgres(
    "answers every one of hundreds of concurrent continue calls with 200, runs one step at a time, completes the run once and creates every user once",
    async () => {
      const env = serviceEnv({ databaseUrl: db.url!, sim, wp, pageSize: PAGE_SIZE });
      for (let i = 0; i < 2; i++) {
        servers.push(await serve(loadConfig(env), { print: () => undefined, logDestination: logSink().destination }));
      }
      const leaseChanges = await recordLeaseChanges(db.pool);
      const [start, cont] = [
        await linkToken(servers[0]!.runtime, "start"),
        await linkToken(servers[0]!.runtime, "continue"),
      ];
      const started = await callLink(servers[0]!.url, "start", start);
      expect(started).toMatchObject({ status: 200, body: { started: true } });
      const runId: string = started.body.run.id;

      const responses: Awaited<ReturnType<typeof callLink>>[] = [];
      const wave = (n: number) =>
        Promise.all(Array.from({ length: n }, (_, i) => callLink(servers[i % 2]!.url, "continue", cont)));
      const begun = Date.now();
      responses.push(...(await wave(FIRST_WAVE)));
      for (let w = 0; w < MAX_WAVES; w++) {
        const { rows } = await db.pool.query("select state from runs where id = $1::uuid", [runId]);
        if (rows[0].state === "completed") break;
        responses.push(...(await wave(WAVE)));
      }
      const ms = Date.now() - begun;

      const bad = responses.filter((r) => r.status !== 200 || !r.type.startsWith("application/json"));
      expect(bad.map((r) => `${r.status} ${r.text.slice(0, 200)}`)).toEqual([]);
      const reasons = new Map<string, number>();
      for (const r of responses) {
        const key = r.body.advanced ? "advanced" : r.body.reason;
        reasons.set(key, (reasons.get(key) ?? 0) + 1);
      }
      process.stdout.write(
        `[reliability] continue storm: ${responses.length} calls in ${ms} ms: ${JSON.stringify(Object.fromEntries(reasons))}\n`,
      );
      for (const key of reasons.keys()) expect(["advanced", "busy", "no active run", "completed"]).toContain(key);
      // The step that completed the run answered once; nobody else saw it move into completed.
      const completing = responses.filter((r) => r.body.advanced && r.body.run.state === "completed");
      expect(completing).toHaveLength(1);
      const { rows: runs } = await db.pool.query("select id, state from runs");
      expect(runs).toEqual([{ id: runId, state: "completed" }]);

      // At most one step at a time: every lease was taken from nobody and given back before the next.
      const changes = await leaseChanges();
      const takeovers = changes.filter((c) => c.from !== null && c.to !== null);
      expect(takeovers).toEqual([]);
      for (let i = 0; i < changes.length; i++) expect(changes[i]!.to === null).toBe(i % 2 === 1);
      const claims = changes.filter((c) => c.to !== null).length;
      expect(claims).toBe(reasons.get("advanced"));
      const owners = new Set(changes.filter((c) => c.to).map((c) => c.to));
      process.stdout.write(`[reliability] continue storm: ${claims} steps by ${owners.size} instance(s)\n`);

      const users: SimUser[] = [...sim.tenant.users()];
      const map = await expectConsistentDatabase(db.pool, runId, {
        state: "completed",
        entraIds: users.map((u) => u.id),
      });
      const run = (await callLink(servers[1]!.url, "continue", cont)).body.run;
      expect(run.counts).toMatchObject({ seen: USERS, created: USERS, failed: 0 });
      await expectWordPressHolds(wp, domain, users, map);
    },
    180_000,
  );
});
