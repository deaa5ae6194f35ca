/**
 * The driver: the loop inside every replica that makes runs move without anyone calling a link.
 *
 * - Jobs in trigger mode `manual`, `link-start` and `schedule`: their active run is advanced step
 *   after step until it ends (completed, failed, cancelled) or waits for a person (awaiting
 *   approval). Each job has a loop of its own; at most STEPS_PER_SITE steps of one site's jobs run
 *   at once, and sites never share those slots, so a site that is down or slow holds only its own. "busy" means another replica (or a CLI `run`) holds the lease: this replica moves on
 *   and looks again after DRIVER_INTERVAL_MS. The lease, not the driver, guarantees one step at a time.
 * - Jobs in mode `link-start-continue` are never advanced here: only continue-link calls move them
 *   (the watchdog tells operators when those calls stop).
 * - `schedule` jobs are started at their cron times (src/sync/schedule.ts: once across replicas,
 *   missed fires caught up once).
 *
 * Graceful shutdown: stop() starts no new step and resolves once the step in flight has finished
 * and committed (the commit releases the lease), so a SIGTERM never abandons a step midway.
 */
import type { Logger } from "pino";
import { coerceError } from "../core/errors";
import type { Job } from "../core/job";
import { isTerminal } from "../core/runs";
import type { Database } from "../db/pool";
import { type Limiter, makeLimiter } from "../net/limiter";
import { fireSchedule } from "./schedule";
import type { AdvanceResult, SyncService } from "./service";

export interface DriverOptions {
  sync: Pick<SyncService, "advanceJob" | "startRun">;
  jobs: readonly Job[];
  db: Pick<Database, "pool">;
  logger: Logger;
  /** DRIVER_INTERVAL_MS: how often each job is looked at when there is nothing to do. */
  intervalMs: number;
  /** STEPS_PER_SITE: steps of one site's jobs run at once (default 4); sites never share these slots. */
  stepsPerSite?: number;
  /** Test hook: the clock schedules are compared with. */
  now?: () => Date;
}

export interface Driver {
  /** Looks at every job once now (schedules and active runs) instead of waiting for the interval. */
  poke(): void;
  stop(): Promise<void>;
}

/** The modes whose runs the service drives itself (DESIGN.md "Jobs", trigger.mode). */
export const SELF_DRIVEN_MODES: ReadonlySet<Job["trigger"]["mode"]> = new Set(["manual", "link-start", "schedule"]);

export function startDriver(options: DriverOptions): Driver {
  const logger = options.logger.child({ component: "driver" });
  const now = options.now ?? (() => new Date());
  let stopping = false;
  const wakers = new Set<() => void>();

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
  const wakeAll = () => {
    for (const wake of [...wakers]) wake();
  };

  // Every job is driven by a loop of its own, so jobs never wait for each other's steps; the only
  // bound is per site: a site's steps wait only for that site's slots.
  const slots = new Map<string, Limiter>();
  const slotsOf = (job: Job): Limiter => {
    let limiter = slots.get(job.site);
    if (!limiter) {
      limiter = makeLimiter(options.stepsPerSite ?? 4);
      slots.set(job.site, limiter);
    }
    return limiter;
  };

  /** Advances the job's active run until it cannot take another step now; returns the last answer. */
  async function drive(job: Job): Promise<AdvanceResult | null> {
    let last: AdvanceResult | null = null;
    while (!stopping) {
      last = await slotsOf(job).run(() => options.sync.advanceJob(job.id));
      if (!last.advanced) break;
      const state = last.run?.state;
      if (state && isTerminal(state)) {
        logger.info({ job: job.id, run: last.run?.id, state, counts: last.run?.counts }, "run ended");
        break;
      }
    }
    return last;
  }

  async function loop(job: Job): Promise<void> {
    // Replicas started together should not all look at the same instant.
    await sleep(Math.floor(Math.random() * Math.min(options.intervalMs, 1000)));
    while (!stopping) {
      try {
        if (job.trigger.mode === "schedule") {
          await fireSchedule({ sync: options.sync, db: options.db.pool, job, logger, now: now() });
        }
        if (!stopping) await drive(job);
      } catch (error) {
        // The database or the engine failed outside a step (a step's own errors are recorded on the run).
        logger.warn({ job: job.id, err: coerceError(error) }, "driver could not advance the job; trying again later");
      }
      if (!stopping) await sleep(options.intervalMs);
    }
  }

  const driven = options.jobs.filter((job) => SELF_DRIVEN_MODES.has(job.trigger.mode));
  logger.info(
    { jobs: driven.map((job) => job.id), intervalMs: options.intervalMs },
    driven.length > 0 ? "driver started" : "driver started: no job is driven by the service itself",
  );
  const loops = driven.map((job) => loop(job));
  let stopped: Promise<void> | null = null;

  return {
    poke: wakeAll,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        wakeAll();
        await Promise.all(loops);
        logger.info("driver stopped");
      })();
      return stopped;
    },
  };
}
