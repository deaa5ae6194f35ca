import { aTenant, type GraphSimulator } from "../../tools/graph-sim";
import { bearer, budget, deltaQuery, directoryFor, listAll, withSimulator } from "./helpers";

describe("Graph directory: delta", () => {
  let sim: GraphSimulator;
  beforeEach(async () => {
    sim = await withSimulator({ tenant: aTenant().withUsers(450).withDisabled(3).build() });
  });
  afterEach(() => sim.close());

  it("reads the initial delta in pages of about 200 and ends with a deltaLink", async () => {
    const result = await listAll(directoryFor(sim), deltaQuery());
    expect(result.pages).toBe(3);
    expect(sim.counters["users.delta"]).toBe(3);
    expect(result.users).toHaveLength(447);
    expect(result.removed).toHaveLength(3);
    expect(result.deltaLink).toMatch(new RegExp(`^${sim.url}/v1.0/users/delta\\?\\$deltatoken=`));
  });

  it("returns only what changed since the deltaLink, with deleted and disabled users as removed", async () => {
    const directory = directoryFor(sim);
    const initial = await listAll(directory, deltaQuery());
    const [renamed, softDeleted, hardDeleted, disabled] = [10, 11, 12, 13].map((i) => sim.tenant.userAt(i)!);
    sim.tenant.updateUser(renamed!.id, { displayName: "Renamed Person" });
    sim.tenant.updateUser(sim.tenant.userAt(14)!.id, { mobilePhone: "+1 555 0100" }); // not selected: not tracked
    sim.tenant.deleteUser(softDeleted!.id);
    sim.tenant.deleteUser(hardDeleted!.id, { permanent: true });
    sim.tenant.disableUser(disabled!.id);
    const added = sim.tenant.addUser({ displayName: "Łukasz New" });
    sim.resetCounters();

    const changes = await listAll(directory, deltaQuery(), initial.deltaLink);
    expect(sim.counters["users.delta"]).toBe(1);
    expect(changes.users.map((u) => u["displayName"]).sort()).toEqual(["Renamed Person", "Łukasz New"]);
    expect(changes.users.find((u) => u.id === added.id)).toMatchObject({ accountEnabled: true, userType: "Member" });
    expect(changes.removed.sort()).toEqual([softDeleted!.id, hardDeleted!.id, disabled!.id].sort());
    expect(changes.deltaLink).not.toBeNull();

    const raw = sim.requestLog[0]!;
    expect(raw.path).toContain("$deltatoken=");
    const nothing = await listAll(directory, deltaQuery(), changes.deltaLink);
    expect(nothing.users).toHaveLength(0);
    expect(nothing.removed).toHaveLength(0);
  });

  it("reports both @removed reasons in the wire format Graph uses", async () => {
    const initial = await listAll(directoryFor(sim), deltaQuery());
    const soft = sim.tenant.userAt(1)!;
    const hard = sim.tenant.userAt(2)!;
    sim.tenant.deleteUser(soft.id);
    sim.tenant.deleteUser(hard.id, { permanent: true });
    const response = await fetch(initial.deltaLink!, { headers: { Authorization: `Bearer ${await bearer(sim)}` } });
    const body = (await response.json()) as { value: unknown[] };
    expect(body.value).toEqual([
      { id: soft.id, "@removed": { reason: "changed" } },
      { id: hard.id, "@removed": { reason: "deleted" } },
    ]);
  });

  it("starts from now with $deltatoken=latest", async () => {
    const directory = directoryFor(sim);
    // Tracking is limited to the $select given with "latest" (user-delta.md), so department goes in.
    const latest = `${sim.url}/v1.0/users/delta?$select=id,accountEnabled,department&$deltatoken=latest`;
    const page = await directory.fetchUsersPage(deltaQuery(), latest, budget());
    expect(page.users).toHaveLength(0);
    expect(page.deltaLink).not.toBeNull();
    sim.tenant.updateUser(sim.tenant.userAt(3)!.id, { department: "Finance" });
    const next = await directory.fetchUsersPage(deltaQuery(), page.deltaLink, budget());
    expect(next.users.map((u) => u.id)).toEqual([sim.tenant.userAt(3)!.id]);
  });

  it.each([
    ["410 Gone", "delta-gone", 410, "resyncRequired"],
    ["400 syncStateNotFound", "delta-sync-state-not-found", 400, "syncStateNotFound"],
    ["400 resyncRequired", "delta-resync-required", 400, "resyncRequired"],
  ] as const)("turns %s on a deltaLink into kind delta-expired", async (_name, kind, status, code) => {
    const directory = directoryFor(sim);
    const initial = await listAll(directory, deltaQuery());
    sim.faults.add({ kind });
    const error = await directory.fetchUsersPage(deltaQuery(), initial.deltaLink, budget()).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "UpstreamError", kind: "delta-expired", details: { status, code } });
    expect((error as Error).message).toContain("full listing");
  });
});
