/** The engine over HTTPS against the Graph simulator (real credential, client and paging), into the fake WordPress. */
import type { Database } from "../../src/db/pool";
import { aTenant, type GraphSimulator } from "../../tools/graph-sim";
import { directoryFor, withSimulator } from "../graph/helpers";
import { aJob } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { expectCountersMatchItems, makeHarness } from "../helpers/engine";

let db: Database;
let sim: GraphSimulator;
beforeAll(async () => {
  db = await makeTestDatabase();
  sim = await withSimulator({ tenant: aTenant().withUsers(130).withDisabled(2).build(), deltaPageSize: 50 });
});
afterAll(async () => {
  await sim.close();
  await db.close();
});

describe("the engine against the Graph simulator", () => {
  it("syncs a tenant by delta, maps roles from a group, then applies only what changed", async () => {
    const editors = sim.tenant.addGroup("Editors", { users: [1, 2, 3].map((i) => sim.tenant.userIdAt(i)) });
    const job = aJob()
      .withUniqueId()
      .withSafety(1, 1000)
      .withSourceMode("delta")
      .withPageSize(50)
      .withRoleGroup(editors.id, "editor")
      .build();
    const h = makeHarness(db, { job, directory: directoryFor(sim) });

    const first = await h.sync();
    expect(first).toMatchObject({ state: "completed", mode: "full", lastError: null });
    expect(first.counts.failed).toBe(0);
    expect(first.counts.seen).toBe(128); // 130 users, 2 disabled
    expect(first.counts.created + first.counts.skipped).toBe(first.counts.seen);
    expect(h.site.all()).toHaveLength(first.counts.created + 1);
    const editorMails = [1, 2, 3].map((i) => sim.tenant.userAt(i)!.mail).filter(Boolean);
    for (const mail of editorMails) {
      expect(h.site.all().find((u) => u.email.toLowerCase() === String(mail).toLowerCase())?.roles).toEqual(["editor"]);
    }
    await expectCountersMatchItems(h, first.id);

    const gone = sim.tenant.userAt(10)!;
    sim.tenant.deleteUser(gone.id);
    sim.tenant.updateUser(sim.tenant.userAt(20)!.id, { displayName: "Renamed Person" });
    h.site.resetCounters();
    const second = await h.sync();
    expect(second).toMatchObject({ state: "completed", mode: "delta" });
    expect(second.counts).toMatchObject({ updated: 1, deactivated: 1, failed: 0 });
    expect(h.site.writes()).toBe(2);
    await expectCountersMatchItems(h, second.id);
  });
});
