/**
 * One step of a run, with the lease already held: dispatch by state and phase, and turn what went
 * wrong into the run's next state (DESIGN.md "Run state machine"; src/core/errors.ts for the kinds).
 */
import type { Logger } from "pino";
import { coerceError, UpstreamError } from "../core/errors";
import type { Job } from "../core/job";
import { getDeltaLink, setDeltaLink } from "../db/jobs";
import { type Database, withTransaction } from "../db/pool";
import { findRun, type Run, recordStepFailure, updateLeased } from "../db/runs";
import { untilDeadline, withDeadline } from "../net/deadline";
import { buildUserIndex, type UserIndex } from "../wordpress/user-index";
import { listGroupsStep, listUsersStep } from "./listing";
import type { Budget, Directory, Site } from "./ports";
import { reconcileStep } from "./reconcile";

export interface StepDeps {
  db: Database;
  directory: Directory;
  site: Site;
  logger: Logger;
  maxFailedSteps: number;
  /** Users of a page being resolved/applied at once; the Site's own limiter bounds HTTP requests. */
  applyConcurrency: number;
  /** The service's own WordPress account (memoised per service). */
  selfId(): Promise<number>;
  /**
   * The match index of a run, kept across its steps by the engine (built once, then grown with the
   * users the run creates), so a first sync does not list the whole site again at every step.
   * Absent: built once per step (provision on demand).
   */
  indexFor?(runId: string): Promise<UserIndex>;
}

/** The service's own WordPress account id, asked once; a failed ask is retried next time. */
export function memoiseSelfId(site: Site): () => Promise<number> {
  let selfId: Promise<number> | null = null;
  return () => {
    selfId ??= site.info().then(
      (info) => info.selfId,
      (error) => {
        selfId = null;
        throw error;
      },
    );
    return selfId;
  };
}

export interface StepContext {
  deps: StepDeps;
  run: Run;
  job: Job;
  owner: string;
  budget: Budget;
  /** Time kept in hand at the end of the budget to commit what was done. */
  reserveMs: number;
  /** The match index, built at most once per step and only when something needs it. */
  index(): Promise<UserIndex>;
  log: Logger;
}

export interface StepOutcome {
  advanced: boolean;
  reason?: string;
  run: Run;
}

/** The step's guarded commit found another owner (lease expired and taken, or the run cancelled). */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
  constructor(runId: string) {
    super(`lost the lease on run ${runId}; its outcome was rolled back`);
  }
}

export function nearDeadline(ctx: Pick<StepContext, "budget" | "reserveMs">): boolean {
  return Date.now() >= ctx.budget.deadline - ctx.reserveMs;
}

/** A task the step's budget ran out under (a request cut short at the deadline, a retry not started). */
export const UNFINISHED = Symbol("unfinished");

/**
 * Runs one user's (or removal's) work; when it fails with the budget spent, the failure is the
 * clock's, not the user's: the task is reported UNFINISHED and left for the next step, and what
 * the other tasks finished is committed.
 */
export async function unlessOutOfTime<T>(
  ctx: StepContext,
  task: () => Promise<T>,
  failures: unknown[],
): Promise<T | typeof UNFINISHED> {
  try {
    return await task();
  } catch (error) {
    if (!nearDeadline(ctx)) throw error;
    failures.push(error);
    return UNFINISHED;
  }
}

/**
 * The tasks before the first UNFINISHED one (their count is how far the step got), and every
 * finished outcome. When nothing finished at all the step failed for lack of time: the first
 * failure is thrown, so the step is counted as failed (a WordPress that never answers within the
 * budget ends the run after MAX_FAILED_STEPS) and its lease released.
 */
export function finishedOf<T>(
  outcomes: Array<T | typeof UNFINISHED>,
  failures: unknown[],
): { prefix: number; finished: T[] } {
  const first = outcomes.indexOf(UNFINISHED);
  const finished = outcomes.filter((o): o is T => o !== UNFINISHED);
  if (first !== -1 && finished.length === 0) throw failures[0];
  return { prefix: first === -1 ? outcomes.length : first, finished };
}

