import { customerEmail, socialIssuers } from "../../src/core/customer";
import { UpstreamError } from "../../src/core/errors";
import { selectFor } from "../../src/core/mapping";
import type { GraphUser } from "../../src/core/users";
import { aTenant, type GraphSimulator } from "../../tools/graph-sim";
import { aJob } from "../helpers/builders";
import { bearer, budget, deltaQuery, directoryFor, fullQuery, listAll, withSimulator } from "./helpers";

const select = selectFor(aJob().forCustomerTenant().build());

describe("Graph directory: a customer tenant (External ID, B2C) in the simulator", () => {
  let sim: GraphSimulator;
  beforeAll(async () => {
    sim = await withSimulator({
      tenant: aTenant().withUsers(2100).asCustomerTenant({ social: 300, userNames: 200 }).withoutMail(50).build(),
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.faults.clear();
    sim.resetCounters();
  });

  it("lists customers 999 a page with generated UPNs, identities, otherMails and social issuers", async () => {
    const result = await listAll(directoryFor(sim), fullQuery({ pageSize: 999, select }));
    expect(result.pages).toBe(3);
    expect(sim.counters.users).toBe(3);
    expect(result.users).toHaveLength(2100);
    const users = result.users as GraphUser[];
    expect(sim.requestLog.every((r) => r.consistencyLevel === null && !r.path.includes("$count"))).toBe(true);
    const upn = /^[0-9a-f-]{36}@contosocustomers\.onmicrosoft\.com$/;
    expect(users.every((u) => upn.test(String(u.userPrincipalName)))).toBe(true);
    const social = users.filter((u) => socialIssuers(u).length > 0);
    expect(social).toHaveLength(350); // 300 social + 50 social without any address (withoutMail)
    expect(new Set(social.flatMap(socialIssuers))).toEqual(new Set(["google.com", "facebook.com"]));
    const named = users.filter((u) =>
      (u.identities as Array<{ signInType: string }>).some((i) => i.signInType === "userName"),
    );
    expect(named).toHaveLength(200);
    expect(users.filter((u) => customerEmail(u) === null)).toHaveLength(50);
    expect(users.filter((u) => u.mail === null).length).toBeGreaterThan(1500);
  });

  it("answers /users/delta with the error Graph gives customer tenants, which the directory reports as a configuration problem", async () => {
    const error = await directoryFor(sim)
      .fetchUsersPage(deltaQuery({ select }), null, budget())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ kind: "config", details: { status: 400, code: "Request_UnsupportedQuery" } });
    expect((error as Error).message).toContain("Change enumeration is not supported for requested tenant.");
    expect(sim.counters["users.delta"]).toBe(1); // a 400 is not retried
    expect((error as Error).message).toContain('declare the job with source.tenantKind "external"');
  });

  it("refuses advanced queries: ConsistencyLevel, $count and advanced operators", async () => {
    const token = await bearer(sim);
    const call = async (path: string, headers: Record<string, string> = {}) => {
      const reply = await fetch(`${sim.url}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
      return {
        status: reply.status,
        error: ((await reply.json()) as { error?: { code: string; message: string } }).error,
      };
    };
    expect(await call("/v1.0/users/$count", { ConsistencyLevel: "eventual" })).toEqual({
      status: 400,
      error: expect.objectContaining({
        code: "Request_BadRequest",
        message: "This request is not supported by the service",
      }),
    });
    expect(await call("/v1.0/users/$count")).toEqual({
      status: 400,
      error: expect.objectContaining({ code: "Request_BadRequest", message: "$count is not currently supported." }),
    });
    expect((await call("/v1.0/users?$count=true&$top=5")).error?.message).toBe("$count is not currently supported.");
    const advanced = await directoryFor(sim)
      .fetchUsersPage(fullQuery({ filter: "accountEnabled ne false", select }), null, budget())
      .catch((e: unknown) => e);
    expect(advanced).toMatchObject({ kind: "config", details: { status: 400, code: "Request_BadRequest" } });
    expect((await call("/v1.0/users?$top=5")).status).toBe(200);
  });
});
