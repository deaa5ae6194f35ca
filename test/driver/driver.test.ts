/** The driver and the schedule against the engine harness (real PostgreSQL, in-memory Graph and WordPress). */
import type { Database } from "../../src/db/pool";
import { listFires } from "../../src/db/schedule-fires";
import { startDriver } from "../../src/sync/driver";
import type { Budget, UsersPage, UsersQuery } from "../../src/sync/ports";
import { fireSchedule, latestDue } from "../../src/sync/schedule";
import { aJob } from "../helpers/builders";
import { makeTestDatabase, silentLogger } from "../helpers/db";
import { FakeDirectory, makeHarness } from "../helpers/engine";

let db: Database;
beforeAll(async () => {
  db = await makeTestDatabase();
});
afterAll(async () => {
  await db.close();
});

/** A directory whose pages take a while, and that says when a page is being fetched. */
class SlowDirectory extends FakeDirectory {
  inFlight = 0;
  pagesDone = 0;
  constructor(private readonly delayMs: number) {
    super();
  }
  override async fetchUsersPage(query: UsersQuery, cursor: string | null, budget: Budget): Promise<UsersPage> {
    this.inFlight++;
    try {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      return await super.fetchUsersPage(query, cursor, budget);
    } finally {
      this.inFlight--;
      this.pagesDone++;
    }
  }
}

function jobWithMode(
  mode: "manual" | "link-start" | "link-start-continue" | "schedule",
  schedule: string | null = null,
) {
  const job = aJob().withUniqueId().withSafety(1, 1000).withPageSize(5).build();
  job.trigger = { mode, schedule, timezone: "UTC" };
  return job;
}

describe("the driver", () => {
  it("drives a manual run to the end and leaves link-start-continue runs to continue calls", async () => {
    const manual = makeHarness(db, { job: jobWithMode("manual") });
    manual.directory.withUsers(1, 12);
    const continued = makeHarness(db, { job: jobWithMode("link-start-continue"), site: manual.site });
    continued.directory.withUsers(1, 3);
    const a = await manual.service.startRun(manual.job.id, { trigger: "manual" });
    const b = await continued.service.startRun(continued.job.id, { trigger: "link" });
    const driver = startDriver({
      sync: manual.service,
      jobs: [manual.job, continued.job],
      db,
      logger: silentLogger,
      intervalMs: 50,
    });
    try {
      const done = await waitForState(() => manual.service.run(a.run.id), "completed");
      expect(done.counts.created).toBe(12);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await continued.service.run(b.run.id)).toMatchObject({ state: "queued", step: 0 });
    } finally {
      await driver.stop();
    }
  });

  it("stops gracefully: stop() waits for the step in flight, which commits and releases its lease", async () => {
    const directory = new SlowDirectory(400).withUsers(1, 20);
    const h = makeHarness(db, { job: jobWithMode("manual"), directory });
    const { run } = await h.service.startRun(h.job.id, { trigger: "manual" });
    const driver = startDriver({ sync: h.service, jobs: [h.job], db, logger: silentLogger, intervalMs: 50 });
    await waitFor(() => directory.inFlight > 0);
    const before = directory.pagesDone;
    await driver.stop();
    expect(directory.inFlight).toBe(0);
    expect(directory.pagesDone).toBe(before + 1); // the step in flight finished; no new one started
    const { rows } = await db.pool.query("select locked_by, step from runs where id = $1::uuid", [run.id]);
    expect(rows[0]).toMatchObject({ locked_by: null, step: 1 });
    // Nothing moves any more after stop().
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(directory.pagesDone).toBe(before + 1);
  });
});

describe("schedules", () => {
  it("computes the latest due time in the job's time zone, and none before the first one", () => {
    const now = new Date("2026-03-10T12:00:00Z");
    // 03:00 in Berlin is 02:00 UTC in winter.
    expect(latestDue("0 3 * * *", "Europe/Berlin", new Date("2026-03-01T00:00:00Z"), now)).toEqual(
      new Date("2026-03-10T02:00:00Z"),
    );
    expect(latestDue("0 3 * * *", "UTC", new Date("2026-03-10T03:00:00Z"), now)).toBeNull();
  });

  it("catches up missed fires once: after three days down, only the latest due time fires", async () => {
    const h = makeHarness(db, { job: jobWithMode("schedule", "0 3 * * *") });
    h.directory.withUsers(1, 2);
    await h.service.ready();
    await db.pool.query("update jobs set created_at = $2::timestamptz where id = $1::text", [
      h.job.id,
      "2026-03-06T12:00:00Z",
    ]);
    await db.pool.query("insert into schedule_fires (job_id, due_at) values ($1::text, $2::timestamptz)", [
      h.job.id,
      "2026-03-07T03:00:00Z",
    ]);
    const now = new Date("2026-03-10T12:00:00Z");
    const fired = await fireSchedule({ sync: h.service, db: db.pool, job: h.job, logger: silentLogger, now });
    expect(fired).toMatchObject({ fired: true, started: true, dueAt: new Date("2026-03-10T03:00:00Z") });
    expect(await fireSchedule({ sync: h.service, db: db.pool, job: h.job, logger: silentLogger, now })).toEqual({
      fired: false,
      reason: "not due",
    });
    const fires = await listFires(db.pool, h.job.id);
    expect(fires.map((f) => f.dueAt.toISOString())).toEqual(["2026-03-07T03:00:00.000Z", "2026-03-10T03:00:00.000Z"]);
  });

  it("records a due time that comes while a run is active, without starting a second run", async () => {
    const h = makeHarness(db, { job: jobWithMode("schedule", "0 3 * * *") });
    h.directory.withUsers(1, 2);
    const active = await h.service.startRun(h.job.id, { trigger: "manual" });
    await db.pool.query("update jobs set created_at = now() - interval '2 days' where id = $1::text", [h.job.id]);
    const fired = await fireSchedule({ sync: h.service, db: db.pool, job: h.job, logger: silentLogger });
    expect(fired).toMatchObject({ fired: true, started: false, runId: active.run.id });
    expect(await h.service.runs(h.job.id)).toHaveLength(1);
    const fires = await listFires(db.pool, h.job.id);
    expect(fires).toHaveLength(1);
    expect(fires[0]!.runId).toBe(active.run.id);
  });

  it("fires a due time once when several replicas look at the same moment", async () => {
    const h = makeHarness(db, { job: jobWithMode("schedule", "0 3 * * *") });
    h.directory.withUsers(1, 2);
    await h.service.ready();
    await db.pool.query("update jobs set created_at = now() - interval '2 days' where id = $1::text", [h.job.id]);
    const replicas = [h.service, h.replica(), h.replica(), h.replica()];
    const outcomes = await Promise.all(
      replicas.map((sync) => fireSchedule({ sync, db: db.pool, job: h.job, logger: silentLogger })),
    );
    expect(outcomes.filter((o) => o.fired)).toHaveLength(1);
    // The others lost the insert, or read the reference after it was recorded.
    for (const o of outcomes.filter((o) => !o.fired))
      expect(["fired elsewhere", "not due"]).toContain(o.fired || o.reason);
    expect(await h.service.runs(h.job.id)).toHaveLength(1);
  });
});

async function waitFor(probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function waitForState<T extends { state: string }>(read: () => Promise<T>, state: string): Promise<T> {
  const until = Date.now() + 20_000;
  for (;;) {
    const run = await read();
    if (run.state === state) return run;
    if (Date.now() > until) throw new Error(`run still ${run.state}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
