/**
 * What one step works with: its dependencies, the run it holds the lease on, its time budget and
 * the match index. Shared by step.ts (dispatch and error handling) and the states it dispatches to
 * (listing.ts, reconcile.ts), which is why it lives apart from both.
 */
import type { Logger } from "pino";
import { ConfigError, UpstreamError } from "../core/errors";
import type { Job } from "../core/job";
import { type NetworkSite, selectSites } from "../core/network";
import { type Grants, grantPolicy } from "../core/privileges";
import { getDeltaLink } from "../db/jobs";
import type { Database } from "../db/pool";
import type { Run } from "../db/runs";
import { untilDeadline } from "../net/deadline";
import type { Budget, Directory, Network, Site, SiteInfo } from "./ports";
import { siteSettingsOf } from "./targets";
import { buildUserIndex, type UserIndex } from "./user-index";

export interface StepDeps {
  db: Database;
  directory: Directory;
  site: Site;
  /** The multisite network behind the job's site, for network jobs (absent: such a job's run fails, naming it). */
  network?: Network;
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
   * users the run creates), so a first sync does not list the whole site again at every step; the
   * job's notification runs share one (engine.ts). Absent: built once per step (provision on demand).
   */
  indexFor?(run: Pick<Run, "id" | "jobId" | "mode">): Promise<UserIndex>;
  /** The network's sites as a run first read them, kept across its steps (absent: read once per step). */
  networkSitesFor?(runId: string): Promise<NetworkSite[]>;
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
   * What the job's roles grant on this site (adoption and protection judge by it). Throws a
   * configuration error (the run fails before writing anything) when the job grants a role that
   * manages users or the site without roles.allowPrivileged, or, without the companion plugin, a
   * role the service cannot judge.
   */
  grants(): Promise<Grants>;
  /**
   * A network job's sites: every site, and the selected ones. A selector naming no site is a
   * configuration error (the run fails before writing anything).
   */
  sites(): Promise<RunSites>;
  log: Logger;
}

/** The sites of a network job's run: every site of the network, and those the job selects. */
export interface RunSites {
  all: NetworkSite[];
  selected: NetworkSite[];
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

/**
 * Users of a page worked on at once: deps.applyConcurrency, or more when the site batches writes,
 * enough to fill its batches (a batch holds the writes waiting at one moment). Per-user requests are
 * bounded by the site's own limiter either way.
 */
export async function usersAtOnce(ctx: Pick<StepContext, "deps">): Promise<number> {
  // A site that cannot tell (WordPress unreachable) fails on its first write, with the error that names it.
  const batched = await ctx.deps.site.writesAtOnce?.().catch(() => null);
  return Math.max(ctx.deps.applyConcurrency, batched ?? 0);
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
  let grants: Promise<Grants> | null = null;
  let sites: Promise<RunSites> | null = null;
  const budget = { deadline: Date.now() + stepBudgetMs };
  return {
    deps,
    run,
    job,
    owner,
    budget,
    reserveMs: Math.min(3000, Math.floor(stepBudgetMs * 0.2)),
    index: () => {
      index ??= deps.indexFor ? deps.indexFor(run) : buildUserIndex(deps.site);
      // A run's index is built in the background across steps: a step waits for it only until its deadline.
      return untilDeadline(index, budget.deadline);
    },
    grants: () => {
      grants ??= deps.siteInfo().then((info) => {
        const { problem, ...policy } = grantPolicy(job, info.roles);
        if (problem)
          throw new UpstreamError(`job "${job.id}": ${problem.path} ${problem.message}`, "wordpress", "config");
        return policy;
      });
      return grants;
    },
    sites: () => {
      sites ??= (async () => {
        const target = job.network;
        if (!target || !deps.network) {
          throw new UpstreamError(
            `job "${job.id}" targets a multisite network, but the service has no network client (${siteSettingsOf(job.site)})`,
            "wordpress",
            "config",
          );
        }
        try {
          const all = await (deps.networkSitesFor ? deps.networkSitesFor(run.id) : deps.network.sites());
          return { all, selected: selectSites(job.id, target, all) };
        } catch (error) {
          // No plugin, not a super admin, a site the job names gone: the run fails before writing.
          if (error instanceof ConfigError) throw new UpstreamError(error.message, "wordpress", "config");
          throw error;
        }
      })();
      return sites;
    },
    log: deps.logger.child({ run: run.id, job: job.id, site: job.site, tenant: job.source.tenant }),
  };
}

/** Where a (re)started listing begins: the job's stored deltaLink in delta mode, else the first page. */
export async function startCursor(ctx: StepContext): Promise<string | null> {
  return ctx.run.mode === "delta" ? getDeltaLink(ctx.deps.db.pool, ctx.job.id) : null;
}
