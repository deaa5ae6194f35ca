/**
 * The access layer cannot be turned against the operator: failed authentications are budgeted per
 * address but never stop a valid token; valid calls are budgeted per job and action (links) or
 * per admin token, not per address; every count lives in PostgreSQL, shared by replicas.
 */
import { secretDigest } from "../../src/core/hash";
import { aJob, aRun } from "../helpers/builders";
import { type Harness, makeHarness } from "./harness";

// Only Date is faked: the budgets read the clock through it, while Fastify and light-my-request
// keep their real timers.
const REAL_TIMERS = [
  "nextTick",
  "setImmediate",
  "clearImmediate",
  "setTimeout",
  "clearTimeout",
  "setInterval",
  "clearInterval",
  "queueMicrotask",
  "hrtime",
  "performance",
] as const;

const ATTACKER = "203.0.113.9";
const MONITOR = "198.51.100.7";
const PROXY = "10.0.0.1";

let h: Harness;
let now: number;
beforeEach(() => {
  jest.useFakeTimers({ doNotFake: [...REAL_TIMERS] });
  now = Date.parse("2025-06-01T12:00:00Z");
  jest.setSystemTime(now);
});
afterEach(async () => {
  await h.app.close();
  jest.useRealTimers();
});

function advance(ms: number) {
  now += ms;
  jest.setSystemTime(now);
}

function get(url: string, remoteAddress: string, headers: Record<string, string> = {}) {
  return h.app.inject({ method: "GET", url, remoteAddress, headers });
}

