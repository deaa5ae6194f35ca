/**
 * PostgreSQL lost and back, behind a TCP proxy the test cuts: /readyz says 503 (problem+json),
 * link calls get a clean 5xx problem with no secret in it, the process stays up; once the
 * database is back /readyz recovers by itself and the run completes.
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
  secretsIn,
  serviceEnv,
  startTcpProxy,
  type TcpProxy,
  testSeed,
  uniqueDomain,
  waitFor,
} from "../helpers/reliability";
import { describeWithWordPress } from "../helpers/wordpress";

const USERS = 20;
const PAGE_SIZE = 5;

describeWithWordPress("PostgreSQL lost and back", (wp) => {
  const domain = uniqueDomain("pgdown");
  let db: Awaited<ReturnType<typeof makeTestDatabase>>;
  let sim: GraphSimulator;
  let proxy: TcpProxy;
  let server: Server | null = null;

  beforeAll(async () => {
    db = await makeTestDatabase();
    sim = await startGraphSimulator({
      tenant: makeTenant({ users: USERS, seed: testSeed("PostgreSQL outage"), domain }),
    });
    if (db.url) proxy = await startTcpProxy(hostPort(db.url));
  });
  afterAll(async () => {
    proxy?.restore();
    await server?.close().catch(() => undefined);
    await proxy?.close();
    await sim?.close();
    await deleteWordPressUsersOf(wp, domain).catch(() => undefined);
    await db?.close();
  });

  itWithPostgres(
    "answers 503 on /readyz and a clean problem on links while the database is gone, recovers by itself and completes the run",
    async () => {
      const viaProxy = new URL(db.url!);
      viaProxy.hostname = "127.0.0.1";
      viaProxy.port = String(proxy.port);
      const logs = logSink();
      const env = serviceEnv({ databaseUrl: viaProxy.toString(), sim, wp, pageSize: PAGE_SIZE });
      server = await serve(loadConfig(env), { print: () => undefined, logDestination: logs.destination });
      const [start, cont] = [await linkToken(server!.runtime, "start"), await linkToken(server!.runtime, "continue")];
      const runId: string = (await callLink(server.url, "start", start)).body.run.id;
      expect((await callLink(server.url, "continue", cont)).body).toMatchObject({ advanced: true });
      const before = await runRow(db.pool, runId);

      proxy.cut();
      const begun = Date.now();
      const ready = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(15_000) });
      const readyBody = await ready.text();
      expect(ready.status).toBe(503);
      expect(ready.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(readyBody)).toMatchObject({ status: 503 });
      const readyMs = Date.now() - begun;

      const seen: string[] = [];
      for (const [act, token] of [
        ["continue", cont],
        ["continue", cont],
        ["start", start],
      ] as const) {
        const res = await callLink(server.url, act, token, 15_000);
        seen.push(`${act}: ${res.status} in ${res.ms} ms`);
        expect(res.status).toBe(503);
        expect(res.retryAfter).toBe("5");
        expect(res.type).toMatch(/^application\/problem\+json/);
        expect(JSON.parse(res.text)).toMatchObject({ status: res.status, detail: expect.any(String) });
        expect(secretsIn(res.text, [token, wp.appPassword, sim.clientSecret, db.url!, viaProxy.toString()])).toEqual(
          [],
        );
        expect(res.text).not.toMatch(/ECONNRESET|ECONNREFUSED|at .*\.js:\d+/);
      }
      const alive = await fetch(`${server.url}/healthz`);
      expect(alive.status).toBe(200);

      proxy.restore();
      const recoveredIn = Date.now();
      await waitFor("/readyz to answer 200 again", async () => (await fetch(`${server!.url}/readyz`)).status === 200);
      const readyAgainMs = Date.now() - recoveredIn;
      // The outage happened between steps: the run did not move and holds no lease.
      expect(await runRow(db.pool, runId)).toMatchObject({ state: "listing", step: before.step, locked_by: null });

      const last = await driveToEnd(server.url, cont);
      process.stdout.write(
        `[reliability] PostgreSQL outage: /readyz 503 in ${readyMs} ms; ${seen.join(", ")}; ready again in ${readyAgainMs} ms\n`,
      );
      expect(last.body.run).toMatchObject({ state: "completed", counts: { seen: USERS, created: USERS, failed: 0 } });
      const users: SimUser[] = [...sim.tenant.users()];
      const map = await expectConsistentDatabase(db.pool, runId, {
        state: "completed",
        entraIds: users.map((u) => u.id),
      });
      await expectWordPressHolds(wp, domain, users, map);
      expect(secretsIn(logs.lines.join(""), [cont, start, wp.appPassword, sim.clientSecret])).toEqual([]);
    },
    120_000,
  );
});
