/**
 * Profile photos end to end through the engine: Graph simulator (photos over HTTPS) into the REAL
 * WordPress with the companion plugin. Photos arrive as avatars; a re-sync with nothing due costs
 * no request to either side; a re-check finds the one changed photo and writes only that one.
 */
import { makeSyncService } from "../../src/sync/engine";
import type { Site } from "../../src/sync/ports";
import { makeTenant, type SimUser, startGraphSimulator } from "../../tools/graph-sim";
import { directoryFor } from "../graph/helpers";
import { aJob } from "../helpers/builders";
import { makeTestDatabase, silentLogger } from "../helpers/db";
import { aJpeg, isReencodedJpeg } from "../helpers/images";
import { deleteWordPressUsersOf, uniqueDomain, wordpressUsersOf } from "../helpers/reliability";
import { describeWithWordPress, makeTestSite, wpFetch } from "../helpers/wordpress";

/** The real site, counting the avatar writes that reach WordPress. */
function countingAvatars(site: Site): { site: Site; writes: () => number } {
  let writes = 0;
  const counted: Site = {
    ...site,
    setAvatar: (id, photo) => {
      writes++;
      return site.setAvatar(id, photo);
    },
  };
  return { site: counted, writes: () => writes };
}

describeWithWordPress("profile photos synced as avatars", (wp) => {
  const domain = uniqueDomain("photos");
  afterAll(() => deleteWordPressUsersOf(wp, domain).catch(() => undefined));

  it("puts photos on WordPress once, re-checks them without rewriting unchanged ones, and restores the default when one goes", async () => {
    const db = await makeTestDatabase();
    const tenant = makeTenant({ users: 0, seed: 42, domain });
    const add = (name: string) =>
      tenant.addUser({ mail: `${name}@${domain}`, userPrincipalName: `${name}@${domain}`, givenName: name });
    const [ann, bob] = [add("ann"), add("bob"), add("cat")] as [SimUser, SimUser, SimUser]; // cat: no photo
    tenant.photos.set(ann.id, { bytes: aJpeg("ann-1"), contentType: "image/jpeg" });
    tenant.photos.set(bob.id, { bytes: aJpeg("bob-1"), contentType: "image/jpeg" });
    const sim = await startGraphSimulator({ tenant });
    const { site, writes } = countingAvatars(makeTestSite(wp));
    const job = { ...aJob().withUniqueId().withPageSize(10).withSafety(1, 1000).build(), photos: true };
    const service = makeSyncService({
      db,
      directory: directoryFor(sim),
      site,
      jobs: [job],
      logger: silentLogger,
      stepBudgetMs: 10_000,
      maxFailedSteps: 3,
    });
    async function sync() {
      const { run } = await service.startRun(job.id, { trigger: "manual" });
      for (let i = 0; i < 50; i++) {
        const result = await service.advanceRun(run.id);
        if (["completed", "failed", "awaiting_approval"].includes(result.run!.state)) return result.run!;
      }
      throw new Error("run did not settle");
    }
    const avatarUrl = async (name: string) => {
      const user = (await wordpressUsersOf(wp, domain)).find((u) => u.email.startsWith(`${name}@`))!;
      return (await wpFetch(wp, "GET", `/wp/v2/users/${user.id}`)).body.avatar_urls["96"] as string;
    };
    try {
      expect(await sync()).toMatchObject({ state: "completed", counts: { created: 3 } });
      // Two photos written; cat has none and keeps WordPress's default at no cost.
      expect(writes()).toBe(2);
      expect(sim.counters["user.photo"]).toBe(3);
      expect(await avatarUrl("ann")).toContain("/entra-wp-sync-avatars/");
      expect(await avatarUrl("cat")).toMatch(/gravatar\.com/);
      const annUrl = await avatarUrl("ann");
      expect(isReencodedJpeg(Buffer.from(await (await fetch(annUrl)).arrayBuffer()), "ann-1")).toBe(true);

      // Nothing changed and no re-check due: no photo request to Graph, no avatar write to WordPress.
      sim.resetCounters();
      expect(await sync()).toMatchObject({ state: "completed", counts: { unchanged: 3 } });
      expect(sim.counters["user.photo"]).toBe(0);
      expect(writes()).toBe(2);

      // A week later (delta never reports photos) every photo is asked for again: bob's changed and
      // ann's is gone, two writes; cat still has none, no write.
      tenant.photos.set(bob.id, { bytes: aJpeg("bob-2"), contentType: "image/jpeg" });
      tenant.photos.delete(ann.id);
      await db.pool.query("update user_photos set checked_at = now() - interval '8 days' where job_id = $1::text", [
        job.id,
      ]);
      sim.resetCounters();
      expect(await sync()).toMatchObject({ state: "completed", counts: { unchanged: 3 } });
      expect(sim.counters["user.photo"]).toBe(3);
      expect(writes()).toBe(4);
      expect(await avatarUrl("ann")).toMatch(/gravatar\.com/);
      const bobUrl = await avatarUrl("bob");
      expect(isReencodedJpeg(Buffer.from(await (await fetch(bobUrl)).arrayBuffer()), "bob-2")).toBe(true);

      // Re-checked again with nothing changed: Graph is asked, WordPress is not.
      await db.pool.query("update user_photos set checked_at = now() - interval '8 days' where job_id = $1::text", [
        job.id,
      ]);
      sim.resetCounters();
      await sync();
      expect(sim.counters["user.photo"]).toBe(3);
      expect(writes()).toBe(4);
    } finally {
      await sim.close();
      await db.close();
    }
  });
});
