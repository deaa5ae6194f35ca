/**
 * One step of a run, with the lease already held: dispatch by state and phase, and turn what went
 * wrong into the run's next state (DESIGN.md "Run state machine"; src/core/errors.ts for the kinds).
 */
import type { Logger } from "pino";
import { coerceError, UpstreamError } from "../core/errors";
import type { Job } from "../core/job";
import { grantPolicy } from "../core/privileges";
import { getDeltaLink, setDeltaLink } from "../db/jobs";
import { type Database, withTransaction } from "../db/pool";
import { findRun, type Run, recordStepFailure, updateLeased } from "../db/runs";
import { buildUserIndex, type UserIndex } from "../wordpress/user-index";
import { listGroupsStep, listUsersStep } from "./listing";
import type { Budget, Directory, Site, SiteInfo } from "./ports";
import { reconcileStep } from "./reconcile";

export interface StepDeps {
  db: Database;
  directory: Directory;
  site: Site;
  logger: Logger;
  maxFailedSteps: number;
  /** Users of a page being resolved/applied at once; the Site's own limiter bounds HTTP requests. */
  applyConcurrency: number;
  /** What the site says about itself and the service's account (memoised per service). */
  siteInfo(): Promise<SiteInfo>;
  /** The service's own WordPress account. */
  selfId(): Promise<number>;
  /**
   * The match index of a run, kept across its steps by the engine (built once, then grown with the
   * users the run creates), so a first sync does not list the whole site again at every step.
   * Absent: built once per step (provision on demand).
   */
  indexFor?(runId: string): Promise<UserIndex>;
}

/** The site's info (own account id, plugin, roles), asked once; a failed ask is retried next time. */
export function memoiseSiteInfo(site: Site): Pick<StepDeps, "siteInfo" | "selfId"> {
  let info: Promise<SiteInfo> | null = null;
  const siteInfo = (): Promise<SiteInfo> => {
    info ??= site.info().catch((error) => {
      info = null;
      throw error;
    });
    return info;
  };
  return { siteInfo, selfId: async () => (await siteInfo()).selfId };
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
  /**
   * The capabilities the job's roles grant on this site. Throws a configuration error (the run
   * fails before writing anything) when the job grants a role that manages users or the site
   * without roles.allowPrivileged, or, without the companion plugin, a role the service cannot judge.
   */
  grantable(): Promise<ReadonlySet<string>>;
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
  let grantable: Promise<ReadonlySet<string>> | null = null;
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
    grantable: () => {
      grantable ??= deps.siteInfo().then((info) => {
        const { grantable, problem } = grantPolicy(job, info.roles);
        if (problem)
          throw new UpstreamError(`job "${job.id}": ${problem.path} ${problem.message}`, "wordpress", "config");
        return grantable;
      });
      return grantable;
    },
    log: deps.logger.child({ run: run.id, job: job.id }),
  };
}

/** Where a (re)started listing begins: the job's stored deltaLink in delta mode, else the first page. */
export async function startCursor(ctx: StepContext): Promise<string | null> {
  return ctx.run.mode === "delta" ? getDeltaLink(ctx.deps.db.pool, ctx.job.id) : null;
}

export async function runStep(ctx: StepContext): Promise<StepOutcome> {
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
