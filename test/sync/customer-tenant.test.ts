/**
 * A customer tenant (External ID, B2C) end to end through the engine: the Graph simulator's
 * customer mode over HTTPS with the real @azure/identity and Graph client, the fake WordPress.
 */
import type { Job } from "../../src/core/job";
import type { Database } from "../../src/db/pool";
import { parseJobsFile } from "../../src/sync/jobs";
import type { Directory } from "../../src/sync/ports";
import { FakeSite } from "../../tools/fake-wordpress";
import { aTenant, type GraphSimulator, type SimUser, startGraphSimulator } from "../../tools/graph-sim";
import { directoryFor } from "../graph/helpers";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, type Harness, makeHarness } from "../helpers/engine";

const USERS = 300;
let db: Database;
let jobs = 0;

beforeAll(async () => {
  db = await makeTestDatabase();
});
afterAll(() => db.close());

/** A job as an operator declares one for a customer tenant, through the real validation. */
function customerJob(safety = { maxDeleteFraction: 0.5, maxDeleteCount: 1000 }, match?: object): Job {
  const id = `customers_${process.pid}_${++jobs}`;
  return parseJobsFile({
    jobs: [{ id, source: { tenantKind: "external", pageSize: 999 }, safety, ...(match ? { match } : {}) }],
  })[0]!;
}

async function customerSync(
  job = customerJob(),
): Promise<{ sim: GraphSimulator; h: Harness<Directory>; site: FakeSite }> {
  const sim = await startGraphSimulator({
    tenant: aTenant().withUsers(USERS).asCustomerTenant({ social: 40, userNames: 30 }).withoutMail(10).build(),
  });
  const site = new FakeSite({ companionPlugin: true });
  const h = makeHarness<Directory>(db, { job, directory: directoryFor(sim), site });
  return { sim, h, site };
}

