/**
 * Starting `schedule` jobs at their cron times (DESIGN.md "Jobs": trigger.mode "schedule").
 *
 * A due time fires once across every replica: the replica whose insert into schedule_fires
 * succeeds starts the run; the others see the row and do nothing.
 *
 * Missed fires (every replica down over one or more due times) are caught up ONCE: after an outage
 * the latest due time not yet recorded fires, the earlier ones are skipped. Running a daily sync
 * three times in a row because the service was down for three days would only redo the same work.
 *
 * A due time that comes while a run of the job is still active is recorded (so it is not retried)
 * and logged, but starts no second run: one active run per job is the engine's invariant.
 */
import { Cron } from "croner";
import type { Logger } from "pino";
import type { Job } from "../core/job";
import type { Queryable } from "../db/pool";
import { deleteFire, recordFire, scheduleReference, setFireRun } from "../db/schedule-fires";
import type { SyncService } from "./service";

/** Past this many due times between the reference and now, look only at the last day (a per-second cron after a long outage). */
const MAX_WALK = 100_000;

/**
 * The latest due time of the cron expression after `after` and at or before `now`, in the job's
 * time zone; null when none is due. Croner only computes forward, so this walks from `after`.
 */
export function latestDue(expression: string, timezone: string, after: Date, now: Date): Date | null {
  const cron = new Cron(expression, { timezone, paused: true });
  let from = after;
  for (let attempt = 0; attempt < 2; attempt++) {
    let due = cron.nextRun(from);
    if (!due || due > now) return null;
    for (let steps = 0; steps < MAX_WALK; steps++) {
      const next = cron.nextRun(due);
      if (!next || next > now) return due;
      due = next;
    }
    from = new Date(Math.max(after.getTime(), now.getTime() - 86_400_000));
  }
  return null;
}

export type FireOutcome =
  | { fired: false; reason: "not due" | "fired elsewhere" }
  | { fired: true; dueAt: Date; started: boolean; runId: string };

/**
 * Fires the job's schedule when a due time has come and no replica fired it yet. Starts the run
 * (trigger "schedule") or, when a run is active, records the fire against that run and logs it.
 */
export async function fireSchedule(options: {
  sync: Pick<SyncService, "startRun">;
  db: Queryable;
  job: Job;
  logger: Logger;
  now?: Date;
}): Promise<FireOutcome> {
  const { job, db, logger } = options;
  const expression = job.trigger.schedule;
  if (job.trigger.mode !== "schedule" || !expression) return { fired: false, reason: "not due" };
  const now = options.now ?? new Date();
  const reference = await scheduleReference(db, job.id);
  if (!reference) return { fired: false, reason: "not due" };
  const dueAt = latestDue(expression, job.trigger.timezone, reference, now);
  if (!dueAt) return { fired: false, reason: "not due" };
  if (!(await recordFire(db, job.id, dueAt))) return { fired: false, reason: "fired elsewhere" };

  let result: Awaited<ReturnType<SyncService["startRun"]>>;
  try {
    result = await options.sync.startRun(job.id, { trigger: "schedule" });
  } catch (error) {
    // Not lost: without its row the due time is still the latest one, and fires at the next look.
    await deleteFire(db, job.id, dueAt).catch(() => undefined);
    throw error;
  }
  await setFireRun(db, job.id, dueAt, result.run.id);
  const log = logger.child({ job: job.id, dueAt: dueAt.toISOString(), run: result.run.id });
  if (result.started) {
    log.info("schedule fired: run started");
  } else {
    log.warn(
      `schedule due at ${dueAt.toISOString()} while run ${result.run.id} is still ${result.run.state}: ` +
        "recorded, no second run started",
    );
  }
  return { fired: true, dueAt, started: result.started, runId: result.run.id };
}
