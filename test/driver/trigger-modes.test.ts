/**
 * Every trigger mode end to end, as deployed: the service from environment variables (serve),
 * Graph through the simulator over HTTPS, a WordPress (real with WP_URL, else the fake one over
 * HTTP), and the driver inside the service doing what the mode says.
 */
import type { Database } from "../../src/db/pool";
import type { Server } from "../../src/main";
import { serve } from "../../src/main";
import type { GraphSimulator } from "../../tools/graph-sim";
import { makeTestDatabase } from "../helpers/db";
import {
  ADMIN_TOKEN,
  configOf,
  serviceEnv,
  startTenant,
  startWordPress,
  type WordPressUnderTest,
  waitFor,
} from "../replicas/setup";

const USERS = 23;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
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

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies, checked by the tests' expectations
type Json = any;

interface Started {
  server: Server;
  sim: GraphSimulator;
  domain: string;
  db: Database;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
  /** A trigger link call: the token is in the URL, no admin header. */
  link(method: string, path: string): Promise<{ status: number; body: Json }>;
}

async function startService(extra: Record<string, string>, before?: (db: Database) => Promise<void>): Promise<Started> {
  const db = await makeTestDatabase();
  if (!db.url) throw new Error("these tests need the PostgreSQL server (TEST_DATABASE_URL)");
  if (before) await before(db);
  const { sim, domain } = await startTenant(USERS);
  const server = await serve(configOf(serviceEnv(db.url, sim, wp, extra)), { print: () => undefined });
  cleanups.push(
    () => db.close(),
    () => sim.close(),
    () => server.close(),
  );
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...admin, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const link = async (method: string, path: string) => {
    const res = await fetch(`${server.url}${path}`, { method });
    return { status: res.status, body: await res.json() };
  };
  return { server, sim, domain, db, api, link };
}

async function settledRun(s: Started, runId: string) {
  return waitFor(`run ${runId} to complete`, async () => {
    const run = (await s.api("GET", `/v1/runs/${runId}`)).body;
    return run.state === "completed" || run.state === "failed" ? run : null;
  });
}

const pathOf = (link: string) => {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
};

describe("trigger modes", () => {
  it("manual: an admin starts the run and the service drives it to the end by itself", async () => {
    const s = await startService({ SYNC_TRIGGER_MODE: "manual" });
    const started = await s.api("POST", "/v1/jobs/default/runs", {});
    expect(started.status).toBe(201);
    const run = await settledRun(s, started.body.run.id);
    expect(run).toMatchObject({
      state: "completed",
      trigger: "manual",
      counts: { seen: USERS, created: USERS, failed: 0 },
    });
    expect(await wp.usersIn(s.domain)).toHaveLength(USERS);
  });

  it("link-start: the start link begins the run and the service continues it by itself", async () => {
    const s = await startService({ SYNC_TRIGGER_MODE: "link-start" });
    const links = (await s.api("POST", "/v1/jobs/default/links", {})).body;
    const started = await s.link("POST", pathOf(links.start));
    expect(started.body).toMatchObject({ started: true, run: { state: "queued" } });
    const run = await settledRun(s, started.body.run.id);
    expect(run.trigger).toBe("link");
    expect(run).toMatchObject({ state: "completed", counts: { created: USERS, failed: 0 } });
    expect(run.step).toBeGreaterThan(1);
  });

  it("link-start-continue: the driver leaves the run alone and only continue calls advance it", async () => {
    const s = await startService({ SYNC_TRIGGER_MODE: "link-start-continue" });
    const links = (await s.api("POST", "/v1/jobs/default/links", {})).body;
    const started = await s.link("POST", pathOf(links.start));
    const runId = started.body.run.id;
    // Ten driver intervals: a driver that advanced this mode would have moved the run by now.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await s.api("GET", `/v1/runs/${runId}`)).body).toMatchObject({ state: "queued", step: 0 });
    let calls = 0;
    for (;;) {
      const result = await s.link("GET", pathOf(links.continue));
      expect(result.status).toBe(200);
      calls++;
      if (!result.body.advanced) break;
    }
    const run = (await s.api("GET", `/v1/runs/${runId}`)).body;
    expect(run).toMatchObject({ state: "completed", counts: { created: USERS } });
    expect(calls).toBe(run.step + 1); // every step was a continue call; the last one found it completed
  });

  it("schedule: a due cron time fires once and the service drives the run to the end", async () => {
    // Due a minute ago, daily: exactly one due time between the job's creation and now.
    const due = new Date(Date.now() - 60_000);
    const cron = `${due.getUTCMinutes()} ${due.getUTCHours()} * * *`;
    const s = await startService({ SYNC_TRIGGER_MODE: "schedule", SYNC_SCHEDULE: cron }, async (db) => {
      // The job was declared ten minutes ago (the schedule's reference when it never fired).
      await db.pool.query(
        "insert into jobs (id, config, created_at) values ('default', '{}'::jsonb, now() - interval '10 minutes')",
      );
    });
    const runs = await waitFor("the scheduled run", async () => {
      const list = (await s.api("GET", "/v1/jobs/default/runs")).body.runs;
      return list.length > 0 && list.every((r: { state: string }) => r.state === "completed") ? list : null;
    });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: "schedule", counts: { created: USERS } });
    const fires = await s.db.pool.query("select due_at, run_id from schedule_fires");
    expect(fires.rows).toHaveLength(1);
    expect(fires.rows[0].run_id).toBe(runs[0].id);
    expect(new Date(fires.rows[0].due_at).getUTCMinutes()).toBe(due.getUTCMinutes());
  });
});
