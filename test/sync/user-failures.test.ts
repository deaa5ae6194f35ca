import type { Database } from "../../src/db/pool";
import { aGraphUser, entraId } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, FakeDirectory, makeHarness } from "../helpers/engine";

let db: Database;
beforeAll(async () => {
  db = await makeTestDatabase();
});
afterAll(async () => {
  await db.close();
});

describe("one user's failure", () => {
  it("is recorded on its item when WordPress dies (HTTP 500) on that user while it answers everything else, and the run finishes", async () => {
    const directory = new FakeDirectory().withUsers(1, 5);
    const h = makeHarness(db, { directory });
    h.site.crashOnWritesOf("user3@contoso.com");
    const run = await h.sync();
    expect(run).toMatchObject({ state: "completed", counts: { seen: 5, created: 4, failed: 1 } });
    const failed = await h.service.items(run.id, { action: "create" });
    const three = failed.items.find((item) => item.entraId === entraId(3))!;
    expect(three).toMatchObject({ status: "failed", error: expect.stringContaining("HTTP 500") });
    expect((await h.userMap()).map((m) => m.entra_id)).not.toContain(entraId(3));
    await expectCountersMatchItems(h, run.id);
  });

  it("leaves the run where it was when WordPress answers 500 to everything (the site is down), then finishes once it is back", async () => {
    const directory = new FakeDirectory().withUsers(1, 4);
    const h = makeHarness(db, { directory, maxFailedSteps: 10 });
    h.site.goDown();
    const { run } = await h.service.startRun(h.job.id, { trigger: "manual" });
    const attempt = await h.service.advanceRun(run.id);
    expect(attempt.advanced).toBe(false);
    expect(attempt.run).toMatchObject({ state: "listing", counts: { seen: 0, failed: 0 } });
    expect(attempt.run!.lastError).toMatch(/HTTP 500/);
    h.site.up();
    const done = await h.drive(run.id);
    expect(done).toMatchObject({ state: "completed", counts: { seen: 4, created: 4, failed: 0 } });
    await expectCountersMatchItems(h, run.id);
  });
});

describe("two Entra users with one e-mail", () => {
  it("never share or take over one WordPress account, on one page or across runs", async () => {
    const shared = { mail: "shared@contoso.com" };
    const directory = new FakeDirectory()
      .put(aGraphUser().numbered(1).build())
      .put(
        aGraphUser()
          .numbered(2)
          .withValues({ ...shared, displayName: "Dup A" })
          .build(),
      )
      .put(
        aGraphUser()
          .numbered(3)
          .withValues({ ...shared, displayName: "Dup B" })
          .build(),
      );
    const h = makeHarness(db, { directory });

    const first = await h.sync();
    expect(first.counts).toMatchObject({ seen: 3, created: 2, failed: 1 });
    const accounts = h.site.all().filter((u) => u.email === "shared@contoso.com");
    expect(accounts).toHaveLength(1);
    const owner = (await h.userMap()).filter((m) => m.wp_user_id === accounts[0]!.id);
    expect(owner).toHaveLength(1);
    const loser = owner[0]!.entra_id === entraId(2) ? entraId(3) : entraId(2);
    const items = (await h.service.items(first.id, {})).items;
    expect(items.find((i) => i.entraId === loser)).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/already belongs to Entra user/),
    });

    // The next run matches the loser by e-mail to the winner's account: still refused, nothing overwritten.
    const name = accounts[0]!.name;
    const second = await h.sync();
    expect(second.counts).toMatchObject({ failed: 1, created: 0 });
    expect(h.site.all().find((u) => u.id === accounts[0]!.id)!.name).toBe(name);
    expect((await h.userMap()).filter((m) => m.wp_user_id === accounts[0]!.id)).toHaveLength(1);
    await expectCountersMatchItems(h, second.id);
  });
});