describe("the failed-authentication budget", () => {
  it("answers 1,000 bad tokens from one address with 401 then 429, and still serves a valid continue link and admin call from it", async () => {
    h = await makeHarness();
    h.sync.addRun(aRun().forJob("staff").build());
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const guess =
        i % 2 === 0
          ? await get(`/v1/jobs/staff/continue?token=guess${i}.x.y`, ATTACKER)
          : await get("/v1/jobs", ATTACKER, { authorization: `Bearer guess-${i}` });
      statuses.set(guess.statusCode, (statuses.get(guess.statusCode) ?? 0) + 1);
    }
    // RATE_LIMIT_AUTH_FAILURES (10) answered 401, the rest 429: the guesser is told to wait.
    expect(Object.fromEntries(statuses)).toEqual({ 401: 10, 429: 990 });
    const locked = await get("/v1/jobs/staff/continue?token=guess.x.y", ATTACKER);
    expect(locked.statusCode).toBe(429);
    expect(locked.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(800);
    expect(Number(locked.headers["retry-after"])).toBeLessThanOrEqual(900);

    const valid = await h.token("staff", "continue");
    const monitor = await get(`/v1/jobs/staff/continue?token=${valid}`, ATTACKER);
    expect(monitor.statusCode).toBe(200);
    expect(monitor.json()).toMatchObject({ job: "staff", advanced: true });
    expect((await get("/v1/jobs", ATTACKER, h.admin)).statusCode).toBe(200);
    expect(h.logLines.filter((line) => line.includes("too many failed authentications"))).toHaveLength(1);
  });

  it("opens again once the 15-minute window is over", async () => {
    h = await makeHarness({ env: { RATE_LIMIT_AUTH_FAILURES: "2" } });
    for (let i = 0; i < 3; i++) await get("/v1/jobs/staff/continue?token=bad.x.y", ATTACKER);
    expect((await get("/v1/jobs/staff/continue?token=bad.x.y", ATTACKER)).statusCode).toBe(429);
    advance(15 * 60_000 + 1000);
    expect((await get("/v1/jobs/staff/continue?token=bad.x.y", ATTACKER)).statusCode).toBe(401);
  });

  it("counts tokens for another job or action (403) but not a start link refused by the job's trigger mode", async () => {
    h = await makeHarness({ env: { RATE_LIMIT_AUTH_FAILURES: "3" } });
    const manualStart = await h.token("archive", "start");
    for (let i = 0; i < 5; i++) {
      expect((await get(`/v1/jobs/archive/start?token=${manualStart}`, MONITOR)).statusCode).toBe(403);
    }
    const otherJob = await h.token("contractors", "start");
    for (let i = 0; i < 3; i++) {
      expect((await get(`/v1/jobs/staff/start?token=${otherJob}`, ATTACKER)).statusCode).toBe(403);
    }
    expect((await get(`/v1/jobs/staff/start?token=${otherJob}`, ATTACKER)).statusCode).toBe(429);
  });

  it("tells clients behind a trusted proxy apart by X-Forwarded-For, and ignores the header from anyone else", async () => {
    h = await makeHarness({ env: { TRUST_PROXY: PROXY, RATE_LIMIT_AUTH_FAILURES: "2" } });
    for (let i = 0; i < 3; i++)
      await get("/v1/jobs/staff/continue?token=bad.x.y", PROXY, { "x-forwarded-for": ATTACKER });
    const attacker = await get("/v1/jobs/staff/continue?token=bad.x.y", PROXY, { "x-forwarded-for": ATTACKER });
    expect(attacker.statusCode).toBe(429);
    // Another client behind the same proxy has its own budget.
    const monitor = await get("/v1/jobs/staff/continue?token=bad.x.y", PROXY, { "x-forwarded-for": MONITOR });
    expect(monitor.statusCode).toBe(401);
    // A client that is not the proxy cannot pick an address: it spends its own.
    for (let i = 0; i < 2; i++)
      await get("/v1/jobs/staff/continue?token=bad.x.y", ATTACKER, { "x-forwarded-for": MONITOR });
    const forged = await get("/v1/jobs/staff/continue?token=bad.x.y", ATTACKER, { "x-forwarded-for": "192.0.2.1" });
    expect(forged.statusCode).toBe(429);
  });

  it("without TRUST_PROXY counts everyone behind a proxy as one address, and still serves valid tokens", async () => {
    h = await makeHarness({ env: { RATE_LIMIT_AUTH_FAILURES: "2" } });
    h.sync.addRun(aRun().forJob("staff").build());
    for (let i = 0; i < 3; i++)
      await get("/v1/jobs/staff/continue?token=bad.x.y", PROXY, { "x-forwarded-for": ATTACKER });
    const guess = await get("/v1/jobs/staff/continue?token=bad.x.y", PROXY, { "x-forwarded-for": MONITOR });
    expect(guess.statusCode).toBe(429);
    const valid = await h.token("staff", "continue");
    expect(
      (await get(`/v1/jobs/staff/continue?token=${valid}`, PROXY, { "x-forwarded-for": MONITOR })).statusCode,
    ).toBe(200);
  });
});

describe("the budgets of valid calls", () => {
  it("are kept per job and action, not per address: a runaway scheduler only spends its own job's", async () => {
    h = await makeHarness({ env: { RATE_LIMIT_MAX: "3" } });
    const staff = await h.token("staff", "continue");
    for (let i = 0; i < 3; i++) {
      expect((await get(`/v1/jobs/staff/continue?token=${staff}`, ATTACKER)).statusCode).toBe(200);
    }
    const limited = await get(`/v1/jobs/staff/continue?token=${staff}`, MONITOR);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(limited.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(limited.json()).toMatchObject({ status: 429, title: "Too Many Requests" });
    // Same address, another job or another action: their own budgets.
    const contractors = await h.token("contractors", "continue");
    expect((await get(`/v1/jobs/contractors/continue?token=${contractors}`, ATTACKER)).statusCode).toBe(200);
    const start = await h.token("staff", "start");
    expect((await get(`/v1/jobs/staff/start?token=${start}`, ATTACKER)).statusCode).toBe(200);
    advance(61_000);
    expect((await get(`/v1/jobs/staff/continue?token=${staff}`, ATTACKER)).statusCode).toBe(200);
  });

  it("never throttle a hundred monitors behind one egress address, each calling its job once a minute", async () => {
    const jobs = Array.from({ length: 100 }, (_, i) => aJob().withId(`site-${i}`).build());
    h = await makeHarness({ jobs, env: { RATE_LIMIT_MAX: "2" } });
    const tokens = await Promise.all(jobs.map((job) => h.token(job.id, "continue")));
    for (let minute = 0; minute < 3; minute++) {
      for (const [i, job] of jobs.entries()) {
        expect((await get(`/v1/jobs/${job.id}/continue?token=${tokens[i]}`, PROXY)).statusCode).toBe(200);
      }
      advance(60_000);
    }
  });

  it("keep the admin token's own budget (RATE_LIMIT_ADMIN_MAX), apart from the links'", async () => {
    h = await makeHarness({ env: { RATE_LIMIT_MAX: "1", RATE_LIMIT_ADMIN_MAX: "3" } });
    for (let i = 0; i < 3; i++) expect((await get("/v1/jobs", MONITOR, h.admin)).statusCode).toBe(200);
    const limited = await get("/status", ATTACKER, h.admin);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["retry-after"]).toBeDefined();
    const staff = await h.token("staff", "continue");
    expect((await get(`/v1/jobs/staff/continue?token=${staff}`, MONITOR)).statusCode).toBe(200);
  });
});

