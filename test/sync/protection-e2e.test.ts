/**
 * Protection by capability and the write guard, end to end on every write path: the companion
 * plugin's batch, per-user REST with and without the plugin, and WordPress 6.6's core batch without
 * it (each path skipped when its WordPress is not configured: WP_, WP_PLAIN_, WP_NEWER_).
 *
 * An account holding an elevated capability the job could not have given it is never changed or
 * removed, whatever role carries it (here the test WordPress's custom role entra_test_user_manager:
 * read, list_users, edit_users; scripts/wordpress-local.sh). And a privilege given in WordPress after
 * the engine read an account and before its write refuses the write: the plugin checks the write's
 * guard inside its transaction; without the plugin the site reads the account again right before
 * the write. A proxy gives the privilege at that moment: once WordPress has answered the engine's
 * read, before the engine sees the answer.
 */
import { randomUUID } from "node:crypto";
import type { Database } from "../../src/db/pool";
import type { WordPressSiteOptions } from "../../src/wordpress";
import { aGraphUser, aJob } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, FakeDirectory, makeHarness } from "../helpers/engine";
import { describeWithWordPress, makeTestSite, trackUsers, uniqueName, wpFetch } from "../helpers/wordpress";
import { startProxy, type Proxy as WordPressProxy } from "../helpers/wordpress-proxy";

const USER_MANAGER = "entra_test_user_manager";

/** `reads`: GETs of the account before its write: the engine's, then (without the plugin's batch) the site's own. */
const PATHS: Array<{
  path: string;
  prefix: string;
  requiredBy?: string;
  options: Partial<WordPressSiteOptions>;
  reads: number;
}> = [
  { path: "the companion plugin's batch", prefix: "WP_", options: {}, reads: 1 },
  { path: "per-user REST with the companion plugin", prefix: "WP_", options: { bulk: false }, reads: 2 },
  { path: "per-user REST without the plugin", prefix: "WP_PLAIN_", options: {}, reads: 2 },
  {
    path: "WordPress 6.6's core batch without the plugin",
    prefix: "WP_NEWER_",
    requiredBy: "REQUIRE_WORDPRESS_NEWER",
    options: {},
    reads: 2,
  },
];

