import type { Database } from "../../src/db/pool";
import { aGraphUser, aJob, entraId } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, FakeDirectory, makeHarness } from "../helpers/engine";

let db: Database;
beforeAll(async () => {
  db = await makeTestDatabase();
});
afterAll(async () => {
  await db.close();
});

async function jobDeltaLink(jobId: string): Promise<string | null> {
  const { rows } = await db.pool.query("select delta_link from jobs where id = $1::text", [jobId]);
  return rows[0]?.delta_link ?? null;
}

describe("listing", () => {
  it("makes zero WordPress requests when re-syncing unchanged users, even from a fresh replica", async () => {
    const h = makeHarness(db, { directory: new FakeDirectory().withUsers(1, 30) });
    await h.sync();
    h.site.resetCounters();
    const replica = h.replica();
    const start = await replica.startRun(h.job.id, { trigger: "schedule" });
    const run = await h.drive(start.run.id, replica);
    expect(run.counts).toMatchObject({ seen: 30, unchanged: 30 });
    expect(h.site.total()).toBe(0);
    await expectCountersMatchItems(h, run.id);
  });

  it("updates only what changed, with the diff from old to new on the item", async () => {
    const directory = new FakeDirectory().withUsers(1, 5);
    const h = makeHarness(db, { directory });
    await h.sync();
    directory.update(4, { surname: "Fourth" });
    h.site.resetCounters();
    const run = await h.sync();
    expect(run.counts).toMatchObject({ seen: 5, unchanged: 4, updated: 1 });
    expect(h.site.requests.POST).toBe(1);
    const [item] = (await h.service.items(run.id, { action: "update" })).items;
    expect(item).toMatchObject({ entraId: entraId(4), status: "ok", diff: { last_name: ["4", "Fourth"] } });
    expect(h.site.all().find((u) => u.email === "user4@contoso.com")!.last_name).toBe("Fourth");
  });

  it("plans but writes nothing in a dry run, and leaves the user map untouched", async () => {
    const directory = new FakeDirectory().withUsers(1, 6);
    const h = makeHarness(db, { directory });
    await h.sync();
    const mapBefore = await h.userMap();
    directory.update(2, { displayName: "Renamed" });
    directory.remove(6);
    directory.put(aGraphUser().numbered(7).build());
    h.site.resetCounters();

    const run = await h.sync({ dryRun: true });
    expect(run).toMatchObject({
      state: "completed",
      dryRun: true,
      counts: { seen: 6, created: 1, updated: 1, unchanged: 4, deactivated: 1 },
    });
    expect(h.site.writes()).toBe(0);
    expect(await h.userMap()).toEqual(mapBefore);
    const items = (await h.service.items(run.id, {})).items;
    expect(items.every((i) => i.status === "planned")).toBe(true);
    expect(items.find((i) => i.action === "update")).toMatchObject({ diff: { name: ["User 2", "Renamed"] } });
    expect(items.find((i) => i.action === "deactivate")).toMatchObject({ entraId: entraId(6) });
    await expectCountersMatchItems(h, run.id);
  });

  it("restarts the listing from the first page when the page token expires, without double counting", async () => {
    const directory = new FakeDirectory().withUsers(1, 15);
    const h = makeHarness(db, { directory, job: aJob().withUniqueId().withSafety(1, 1000).withPageSize(5).build() });
    const start = await h.service.startRun(h.job.id, { trigger: "manual" });
    await h.service.advanceRun(start.run.id);
    await h.service.advanceRun(start.run.id);
    directory.expirePageTokens();
    const expired = await h.service.advanceRun(start.run.id);
    expect(expired).toMatchObject({ advanced: true, reason: "page token expired; listing restarted" });

    const run = await h.drive(start.run.id);
    expect(run).toMatchObject({ state: "completed", counts: { seen: 15, created: 15, deactivated: 0 } });
    expect(directory.pageFetches.filter((cursor) => cursor === "first")).toHaveLength(2);
    expect(h.site.creates).toBe(15);
    expect((await h.service.items(run.id, { limit: 100 })).items).toHaveLength(15);
    await expectCountersMatchItems(h, run.id);
  });

  it("resumes a page where a step ran out of budget, without redoing the users already done", async () => {
    const directory = new FakeDirectory().withUsers(1, 8);
    const h = makeHarness(db, {
      directory,
      job: aJob().withUniqueId().withSafety(1, 1000).withPageSize(8).build(),
      stepBudgetMs: 50,
      applyConcurrency: 1,
    });
    const slow = h.site.createUser.bind(h.site);
    h.site.createUser = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 15));
      return slow(...args);
    };
    const start = await h.service.startRun(h.job.id, { trigger: "manual" });
    const first = await h.service.advanceRun(start.run.id);
    expect(first.run!.counts.created).toBeGreaterThan(0);
    expect(first.run!.counts.created).toBeLessThan(8);
    const run = await h.drive(start.run.id);
    expect(run.counts).toMatchObject({ seen: 8, created: 8 });
    expect(h.site.creates).toBe(8);
    await expectCountersMatchItems(h, run.id);
  });

  it("scopes users to the job's groups and maps roles from groups, then removes users who leave the groups", async () => {
    const directory = new FakeDirectory().withUsers(1, 8).withGroup("g-staff", [1, 2, 3, 4, 5]).withGroup("g-eds", [2]);
    const h = makeHarness(db, {
      directory,
      job: aJob()
        .withUniqueId()
        .withPageSize(10)
        .withSafety(1, 1000)
        .withGroups("g-staff")
        .withRoleGroup("g-eds", "editor")
        .build(),
    });
    const first = await h.sync();
    expect(first.counts).toMatchObject({ seen: 5, created: 5 });
    expect(h.site.all().find((u) => u.email === "user2@contoso.com")!.roles).toEqual(["editor"]);
    expect(h.site.all().find((u) => u.email === "user6@contoso.com")).toBeUndefined();
    expect(directory.groupFetches).toBe(3); // 5 members in pages of 3, plus one page of editors

    directory.withGroup("g-staff", [1, 2, 3, 4]);
    const second = await h.sync();
    expect(second.counts).toMatchObject({ seen: 4, unchanged: 4, deactivated: 1 });
    await expectCountersMatchItems(h, second.id);
  });
});

