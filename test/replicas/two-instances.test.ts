/**
 * Two service instances against one database, in one process (each its own runtime, lease owner
 * and driver): continue calls spread over both while both drivers run, and a schedule due while
 * both run.
 */
import type { Database } from "../../src/db/pool";
import { makeGraphDirectory } from "../../src/graph";
import { type Server, serve } from "../../src/main";
import type { Budget, Directory, UsersQuery } from "../../src/sync/ports";
import type { GraphSimulator } from "../../tools/graph-sim";
import { makeTestDatabase, silentLogger } from "../helpers/db";
import { configOf, serviceEnv, startTenant, startWordPress, type WordPressUnderTest, waitFor } from "./setup";

const USERS = 45;
let wp: WordPressUnderTest;
const cleanups: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  wp = await startWordPress();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await wp.close();
});

/** Counts users-page fetches in flight across every instance: each step fetches exactly one page. */
function makeStepMeter() {
  const meter = { inFlight: 0, maxInFlight: 0, pages: 0 };
  const wrap = (inner: Directory): Directory => ({
    ...inner,
    fetchGroupMembersPage: inner.fetchGroupMembersPage.bind(inner),
    fetchUser: inner.fetchUser.bind(inner),
    userGroups: inner.userGroups.bind(inner),
    async fetchUsersPage(query: UsersQuery, cursor: string | null, budget: Budget) {
      meter.inFlight++;
      meter.maxInFlight = Math.max(meter.maxInFlight, meter.inFlight);
      try {
        // Long enough for the other instance's calls to arrive while this step holds the lease.
        await new Promise((resolve) => setTimeout(resolve, 30));
        return await inner.fetchUsersPage(query, cursor, budget);
      } finally {
        meter.inFlight--;
        meter.pages++;
      }
    },
  });
  return { meter, wrap };
}

function directoryFor(sim: GraphSimulator): Directory {
  return makeGraphDirectory({
    tenantId: sim.tenantId,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    authorityHost: sim.url,
    graphBaseUrl: sim.url,
    logger: silentLogger,
  });
}

async function twoInstances(extra: Record<string, string>, before?: (pool: Database["pool"]) => Promise<unknown>) {
  const db = await makeTestDatabase();
  const { sim, domain } = await startTenant(USERS);
  cleanups.push(
    () => db.close(),
    () => sim.close(),
  );
  if (before) await before(db.pool);
  const { meter, wrap } = makeStepMeter();
  const env = serviceEnv(db.url!, sim, wp, extra);
  const servers: Server[] = [];
  for (let i = 0; i < 2; i++) {
    const server = await serve(configOf(env), { print: () => undefined, directory: wrap(directoryFor(sim)) });
    servers.push(server);
    cleanups.push(() => server.close());
  }
  return { db, sim, domain, meter, servers };
}

describe("two instances on one database", () => {
  it("takes one step at a time with continue calls spread over both and both drivers running, and completes the run once", async () => {
    const { db, domain, meter, servers } = await twoInstances({
      SYNC_TRIGGER_MODE: "link-start",
      RATE_LIMIT_MAX: "100000",
    });
    expect(servers[0]!.runtime.sync.owner).not.toBe(servers[1]!.runtime.sync.owner);
    const links = await servers[0]!.runtime.sync.startRun("default", { trigger: "link" });
    const runId = links.run.id;
    const { makeLinks } = await import("../../src/links");
    const continueUrl = new URL((await makeLinks(servers[0]!.runtime, "default")).continue);
    const reasons: string[] = [];
    let failed = false;
    // Monitors calling the continue link on both instances, concurrently, until the run ends.
    const callers = servers.flatMap((server) =>
      [0, 1].map(async () => {
        while (!failed) {
          const res = await fetch(`${server.url}${continueUrl.pathname}${continueUrl.search}`);
          const body = (await res.json()) as { advanced: boolean; reason?: string; run: { state: string } };
          failed ||= res.status !== 200;
          expect(res.status).toBe(200);
          if (!body.advanced && body.reason) reasons.push(body.reason);
          if (body.run.state === "completed") return;
        }
      }),
    );
    await Promise.all(callers);
    const run = await servers[1]!.runtime.sync.run(runId);
    expect(run).toMatchObject({ state: "completed", counts: { seen: USERS, created: USERS, failed: 0 } });
    expect(meter.maxInFlight).toBe(1);
    expect(reasons).toContain("busy");
    const users = await wp.usersIn(domain);
    expect(users).toHaveLength(USERS);
    expect(new Set(users.map((u) => u.email.toLowerCase())).size).toBe(USERS);
    if (wp.fake)
      expect([...wp.fake.createsByEmail.entries()].filter(([email, n]) => email.endsWith(domain) && n !== 1)).toEqual(
        [],
      );
    const { rows } = await db.pool.query("select count(*)::int as n from runs");
    expect(rows[0].n).toBe(1);
  });

  it("fires a schedule due while both run once: one schedule_fires row, one run", async () => {
    const due = new Date(Date.now() - 60_000);
    const { db, servers } = await twoInstances(
      { SYNC_TRIGGER_MODE: "schedule", SYNC_SCHEDULE: `${due.getUTCMinutes()} ${due.getUTCHours()} * * *` },
      (pool) =>
        pool.query(
          "insert into jobs (id, config, created_at) values ('default', '{}'::jsonb, now() - interval '10 minutes')",
        ),
    );
    const run = await waitFor("the scheduled run to complete", async () => {
      const [last] = await servers[0]!.runtime.sync.runs("default");
      return last?.state === "completed" ? last : null;
    });
    // Both drivers have looked at the schedule many times by now (100 ms interval).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(run).toMatchObject({ trigger: "schedule", counts: { created: USERS } });
    expect((await db.pool.query("select run_id from schedule_fires")).rows).toEqual([{ run_id: run.id }]);
    expect((await db.pool.query("select id from runs")).rows).toEqual([{ id: run.id }]);
  });
});
