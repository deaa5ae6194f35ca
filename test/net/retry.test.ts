import { attemptTimeout, DeadlineExceeded, untilDeadline, withDeadline } from "../../src/net/deadline";
import { backoffMs, parseRetryAfter, type RetryCall, withRetries } from "../../src/net/retry";

describe("Retry-After", () => {
  const now = Date.parse("2026-11-30T00:00:00Z");
  it.each([
    ["3", 3000],
    ["2.128", 2128],
    ["0", 0],
    ["Mon, 30 Nov 2026 00:00:07 GMT", 7000],
    ["Sun, 29 Nov 2026 23:59:00 GMT", 0],
    ["soon", null],
    ["", null],
    [null, null],
  ])("reads %j as %j ms", (header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });
});

describe("backoff", () => {
  it("doubles per attempt with half of it random, capped", () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
    for (let i = 0; i < 50; i++) {
      expect(backoffMs(0, policy)).toBeGreaterThanOrEqual(50);
      expect(backoffMs(0, policy)).toBeLessThanOrEqual(100);
      expect(backoffMs(3, policy)).toBeGreaterThanOrEqual(400);
      expect(backoffMs(3, policy)).toBeLessThanOrEqual(800);
      expect(backoffMs(20, policy)).toBeLessThanOrEqual(1000);
    }
  });
});

describe("withRetries", () => {
  /** Fails `failures` times with the given Retry-After, then answers "ok"; records the waits asked for. */
  function flaky(failures: number, retryAfterMs: number | null) {
    const waits: number[] = [];
    let attempts = 0;
    const call: RetryCall<string> = {
      attempt: async () => {
        attempts++;
        if (attempts <= failures) throw new Error(`failure ${attempts}`);
        return "ok";
      },
      judge: () => ({ retry: true, retryAfterMs }),
      giveUp: (error, reason, n) => new Error(`${(error as Error).message}; ${reason} (${n})`),
    };
    const sleep = async (ms: number) => void waits.push(ms);
    return { call, waits, sleep, attempts: () => attempts };
  }

  it("retries until it succeeds, honouring Retry-After up to its cap", async () => {
    const f = flaky(2, 90_000);
    const policy = { retries: 3, baseDelayMs: 10, maxDelayMs: 100, maxRetryAfterMs: 5000, sleep: f.sleep };
    await expect(withRetries(policy, f.call, null)).resolves.toBe("ok");
    expect(f.waits).toEqual([5000, 5000]);
  });

  it("gives up after the retries, saying how many attempts were made", async () => {
    const f = flaky(10, null);
    const policy = { retries: 2, baseDelayMs: 1, maxDelayMs: 1, sleep: f.sleep };
    await expect(withRetries(policy, f.call, null)).rejects.toThrow("failure 3; gave up after 3 attempts (3)");
  });

  it("starts no wait that would end past the deadline", async () => {
    const f = flaky(10, 3000);
    const policy = { retries: 5, baseDelayMs: 1, maxDelayMs: 10_000, sleep: f.sleep };
    const error = await withRetries(policy, f.call, Date.now() + 1000).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/retrying would wait 3000 ms but the step has \d+ ms left/);
    expect(f.waits).toEqual([]);
    expect(f.attempts()).toBe(1);
  });

  it("does not retry what the judge refuses", async () => {
    const f = flaky(1, null);
    f.call.judge = () => ({ retry: false });
    await expect(withRetries({ retries: 5, baseDelayMs: 1, maxDelayMs: 1 }, f.call, null)).rejects.toThrow("failure 1");
  });

  it("takes the deadline in force when none is given", async () => {
    const f = flaky(10, 3000);
    const policy = { retries: 5, baseDelayMs: 1, maxDelayMs: 10_000, sleep: f.sleep };
    const error = await withDeadline(Date.now() + 500, () => withRetries(policy, f.call)).catch((e: Error) => e);
    expect((error as Error).message).toContain("retrying would wait 3000 ms");
  });
});

describe("the deadline in force", () => {
  it("shortens an attempt's timeout to what is left, and refuses one when nothing is", async () => {
    expect(attemptTimeout(30_000, null)).toBe(30_000);
    expect(attemptTimeout(30_000, Date.now() + 2000)).toBeLessThanOrEqual(2000);
    expect(() => attemptTimeout(30_000, Date.now() - 1)).toThrow(DeadlineExceeded);
    await withDeadline(Date.now() + 1500, async () => {
      await Promise.resolve();
      expect(attemptTimeout(30_000)).toBeLessThanOrEqual(1500);
    });
  });

  it("stops waiting for a shared promise at the deadline, leaving the promise to go on", async () => {
    let resolveBuild: (v: string) => void = () => undefined;
    const build = new Promise<string>((resolve) => {
      resolveBuild = resolve;
    });
    await expect(untilDeadline(build, Date.now() + 20)).rejects.toBeInstanceOf(DeadlineExceeded);
    resolveBuild("index");
    await expect(untilDeadline(build, Date.now() + 20)).resolves.toBe("index");
  });
});