for (const { path, prefix, requiredBy, options, reads } of PATHS) {
  describeWithWordPress(
    `protection by capability and the write guard (${path})`,
    (wp) => {
      let db: Database;
      let proxy: WordPressProxy;
      const tracked = trackUsers(wp);
      beforeAll(async () => {
        db = await makeTestDatabase();
        proxy = await startProxy(wp.url);
      });
      afterEach(() => {
        proxy.beforeRelay = null;
      });
      afterAll(async () => {
        await proxy.close();
        await tracked.cleanup();
        await db.close();
      });

      /**
       * A job over one Entra user with this e-mail (and an object id of its own), writing through the
       * proxy; a bystander stays in the tenant (a listing that returns nobody removes nobody).
       */
      function oneUser(email: string, missing: "deactivate" | "delete" = "deactivate") {
        const directory = new FakeDirectory();
        const id = randomUUID();
        const person = (surname: string) =>
          aGraphUser().withId(id).withValues({ mail: email, userPrincipalName: email, surname }).build();
        directory.put(person("Lee"));
        const bystander = `${uniqueName("bystander")}@example.test`;
        directory.put(
          aGraphUser().withId(randomUUID()).withValues({ mail: bystander, userPrincipalName: bystander }).build(),
        );
        const job = aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).withMissing(missing).build();
        const h = makeHarness(db, { directory, job });
        const service = h.replica({ site: makeTestSite({ ...wp, url: proxy.url }, options) });
        const sync = async () => {
          const run = await h.drive((await service.startRun(job.id, { trigger: "manual" })).run.id, service);
          for (const row of await h.userMap()) tracked.add(row.wp_user_id);
          return run;
        };
        const itemOf = async (runId: string) => (await service.items(runId, {})).items.find((i) => i.entraId === id)!;
        const mapped = async () => (await h.userMap()).find((row) => row.entra_id === id)?.wp_user_id;
        return { h, directory, id, person, sync, itemOf, mapped };
      }

      async function wpUser(id: number) {
        return (await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`)).body;
      }

      async function giveUserManager(id: number, keep = ["subscriber"]): Promise<void> {
        expect((await wpFetch(wp, "POST", `/wp/v2/users/${id}`, { roles: [...keep, USER_MANAGER] })).status).toBe(200);
      }

      /** Gives the account the user manager role once WordPress has answered the engine's first read of it. */
      function grantAfterTheRead(id: number): { granted: () => boolean; reads: () => number } {
        let granted = false;
        proxy.requests.length = 0;
        proxy.beforeRelay = async (request) => {
          if (granted || !request.startsWith(`GET /wp-json/wp/v2/users/${id}?`)) return;
          granted = true;
          await giveUserManager(id);
        };
        return {
          granted: () => granted,
          reads: () => proxy.requests.filter((r) => r.startsWith(`GET /wp-json/wp/v2/users/${id}?`)).length,
        };
      }

      it("leaves alone a synced user given, in WordPress, a custom role that edits users: not updated, not deactivated", async () => {
        const email = `${uniqueName("cap")}@example.test`;
        const { h, directory, id, person, sync, itemOf, mapped } = oneUser(email);
        expect((await sync()).counts).toMatchObject({ created: 2, failed: 0 });
        const wpId = (await mapped())!;
        await giveUserManager(wpId);

        directory.put(person("Changed"));
        const changed = await sync();
        expect(changed.counts).toMatchObject({ updated: 0, skipped: 1, failed: 0 });
        expect(await itemOf(changed.id)).toMatchObject({ action: "skip", reason: "protected" });
        await expectCountersMatchItems(h, changed.id);

        directory.removeId(id);
        const left = await sync();
        // A leaver keeps what WordPress gave it; only the role the job gave it goes, and it may still sign in.
        expect(left.counts).toMatchObject({ deactivated: 0, updated: 1, failed: 0 });
        expect(await itemOf(left.id)).toMatchObject({
          action: "update",
          reason: "protected: only the roles the service granted were taken away",
        });
        expect(await wpUser(wpId)).toMatchObject({ last_name: "Lee", roles: [USER_MANAGER] });
        expect((await wpUser(wpId)).meta?.entra_wp_sync_deactivated ?? "").toBe("");
      });

      it("refuses an adoption write when the account is given edit_users between the engine's read and its write", async () => {
        const login = uniqueName("race");
        const res = await wpFetch(wp, "POST", "/wp/v2/users", {
          username: login,
          email: `${login}@example.test`,
          password: `Pw-${uniqueName("x")}`,
          first_name: "Kept",
          roles: ["subscriber"],
        });
        expect(res.status).toBe(201);
        const wpId = tracked.add(res.body.id);
        const { sync, itemOf, mapped } = oneUser(`${login}@example.test`);
        const race = grantAfterTheRead(wpId);

        const run = await sync();
        expect(race.granted()).toBe(true);
        expect(race.reads()).toBe(reads);
        expect(run.counts).toMatchObject({ updated: 0, created: 1, failed: 1 });
        const item = await itemOf(run.id);
        expect(item).toMatchObject({ action: "update", status: "failed", wpUserId: wpId });
        expect(item.error).toContain(`user ${wpId} holds capabilities the synced roles do not grant: `);
        expect(item.error).toContain("edit_users");
        expect(await wpUser(wpId)).toMatchObject({ first_name: "Kept", roles: ["subscriber", USER_MANAGER] });
        expect(await mapped()).toBeUndefined();
      });

      it("refuses a leaver's deactivation when the account is given edit_users between the engine's read and its write", async () => {
        const { directory, id, sync, itemOf, mapped } = oneUser(`${uniqueName("leaver")}@example.test`);
        expect((await sync()).counts).toMatchObject({ created: 2 });
        const wpId = (await mapped())!;
        directory.removeId(id);
        const race = grantAfterTheRead(wpId);

        const run = await sync();
        expect(race.granted()).toBe(true);
        expect(race.reads()).toBe(reads);
        expect(run.counts).toMatchObject({ deactivated: 0, failed: 1 });
        const item = await itemOf(run.id);
        expect(item).toMatchObject({ action: "deactivate", status: "failed" });
        expect(item.error).toContain("edit_users");
        expect(await wpUser(wpId)).toMatchObject({ roles: ["subscriber", USER_MANAGER] });
        expect((await wpUser(wpId)).meta?.entra_wp_sync_deactivated ?? "").toBe("");
      });
    },
    { prefix, ...(requiredBy ? { requiredBy } : {}) },
  );
}
