/**
 * A customer tenant (External ID, B2C) end to end through the engine: the Graph simulator's
 * customer mode over HTTPS with the real @azure/identity and Graph client, the fake WordPress.
 */
import type { Job } from "../../src/core/job";
import type { Database } from "../../src/db/pool";
import { parseJobsFile } from "../../src/sync/jobs";
import type { Directory } from "../../src/sync/ports";
import { FakeSite } from "../../tools/fake-wordpress";
import { aTenant, type GraphSimulator, startGraphSimulator } from "../../tools/graph-sim";
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
function customerJob(safety = { maxDeleteFraction: 0.5, maxDeleteCount: 1000 }): Job {
  const id = `customers_${process.pid}_${++jobs}`;
  return parseJobsFile({ jobs: [{ id, source: { tenantKind: "external", pageSize: 999 }, safety }] })[0]!;
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
});
