/**
 * The watchdog notices runs that stopped moving: an active run whose last progress is older than
 * WATCHDOG_STALE_MS. The usual cause is a scheduler or uptime monitor that stopped calling the
 * continue link (trigger mode link-start-continue), or a process that keeps losing its lease.
 * It only reports: the status page shows its warnings, the log and watchdog_alarms_total count
 * each stale episode once (a run that moves again and stalls again alarms again).
 */
import { coerceError } from "../core/errors";
import { type RunSummary, STEPPABLE_STATES } from "../core/runs";
import type { Logger } from "../logger";
import type { SyncService } from "../sync/service";

export interface WatchdogWarning {
  job: string;
  runId: string | null;
  message: string;
  /** ISO time of the run's last progress. */
  since: string | null;
}

export interface Watchdog {
  /** The warnings of the last check (synchronous: what registerStatusRoutes' `watchdog` wants). */
  warnings(): WatchdogWarning[];
  check(): Promise<WatchdogWarning[]>;
  start(): void;
  stop(): void;
}

export interface WatchdogOptions {
  service: Pick<SyncService, "jobs" | "activeRun">;
  staleMs: number;
  logger: Logger;
  metrics?: { recordWatchdog(job: string): void };
  /** Default: a quarter of staleMs, at least 5 s. */
  intervalMs?: number;
  now?: () => number;
}

export function makeWatchdog(options: WatchdogOptions): Watchdog {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? Math.max(5_000, Math.floor(options.staleMs / 4));
  let current: WatchdogWarning[] = [];
  // run id -> progressedAt at the time it alarmed: a new stall of the same run alarms again.
  const alarmed = new Map<string, string>();
  let timer: NodeJS.Timeout | null = null;
  let checking: Promise<WatchdogWarning[]> | null = null;

  function warningFor(jobId: string, mode: string, run: RunSummary): WatchdogWarning | null {
    // Waiting for a person (awaiting_approval) is not a stall: approval can take days.
    if (!STEPPABLE_STATES.includes(run.state)) return null;
    const idleMs = now() - Date.parse(run.progressedAt);
    if (!(idleMs > options.staleMs)) return null;
    const hint =
      mode === "link-start-continue"
        ? "is the continue link still being called?"
        : "is a replica running the driver, and can it reach Graph, WordPress and the database?";
    return {
      job: jobId,
      runId: run.id,
      since: run.progressedAt,
      message: `run ${run.id} (${run.state}, step ${run.step}) has made no progress for ${formatMinutes(idleMs)}; ${hint}`,
    };
  }

  async function check(): Promise<WatchdogWarning[]> {
    const found: WatchdogWarning[] = [];
    const seen = new Set<string>();
    for (const job of options.service.jobs()) {
      const run = await options.service.activeRun(job.id);
      const warning = run ? warningFor(job.id, job.trigger.mode, run) : null;
      if (!run || !warning) continue;
      found.push(warning);
      seen.add(run.id);
      if (alarmed.get(run.id) !== run.progressedAt) {
        alarmed.set(run.id, run.progressedAt);
        options.metrics?.recordWatchdog(job.id);
        options.logger.warn({ job: job.id, runId: run.id, since: run.progressedAt }, `watchdog: ${warning.message}`);
      }
    }
    for (const id of alarmed.keys()) if (!seen.has(id)) alarmed.delete(id);
    current = found;
    return found;
  }

  function tick(): void {
    if (checking) return;
    checking = check().finally(() => {
      checking = null;
    });
    checking.catch((error) => options.logger.warn({ err: coerceError(error) }, "watchdog check failed"));
  }

  return {
    warnings: () => current,
    check,
    start() {
      if (timer) return;
      timer = setInterval(tick, intervalMs);
      timer.unref();
      tick();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

function formatMinutes(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
