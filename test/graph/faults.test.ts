import { aTenant, type GraphSimulator } from "../../tools/graph-sim";
import { budget, directoryFor, fullQuery, withSimulator } from "./helpers";

describe("Graph directory: throttling and transient failures", () => {
  let sim: GraphSimulator;
  beforeAll(async () => {
    sim = await withSimulator({ tenant: aTenant().withUsers(300).build() });
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.faults.clear();
    sim.resetCounters();
  });
  const firstPage = (overrides = {}, ms?: number) =>
    directoryFor(sim, overrides).fetchUsersPage(fullQuery({ pageSize: 100 }), null, budget(ms));
  const statuses = () => sim.requestLog.filter((r) => r.route === "users").map((r) => r.status);

  it("waits out a 429 with Retry-After and then succeeds", async () => {
    sim.faults.throttle(1);
    const throttleWaits: number[] = [];
    const started = Date.now();
    const page = await firstPage({ metrics: { onThrottle: (ms: number) => throttleWaits.push(ms) } });
    expect(page.users).toHaveLength(100);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(throttleWaits).toEqual([1000]);
    expect(statuses()).toEqual([429, 200]);
  });

  it("honours a fractional Retry-After and one given as an HTTP date", async () => {
    sim.faults.throttle(0.05);
    sim.faults.status(503, { retryAfter: new Date(Date.now() - 1000).toUTCString() });
    await firstPage();
    expect(statuses()).toEqual([429, 503, 200]);
  });

  it.each([503, 504, 500, 502])("retries a %p and then succeeds", async (status) => {
    sim.faults.status(status, { times: 2 });
    const page = await firstPage();
    expect(page.users).toHaveLength(100);
    expect(sim.counters.users).toBe(3);
  });

  it("retries after the connection is reset", async () => {
    sim.faults.add({ kind: "reset" });
    const page = await firstPage();
    expect(page.users).toHaveLength(100);
    expect(statuses()).toEqual([-1, 200]);
  });

  it("gives up after maxRetries with a typed error carrying status, Graph code and request id", async () => {
    sim.faults.status(503, { retryAfter: 0, times: 10 });
    const error = await firstPage({ maxRetries: 2 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "UpstreamError", source: "graph", kind: "transient" });
    const details = (error as { details: { status: number; code: string; requestId: string } }).details;
    expect(details).toMatchObject({ status: 503, code: "serviceNotAvailable" });
    expect(details.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect((error as Error).message).toContain(details.requestId);
    expect(sim.counters.users).toBe(3);
  });

  it("reports exhausted 429s as kind throttled", async () => {
    sim.faults.throttle(0, 5);
    await expect(firstPage({ maxRetries: 1 })).rejects.toMatchObject({ kind: "throttled", details: { status: 429 } });
  });

  it("reports repeated connection resets as transient with no status", async () => {
    sim.faults.add({ kind: "reset", times: 5 });
    const error = await firstPage({ maxRetries: 1 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "transient", details: {} });
    expect((error as Error).message).toContain("no response");
  });

  it("fails at once when Retry-After would run past the step budget", async () => {
    sim.faults.throttle(30);
    const started = Date.now();
    const error = await firstPage({}, 2000).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ kind: "throttled", details: { status: 429, code: "TooManyRequests" } });
    expect((error as Error).message).toContain("step has");
    expect(sim.counters.users).toBe(1);
  });

  it("shortens a long Retry-After to maxRetryAfterMs", async () => {
    sim.faults.throttle(120);
    const started = Date.now();
    await firstPage({ maxRetryAfterMs: 50 });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(sim.counters.users).toBe(2);
  });

  it("does not retry a 400", async () => {
    sim.faults.status(400, { code: "Request_BadRequest", message: "nope", times: 3 });
    await expect(firstPage()).rejects.toMatchObject({ kind: "config" });
    expect(sim.counters.users).toBe(1);
  });

  it("accepts faults queued over HTTP", async () => {
    const response = await fetch(`${sim.url}/__sim/faults`, {
      method: "POST",
      body: JSON.stringify([{ kind: "status", status: 429, retryAfter: 0, times: 2 }]),
    });
    expect(await response.json()).toEqual({ pending: 2 });
    await firstPage();
    expect(sim.requestLog.filter((r) => r.route === "users").map((r) => r.status)).toEqual([429, 429, 200]);
  });
});
