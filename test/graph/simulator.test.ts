/** The simulator's own fidelity to Graph, checked over the wire with plain fetch. */
import { aTenant, GRAPH_CONTENT_TYPE, type GraphSimulator } from "../../tools/graph-sim";
import { bearer, withSimulator } from "./helpers";

describe("Graph simulator", () => {
  let sim: GraphSimulator;
  let token: string;
  beforeAll(async () => {
    sim = await withSimulator({ tenant: aTenant().withUsers(100_000).withGuests(10).withoutMail(3).build() });
    token = await bearer(sim);
  });
  afterAll(() => sim.close());
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${sim.url}${path}`, { headers: { Authorization: `Bearer ${token}`, ...headers } });

  it("answers with Graph's content type and error envelope", async () => {
    const response = await get("/v1.0/users?$top=1000");
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe(GRAPH_CONTENT_TYPE);
    const body = (await response.json()) as {
      error: { code: string; message: string; innerError: Record<string, string> };
    };
    expect(body.error.code).toBe("Request_UnsupportedQuery");
    expect(body.error.message).toBe("Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.");
    expect(Object.keys(body.error.innerError).sort()).toEqual(["client-request-id", "date", "request-id"]);
  });

  it("refuses Graph calls without a bearer token", async () => {
    const response = await fetch(`${sim.url}/v1.0/users`);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("InvalidAuthenticationToken");
  });

  it("returns the default property set with 100 users per page when nothing is asked", async () => {
    const body = (await (await get("/v1.0/users")).json()) as { value: Array<Record<string, unknown>> };
    expect(body.value).toHaveLength(100);
    expect(Object.keys(body.value[0]!).sort()).toEqual(
      [
        "businessPhones",
        "displayName",
        "givenName",
        "id",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
      ].sort(),
    );
  });

  it("needs ConsistencyLevel and $count=true for endsWith, and counts on the first page only", async () => {
    const filter = encodeURIComponent("endsWith(userPrincipalName,'#EXT#@contoso.onmicrosoft.com')");
    expect((await get(`/v1.0/users?$filter=${filter}`)).status).toBe(400);
    expect((await get(`/v1.0/users?$filter=${filter}&$count=true`)).status).toBe(400);
    const first = (await (
      await get(`/v1.0/users?$filter=${filter}&$count=true&$top=4`, { ConsistencyLevel: "eventual" })
    ).json()) as Record<string, unknown>;
    expect(first["@odata.count"]).toBe(10);
    const second = (await (
      await get(String(first["@odata.nextLink"]).slice(sim.url.length), { ConsistencyLevel: "eventual" })
    ).json()) as Record<string, unknown>;
    expect(second).not.toHaveProperty("@odata.count");
    expect(second["value"]).toHaveLength(4);
  });

  it("generates guests, users without mail, apostrophes and non-ASCII names deterministically", () => {
    const users = [...Array(40).keys()].map((i) => sim.tenant.userAt(i)!);
    const names = users.map((u) => u.displayName).join(" ");
    expect(names).toContain("O'Brien");
    expect(names).toMatch(/Zoë|Łukasz|山田/);
    const all = [...sim.tenant.users()];
    expect(all.filter((u) => u.userType === "Guest" && u.userPrincipalName.includes("#EXT#"))).toHaveLength(10);
    expect(all.filter((u) => u.mail === null)).toHaveLength(3);
    expect(aTenant().withUsers(100_000).build().userAt(99_999)).toEqual(sim.tenant.userAt(99_999));
  });
});
