/**
 * What one step works with: its dependencies, the run it holds the lease on, its time budget and
 * the match index. Shared by step.ts (dispatch and error handling) and the states it dispatches to
 * (listing.ts, reconcile.ts), which is why it lives apart from both.
 */
import type { Logger } from "pino";
import type { Job } from "../core/job";
import { getDeltaLink } from "../db/jobs";
import type { Database } from "../db/pool";
import type { Run } from "../db/runs";
import type { Budget, Directory, Site } from "./ports";
import { buildUserIndex, type UserIndex } from "./user-index";

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

export function makeStepContext(deps: StepDeps, run: Run, job: Job, owner: string, stepBudgetMs: number): StepContext {
  let index: Promise<UserIndex> | null = null;
  return {
    deps,
    run,
    job,
    owner,
    budget: { deadline: Date.now() + stepBudgetMs },
    reserveMs: Math.min(3000, Math.floor(stepBudgetMs * 0.2)),
    index: () => {
      index ??= deps.indexFor ? deps.indexFor(run.id) : buildUserIndex(deps.site);
      return index;
    },
    log: deps.logger.child({ run: run.id, job: job.id }),
  };
}

/** Where a (re)started listing begins: the job's stored deltaLink in delta mode, else the first page. */
export async function startCursor(ctx: StepContext): Promise<string | null> {
  return ctx.run.mode === "delta" ? getDeltaLink(ctx.deps.db.pool, ctx.job.id) : null;
}