describe("delta listing", () => {
  it("lists in full first, stores the deltaLink only on completion, then applies only changes and removals", async () => {
    const directory = new FakeDirectory().withUsers(1, 6);
    const h = makeHarness(db, {
      directory,
      job: aJob().withUniqueId().withSafety(1, 1000).withSourceMode("delta").withPageSize(4).build(),
    });
    const start = await h.service.startRun(h.job.id, { trigger: "manual" });
    expect(start.run.mode).toBe("full");
    await h.service.advanceRun(start.run.id);
    const listed = await h.service.advanceRun(start.run.id);
    expect(listed.run!.state).toBe("reconciling");
    expect(await jobDeltaLink(h.job.id)).toBeNull();
    await h.drive(start.run.id);
    expect(await jobDeltaLink(h.job.id)).not.toBeNull();

    directory.remove(2);
    directory.update(3, { surname: "Third" });
    directory.update(5, { accountEnabled: false });
    h.site.resetCounters();
    const second = await h.sync();
    expect(second).toMatchObject({ mode: "delta", counts: { seen: 1, updated: 1, deactivated: 2 } });
    const map = await h.userMap();
    expect(map.filter((m) => m.state === "deactivated").map((m) => m.entra_id)).toEqual([entraId(2), entraId(5)]);
    expect(map.filter((m) => m.state === "active")).toHaveLength(4);
    await expectCountersMatchItems(h, second.id);

    const quiet = await h.sync();
    expect(quiet).toMatchObject({ mode: "delta", counts: { seen: 0, deactivated: 0 } });
  });

  it("falls back to a full listing when Graph says the delta token expired", async () => {
    const directory = new FakeDirectory().withUsers(1, 5);
    const h = makeHarness(db, {
      directory,
      job: aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).withSourceMode("delta").build(),
    });
    await h.sync();
    const before = await jobDeltaLink(h.job.id);
    directory.expireDeltaTokens();
    directory.remove(1);

    const start = await h.service.startRun(h.job.id, { trigger: "manual" });
    expect(start.run.mode).toBe("delta");
    const first = await h.service.advanceRun(start.run.id);
    expect(first).toMatchObject({ advanced: true, reason: "delta expired; listing in full", run: { mode: "full" } });
    expect(await jobDeltaLink(h.job.id)).toBeNull();

    const run = await h.drive(start.run.id);
    expect(run).toMatchObject({ state: "completed", mode: "full", counts: { seen: 4, unchanged: 4, deactivated: 1 } });
    const after = await jobDeltaLink(h.job.id);
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
    await expectCountersMatchItems(h, run.id);
  });
});

describe("the match index", () => {
  it("is built once per run and grows with the users the run creates, instead of listing WordPress at every step", async () => {
    const directory = new FakeDirectory().withUsers(1, 30);
    directory.pageSize = 10;
    const h = makeHarness(db, { directory });
    const run = await h.sync();
    expect(run).toMatchObject({ state: "completed", step: expect.any(Number), counts: { created: 30 } });
    expect(run.step).toBeGreaterThanOrEqual(3);
    expect(h.site.lists).toBe(1);
    // Logins stay unique across steps although the index was built before any of them existed.
    const logins = h.site.all().map((u) => u.username.toLowerCase());
    expect(new Set(logins).size).toBe(logins.length);
  });
});
