import { aRun } from "../helpers/builders";
import { type Harness, makeHarness } from "./harness";

// Only Date is faked: the rate-limit store and jose read the clock through it, while Fastify
// and light-my-request keep their real timers.
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
  it("answers 429 with Retry-After after 10 bad tokens from one address while a monitor elsewhere keeps working", async () => {
    h = await makeHarness();
    h.sync.addRun(aRun().forJob("staff").build());
    const valid = await h.token("staff", "continue");
    for (let i = 0; i < 10; i++) {
      const guess = await get(`/v1/jobs/staff/continue?token=guess${i}.x.y`, ATTACKER);
      expect(guess.statusCode).toBe(401);
    }
    const locked = await get("/v1/jobs/staff/continue?token=guess.x.y", ATTACKER);
    expect(locked.statusCode).toBe(429);
    expect(locked.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(800);
    expect(Number(locked.headers["retry-after"])).toBeLessThanOrEqual(900);
    // Locked out before the token is looked at: a right guess gets no different answer.
    expect((await get(`/v1/jobs/staff/continue?token=${valid}`, ATTACKER)).statusCode).toBe(429);

    for (let minute = 0; minute < 20; minute++) {
      const call = await get(`/v1/jobs/staff/continue?token=${valid}`, MONITOR);
      expect(call.statusCode).toBe(200);
      advance(60_000);
    }
    // 20 minutes later the attacker's window is over.
    expect((await get(`/v1/jobs/staff/continue?token=${valid}`, ATTACKER)).statusCode).toBe(200);
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

  it("counts wrong admin tokens and then refuses even the right one from that address", async () => {
    h = await makeHarness({ env: { RATE_LIMIT_AUTH_FAILURES: "3" } });
    for (let i = 0; i < 3; i++) {
      const wrong = await get("/v1/jobs", ATTACKER, { authorization: `Bearer guess-${i}` });
      expect(wrong.statusCode).toBe(401);
    }
    const locked = await get("/v1/jobs", ATTACKER, h.admin);
    expect(locked.statusCode).toBe(429);
    expect(locked.headers["retry-after"]).toBeDefined();
    expect((await get("/v1/jobs", MONITOR, h.admin)).statusCode).toBe(200);
  });

  it("tells clients apart by X-Forwarded-For only when TRUST_PROXY is set", async () => {
    const proxy = "10.0.0.1";
    for (const [trust, monitorStatus] of [
      ["true", 200],
      ["false", 429],
    ] as const) {
      h = await makeHarness({ env: { TRUST_PROXY: trust, RATE_LIMIT_AUTH_FAILURES: "2" } });
      const valid = await h.token("staff", "continue");
      for (let i = 0; i < 2; i++) {
        await get("/v1/jobs/staff/continue?token=bad.x.y", proxy, { "x-forwarded-for": ATTACKER });
      }
      const monitor = await get(`/v1/jobs/staff/continue?token=${valid}`, proxy, { "x-forwarded-for": MONITOR });
      expect(monitor.statusCode).toBe(monitorStatus);
      await h.app.close();
    }
    h = await makeHarness();
  });
});

describe("the per-address limit on trigger links", () => {
  it("answers 429 with Retry-After past RATE_LIMIT_MAX calls a minute, and never throttles a call a minute", async () => {
    h = await makeHarness({ env: { RATE_LIMIT_MAX: "3" } });
    const valid = await h.token("staff", "continue");
    for (let minute = 0; minute < 10; minute++) {
      expect((await get(`/v1/jobs/staff/continue?token=${valid}`, MONITOR)).statusCode).toBe(200);
      advance(60_000);
    }
    for (let i = 0; i < 3; i++) {
      expect((await get(`/v1/jobs/staff/continue?token=${valid}`, ATTACKER)).statusCode).toBe(200);
    }
    const limited = await get(`/v1/jobs/staff/continue?token=${valid}`, ATTACKER);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(limited.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(limited.json()).toMatchObject({ status: 429, title: "Too Many Requests" });
    advance(61_000);
    expect((await get(`/v1/jobs/staff/continue?token=${valid}`, ATTACKER)).statusCode).toBe(200);
  });

  it("does not limit the admin API by the trigger-link budget", async () => {
    h = await makeHarness({ env: { RATE_LIMIT_MAX: "2" } });
    for (let i = 0; i < 5; i++) expect((await get("/v1/jobs", MONITOR, h.admin)).statusCode).toBe(200);
  });
});
