import { UpstreamError } from "../../src/core/errors";
import { aTenant, type GraphSimulator } from "../../tools/graph-sim";
import { budget, directoryFor, fullQuery, listAll, withSimulator } from "./helpers";

describe("Graph directory: listing users", () => {
  let sim: GraphSimulator;
  beforeAll(async () => {
    sim = await withSimulator({
      tenant: aTenant().withUsers(2500).withGuests(25).withDisabled(10).withoutMail(5).build(),
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.faults.clear();
    sim.resetCounters();
  });

  it("lists every user with one request per page and no page after the last", async () => {
    const result = await listAll(directoryFor(sim), fullQuery({ pageSize: 999 }));
    expect(result.pages).toBe(3);
    expect(sim.counters.users).toBe(3);
    expect(result.users.length + result.removed.length).toBe(2500);
    expect(result.removed).toHaveLength(10);
    expect(new Set(result.users.map((u) => u["id"])).size).toBe(2490);
  });

  it("follows the absolute nextLink, which keeps the original query", async () => {
    const page = await directoryFor(sim).fetchUsersPage(fullQuery({ pageSize: 2 }), null, budget());
    expect(page.nextLink).toMatch(new RegExp(`^${sim.url}/v1.0/users\\?.*\\$top=2.*&\\$skiptoken=[A-Za-z0-9_-]+$`));
    const second = await directoryFor(sim).fetchUsersPage(fullQuery({ pageSize: 2 }), page.nextLink, budget());
    expect(second.users.map((u) => u.id)).not.toEqual(page.users.map((u) => u.id));
    expect(sim.requestLog.filter((r) => r.route === "users").map((r) => r.status)).toEqual([200, 200]);
  });

  it("asks only for the selected attributes and gets unset ones as null", async () => {
    const page = await directoryFor(sim).fetchUsersPage(
      fullQuery({ pageSize: 50, select: ["displayName", "employeeId"] }),
      null,
      budget(),
    );
    const guestOrNot = page.users[0]!;
    expect(Object.keys(guestOrNot).sort()).toEqual(["accountEnabled", "displayName", "employeeId", "id"]);
    expect(sim.requestLog[sim.requestLog.length - 1]!.path).toContain(
      "$select=id%2CaccountEnabled%2CdisplayName%2CemployeeId",
    );
    const all = await listAll(directoryFor(sim), fullQuery({ select: ["mail", "userType"] }));
    expect(all.users.some((u) => u["mail"] === null)).toBe(true);
    expect(all.users.filter((u) => u["userType"] === "Guest").length).toBeGreaterThan(0);
  });

  it("passes a default filter through without advanced-query headers", async () => {
    const result = await listAll(
      directoryFor(sim),
      fullQuery({ pageSize: 500, filter: "userType eq 'Guest' and accountEnabled eq true" }),
    );
    expect(result.users.length).toBeGreaterThan(0);
    expect(result.users.every((u) => u["userType"] === "Guest")).toBe(true);
    expect(sim.requestLog.every((r) => r.consistencyLevel === null)).toBe(true);
    expect(result.totalCount).toBeNull();
  });

  it("sends ConsistencyLevel: eventual on every page of an advanced filter and reads @odata.count once", async () => {
    const filter = "endsWith(userPrincipalName,'#EXT#@contoso.onmicrosoft.com') or department ne 'Sales'";
    const result = await listAll(directoryFor(sim), fullQuery({ pageSize: 400, filter }));
    expect(result.pages).toBeGreaterThan(2);
    const requests = sim.requestLog.filter((r) => r.route === "users");
    expect(requests).toHaveLength(result.pages);
    expect(requests.every((r) => r.consistencyLevel === "eventual" && r.status === 200)).toBe(true);
    expect(requests.every((r) => r.path.includes("$count=true"))).toBe(true);
    expect(result.totalCount).toBe(result.users.length + result.removed.length);
  });

  it("quotes apostrophes in filters the OData way", async () => {
    const result = await listAll(directoryFor(sim), fullQuery({ filter: "startsWith(surname,'O''Brien')" }));
    expect(result.users.length).toBeGreaterThan(0);
    expect(result.users.every((u) => String(u["displayName"]).includes("O'Brien"))).toBe(true);
  });

  it.each([0, 1000, 2.5])("rejects page size %p before making any request", async (pageSize) => {
    const error = await directoryFor(sim)
      .fetchUsersPage(fullQuery({ pageSize }), null, budget())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ kind: "config", source: "graph" });
    expect((error as Error).message).toContain("pageSize");
    expect(Object.values(sim.counters).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it("turns an expired page token into kind page-expired", async () => {
    const directory = directoryFor(sim);
    const first = await directory.fetchUsersPage(fullQuery({ pageSize: 100 }), null, budget());
    sim.faults.add({ kind: "expired-page-token" });
    const error = await directory
      .fetchUsersPage(fullQuery({ pageSize: 100 }), first.nextLink, budget())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "page-expired", details: { status: 400, code: "Directory_ExpiredPageToken" } });
    expect(sim.counters.users).toBe(2);
  });

  it("reports an unsupported filter as a config problem carrying Graph's code", async () => {
    const error = await directoryFor(sim)
      .fetchUsersPage(fullQuery({ filter: "startsWith(jobTitle" }), null, budget())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "config", details: { status: 400, code: "BadRequest" } });
  });

  it("fetches one user by id and returns null for an unknown id", async () => {
    const directory = directoryFor(sim);
    const someone = sim.tenant.userAt(7)!;
    const user = await directory.fetchUser(someone.id, ["displayName", "department"], budget());
    expect(user).toMatchObject({ id: someone.id, displayName: someone.displayName });
    expect(user).not.toHaveProperty("@odata.context");
    expect(await directory.fetchUser("00000000-0000-4000-8000-000000ffffff", ["displayName"], budget())).toBeNull();
  });
});
