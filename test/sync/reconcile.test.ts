import type { Database } from "../../src/db/pool";
import { makeProvisionService } from "../../src/sync/provision";
import { aGraphUser, aJob, entraId } from "../helpers/builders";
import { makeTestDatabase, silentLogger } from "../helpers/db";
import { expectCountersMatchItems, FakeDirectory, makeHarness } from "../helpers/engine";

let db: Database;
beforeAll(async () => {
  db = await makeTestDatabase();
});
afterAll(async () => {
  await db.close();
});

describe("reconciling", () => {
  it("deactivates users the source no longer returns, and reactivates them when they come back", async () => {
    const directory = new FakeDirectory().withUsers(1, 10);
    const h = makeHarness(db, { directory });
    await h.sync();
    directory.remove(3).remove(7);

    const second = await h.sync();
    expect(second).toMatchObject({ state: "completed", counts: { seen: 8, unchanged: 8, deactivated: 2 } });
    const map = await h.userMap();
    expect(map.filter((m) => m.state === "deactivated").map((m) => m.entra_id)).toEqual([entraId(3), entraId(7)]);
    const wp3 = map.find((m) => m.entra_id === entraId(3))!.wp_user_id;
    const removed = await h.service.items(second.id, { action: "deactivate" });
    expect(removed.items.map((i) => [i.displayName, i.email])).toEqual([
      ["User 3", "user3@contoso.com"],
      ["User 7", "user7@contoso.com"],
    ]);
    expect(h.site.isDeactivated(wp3)).toBe(true);
    await expectCountersMatchItems(h, second.id);

    directory.put(aGraphUser().numbered(3).build());
    const third = await h.sync();
    expect(third.counts).toMatchObject({ seen: 9, reactivated: 1, unchanged: 8, deactivated: 0 });
    expect(h.site.isDeactivated(wp3)).toBe(false);
    expect(h.site.all().find((u) => u.id === wp3)!.roles).toEqual(["subscriber"]);
    await expectCountersMatchItems(h, third.id);
  });

  it("deletes missing users with their posts reassigned when the job says delete", async () => {
    const directory = new FakeDirectory().withUsers(1, 5);
    const h = makeHarness(db, {
      directory,
      job: aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).withMissing("delete", 1).build(),
    });
    await h.sync();
    directory.remove(5);
    const run = await h.sync();
    expect(run.counts).toMatchObject({ deleted: 1, unchanged: 4 });
    expect(h.site.all()).toHaveLength(5);
    expect((await h.userMap()).map((m) => m.entra_id)).not.toContain(entraId(5));
    await expectCountersMatchItems(h, run.id);
  });

  it("stops in awaiting_approval over the safety limits with the would-be removals listed, then removes them once approved", async () => {
    const directory = new FakeDirectory().withUsers(1, 10);
    const h = makeHarness(db, { directory, job: aJob().withUniqueId().withPageSize(10).withSafety(0.2, 100).build() });
    await h.sync();
    for (const n of [1, 2, 3]) directory.remove(n);

    const stopped = await h.sync();
    expect(stopped).toMatchObject({ state: "awaiting_approval", counts: { deactivated: 0 } });
    // People approving see who would go: the name last written, not only an id.
    const waiting = await h.service.items(stopped.id, { action: "deactivate" });
    expect(waiting.items.map((i) => i.displayName)).toEqual(["User 1", "User 2", "User 3"]);
    expect(stopped.lastError).toMatch(/3 removals of 10 mapped users exceed the safety limits/);
    const pending = await h.service.items(stopped.id, { action: "deactivate" });
    expect(pending.items.map((i) => [i.entraId, i.status])).toEqual([
      [entraId(1), "pending"],
      [entraId(2), "pending"],
      [entraId(3), "pending"],
    ]);
    expect(await h.service.advanceRun(stopped.id)).toMatchObject({ advanced: false, reason: "awaiting approval" });
    expect(h.site.all().filter((u) => u.roles.length === 0)).toHaveLength(0);
    await expectCountersMatchItems(h, stopped.id);

    const approved = await h.service.approveRun(stopped.id);
    expect(approved.state).toBe("reconciling");
    await expect(h.service.approveRun(stopped.id)).rejects.toThrow(/only a run awaiting approval/);
    const done = await h.drive(stopped.id);
    expect(done).toMatchObject({ state: "completed", counts: { deactivated: 3 } });
    await expectCountersMatchItems(h, stopped.id);
  });

  it("ends a run awaiting approval when it is cancelled, removing nobody", async () => {
    const directory = new FakeDirectory().withUsers(1, 10);
    const h = makeHarness(db, { directory, job: aJob().withUniqueId().withPageSize(10).withSafety(1, 2).build() });
    await h.sync();
    for (const n of [4, 5, 6]) directory.remove(n);
    const stopped = await h.sync();
    expect(stopped.state).toBe("awaiting_approval");
    expect((await h.service.cancelRun(stopped.id)).state).toBe("cancelled");
    expect(h.site.all().filter((u) => u.roles.length === 0)).toHaveLength(0);
    expect((await h.userMap()).every((m) => m.state === "active")).toBe(true);
  });

  it("removes nobody when the source returns zero users", async () => {
    const directory = new FakeDirectory().withUsers(1, 4);
    const h = makeHarness(db, { directory });
    await h.sync();
    for (const n of [1, 2, 3, 4]) directory.remove(n);
    h.site.resetCounters();
    const run = await h.sync();
    expect(run).toMatchObject({ state: "completed", counts: { seen: 0, deactivated: 0, deleted: 0 } });
    expect(h.site.writes()).toBe(0);
    expect((await h.userMap()).every((m) => m.state === "active")).toBe(true);
  });

  it("never modifies or removes a protected administrator, even when matched or missing", async () => {
    const directory = new FakeDirectory().withUsers(1, 3);
    const h = makeHarness(db, {
      directory,
      job: aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).withMissing("delete", 1).build(),
    });
    // An administrator whose e-mail an Entra user has: matched, but never touched.
    const admin = h.site.seed({
      username: "boss",
      email: "user2@contoso.com",
      roles: ["administrator"],
      first_name: "Big",
    });
    const first = await h.sync();
    const item = (await h.service.items(first.id, {})).items.find((i) => i.entraId === entraId(2))!;
    expect(item).toMatchObject({ action: "skip", reason: "protected", wpUserId: admin.id });
    expect(h.site.all().find((u) => u.id === admin.id)).toEqual(admin);

    // A mapped user who becomes an administrator in WordPress and then leaves Entra: skipped, not deleted.
    const map = await h.userMap();
    const wp1 = map.find((m) => m.entra_id === entraId(1))!.wp_user_id;
    await h.site.updateUser(wp1, { fields: {}, roles: ["administrator"] });
    directory.remove(1);
    const second = await h.sync();
    const removal = (await h.service.items(second.id, {})).items.find((i) => i.entraId === entraId(1))!;
    expect(removal).toMatchObject({ action: "skip", reason: "protected", status: "ok" });
    expect(h.site.all().find((u) => u.id === wp1)!.roles).toEqual(["administrator"]);
    expect(h.site.all().find((u) => u.id === admin.id)).toEqual(admin);
    await expectCountersMatchItems(h, second.id);
  });

  it("takes back only the roles it granted from a leaver protected by an administrator role of its own", async () => {
    const EDITORS = "22222222-2222-2222-2222-222222222222";
    const directory = new FakeDirectory().withUsers(1, 3).withGroup(EDITORS, [1]);
    const job = aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).withRoleMode("add");
    const h = makeHarness(db, { directory, job: job.withRoleGroup(EDITORS, "editor").build() });
    await h.sync();
    const wp1 = (await h.userMap()).find((m) => m.entra_id === entraId(1))!.wp_user_id;
    expect(h.site.all().find((u) => u.id === wp1)!.roles).toEqual(["editor"]);
    await h.site.updateUser(wp1, { fields: {}, roles: ["editor", "administrator"] }); // promoted by a person
    directory.remove(1);
    const run = await h.sync();
    const item = (await h.service.items(run.id, {})).items.find((i) => i.entraId === entraId(1))!;
    expect(item).toMatchObject({
      action: "update",
      diff: { roles: [["editor", "administrator"], ["administrator"]] },
      reason: "protected: only the roles the service granted were taken away",
    });
    expect(h.site.all().find((u) => u.id === wp1)!.roles).toEqual(["administrator"]);
    await expectCountersMatchItems(h, run.id);
  });

  it("adopts an existing WordPress account when create says it exists, instead of duplicating it", async () => {
    const directory = new FakeDirectory().withUsers(1, 2);
    directory.pageSize = 1;
    const h = makeHarness(db, { directory });
    const { run } = await h.service.startRun(h.job.id, { trigger: "manual" });
    await h.service.advanceRun(run.id); // user 1; the run's match index is built now
    // Made in WordPress after the index was built: only WordPress's "exists" reveals it.
    const existing = h.site.seed({ username: "someone", email: "USER2@contoso.com" });
    const done = await h.drive(run.id);
    expect(done.counts).toMatchObject({ created: 1, updated: 1, failed: 0 });
    const map = await h.userMap();
    expect(map.find((m) => m.entra_id === entraId(2))!.wp_user_id).toBe(existing.id);
    expect(h.site.all()).toHaveLength(3); // the service's account, user 1, the adopted one
    await expectCountersMatchItems(h, run.id);
  });

  it("does not adopt an account WordPress says exists when the job does not match that way", async () => {
    const directory = new FakeDirectory().withUsers(1, 2);
    const job = aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).withMatch("entraId").build();
    const h = makeHarness(db, { directory, job });
    const existing = h.site.seed({ username: "someone", email: "USER1@contoso.com" });
    const run = await h.sync();
    expect(run.counts).toMatchObject({ created: 1, updated: 0, failed: 1 });
    const item = (await h.service.items(run.id, {})).items.find((i) => i.entraId === entraId(1))!;
    expect(item.error).toBe(
      `WordPress user ${existing.id} (same e-mail) exists but the job does not match by e-mail (match.by); ` +
        "map it by Entra id or list it in protect.users",
    );
    expect(h.site.all().find((u) => u.id === existing.id)).toEqual(existing);
    expect(await h.userMap()).toHaveLength(1);
    await expectCountersMatchItems(h, run.id);
  });
});

describe("reconciling after a user was synced on demand", () => {
  it("does not remove a user provisioned while a full run was listing, though that run never listed it", async () => {
    const directory = new FakeDirectory().withUsers(1, 4);
    directory.pageSize = 2;
    const h = makeHarness(db, { directory, job: aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).build() });
    await h.sync();

    const { run } = await h.service.startRun(h.job.id, { trigger: "manual" });
    await h.service.advanceRun(run.id); // the listing has begun: later Entra changes are not in it
    directory.putFirst(aGraphUser().numbered(9).build()); // on the page already listed
    const provision = makeProvisionService({
      db,
      directory,
      site: h.site,
      jobs: [h.job],
      logger: silentLogger,
      stepBudgetMs: 10_000,
    });
    const trace = await provision.syncUser(h.job.id, entraId(9), { dryRun: false });
    expect(trace.outcome).toBe("applied");

    const done = await h.drive(run.id);
    expect(done).toMatchObject({ state: "completed", counts: { deactivated: 0 } });
    const nine = (await h.userMap()).find((m) => m.entra_id === entraId(9));
    expect(nine?.state).toBe("active");
    expect(h.site.isDeactivated(nine!.wp_user_id)).toBe(false);
    await expectCountersMatchItems(h, run.id);
  });
});
