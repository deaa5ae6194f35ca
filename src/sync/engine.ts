/**
 * The sync engine behind SyncService: runs in PostgreSQL, advanced one step at a time by whoever
 * calls (continue links, the driver, the CLI). A step first takes the run's lease with one guarded
 * update, so exactly one process advances a run however many call at once; the others are told
 * "busy" immediately. What a step does lives in step.ts, listing.ts, apply.ts and reconcile.ts.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import type { Logger } from "pino";
import { ConflictError, NotFoundError } from "../core/errors";
import type { Job } from "../core/job";
import { isSettled, isTerminal, type RunSummary, type RunTrigger } from "../core/runs";
import { isScimJob } from "../core/scim/job";
import { listItems } from "../db/items";
import { getDeltaLink, mirrorJobs } from "../db/jobs";
import { claimPendingChanges } from "../db/notifications";
import { type Database, withTransaction } from "../db/pool";
import * as runs from "../db/runs";
import { type Run, toSummary } from "../db/runs";
import { queueAfterDryRun } from "../db/scim";
import { withoutDeadline } from "../net/deadline";
import { groupsToList } from "./listing";
import type { Directory, Network, Site } from "./ports";
import type { AdvanceResult, StartResult, SyncService } from "./service";
import { runStep } from "./step";
import { makeStepContext, memoiseSiteInfo, type StepDeps } from "./step-context";
import { makeTargets, type NamedTargets, oncePer, siteSettingsOf } from "./targets";
import { buildUserIndex } from "./user-index";

export interface SyncServiceDeps {
  db: Database;
  directory: Directory;
  site: Site;
  /** The multisite network behind WP_URL; needed by jobs with a `network` target. */
  network?: Network;
  /** The jobs file's other sites and sources: each job's runs use those it names (site, directory and network above are "default"). */
  targets?: NamedTargets;
  jobs: Job[];
  logger: Logger;
  /** STEP_BUDGET_MS: a step starts no new work past it. */
  stepBudgetMs: number;
  /** Consecutive failed steps (transient/throttled) before the run fails. */
  maxFailedSteps: number;
  /** How long a lease holds without its owner committing (default: 3 budgets, at least 60 s). */
  leaseMs?: number;
  /** The lease owner id (default hostname:pid:random). */
  owner?: string;
  /** Users of a page worked on at once (default 16); the Site bounds HTTP requests in flight itself. */
  applyConcurrency?: number;
  /** Observers (metrics, webhooks): called after the fact, never awaited by a step. */
  events?: RunEvents;
}

/** What observers learn from the engine; every hook optional and never allowed to break a step. */
export interface RunEvents {
  /** A step ended: its job, the phase it worked on, its duration, and the items it added per action. */
  onStep?(event: {
    job: Job;
    phase: string;
    ms: number;
    items: Partial<Record<keyof RunSummary["counts"], number>>;
  }): void;
  /** A run reached completed, failed, cancelled or awaiting_approval. */
  onRunSettled?(event: { job: Job; run: RunSummary }): void;
  /** This process took over a run whose owner's lease expired. */
  onLeaseTakeover?(event: { job: Job; run: RunSummary; previousOwner: string }): void;
}

export type EngineService = SyncService & {
  /** The lease owner id of this instance. */
  readonly owner: string;
  /** Mirrors the declared jobs into the jobs table (done on first use anyway; call at start-up to fail early). */
  ready(): Promise<void>;
  /**
   * Starts a run of kind "notification" that takes the job's pending change notifications (or, for a
   * SCIM job, the users its provider wrote: trigger "scim"), unless
   * a run of the job is active (the notifications wait for the next one) or none is pending: null then.
   */
  startNotificationRun(jobId: string): Promise<RunSummary | null>;
};

/**
 * A dry run was asked for while a run that writes is active. Handing that run back (as for any other
 * start) let the asker drive it: `run <job> --dry-run` took it over and wrote to WordPress.
 */
function writingRunActive(jobId: string, active: Run): ConflictError {
  return new ConflictError(
    `job ${jobId} has a run that writes in progress (${active.id}, ${active.state.replace("_", " ")}): a dry run starts only when no run of the job is active, and never advances one that writes; wait for it to end or cancel it (POST /v1/runs/${active.id}/cancel), then ask again`,
    { run: active.id },
  );
}

/** Notifications one notification run takes (each names one user; repeats of a user count once). */
const NOTIFICATIONS_PER_RUN = 500;

