/**
 * Two Entra tenants, each with its own app registration, served by one simulator as Graph serves
 * them: a token reads only its own tenant. A token Graph stops taking (401) is dropped and a fresh
 * one asked for once; a tenant whose credentials were withdrawn fails by itself, naming its source.
 */
import { UpstreamError } from "../../src/core/errors";
import { aTenant, type GraphSimulator, type SimulatedTenant } from "../../tools/graph-sim";
import { budget, directoryFor, fullQuery, makeCapturingLogger, withSimulator } from "./helpers";

describe("two tenants in one simulator", () => {
  let sim: GraphSimulator;
  let partner: SimulatedTenant;
  beforeAll(async () => {
    sim = await withSimulator({ tenant: aTenant().withUsers(3).build() });
    partner = sim.addTenant({ tenant: aTenant().withUsers(5).build() });
  });
  afterAll(() => sim.close());

  const tokenRequests = (tenant: SimulatedTenant) =>
    sim.requestLog.filter((r) => r.route === "token" && r.tenantId === tenant.tenantId).length;
  const partnerSetting = {
    tenantId: "sources.partner.tenantId",
    clientId: "sources.partner.clientId",
    clientSecret: "PARTNER_AZURE_CLIENT_SECRET (sources.partner.clientSecretEnv)",
    certificatePath: "sources.partner.certificateFile",
    authorityHost: "AZURE_AUTHORITY_HOST",
  };

  it("answers each app with its own tenant's users, and refuses one app's secret for the other tenant", async () => {
    const own = await directoryFor(sim).fetchUsersPage(fullQuery(), null, budget());
    const theirs = await directoryFor(sim, {}, partner).fetchUsersPage(fullQuery(), null, budget());
    expect(own.users).toHaveLength(3);
    expect(theirs.users).toHaveLength(5);
    const crossed = directoryFor(sim, { clientId: partner.clientId, clientSecret: partner.clientSecret });
    await expect(crossed.fetchUsersPage(fullQuery(), null, budget())).rejects.toMatchObject({ kind: "auth" });
  });

  it("never slows one tenant while Graph throttles another", async () => {
    const throttled = directoryFor(sim, {}, partner);
    const other = directoryFor(sim);
    await Promise.all([throttled, other].map((d) => d.fetchUsersPage(fullQuery(), null, budget())));
    partner.faults.add({ kind: "status", status: 429, retryAfter: 3 });
    let throttledDone = false;
    const waiting = throttled.fetchUsersPage(fullQuery(), null, budget()).finally(() => {
      throttledDone = true;
    });
    // Sent while the throttled tenant waits out its Retry-After: answered at once, not after it.
    expect((await other.fetchUsersPage(fullQuery(), null, budget())).users).toHaveLength(3);
    expect(throttledDone).toBe(false);
    expect((await waiting).users).toHaveLength(5);
  });

  it("drops a token Graph refuses and goes on with a fresh one, dropping it once for all calls in flight", async () => {
    const { logger, lines } = makeCapturingLogger();
    const directory = directoryFor(sim, { logger }, partner);
    await directory.fetchUsersPage(fullQuery(), null, budget());
    sim.resetCounters();
    partner.revokeTokens(); // the cached token is no longer taken; the secret still is
    const pages = await Promise.all(
      Array.from({ length: 8 }, () => directory.fetchUsersPage(fullQuery(), null, budget())),
    );
    expect(pages.every((page) => page.users.length === 5)).toBe(true);
    expect(tokenRequests(partner)).toBeGreaterThanOrEqual(1);
    expect(lines.filter((line) => line.includes("asking Entra for a fresh one"))).toHaveLength(1);
    // The other tenant's token was never dropped.
    expect(tokenRequests(sim)).toBe(0);
  });

  it("fails a withdrawn tenant's calls after one fresh attempt, naming its source, while the other reads on", async () => {
    const other = sim.addTenant({ tenant: aTenant().withUsers(2).build() });
    const revoked = directoryFor(sim, { setting: partnerSetting }, other);
    const fine = directoryFor(sim);
    await Promise.all([
      revoked.fetchUsersPage(fullQuery(), null, budget()),
      fine.fetchUsersPage(fullQuery(), null, budget()),
    ]);
    sim.resetCounters();
    other.revokeCredentials();
    const failure = await revoked.fetchUsersPage(fullQuery(), null, budget()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UpstreamError);
    expect(failure).toMatchObject({ kind: "auth" });
    expect((failure as Error).message).toMatch(
      /^Could not get a Graph access token \(sources\.partner\.clientId=[^,]+, sources\.partner\.tenantId=[^)]+\): the client secret was rejected: check PARTNER_AZURE_CLIENT_SECRET \(sources\.partner\.clientSecretEnv\)/,
    );
    expect(tokenRequests(other)).toBe(1);
    expect((await fine.fetchUsersPage(fullQuery(), null, budget())).users).toHaveLength(3);
  });
});