describe("two replicas on one database", () => {
  it("give a guesser one failure budget, not one each", async () => {
    h = await makeHarness({ env: { RATE_LIMIT_AUTH_FAILURES: "10" } });
    const other = await h.replica();
    try {
      const replicas = [h.app, other];
      const guess = (i: number) =>
        replicas[i % 2]!.inject({
          method: "GET",
          url: "/v1/jobs/staff/continue?token=bad.x.y",
          remoteAddress: ATTACKER,
        });
      for (let i = 0; i < 10; i++) expect((await guess(i)).statusCode).toBe(401);
      expect((await guess(10)).statusCode).toBe(429);
      expect((await guess(11)).statusCode).toBe(429);
    } finally {
      await other.close();
    }
  });

  it("share the budget of a job's valid calls", async () => {
    h = await makeHarness({ env: { RATE_LIMIT_MAX: "4" } });
    const other = await h.replica();
    try {
      const token = await h.token("staff", "continue");
      const call = (app: typeof other) => app.inject({ method: "GET", url: `/v1/jobs/staff/continue?token=${token}` });
      const statuses = [];
      for (const app of [h.app, other, h.app, other, h.app, other]) statuses.push((await call(app)).statusCode);
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    } finally {
      await other.close();
    }
  });
});

describe("/metrics", () => {
  const METRICS_TOKEN = "metrics-token-0123456789abcdef";

  it("is open without METRICS_TOKEN", async () => {
    h = await makeHarness();
    expect((await get("/metrics", MONITOR)).statusCode).toBe(200);
  });

  it("needs METRICS_TOKEN as a bearer token when it is set, counting wrong ones as failures", async () => {
    h = await makeHarness({
      env: { RATE_LIMIT_AUTH_FAILURES: "2" },
      secrets: { metricsTokenDigest: secretDigest(METRICS_TOKEN) },
    });
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const none = await get("/metrics", ATTACKER);
    expect(none.statusCode).toBe(401);
    expect(none.json().detail).toContain("METRICS_TOKEN");
    // The request without a token was no guess: two wrong ones spend the budget, the third is 429.
    expect((await get("/metrics", ATTACKER, bearer("wrong-metrics-token"))).statusCode).toBe(401);
    expect((await get("/metrics", ATTACKER, bearer("wrong-metrics-token"))).statusCode).toBe(401);
    expect((await get("/metrics", ATTACKER, bearer("wrong-metrics-token"))).statusCode).toBe(429);
    const scrape = await get("/metrics", ATTACKER, bearer(METRICS_TOKEN));
    expect(scrape.statusCode).toBe(200);
    expect(scrape.body).toContain("entra_wp_sync_");
    // The admin token is not the metrics token.
    expect((await get("/metrics", MONITOR, h.admin)).statusCode).toBe(401);
  });
});
