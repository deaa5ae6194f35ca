/**
 * Near-real-time sync, in every replica: keeps each job's Microsoft Graph subscriptions (created,
 * renewed well before expiry, deleted when the job no longer wants them), reacts to lifecycle
 * events, and applies stored change notifications as runs of kind "notification".
 *
 * - One set of subscriptions per job across replicas: graph_subscriptions rows are worked on
 *   under a lease (src/db/subscriptions.ts).
 * - Notification runs go through the same engine, plan, safety guard and audit trail as any run,
 *   and never alongside another run of the job: a job has at most one active run (the database
 *   says so), so notifications arriving during a full or delta run wait for it to end.
 * - The safety net: a reconciliation run (the job's own mode: delta or full) at start-up, after
 *   a lifecycle event or a group change, and whenever none completed for a day, so a notification
 *   Graph never delivered is caught within a day.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { coerceError, UpstreamError } from "../core/errors";
import { DEFAULT_TARGET, type Job } from "../core/job";
import { isScimJob } from "../core/scim/job";
import { hasPendingChanges, reconcileDue, requestReconcile, takeLifecycleEvents } from "../db/notifications";
import type { Database } from "../db/pool";
import {
  claimDue,
  declareWanted,
  dropSubscription,
  forgetSubscription,
  recordSubscription,
  renewSoon,
  type Subscription,
} from "../db/subscriptions";
import { SELF_DRIVEN_MODES } from "./driver";
import type { EngineService } from "./engine";
import { groupsToList } from "./listing";
import { hashClientState } from "./notification-inbox";
import type { Subscriptions } from "./ports";

/** Graph's longest lifetime for directory resources is 41,760 minutes; ask a little less (clock skew). */
export const SUBSCRIPTION_LIFETIME_MS = 41_000 * 60_000;
/** Renewed when less than this is left: three days of outage before Graph would stop sending. */
export const RENEW_BEFORE_MS = 3 * 24 * 3600_000;
/** At least one reconciliation (delta or full) run a day. */
export const RECONCILE_EVERY_MS = 24 * 3600_000;
/** A reconciliation that did not complete is tried again after this long (its steps retried meanwhile). */
const RECONCILE_RETRY_MS = 15 * 60_000;
/** Directory resources: "updated" also reports creations and soft deletions (Graph subscription docs). */
const CHANGE_TYPES = { users: "updated,deleted", group: "updated" } as const;

export interface NotificationPassOptions {
  sync: Pick<EngineService, "startNotificationRun" | "startRun" | "advanceRun" | "activeRun">;
  /** The "default" source's subscriptions; `tenants` those of the jobs file's sources, by name. */
  subscriptions: Subscriptions;
  tenants?: ReadonlyMap<string, Subscriptions>;
  jobs: readonly Job[];
  db: Pick<Database, "pool">;
  logger: Logger;
  /** Where Graph posts: PUBLIC_URL + the notification route. */
  notificationUrl: string;
  /** The lease owner id (the engine's). */
  owner: string;
  /** How often subscriptions are checked (default one minute). */
  maintainEveryMs?: number;
  reconcileEveryMs?: number;
  renewBeforeMs?: number;
  lifetimeMs?: number;
}

export interface NotificationWorkerOptions extends NotificationPassOptions {
  /** DRIVER_INTERVAL_MS: how often pending notifications are looked for when nobody pokes. */
  intervalMs: number;
}

export interface NotificationWorker {
  /** Resolves once the start-up reconciliation of every notification job has been asked for. */
  started: Promise<void>;
  /** Look for pending notifications now (the endpoint just stored some). */
  poke(): void;
  stop(): Promise<void>;
}

/** The Graph resources a job subscribes to: its users, and the groups that scope it or map roles. */
export function resourcesOf(job: Job): string[] {
  return job.source.notifications ? ["users", ...groupsToList(job).map((group) => `groups/${group}`)] : [];
}

/** The jobs the worker serves: SCIM jobs too, their providers' writes wait in the same queue (src/sync/scim.ts). */
function servedJobs(jobs: readonly Job[]): Job[] {
  return jobs.filter((job) => job.source.notifications || isScimJob(job));
}

/**
 * One pass of the worker over every job it serves: subscriptions kept (every maintainEveryMs, and
 * at once after a lifecycle event), lifecycle events handled, a due reconciliation or the pending
 * notifications run and driven to the end. True when a run took a step. Tests call it pass by
 * pass; the worker runs the same parts with one lane per site (startNotificationWorker).
 * `stopping` ends a run's driving early (the run resumes later).
 */