export function makeStepContext(deps: StepDeps, run: Run, job: Job, owner: string, stepBudgetMs: number): StepContext {
  let index: Promise<UserIndex> | null = null;
  const budget = { deadline: Date.now() + stepBudgetMs };
  return {
    deps,
    run,
    job,
    owner,
    budget,
    reserveMs: Math.min(3000, Math.floor(stepBudgetMs * 0.2)),
    index: () => {
      index ??= deps.indexFor ? deps.indexFor(run.id) : buildUserIndex(deps.site);
      // A run's index is built in the background across steps: a step waits for it only until its deadline.
      return untilDeadline(index, budget.deadline);
    },
    log: deps.logger.child({ run: run.id, job: job.id }),
  };
}

/** Where a (re)started listing begins: the job's stored deltaLink in delta mode, else the first page. */
export async function startCursor(ctx: StepContext): Promise<string | null> {
  return ctx.run.mode === "delta" ? getDeltaLink(ctx.deps.db.pool, ctx.job.id) : null;
}

/** Runs one step; every Graph and WordPress request it makes ends by the step's deadline (src/net/deadline.ts). */
export function runStep(ctx: StepContext): Promise<StepOutcome> {
  return withDeadline(ctx.budget.deadline, () => stepInState(ctx));
}

async function stepInState(ctx: StepContext): Promise<StepOutcome> {
  try {
    if (ctx.run.state === "listing") {
      return ctx.run.phase === "groups" ? await listGroupsStep(ctx) : await listUsersStep(ctx);
    }
    return await reconcileStep(ctx);
  } catch (error) {
    return handleStepError(ctx, coerceError(error));
  }
}

async function handleStepError(ctx: StepContext, error: Error): Promise<StepOutcome> {
  const { run, owner, log } = ctx;
  const pool = ctx.deps.db.pool;
  const current = async (): Promise<Run> => (await findRun(pool, run.id)) ?? run;

  if (error instanceof LeaseLostError) {
    log.warn(error.message);
    return { advanced: false, reason: "lease lost", run: await current() };
  }
  const kind = error instanceof UpstreamError ? error.kind : null;
  const lost = (updated: Run | null): Run => {
    if (!updated) throw new LeaseLostError(run.id);
    return updated;
  };
  try {
    if (kind === "auth" || kind === "config") {
      log.error({ err: error }, "run failed: going on is pointless until the configuration is fixed");
      const failed = lost(
        await updateLeased(pool, run.id, owner, {
          state: "failed",
          lastError: error.message,
          finished: true,
          progressed: true,
          release: true,
        }),
      );
      return { advanced: true, reason: "failed", run: failed };
    }
    if (kind === "delta-expired") {
      log.warn({ err: error }, "delta token expired: listing in full");
      const switched = await withTransaction(pool, async (client) => {
        const updated = lost(
          await updateLeased(client, run.id, owner, {
            mode: "full",
            phase: run.phase === "groups" ? "groups" : "users",
            cursor: run.phase === "groups" ? run.cursor : null,
            pageDone: 0,
            newDeltaLink: null,
            lastError: error.message,
            progressed: true,
            release: true,
          }),
        );
        await setDeltaLink(client, ctx.job.id, null);
        return updated;
      });
      return { advanced: true, reason: "delta expired; listing in full", run: switched };
    }
    if (kind === "page-expired") {
      log.warn({ err: error }, "page token expired: restarting the listing from its first page");
      const restart = run.phase === "groups" ? null : await startCursor(ctx);
      const restarted = lost(
        await updateLeased(pool, run.id, owner, {
          cursor: restart,
          pageDone: 0,
          lastError: error.message,
          progressed: true,
          release: true,
        }),
      );
      return { advanced: true, reason: "page token expired; listing restarted", run: restarted };
    }
    // transient, throttled (retries exhausted), or anything unexpected: try again next step.
    log.warn({ err: error }, "step failed; the run stays where it was");
    const failed = lost(await recordStepFailure(pool, run.id, owner, error.message, ctx.deps.maxFailedSteps));
    if (failed.state === "failed") return { advanced: true, reason: "failed", run: failed };
    return { advanced: false, reason: "upstream error; will retry", run: failed };
  } catch (inner) {
    if (inner instanceof LeaseLostError) {
      log.warn(inner.message);
      return { advanced: false, reason: "lease lost", run: await current() };
    }
    throw inner;
  }
}