/** Thrown inside the insert transaction to roll back a notification run that found nothing to take. */
class NothingPending extends Error {}

/** Runs whose match index and network sites are kept: one per job can be active at a time; a few more cover runs that just ended. */
const MAX_KEPT_RUNS = 8;

/** How long a job's notification runs share one match index before it is built again. */
export const NOTIFICATION_INDEX_MS = 10 * 60_000;

export function makeSyncService(deps: SyncServiceDeps): EngineService {
  const pool = deps.db.pool;
  const owner = deps.owner ?? `${os.hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  const leaseMs = deps.leaseMs ?? Math.max(deps.stepBudgetMs * 3, 60_000);
  const jobsById = new Map(deps.jobs.map((job) => [job.id, job]));
  const logger = deps.logger.child({ component: "engine" });

  // Jobs are mirrored into the database on first use (the factory stays synchronous); retried after a failure.
  let mirrored: Promise<void> | null = null;
  const ready = (): Promise<void> => {
    mirrored ??= withTransaction(pool, async (client) => {
      // Before the mirror overwrites the stored config, which still says whether a SCIM job was a dry run.
      const caughtUp = await queueAfterDryRun(
        client,
        deps.jobs.filter((declared) => isScimJob(declared) && !declared.dryRun).map((declared) => declared.id),
      );
      for (const [jobId, users] of caughtUp) {
        logger.info({ job: jobId, users }, "SCIM job no longer a dry run: what its provider pushed is applied now");
      }
      await mirrorJobs(client, deps.jobs);
    }).catch((error) => {
      mirrored = null;
      throw error;
    });
    return mirrored;
  };

  const targets = makeTargets(deps, deps.targets);
  // What a site's steps keep across steps and runs, one set per site.
  const siteState = oncePer((site: Site) => {
    // Match indexes of the runs this process advanced lately (users created elsewhere meanwhile are
    // caught by create's "exists -> adopt"). Not bound to the step that asked: on a large site the
    // listing takes longer than one step, and the next step awaits the same build instead of starting over.
    // A notification run (Graph change notifications, SCIM writes) is a few users, and a busy job
    // starts them by the thousand: a listing each (a request per 100 WordPress users) made a SCIM
    // initial cycle quadratic, so they share one index per job, built again once it is
    // NOTIFICATION_INDEX_MS old; what WordPress gained meanwhile is caught as within a run.
    const build = () => withoutDeadline(() => buildUserIndex(site));
    const runIndex = perRun(build);
    const jobIndex = reusedFor(NOTIFICATION_INDEX_MS, build);
    return {
      indexFor: (run: Pick<Run, "id" | "jobId" | "mode">) =>
        run.mode === "notification" ? jobIndex(run.jobId) : runIndex(run.id),
      ...memoiseSiteInfo(site),
    };
  });
  // A network's sites, read once per run: every user of the run is planned against one site list
  // (a site created meanwhile counts from the next run on), and unchanged users cost no request.
  const networkSites = oncePer((network: Network) => perRun(() => network.sites()));
  /** A step's view of its job's own site and source. */
  const stepDepsFor = (declared: Job): StepDeps => {
    const { site, network } = targets.siteOf(declared);
    return {
      ...siteState(site),
      ...(network ? { network, networkSitesFor: networkSites(network) } : {}),
      db: deps.db,
      directory: targets.sourceOf(declared).directory,
      site,
      logger,
      maxFailedSteps: deps.maxFailedSteps,
      applyConcurrency: deps.applyConcurrency ?? 16,
    };
  };

  function emit<K extends keyof RunEvents>(hook: K, event: Parameters<NonNullable<RunEvents[K]>>[0]): void {
    try {
      (deps.events?.[hook] as ((e: typeof event) => void) | undefined)?.(event);
    } catch (error) {
      logger.warn({ err: error, hook }, "a run event observer failed");
    }
  }

  function settled(declared: Job, run: RunSummary): void {
    if (isSettled(run.state)) emit("onRunSettled", { job: declared, run });
  }

  function job(id: string): Job {
    const found = jobsById.get(id);
    if (!found) throw new NotFoundError(`unknown job ${id}`);
    return found;
  }

  async function mustFind(runId: string): Promise<Run> {
    await ready();
    const run = await runs.findRun(pool, runId);
    if (!run) throw new NotFoundError(`unknown run ${runId}`);
    return run;
  }

  async function startRun(jobId: string, options: { trigger: RunTrigger; dryRun?: boolean }): Promise<StartResult> {
    const declared = job(jobId);
    if (isScimJob(declared)) {
      throw new ConflictError(
        `job ${jobId} is a SCIM job: its identity provider pushes changes to /scim/v2/${jobId}, which are applied as they arrive`,
      );
    }
    if (declared.network !== null && !targets.siteOf(declared).network) {
      throw new ConflictError(
        `job ${jobId} targets a multisite network, but the service has no network client (${siteSettingsOf(declared.site)})`,
      );
    }
    await ready();
    // Delta only with a stored deltaLink; otherwise a full listing (which, for a delta job, yields the first one).
    const deltaLink = declared.source.mode === "delta" ? await getDeltaLink(pool, jobId) : null;
    const grouped = groupsToList(declared).length > 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await runs.insertRun(pool, {
        jobId,
        trigger: options.trigger,
        dryRun: options.dryRun ?? false,
        mode: deltaLink ? "delta" : "full",
        phase: grouped ? "groups" : "users",
        cursor: grouped ? null : deltaLink,
      });
      if (inserted) {
        logger.info({ run: inserted.id, job: jobId, mode: inserted.mode, dryRun: inserted.dryRun }, "run started");
        return { started: true, run: toSummary(inserted) };
      }
      const active = await runs.findActiveRun(pool, jobId);
      if (active && options.dryRun && !active.dryRun) throw writingRunActive(jobId, active);
      if (active) return { started: false, reason: "already running", run: toSummary(active) };
      // The active run ended between the insert and the select: try again.
    }
    throw new ConflictError(`could not start a run of job ${jobId}: runs keep starting and ending concurrently`);
  }

  async function advanceRun(runId: string): Promise<AdvanceResult> {
    const run = await mustFind(runId);
    const idle = idleReason(run);
    if (idle) return { advanced: false, reason: idle, run: toSummary(run) };
    const claimed = await runs.claimLease(pool, runId, owner, leaseMs);
    if (!claimed) {
      const now = (await runs.findRun(pool, runId)) ?? run;
      return { advanced: false, reason: idleReason(now) ?? "busy", run: toSummary(now) };
    }
    const declared = jobsById.get(claimed.run.jobId);
    if (!declared) {
      const failed = await runs.recordStepFailure(
        pool,
        runId,
        owner,
        { message: `job ${claimed.run.jobId} is no longer declared`, kind: "job-removed" },
        1,
      );
      return { advanced: true, reason: "failed", run: toSummary(failed ?? claimed.run) };
    }
    if (claimed.previousOwner && claimed.previousOwner !== owner) {
      logger.warn({ run: runId, previousOwner: claimed.previousOwner }, "lease expired; taking the run over");
      emit("onLeaseTakeover", { job: declared, run: toSummary(claimed.run), previousOwner: claimed.previousOwner });
    }
    const started = Date.now();
    const outcome = await runStep(
      makeStepContext(stepDepsFor(declared), claimed.run, declared, owner, deps.stepBudgetMs),
    );
    const before = toSummary(claimed.run);
    const after = toSummary(outcome.run);
    emit("onStep", {
      job: declared,
      phase: claimed.run.phase,
      ms: Date.now() - started,
      items: countsAdded(before, after),
    });
    if (after.state !== before.state) settled(declared, after);
    return { advanced: outcome.advanced, reason: outcome.reason, run: after };
  }

  async function startNotificationRun(jobId: string): Promise<RunSummary | null> {
    const declared = job(jobId);
    await ready();
    const grouped = groupsToList(declared).length > 0;
    try {
      const started = await withTransaction(pool, async (client) => {
        const inserted = await runs.insertRun(client, {
          jobId,
          trigger: isScimJob(declared) ? "scim" : "notification",
          dryRun: declared.dryRun,
          mode: "notification",
          phase: grouped ? "groups" : "users",
          cursor: null,
        });
        if (!inserted) return null;
        const taken = await claimPendingChanges(client, jobId, inserted.id, NOTIFICATIONS_PER_RUN);
        if (taken === 0) throw new NothingPending();
        return inserted;
      });
      if (started) logger.info({ run: started.id, job: jobId }, "notification run started");
      return started ? toSummary(started) : null;
    } catch (error) {
      if (error instanceof NothingPending) return null;
      throw error;
    }
  }

  return {
    owner,
    ready,
    startNotificationRun,
    jobs: () => deps.jobs,
    job,
    startRun,
    advanceRun,

    async advanceJob(jobId) {
      job(jobId);
      await ready();
      const active = await runs.findActiveRun(pool, jobId);
      if (!active) {
        const [last] = await runs.listRuns(pool, jobId, 1, null);
        return { advanced: false, reason: "no active run", run: last ? toSummary(last) : null };
      }
      return advanceRun(active.id);
    },

    async run(runId) {
      return toSummary(await mustFind(runId));
    },

    async activeRun(jobId) {
      job(jobId);
      await ready();
      const active = await runs.findActiveRun(pool, jobId);
      return active ? toSummary(active) : null;
    },

    async runs(jobId, options = {}): Promise<RunSummary[]> {
      job(jobId);
      await ready();
      const before = options.before && runs.isRunId(options.before) ? options.before : null;
      const limit = Math.min(Math.max(options.limit ?? 20, 1), 200);
      return (await runs.listRuns(pool, jobId, limit, before)).map(toSummary);
    },

    async items(runId, query) {
      await mustFind(runId);
      return listItems(pool, runId, query);
    },

    async cancelRun(runId) {
      const run = await mustFind(runId);
      const cancelled = await runs.cancelRun(pool, runId);
      if (!cancelled)
        throw new ConflictError(`run ${runId} is ${run.state}: it cannot be cancelled`, { state: run.state });
      logger.info({ run: runId, from: run.state }, "run cancelled");
      const summary = toSummary(cancelled);
      const declared = jobsById.get(summary.job);
      if (declared) settled(declared, summary);
      return summary;
    },

    async approveRun(runId) {
      const run = await mustFind(runId);
      const approved = await runs.approveRun(pool, runId);
      if (!approved) {
        throw new ConflictError(`run ${runId} is ${run.state}: only a run awaiting approval can be approved`, {
          state: run.state,
        });
      }
      logger.info({ run: runId }, "removals approved; reconciling resumes");
      return toSummary(approved);
    },

    async acknowledgeRun(runId) {
      const run = await mustFind(runId);
      const acknowledged = await runs.acknowledgeRun(pool, runId);
      if (!acknowledged) {
        throw new ConflictError(
          `run ${runId} is ${run.state}: only a failed run or one awaiting approval can be acknowledged`,
          { state: run.state },
        );
      }
      logger.info({ run: runId, state: acknowledged.state }, "run acknowledged; its job's continue link answers 200");
      return toSummary(acknowledged);
    },
  };
}

/**
 * What a run builds once and its later steps reuse, for the runs this process advanced lately; a
 * run is rarely advanced by more than one replica, and one that is builds its own once. A failed
 * build is forgotten, so the next step tries again.
 */
function perRun<T>(build: () => Promise<T>): (runId: string) => Promise<T> {
  const kept = new Map<string, Promise<T>>();
  return (runId) => {
    let value = kept.get(runId);
    if (!value) {
      value = build();
      value.catch(() => kept.delete(runId));
      kept.set(runId, value);
      if (kept.size > MAX_KEPT_RUNS) kept.delete(kept.keys().next().value!);
    }
    return value;
  };
}

/** What is built once per key and reused until it is `maxAgeMs` old; a failed build is forgotten. */
function reusedFor<T>(maxAgeMs: number, build: () => Promise<T>): (key: string) => Promise<T> {
  const kept = new Map<string, { at: number; value: Promise<T> }>();
  return (key) => {
    const entry = kept.get(key);
    if (entry && Date.now() - entry.at < maxAgeMs) return entry.value;
    const value = build();
    value.catch(() => {
      if (kept.get(key)?.value === value) kept.delete(key);
    });
    kept.set(key, { at: Date.now(), value });
    return value;
  };
}

function countsAdded(before: RunSummary, after: RunSummary): Partial<Record<keyof RunSummary["counts"], number>> {
  const added: Partial<Record<keyof RunSummary["counts"], number>> = {};
  for (const key of Object.keys(after.counts) as Array<keyof RunSummary["counts"]>) {
    const delta = after.counts[key] - before.counts[key];
    if (delta > 0) added[key] = delta;
  }
  return added;
}

/** Why a run cannot take a step right now, or null when it can. */
function idleReason(run: Run): string | null {
  if (isTerminal(run.state)) return run.state;
  return run.state === "awaiting_approval" ? "awaiting approval" : null;
}
