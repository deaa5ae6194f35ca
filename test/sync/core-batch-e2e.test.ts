/**
 * The engine against a WordPress >= 6.6 without the companion plugin: its writes go through core's
 * POST /batch/v1 (skipped without WP_NEWER_URL; see test/wordpress/core-batch.test.ts).
 */
import { aGraphUser, aJob } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, FakeDirectory, makeHarness } from "../helpers/engine";
import { describeWithWordPress, makeTestSite, trackUsers, uniqueName, wpFetch } from "../helpers/wordpress";
import { startProxy } from "../helpers/wordpress-proxy";

describeWithWordPress(
  "the engine against WordPress 6.6 without the plugin (core batch writes)",
  (wp) => {
    it("syncs, adopts a user that already has the address, and deactivates, in core batch requests", async () => {
      const tracked = trackUsers(wp);
      const prefix = uniqueName("core-e2e");
      const address = (n: number) => `${prefix}-${n}@example.test`;
      // Someone created user 1 in WordPress already: the first sync adopts it by e-mail, creates no twin.
      const existing = await wpFetch(wp, "POST", "/wp/v2/users", {
        username: `${prefix}-there`,
        email: address(1),
        password: `${prefix}-Pw-0123456789`,
      });
      expect(existing.status).toBe(201);
      tracked.add(existing.body.id);
      const directory = new FakeDirectory();
      for (let n = 1; n <= 12; n++) {
        directory.put(
          aGraphUser()
            .numbered(n)
            .withValues({ mail: address(n), userPrincipalName: address(n) })
            .build(),
        );
      }
      const db = await makeTestDatabase();
      const proxy = await startProxy(wp.url);
      try {
        const site = makeTestSite({ ...wp, url: proxy.url });
        const h = makeHarness(db, {
          directory,
          job: aJob().withUniqueId().withPageSize(20).withSafety(1, 1000).build(),
        });
        const service = h.replica({ site });

        const first = await service.startRun(h.job.id, { trigger: "manual" });
        const done = await h.drive(first.run.id, service);
        expect(done).toMatchObject({ state: "completed", counts: { seen: 12, created: 11, updated: 1, failed: 0 } });
        const map = await h.userMap();
        for (const row of map) tracked.add(row.wp_user_id);
        expect(map.map((row) => row.wp_user_id)).toContain(existing.body.id);
        await expectCountersMatchItems(h, first.run.id);
        for (let n = 1; n <= 12; n++) {
          const found = await wpFetch(wp, "GET", `/wp/v2/users?context=edit&search=${encodeURIComponent(address(n))}`);
          expect({ n, users: found.body.length }).toEqual({ n, users: 1 });
        }

        directory.remove(2);
        const second = await service.startRun(h.job.id, { trigger: "manual" });
        expect((await h.drive(second.run.id, service)).counts).toMatchObject({ seen: 11, deactivated: 1 });

        const writes = proxy.requests.filter((r) => !/^(GET|OPTIONS) /.test(r));
        expect(new Set(writes)).toEqual(new Set(["POST /wp-json/batch/v1"]));
        expect(writes.length).toBeLessThan(12);
      } finally {
        await proxy.close();
        await tracked.cleanup();
        await db.close();
      }
    });
  },
  {
    prefix: "WP_NEWER_",
    requiredBy: "REQUIRE_WORDPRESS_NEWER",
    howToStart:
      'eval "$(scripts/wordpress-local.sh --wordpress-version 6.6 --without-plugin --port 8884 --dir /tmp/entra-wp-sync-wordpress-6.6 --env-prefix WP_NEWER_)"',
  },
);
