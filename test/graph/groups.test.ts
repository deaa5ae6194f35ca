import { aTenant, type GraphSimulator } from "../../tools/graph-sim";
import { budget, directoryFor, withSimulator } from "./helpers";

describe("Graph directory: groups", () => {
  let sim: GraphSimulator;
  beforeAll(async () => {
    sim = await withSimulator({ tenant: aTenant().withUsers(3000).build() });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.resetCounters());

  it("resolves transitive members through nested groups, users only, one request per page", async () => {
    const tenant = sim.tenant;
    const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => tenant.userAt(from + k)!.id);
    const inner = tenant.addGroup("Inner", { users: ids(1000, 1600) });
    const outer = tenant.addGroup("Outer", { users: ids(0, 1200), groups: [inner.id] });
    const directory = directoryFor(sim);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { userIds: string[]; nextLink: string | null } = await directory.fetchGroupMembersPage(
        outer.id,
        cursor,
        budget(),
      );
      seen.push(...page.userIds);
      cursor = page.nextLink;
      pages++;
    } while (cursor);
    expect(new Set(seen)).toEqual(new Set(ids(0, 1600)));
    expect(seen).toHaveLength(1600);
    expect(seen).not.toContain(inner.id);
    expect(pages).toBe(2); // 1600 users + 1 group = 1601 members at $top=999
    expect(sim.counters["group.transitiveMembers"]).toBe(2);
    expect(sim.requestLog.find((r) => r.route === "group.transitiveMembers")!.path).toContain("$select=id&$top=999");
  });

  it("checks group membership in chunks of 20 ids per request", async () => {
    const tenant = sim.tenant;
    const user = tenant.userAt(5)!;
    const inner = tenant.addGroup("Nested editors", { users: [user.id] });
    const outer = tenant.addGroup("Editors", { groups: [inner.id] });
    const unrelated = Array.from({ length: 25 }, (_, k) => tenant.addGroup(`Other ${k}`).id);
    const asked = [...unrelated.slice(0, 15), outer.id, ...unrelated.slice(15), inner.id];
    const found = await directoryFor(sim).userGroups(user.id, asked, budget());
    expect(found.sort()).toEqual([inner.id, outer.id].sort());
    expect(sim.counters["user.checkMemberGroups"]).toBe(2);
  });

  it("says a user deleted meanwhile is in no group", async () => {
    const user = sim.tenant.userAt(9)!;
    const group = sim.tenant.addGroup("Gone", { users: [user.id] });
    sim.tenant.deleteUser(user.id);
    expect(await directoryFor(sim).userGroups(user.id, [group.id], budget())).toEqual([]);
  });
});
