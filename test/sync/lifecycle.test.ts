import { ConflictError, NotFoundError } from "../../src/core/errors";
import type { Database } from "../../src/db/pool";
import { aJob, entraId } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, FakeDirectory, makeHarness } from "../helpers/engine";

let db: Database;
beforeAll(async () => {
  db = await makeTestDatabase();
});
afterAll(async () => {
  await db.close();
});

describe("the run state machine", () => {
  it("moves a run from queued through listing and reconciling to completed, creating every user", async () => {
    const h = makeHarness(db, { directory: new FakeDirectory().withUsers(1, 25) });
    const start = await h.service.startRun(h.job.id, { trigger: "manual" });
    expect(start).toMatchObject({ started: true, run: { state: "queued", mode: "full", step: 0 } });

    const first = await h.service.advanceRun(start.run.id);
    expect(first).toMatchObject({ advanced: true, run: { state: "listing", step: 1 } });
    const done = await h.drive(start.run.id);

    expect(done.state).toBe("completed");
    expect(done.counts).toMatchObject({ seen: 25, created: 25, failed: 0 });
    expect(done.finishedAt).not.toBeNull();
    expect(h.site.all()).toHaveLength(26); // + the service's own account
    expect(await h.userMap()).toHaveLength(25);
    await expectCountersMatchItems(h, start.run.id);
  });

  it("starts no run of a network job without a network client, naming what is missing", async () => {
    const h = makeHarness(db, { job: aJob().withUniqueId().withNetwork().build() });
    const refused = h.service.startRun(h.job.id, { trigger: "manual" });
    await expect(refused).rejects.toThrow(ConflictError);
    await expect(refused).rejects.toThrow(/multisite network, but the service has no network client \(WP_URL/);
    expect(h.site.all()).toHaveLength(1); // the service's own account only
  });

  it("returns the active run with started:false when a second start comes in", async () => {
    const h = makeHarness(db, { directory: new FakeDirectory().withUsers(1, 3) });
    const first = await h.service.startRun(h.job.id, { trigger: "link" });
    const second = await h.service.startRun(h.job.id, { trigger: "link" });
    expect(second).toEqual({ started: false, reason: "already running", run: first.run });
  });

  it("says why a terminal run or a job without an active run does not advance", async () => {
    const h = makeHarness(db, { directory: new FakeDirectory().withUsers(1, 3) });
    expect(await h.service.advanceJob(h.job.id)).toEqual({ advanced: false, reason: "no active run", run: null });
    const run = await h.sync();
    expect(await h.service.advanceRun(run.id)).toMatchObject({ advanced: false, reason: "completed" });
    expect(await h.service.advanceJob(h.job.id)).toMatchObject({
      advanced: false,
      reason: "no active run",
      run: { id: run.id, state: "completed" },
    });
  });

  it("advances the job's active run through advanceJob", async () => {
    const h = makeHarness(db, { directory: new FakeDirectory().withUsers(1, 3) });
    const start = await h.service.startRun(h.job.id, { trigger: "link" });
    const result = await h.service.advanceJob(h.job.id);
    expect(result).toMatchObject({ advanced: true, run: { id: start.run.id } });
  });

  it("cancels any active run, and refuses to cancel or approve where the state does not allow it", async () => {
    const h = makeHarness(db, { directory: new FakeDirectory().withUsers(1, 3) });
    const start = await h.service.startRun(h.job.id, { trigger: "manual" });
    await expect(h.service.approveRun(start.run.id)).rejects.toBeInstanceOf(ConflictError);
    const cancelled = await h.service.cancelRun(start.run.id);
    expect(cancelled.state).toBe("cancelled");
    expect(cancelled.finishedAt).not.toBeNull();
    await expect(h.service.cancelRun(start.run.id)).rejects.toBeInstanceOf(ConflictError);
    expect(await h.service.advanceRun(start.run.id)).toMatchObject({ advanced: false, reason: "cancelled" });

    const next = await h.service.startRun(h.job.id, { trigger: "manual" });
    expect(next.started).toBe(true);
    await h.service.advanceRun(next.run.id);
    expect((await h.service.cancelRun(next.run.id)).state).toBe("cancelled");
    const completed = await h.sync();
    await expect(h.service.cancelRun(completed.id)).rejects.toBeInstanceOf(ConflictError);
    await expect(h.service.approveRun(completed.id)).rejects.toBeInstanceOf(ConflictError);
  });

  it("answers NotFoundError for unknown runs and jobs, whatever the id looks like", async () => {
    const h = makeHarness(db);
    await expect(h.service.run("00000000-0000-4000-8000-000000000000")).rejects.toBeInstanceOf(NotFoundError);
    await expect(h.service.run("not-a-uuid")).rejects.toBeInstanceOf(NotFoundError);
    await expect(h.service.advanceRun("nope")).rejects.toBeInstanceOf(NotFoundError);
    await expect(h.service.cancelRun("nope")).rejects.toBeInstanceOf(NotFoundError);
    await expect(h.service.approveRun("nope")).rejects.toBeInstanceOf(NotFoundError);
    await expect(h.service.startRun("nope", { trigger: "manual" })).rejects.toBeInstanceOf(NotFoundError);
    await expect(h.service.advanceJob("nope")).rejects.toBeInstanceOf(NotFoundError);
    expect(() => h.service.job("nope")).toThrow(NotFoundError);
  });

  it("fails the run with a readable last error when Graph refuses the credentials", async () => {
    const directory = new FakeDirectory().withUsers(1, 3);
    const h = makeHarness(db, { directory });
    directory.failNext(1, "auth");
    const run = await h.sync();
    expect(run).toMatchObject({ state: "failed", lastError: "injected auth failure" });
  });

  it("leaves the run where it was after a transient failure and fails it after maxFailedSteps in a row", async () => {
    const directory = new FakeDirectory().withUsers(1, 3);
    const h = makeHarness(db, { directory, maxFailedSteps: 3 });
    const start = await h.service.startRun(h.job.id, { trigger: "manual" });
    directory.failNext(2, "throttled");
    expect(await h.service.advanceRun(start.run.id)).toMatchObject({
      advanced: false,
      run: { state: "listing", lastError: "injected throttled failure" },
    });
    await h.service.advanceRun(start.run.id);
    const recovered = await h.drive(start.run.id);
    expect(recovered).toMatchObject({ state: "completed", lastError: null, counts: { created: 3 } });

    const again = await h.service.startRun(h.job.id, { trigger: "manual" });
    directory.failNext(3, "transient");
    const failed = await h.drive(again.run.id);
    expect(failed).toMatchObject({ state: "failed", lastError: "injected transient failure" });
  });

  it("records one user's refused write as a failed item and goes on with the others", async () => {
    const directory = new FakeDirectory().withUsers(1, 4);
    directory.update(2, { mail: "not-an-address", userPrincipalName: "user2" });
    const h = makeHarness(db, { directory });
    const run = await h.sync();
    expect(run).toMatchObject({ state: "completed", counts: { seen: 4, created: 3, failed: 1 } });
    const failed = await h.service.items(run.id, {});
    expect(failed.items.find((item) => item.entraId === entraId(2))).toMatchObject({
      action: "create",
      status: "failed",
      error: "Invalid email address",
    });
    await expectCountersMatchItems(h, run.id);
  });

  it("lists runs newest first and pages items by cursor, action and case-insensitive search", async () => {
    const h = makeHarness(db, { directory: new FakeDirectory().withUsers(1, 12) });
    const first = await h.sync();
    const second = await h.sync();
    expect((await h.service.runs(h.job.id)).map((r) => r.id)).toEqual([second.id, first.id]);
    expect((await h.service.runs(h.job.id, { before: second.id })).map((r) => r.id)).toEqual([first.id]);

    const page1 = await h.service.items(first.id, { limit: 5 });
    expect(page1.items).toHaveLength(5);
    const page2 = await h.service.items(first.id, { limit: 5, cursor: page1.nextCursor! });
    const page3 = await h.service.items(first.id, { limit: 5, cursor: page2.nextCursor! });
    expect(page3).toMatchObject({ nextCursor: null });
    const ids = [...page1.items, ...page2.items, ...page3.items].map((i) => i.entraId);
    expect(new Set(ids).size).toBe(12);

    expect((await h.service.items(first.id, { search: "USER1" })).items).toHaveLength(4); // 1, 10, 11, 12
    expect((await h.service.items(first.id, { action: "update" })).items).toHaveLength(0);
    expect((await h.service.items(second.id, { action: "unchanged" })).items).toHaveLength(12);
  });
});
