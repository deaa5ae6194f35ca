/**
 * A customer tenant (External ID, B2C) into a real WordPress: logins and e-mails as WordPress
 * stores them, adoption by the derived e-mail, and a re-scan that costs WordPress nothing.
 */
import { randomBytes } from "node:crypto";
import type { Database } from "../../src/db/pool";
import { parseJobsFile } from "../../src/sync/jobs";
import type { Directory } from "../../src/sync/ports";
import { aTenant, type SimIdentity, startGraphSimulator } from "../../tools/graph-sim";
import { directoryFor } from "../graph/helpers";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, makeHarness } from "../helpers/engine";
import { describeWithWordPress, makeTestSite, trackUsers, uniqueName, wpFetch } from "../helpers/wordpress";

describeWithWordPress("a customer tenant into a real WordPress", (wp) => {
  let db: Database;
  const tracked = trackUsers(wp);
  beforeAll(async () => {
    db = await makeTestDatabase();
  });
  afterAll(async () => {
    await tracked.cleanup();
    await db.close();
  });

  it("creates customers under their own login and e-mail, adopts one by e-mail, and re-scans without a WordPress request", async () => {
    const prefix = uniqueName("cust");
    const domain = "contosocustomers.onmicrosoft.com";
    const sim = await startGraphSimulator({ tenant: aTenant().withUsers(0).asCustomerTenant().build() });
    try {
      const customer = (identity: Omit<SimIdentity, "issuer"> & { issuer?: string }, otherMails: string[] = []) =>
        sim.tenant.addUser({
          identities: [{ issuer: domain, ...identity }],
          mail: null,
          otherMails,
          displayName: `${prefix} ${identity.signInType}`,
        });
      const byEmail = customer({ signInType: "emailAddress", issuerAssignedId: `${prefix}-local@example.test` });
      const byName = customer({ signInType: "userName", issuerAssignedId: `${prefix}_named` }, [
        `${prefix}-named@example.test`,
      ]);
      const social = customer({ signInType: "federated", issuer: "google.com", issuerAssignedId: "1067234512" }, [
        `${prefix}-social@example.test`,
      ]);
      const existing = customer({ signInType: "emailAddress", issuerAssignedId: `${prefix}-Known@Example.test` });
      const known = await wpFetch(wp, "POST", "/wp/v2/users", {
        username: `${prefix}-known`,
        email: `${prefix}-known@example.test`,
        password: `${prefix}-Pw-1!`,
        roles: ["subscriber"],
      });
      expect(known.status).toBe(201);
      tracked.add(known.body.id);

      let requests = 0;
      const site = makeTestSite(wp, { metrics: { onRequest: () => void requests++ } });
      const id = `customers_${process.pid}`;
      const job = parseJobsFile({
        jobs: [{ id, source: { tenantKind: "external" }, safety: { maxDeleteFraction: 1 } }],
      })[0]!;
      const h = makeHarness<Directory>(db, { job, directory: directoryFor(sim) });
      const service = h.replica({ site });
      const sync = async () => h.drive((await service.startRun(id, { trigger: "manual" })).run.id, service);

      const first = await sync();
      expect(first).toMatchObject({ state: "completed", counts: { seen: 4, created: 3, updated: 1, failed: 0 } });
      const map = new Map((await h.userMap()).map((row) => [row.entra_id, tracked.add(row.wp_user_id)]));
      const stored = async (entraId: string) =>
        (await wpFetch(wp, "GET", `/wp/v2/users/${map.get(entraId)}?context=edit`)).body;
      expect(await stored(byEmail.id)).toMatchObject({
        username: `${prefix}-local@example.test`,
        email: `${prefix}-local@example.test`,
      });
      expect(await stored(byName.id)).toMatchObject({
        username: `${prefix}_named`,
        email: `${prefix}-named@example.test`,
      });
      expect(await stored(social.id)).toMatchObject({ username: `${prefix}-social@example.test` });
      expect(map.get(existing.id)).toBe(known.body.id);
      const items = await h.service.items(first.id, { limit: 10 });
      expect(items.items.find((i) => i.entraId === social.id)?.reason).toBe("signs in with google.com");
      await expectCountersMatchItems(h, first.id);

      requests = 0;
      const again = await sync();
      expect(again.counts).toMatchObject({ seen: 4, unchanged: 4 });
      expect(requests).toBe(0);
    } finally {
      await sim.close();
    }
  });

  it("never takes over a member's account for a social customer who gives that member's address", async () => {
    const prefix = uniqueName("cust");
    // A seed of its own: the plugin keeps object ids on the shared WordPress's users, and the first
    // test's customer (seed 1) would be found by id.
    const seed = randomBytes(4).readUInt32BE(0);
    const sim = await startGraphSimulator({ tenant: aTenant().withUsers(0).withSeed(seed).asCustomerTenant().build() });
    try {
      const member = await wpFetch(wp, "POST", "/wp/v2/users", {
        username: `${prefix}-member`,
        email: `${prefix}-member@example.test`,
        name: "Site Member",
        password: `${prefix}-Pw-1!`,
        roles: ["subscriber"],
      });
      expect(member.status).toBe(201);
      tracked.add(member.body.id);
      // Anyone can sign up with Google and type someone else's address; it lands in otherMails.
      const impostor = sim.tenant.addUser({
        identities: [{ signInType: "federated", issuer: "google.com", issuerAssignedId: "1067234599" }],
        mail: null,
        otherMails: [`${prefix}-MEMBER@example.test`],
        displayName: `${prefix} Impostor`,
      });
      const id = `customers_${process.pid}_impostor`;
      const job = parseJobsFile({ jobs: [{ id, source: { tenantKind: "external" } }] })[0]!;
      const h = makeHarness<Directory>(db, { job, directory: directoryFor(sim) });
      const service = h.replica({ site: makeTestSite(wp) });
      const run = await h.drive((await service.startRun(id, { trigger: "manual" })).run.id, service);

      expect(run.counts).toMatchObject({ seen: 1, created: 0, updated: 0, failed: 1 });
      const [item] = (await h.service.items(run.id, { limit: 10 })).items;
      expect(item).toMatchObject({ entraId: impostor.id, action: "skip", wpUserId: member.body.id });
      expect(item?.error).toContain("its address is only in otherMails, not the customer's e-mail sign-in");
      expect(await h.userMap()).toEqual([]);
      const after = (await wpFetch(wp, "GET", `/wp/v2/users/${member.body.id}?context=edit`)).body;
      expect(after).toMatchObject({ name: "Site Member", roles: ["subscriber"] });
      expect(after.meta?.entra_object_id ?? "").toBe("");
    } finally {
      await sim.close();
    }
  });
});
