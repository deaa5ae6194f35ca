import { resolve } from "node:path";
import { aTenant, type GraphSimulator } from "../../tools/graph-sim";
import { budget, directoryFor, fullQuery, makeCapturingLogger, withSimulator } from "./helpers";

describe("Graph directory: credentials", () => {
  let sim: GraphSimulator;
  beforeAll(async () => {
    sim = await withSimulator({ tenant: aTenant().withUsers(20).build() });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.resetCounters());
  const list = (overrides = {}) =>
    directoryFor(sim, overrides).fetchUsersPage(fullQuery({ pageSize: 10 }), null, budget());

  it("gets a token with the client secret, sends it as a bearer and logs requests without it", async () => {
    const { logger, lines } = makeCapturingLogger();
    const page = await list({ logger });
    expect(page.users).toHaveLength(10);
    expect(sim.counters.discovery).toBe(1);
    expect(sim.counters.token).toBe(1);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toContainEqual(
      expect.objectContaining({ method: "GET", path: "/v1.0/users", status: 200, ms: expect.any(Number) }),
    );
    const text = lines.join("\n");
    expect(text).not.toMatch(/Bearer|sim\.[A-Za-z0-9_-]{20,}|authorization/i);
    expect(text).not.toContain(sim.clientSecret);
  });

  it("rejects a wrong client secret as kind auth, naming AZURE_CLIENT_SECRET and not the secret", async () => {
    const wrong = "wrong-secret-value-123";
    const error = await list({ clientSecret: wrong }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: "UpstreamError",
      source: "graph",
      kind: "auth",
      details: { code: "AADSTS7000215" },
    });
    const message = (error as Error).message;
    expect(message).toContain("AZURE_CLIENT_SECRET");
    expect(message).not.toContain(wrong);
    expect(sim.graphRequests()).toBe(0);
  });

  it("rejects an unknown client id as kind auth naming AZURE_CLIENT_ID", async () => {
    const error = await list({ clientId: "00000000-1111-4222-8333-444444444444" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "auth" });
    expect((error as Error).message).toContain("AZURE_CLIENT_ID");
  });

  it("rejects an unknown tenant as kind auth naming AZURE_TENANT_ID", async () => {
    const error = await list({ tenantId: "11111111-2222-4333-8444-555555555555" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "auth" });
    expect((error as Error).message).toContain("AZURE_TENANT_ID");
  });

  it("reports an unreachable authority as kind transient (the run retries it) naming AZURE_AUTHORITY_HOST", async () => {
    const error = await list({ authorityHost: "https://127.0.0.1:1" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "transient" });
    expect((error as Error).message).toContain("AZURE_AUTHORITY_HOST");
  });

  it("authenticates with a certificate through a signed client assertion", async () => {
    const page = await list({ clientSecret: undefined, certificatePath: resolve(".tmp/certs/client-cert.pem") });
    expect(page.users).toHaveLength(10);
    expect(sim.requestLog.find((r) => r.route === "token")?.status).toBe(200);
  });

  it("rejects a certificate the app does not know as kind auth naming AZURE_CLIENT_CERTIFICATE_PATH", async () => {
    // server.pem + server.key is a valid key pair, but not the app's registered certificate.
    const { readFileSync, writeFileSync } = await import("node:fs");
    const other = resolve(".tmp/certs/not-the-app.pem");
    writeFileSync(other, readFileSync(".tmp/certs/server.pem", "utf8") + readFileSync(".tmp/certs/server.key", "utf8"));
    const error = await list({ clientSecret: undefined, certificatePath: other }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "auth" });
    expect((error as Error).message).toContain("AZURE_CLIENT_CERTIFICATE_PATH");
  });

  it("treats a 401 from Graph as kind auth once a fresh token is refused too, without the retry loop", async () => {
    const directory = directoryFor(sim);
    await directory.fetchUsersPage(fullQuery({ pageSize: 5 }), null, budget());
    sim.faults.add({ kind: "status", status: 401, code: "InvalidAuthenticationToken", times: 2 });
    const error = await directory.fetchUsersPage(fullQuery({ pageSize: 5 }), null, budget()).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "auth", details: { status: 401, code: "InvalidAuthenticationToken" } });
    expect((error as Error).message).toContain("A fresh access token was refused too");
    // The first page, then the refused request and its one repetition with a fresh token.
    expect(sim.counters.users).toBe(3);
  });
});
