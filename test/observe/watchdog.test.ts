import { makeMetrics } from "../../src/observe/metrics";
import { makeWatchdog } from "../../src/observe/watchdog";
import { aJob, aRun } from "../helpers/builders";
import { silentLogger } from "../helpers/db";
import { FakeSync } from "../helpers/fake-sync";
import { parseExposition, sampleValue } from "./prom-text";

const MINUTE = 60_000;

describe("watchdog", () => {
  it("warns about an active run with no progress for longer than the limit, once per stall", async () => {
    let now = Date.parse("2030-01-01T12:00:00Z");
    const stalled = aRun()
      .forJob("staff")
      .withState("listing")
      .with({ progressedAt: new Date(now - 20 * MINUTE).toISOString() })
      .build();
    const fresh = aRun()
      .forJob("fresh")
      .withState("listing")
      .with({ progressedAt: new Date(now).toISOString() })
      .build();
    const service = new FakeSync([aJob().withId("staff").build(), aJob().withId("fresh").build()], [stalled, fresh]);
    const metrics = makeMetrics();
    const watchdog = makeWatchdog({ service, staleMs: 15 * MINUTE, logger: silentLogger, metrics, now: () => now });

    const warnings = await watchdog.check();
    await watchdog.check();

    expect(warnings).toEqual([
      {
        job: "staff",
        runId: stalled.id,
        since: stalled.progressedAt,
        message: expect.stringContaining("no progress for 20 min; is the continue link still being called?"),
      },
    ]);
    expect(watchdog.warnings()).toEqual(warnings);
    const exposition = parseExposition(await metrics.registry.metrics());
    expect(sampleValue(exposition, "entra_wp_sync_watchdog_alarms_total", { job: "staff" })).toBe(1);

    // It moves again, then stalls again: a new alarm.
    stalled.progressedAt = new Date(now).toISOString();
    expect(await watchdog.check()).toEqual([]);
    now += 16 * MINUTE;
    fresh.progressedAt = new Date(now).toISOString();
    expect(await watchdog.check()).toHaveLength(1);
    const after = parseExposition(await metrics.registry.metrics());
    expect(sampleValue(after, "entra_wp_sync_watchdog_alarms_total", { job: "staff" })).toBe(2);
  });

  it("leaves runs awaiting approval alone: they wait for a person, not for the service", async () => {
    const now = Date.now();
    const waiting = aRun()
      .forJob("staff")
      .withState("awaiting_approval")
      .with({ progressedAt: new Date(now - 3 * 24 * 60 * MINUTE).toISOString() })
      .build();
    const service = new FakeSync([aJob().withId("staff").build()], [waiting]);
    const watchdog = makeWatchdog({ service, staleMs: 15 * MINUTE, logger: silentLogger });
    expect(await watchdog.check()).toEqual([]);
  });
});