export function makeNotificationPass(
  options: NotificationPassOptions,
  stopping: () => boolean = () => false,
): () => Promise<boolean> {
  const parts = makeNotificationParts(options, stopping);
  return async function pass(): Promise<boolean> {
    await parts.maintainIfDue();
    let busy = false;
    for (const job of parts.jobs) {
      if (stopping()) break;
      if (await parts.serveJob(job)) busy = true;
    }
    return busy;
  };
}

interface NotificationParts {
  /** The jobs the worker serves. */
  jobs: Job[];
  /** Keeps the subscriptions every maintainEveryMs, and at once after a lifecycle event. */
  maintainIfDue(): Promise<void>;
  /** The job's lifecycle events, then a due reconciliation or its pending notifications, driven to the end. */
  serveJob(job: Job): Promise<boolean>;
}

function makeNotificationParts(options: NotificationPassOptions, stopping: () => boolean): NotificationParts {
  const logger = options.logger.child({ component: "notifications" });
  const pool = options.db.pool;
  const jobs = servedJobs(options.jobs);
  const maintainEveryMs = options.maintainEveryMs ?? 60_000;
  const renewBeforeMs = options.renewBeforeMs ?? RENEW_BEFORE_MS;
  const lifetimeMs = options.lifetimeMs ?? SUBSCRIPTION_LIFETIME_MS;
  let lastMaintained = 0;
  const byTenant = new Map([[DEFAULT_TARGET, options.subscriptions], ...(options.tenants ?? [])]);
  const declared = new Map(options.jobs.map((job) => [job.id, job]));
  /**
   * Where a job's subscriptions live: its tenant. A job no longer declared left no trace of its
   * tenant, so its subscriptions are deleted in each (a tenant that does not know one answers 404,
   * which deleting takes as done).
   */
  const subscriptionsOf = (jobId: string): Subscriptions[] => {
    const job = declared.get(jobId);
    const own = job && byTenant.get(job.source.tenant);
    return own ? [own] : [...new Set(byTenant.values())];
  };

  async function maintainSubscriptions(): Promise<void> {
    lastMaintained = Date.now();
    await declareWanted(
      pool,
      jobs.flatMap((job) => resourcesOf(job).map((resource) => ({ jobId: job.id, resource }))),
    );
    // One batch per pass: a row whose Graph call failed is tried again on the next pass, not in a loop.
    const due = await claimDue(pool, options.owner, 60_000, new Date(Date.now() + renewBeforeMs), 20);
    // One tenant's Graph being slow (each call may take its 30 s) never holds another tenant's renewals.
    const byTenantOf = groupBy(due, (row) => declared.get(row.jobId)?.source.tenant ?? null);
    await Promise.all(
      [...byTenantOf.values()].map(async (rows) => {
        for (const row of rows) await workOn(row);
      }),
    );
  }

  async function workOn(row: Subscription): Promise<void> {
    const budget = { deadline: Date.now() + 30_000 };
    const key = { jobId: row.jobId, resource: row.resource };
    try {
      const [subscriptions] = subscriptionsOf(row.jobId);
      if (!row.wanted) {
        if (row.subscriptionId) {
          for (const tenant of subscriptionsOf(row.jobId)) await tenant.remove(row.subscriptionId, budget);
        }
        await dropSubscription(pool, key, options.owner);
        logger.info({ job: row.jobId, resource: row.resource }, "subscription deleted");
        return;
      }
      const expirationDateTime = new Date(Date.now() + lifetimeMs);
      if (row.subscriptionId) {
        try {
          const renewed = await subscriptions!.renew(row.subscriptionId, expirationDateTime, budget);
          await recordSubscription(pool, key, options.owner, { subscriptionId: row.subscriptionId, ...renewed });
          logger.info({ job: row.jobId, resource: row.resource, expiresAt: renewed.expiresAt }, "subscription renewed");
          return;
        } catch (error) {
          // Graph dropped it (expired, deleted): make a new one, and catch up on what was missed.
          if (!(error instanceof UpstreamError && error.kind === "not-found")) throw error;
          await requestReconcile(pool, row.jobId);
        }
      }
      const clientState = randomBytes(32).toString("base64url");
      const created = await subscriptions!.create(
        {
          resource: row.resource,
          changeType: row.resource === "users" ? CHANGE_TYPES.users : CHANGE_TYPES.group,
          notificationUrl: options.notificationUrl,
          lifecycleNotificationUrl: options.notificationUrl,
          clientState,
          expirationDateTime,
        },
        budget,
      );
      await recordSubscription(pool, key, options.owner, {
        subscriptionId: created.id,
        clientStateHash: hashClientState(clientState),
        expiresAt: created.expiresAt,
      });
      logger.info({ job: row.jobId, resource: row.resource, expiresAt: created.expiresAt }, "subscription created");
    } catch (error) {
      const failure = coerceError(error);
      logger.warn({ job: row.jobId, resource: row.resource, err: failure }, "subscription could not be kept");
      await recordSubscription(pool, key, options.owner, { error: failure.message });
    }
  }

  /** Lifecycle events: renew, recreate, and a reconciliation run for anything that may have been missed. */
  async function handleLifecycle(job: Job): Promise<boolean> {
    const events = await takeLifecycleEvents(pool, job.id);
    for (const event of events) {
      logger.warn({ job: job.id, event: event.event }, "subscription lifecycle event");
      if (event.event === "reauthorizationRequired") await renewSoon(pool, event.subscriptionId);
      if (event.event === "subscriptionRemoved") await forgetSubscription(pool, event.subscriptionId);
      if (event.event !== "reauthorizationRequired") await requestReconcile(pool, job.id);
    }
    return events.length > 0;
  }

  /** Starts what is due for the job and drives it; true when a run took a step. */
  async function serve(job: Job): Promise<boolean> {
    // A SCIM job has nothing to list: what its provider pushed is all there is.
    if (
      !isScimJob(job) &&
      (await reconcileDue(pool, job.id, options.reconcileEveryMs ?? RECONCILE_EVERY_MS, RECONCILE_RETRY_MS))
    ) {
      const started = await options.sync.startRun(job.id, { trigger: "schedule" });
      if (started.started) logger.info({ job: job.id, run: started.run.id }, "reconciliation run started");
    } else if (await hasPendingChanges(pool, job.id)) {
      await options.sync.startNotificationRun(job.id);
    }
    const active = await options.sync.activeRun(job.id);
    // Runs this worker started; others are driven by the driver or by continue links.
    const ours =
      active !== null &&
      (active.trigger === "notification" ||
        active.trigger === "scim" ||
        (active.trigger === "schedule" && !SELF_DRIVEN_MODES.has(job.trigger.mode)));
    if (!ours) return false;
    let advanced = false;
    while (!stopping()) {
      const result = await options.sync.advanceRun(active.id);
      if (!result.advanced || !result.run || !["queued", "listing", "reconciling"].includes(result.run.state)) break;
      advanced = true;
    }
    return advanced;
  }

  return {
    jobs,
    async maintainIfDue() {
      if (Date.now() - lastMaintained >= maintainEveryMs) await maintainSubscriptions();
    },
    async serveJob(job) {
      if (await handleLifecycle(job)) lastMaintained = 0;
      return serve(job);
    },
  };
}

