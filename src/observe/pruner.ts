/**
 * Prunes run history in the background: once at start, then every intervalMs. The timer is
 * unref'd (it never keeps the process alive) and a failure is logged, never thrown: a database
 * hiccup just means the next tick tries again. Replicas may all run it; they share the work.
 */
import { coerceError } from "../core/errors";
import type { Queryable } from "../db/pool";
import { pruneHistory } from "../db/prune";
import type { Logger } from "../logger";

export interface Pruner {
  /** One pass now (waits for a pass already running instead of starting a second). */
  runNow(): Promise<{ runs: number; items: number }>;
  /** Stops the timer and waits for a pass in progress, so the pool can be closed after it. */
  stop(): Promise<void>;
}

export interface PrunerOptions {
  db: Queryable;
  days: number;
  /** Default: one hour. */
  intervalMs?: number;
  logger: Logger;
}

export function startPruner(options: PrunerOptions): Pruner {
  const { db, days, logger } = options;
  let running: Promise<{ runs: number; items: number }> | null = null;
  let stopped = false;

  function runNow() {
    running ??= pruneHistory(db, days)
      .then((result) => {
        if (result.runs > 0) logger.info({ ...result, olderThanDays: days }, "pruned run history");
        return result;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  function tick() {
    if (stopped) return;
    runNow().catch((error) => logger.warn({ err: coerceError(error) }, "pruning run history failed; will retry"));
  }

  const first = setTimeout(tick, 0);
  const timer = setInterval(tick, options.intervalMs ?? 3_600_000);
  first.unref();
  timer.unref();

  return {
    runNow,
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