describe("a customer tenant as the source", () => {
  it("creates customers under their own e-mail and login, notes social providers, and skips those without an address", async () => {
    const { sim, h, site } = await customerSync();
    try {
      const run = await h.sync();
      expect(run).toMatchObject({ state: "completed", counts: { seen: USERS, created: USERS - 10, skipped: 10 } });
      expect(sim.counters["users.delta"]).toBe(0);
      const created = site.all().filter((u) => u.id !== site.selfId);
      expect(created.some((u) => /onmicrosoft\.com/.test(`${u.username} ${u.email}`))).toBe(false);
      const all = await h.service.items(run.id, { limit: 1000 });
      const notes = all.items.filter((i) => i.reason?.includes("signs in with"));
      expect(notes).toHaveLength(50);
      expect(notes.filter((i) => i.action === "skip").map((i) => i.reason)).toEqual(
        Array(10).fill(expect.stringMatching(/^no e-mail \(signs in with (google|facebook)\.com\)$/)),
      );
      await expectCountersMatchItems(h, run.id);
    } finally {
      await sim.close();
    }
  });

  it("re-scans an unchanged tenant with one Graph request per page and no WordPress request", async () => {
    const { sim, h, site } = await customerSync();
    try {
      await h.sync();
      sim.resetCounters();
      site.resetCounters();
      const again = await h.sync();
      expect(again.counts).toMatchObject({ seen: USERS, unchanged: USERS - 10, skipped: 10, created: 0, updated: 0 });
      expect(site.total()).toBe(0);
      expect(sim.graphRequests()).toBe(1);
    } finally {
      await sim.close();
    }
  });

  it("deactivates customers the listing no longer returns, found by diffing it against the user map", async () => {
    const { sim, h, site } = await customerSync();
    try {
      await h.sync();
      const gone = [...sim.tenant.users()].slice(0, 3).map((u) => u.id);
      for (const id of gone) sim.tenant.deleteUser(id, { permanent: true });
      const run = await h.sync();
      expect(run.counts).toMatchObject({ seen: USERS - 3, deactivated: 3 });
      const removed = await h.service.items(run.id, { action: "deactivate" });
      expect(removed.items.map((i) => i.entraId).sort()).toEqual([...gone].sort());
      const map = await h.userMap();
      expect(
        map
          .filter((m) => m.state === "deactivated")
          .map((m) => m.entra_id)
          .sort(),
      ).toEqual([...gone].sort());
      for (const m of map.filter((e) => e.state === "deactivated")) expect(site.isDeactivated(m.wp_user_id)).toBe(true);
    } finally {
      await sim.close();
    }
  });

  it("keeps the safety guard: too many missing customers wait for approval, and an empty listing removes nobody", async () => {
    const { sim, h } = await customerSync(customerJob({ maxDeleteFraction: 0.1, maxDeleteCount: 1000 }));
    try {
      await h.sync();
      const many = [...sim.tenant.users()].slice(0, 60).map((u) => u.id);
      for (const id of many) sim.tenant.deleteUser(id);
      const guarded = await h.sync();
      expect(guarded.state).toBe("awaiting_approval");
      const mapped = new Set((await h.userMap()).map((m) => m.entra_id));
      const candidates = many.filter((id) => mapped.has(id)).length;
      expect(guarded.lastError).toContain(
        `${candidates} removals of ${USERS - 10} mapped users exceed the safety limits`,
      );
      await h.service.cancelRun(guarded.id);

      for (const user of [...sim.tenant.users()]) sim.tenant.deleteUser(user.id);
      const empty = await h.sync();
      expect(empty).toMatchObject({ state: "completed", counts: { seen: 0, deactivated: 0 } });
      expect((await h.userMap()).every((m) => m.state === "active")).toBe(true);
    } finally {
      await sim.close();
    }
  });

  it("adopts an existing account by e-mail only on the address the customer signs in with, unless the job opts in", async () => {
    const sim = await startGraphSimulator({
      tenant: aTenant().withUsers(30).asCustomerTenant({ social: 8, userNames: 6 }).build(),
    });
    try {
      const signInOf = (user: SimUser) => user.identities?.[0]?.signInType;
      const users = [...sim.tenant.users()];
      const social = users.filter((u) => signInOf(u) === "federated");
      // Social and user-name accounts carry their address in otherMails only (tools/graph-sim/customer.ts).
      const inOtherMails = social[0]!;
      const named = users.find((u) => signInOf(u) === "userName")!;
      // A social account whose provider filled mail: no more proof than otherMails.
      const inMail = sim.tenant.updateUser(social[1]!.id, { mail: "owner.two@example.net", otherMails: [] });
      const verified = users.find((u) => signInOf(u) === "emailAddress")!;
      const addressOf = (user: SimUser) => user.identities?.[0]?.issuerAssignedId ?? "";
      const owners = new Map<string, string>([
        [inOtherMails.id, inOtherMails.otherMails![0]!],
        [named.id, named.otherMails![0]!],
        [inMail.id, "owner.two@example.net"],
        [verified.id, addressOf(verified)],
      ]);
      const unverified = [inOtherMails.id, named.id, inMail.id];

      // The site's own members, who registered with these addresses before the sync existed.
      const seedSite = () => {
        const site = new FakeSite({ companionPlugin: true });
        const ids = new Map<string, number>();
        for (const [entraId, email] of owners) {
          const account = site.seed({
            username: `member-${ids.size}`,
            email: email.toUpperCase(),
            name: "Site Member",
          });
          ids.set(entraId, account.id);
        }
        return { site, ids };
      };

      const before = seedSite();
      const h = makeHarness<Directory>(db, { job: customerJob(), directory: directoryFor(sim), site: before.site });
      const run = await h.sync();
      const items = (await h.service.items(run.id, { limit: 100 })).items;
      const mapped = new Map((await h.userMap()).map((m) => [m.entra_id, m.wp_user_id]));
      for (const entraId of unverified) {
        const item = items.find((i) => i.entraId === entraId);
        expect(item).toMatchObject({ action: "skip", status: "failed", reason: expect.stringMatching(/^not adopted/) });
        expect(item?.error).toMatch(
          /^WordPress user \d+ \(same e-mail\) exists and its address is only in (mail|otherMails), not the customer's e-mail sign-in, so it is not verified: .* unless match\.adoptUnverifiedEmails is true/,
        );
        expect(mapped.has(entraId)).toBe(false);
        const account = before.site.all().find((u) => u.id === before.ids.get(entraId));
        expect(account).toMatchObject({ name: "Site Member", roles: ["subscriber"] });
        expect(account?.meta.entra_object_id).toBeUndefined();
      }
      expect(items.find((i) => i.entraId === inMail.id)?.error).toContain("only in mail,");
      // No second account under the address either: the member's account stays the only one.
      const emails = before.site.all().map((u) => u.email.toLowerCase());
      for (const email of owners.values()) expect(emails.filter((e) => e === email.toLowerCase())).toHaveLength(1);
      // The e-mail sign-in is verified by the tenant: that account is adopted.
      expect(mapped.get(verified.id)).toBe(before.ids.get(verified.id));
      expect(items.find((i) => i.entraId === verified.id)).toMatchObject({ action: "update", status: "ok" });
      expect(run.counts).toMatchObject({ seen: 30, failed: 3, created: 30 - 4 });

      const optedIn = seedSite();
      const trusting = makeHarness<Directory>(db, {
        job: customerJob(undefined, { adoptUnverifiedEmails: true }),
        directory: directoryFor(sim),
        site: optedIn.site,
      });
      const adopted = await trusting.sync();
      expect(adopted.counts).toMatchObject({ seen: 30, failed: 0, created: 30 - 4, updated: 4 });
      const map = new Map((await trusting.userMap()).map((m) => [m.entra_id, m.wp_user_id]));
      for (const entraId of owners.keys()) expect(map.get(entraId)).toBe(optedIn.ids.get(entraId));
    } finally {
      await sim.close();
    }
  });
});