/**
 * The worker: one lane per WordPress site, each serving that site's jobs pass after pass, and the
 * subscriptions kept beside them, so a site that is down or slow (a run driven to its end there
 * can take many step budgets) never delays the runs of another site's jobs.
 */
export function startNotificationWorker(options: NotificationWorkerOptions): NotificationWorker {
  const logger = options.logger.child({ component: "notifications" });
  let stopping = false;
  const parts = makeNotificationParts(options, () => stopping);
  const { jobs } = parts;
  const started = (async () => {
    for (const job of jobs) if (!isScimJob(job)) await requestReconcile(options.db.pool, job.id).catch(() => {});
  })();
  const lanes = [...groupBy(jobs, (job) => job.site).values()].map((laneJobs) => makeLane(laneJobs));
  const keeper = makeLane([]);

  function makeLane(laneJobs: Job[]) {
    let wake: (() => void) | null = null;
    let poked = false;
    /** One pass over the lane's jobs (the keeper's: the subscriptions); true when a run took a step. */
    const pass = async (): Promise<boolean> => {
      if (laneJobs.length === 0) {
        await parts.maintainIfDue();
        return false;
      }
      let busy = false;
      for (const job of laneJobs) {
        if (stopping) break;
        if (await parts.serveJob(job)) busy = true;
      }
      return busy;
    };
    const running = (async () => {
      await started;
      while (!stopping) {
        let busy = false;
        try {
          busy = await pass();
        } catch (error) {
          logger.warn({ err: coerceError(error) }, "notification processing failed; trying again later");
        }
        if (poked) {
          poked = false;
          continue;
        }
        if (!stopping && !busy) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              wake = null;
              resolve();
            }, options.intervalMs);
            wake = () => {
              clearTimeout(timer);
              wake = null;
              resolve();
            };
          });
        }
      }
    })();
    return {
      running,
      poke() {
        poked = true;
        wake?.();
      },
    };
  }

  logger.info({ jobs: jobs.map((job) => job.id) }, "notification worker started");
  const all = [keeper, ...lanes];
  return {
    started,
    poke: () => {
      for (const lane of all) lane.poke();
    },
    async stop() {
      stopping = true;
      for (const lane of all) lane.poke();
      await Promise.all(all.map((lane) => lane.running));
    },
  };
}

/** Map.groupBy (Node 21+; the service runs on 20.19). */
function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
