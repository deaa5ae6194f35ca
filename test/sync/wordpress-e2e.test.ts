/** The engine end to end against a real WordPress (skipped without WP_URL; see test/helpers/wordpress.ts). */
import type { Database } from "../../src/db/pool";
import { aGraphUser, aJob, entraId } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, FakeDirectory, makeHarness } from "../helpers/engine";
import { describeWithWordPress, makeTestSite, trackUsers, uniqueName, wpFetch } from "../helpers/wordpress";

describeWithWordPress("the engine against a real WordPress", (wp) => {
  let db: Database;
  const tracked = trackUsers(wp);
  beforeAll(async () => {
    db = await makeTestDatabase();
  });
  afterAll(async () => {
    await tracked.cleanup();
    await db.close();
  });

  it("creates users on the first sync, makes zero requests on the second, and deactivates a removed user", async () => {
    const prefix = uniqueName("e2e");
    const directory = new FakeDirectory();
    for (let n = 1; n <= 3; n++) {
      const address = `${prefix}-${n}@example.test`;
      directory.put(aGraphUser().numbered(n).withValues({ mail: address, userPrincipalName: address }).build());
    }
    let requests = 0;
    const site = makeTestSite(wp, { metrics: { onRequest: () => void requests++ } });
    const h = makeHarness(db, { directory, job: aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).build() });
    const service = h.replica({ site });

    const first = await service.startRun(h.job.id, { trigger: "manual" });
    const created = await h.drive(first.run.id, service);
    expect(created).toMatchObject({ state: "completed", counts: { seen: 3, created: 3, failed: 0 } });
    const map = await h.userMap();
    for (const row of map) tracked.add(row.wp_user_id);
    const user1 = await wpFetch(wp, "GET", `/wp/v2/users/${map[0]!.wp_user_id}?context=edit`);
    expect(user1.body).toMatchObject({ email: `${prefix}-1@example.test`, roles: ["subscriber"], last_name: "1" });
    await expectCountersMatchItems(h, first.run.id);

    requests = 0;
    const again = await service.startRun(h.job.id, { trigger: "manual" });
    const unchanged = await h.drive(again.run.id, service);
    expect(unchanged.counts).toMatchObject({ seen: 3, unchanged: 3 });
    expect(requests).toBe(0);

    directory.remove(2);
    const third = await service.startRun(h.job.id, { trigger: "manual" });
    const removed = await h.drive(third.run.id, service);
    expect(removed.counts).toMatchObject({ seen: 2, unchanged: 2, deactivated: 1 });
    const wp2 = map.find((m) => m.entra_id === entraId(2))!.wp_user_id;
    const user2 = await wpFetch(wp, "GET", `/wp/v2/users/${wp2}?context=edit`);
    expect(user2.body.roles).toEqual([]);
    await expectCountersMatchItems(h, third.run.id);
  });
});
