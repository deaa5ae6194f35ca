/**
 * Provision on demand: sync one Entra user now (POST /v1/jobs/{job}/users/{entraId}/sync), or plan
 * it in a dry run, and say what happened at each stage: fetched, in scope, matched, planned, applied.
 *
 * It plans and applies with the same code as a run (core/plan.ts through sync/apply.ts syncUser),
 * so a user provisioned here is written exactly as the next run would write it, and that run then
 * finds it unchanged. It records the outcome in the user map like a run (never in a dry run).
 * It takes no lease: a run's step creating the same user at the same moment cannot duplicate it,
 * because a create that WordPress answers "exists" adopts the user already there (apply.ts).
 */
import type { Logger } from "pino";
import { ConflictError, coerceError, NotFoundError, UpstreamError } from "../core/errors";
import type { Job, MatchKey } from "../core/job";
import { desiredFields, selectFor } from "../core/mapping";
import { emailsOf, matchUser } from "../core/match";
import { type MapEntry, needsCurrent } from "../core/plan";
import { inScope } from "../core/roles";
import { type ItemAction, zeroCounts } from "../core/runs";
import { isScimJob } from "../core/scim/job";
import { passesScopingFilters } from "../core/scoping";
import { pickUsername, usernameCandidates } from "../core/username";
import type { GraphUser, WpUser } from "../core/users";
import type { Database } from "../db/pool";
import type { Run } from "../db/runs";
import { mapEntriesFor, upsertMapEntries } from "../db/user-map";
import { withDeadline } from "../net/deadline";
import { makePageClaims, syncUser } from "./apply";
import { groupsToList } from "./listing";
import type { Directory, Site } from "./ports";
import { makeStepContext, memoiseSiteInfo, type StepContext, type StepDeps } from "./step-context";
import { makeTargets, type NamedTargets, oncePer } from "./targets";
import { makeUserIndex, type UserIndex } from "./user-index";

/** Graph's checkMemberGroups takes at most 20 group ids per call (src/graph/directory.ts). */
const GROUPS_PER_CHECK = 20;

export interface ProvisionTrace {
  job: string;
  entraId: string;
  dryRun: boolean;
  /**
   * "not found" and "out of scope" stop early; "planned" (dry run) and "applied" went through;
   * "refused": WordPress refused this user's data (applied.error); "failed": Graph or WordPress
   * failed beyond retries at the stage whose `error` is set.
   */
  outcome: "not found" | "out of scope" | "planned" | "applied" | "refused" | "failed";
  stages: {
    fetched: {
      found: boolean;
      user: {
        id: string;
        displayName: string | null;
        mail: string | null;
        userPrincipalName: string | null;
        accountEnabled: boolean;
      } | null;
      graphRequests: number;
      ms: number;
      error?: string;
    };
    inScope: {
      inScope: boolean;
      reason: string | null;
      /** The job's groups (scoping and role mapping) the user is a transitive member of. */
      groups: string[];
      groupsChecked: number;
      /** One checkMemberGroups call per 20 groups; none for a job without groups. */
      graphRequests: number;
      ms: number;
      error?: string;
    } | null;
    matched: {
      wpUserId: number | null;
      /** "user map" (mapped before), a match key of the job (entraId, email, username), or null: no WordPress user. */
      how: "user map" | MatchKey | null;
      mapState: MapEntry["state"] | null;
      ms: number;
      error?: string;
    } | null;
    planned: {
      action: ItemAction;
      wpUserId: number | null;
      diff: Record<string, [unknown, unknown]>;
      reason: string | null;
    } | null;
    applied: {
      /** ok: written (or nothing to write); planned: a dry run wrote nothing; failed: see error. */
      result: "ok" | "failed" | "planned";
      wpUserId: number | null;
      error: string | null;
      ms: number;
    } | null;
  };
}

export interface ProvisionService {
  /** Throws NotFoundError for an unknown job; an unknown user is a trace with outcome "not found". */
  syncUser(jobId: string, entraId: string, options?: { dryRun?: boolean }): Promise<ProvisionTrace>;
}

export interface ProvisionDeps {
  db: Database;
  /** The "default" source and site; a job naming others in `targets` is provisioned there. */
  directory: Directory;
  site: Site;
  targets?: NamedTargets;
  jobs: readonly Job[];
  logger: Logger;
  /** The time budget of the Graph and WordPress calls (STEP_BUDGET_MS, as for a step). */
  stepBudgetMs: number;
}

export function makeProvisionService(deps: ProvisionDeps): ProvisionService {
  const logger = deps.logger.child({ component: "provision" });
  const targets = makeTargets(deps, deps.targets);
  const siteInfo = oncePer(memoiseSiteInfo);
  /** The job's own site and source. */
  const stepDepsFor = (job: Job): StepDeps => {
    const { site } = targets.siteOf(job);
    return {
      db: deps.db,
      directory: targets.sourceOf(job).directory,
      site,
      logger,
      maxFailedSteps: 1,
      applyConcurrency: 1,
      ...siteInfo(site),
    };
  };

  return {
    syncUser(jobId, entraId, options = {}) {
      // Every Graph and WordPress call ends by the budget's deadline, as in a step.
      const deadline = Date.now() + deps.stepBudgetMs;
      return withDeadline(deadline, () => syncOne(jobId, entraId, options));
    },
  };

  async function syncOne(jobId: string, entraId: string, options: { dryRun?: boolean }): Promise<ProvisionTrace> {
    const job = deps.jobs.find((candidate) => candidate.id === jobId);
    if (!job) throw new NotFoundError(`unknown job ${jobId}`);
    if (isScimJob(job)) {
      // Its users are what the provider pushed, not a directory's: nothing here can be read again.
      throw new ConflictError(
        `job ${jobId} is a SCIM job: its identity provider pushes its users to /scim/v2/${jobId}, and there is no directory to read one user from; use the provider's own provisioning on demand (Entra: Provision on demand)`,
      );
    }
    if (job.network) {
      // Its lookups (lookupIndex) and trace are a single site's; a network user needs its sites too.
      throw new ConflictError(
        `job ${jobId} targets a multisite network: provisioning one user on demand is not supported there; start a run of the job`,
      );
    }
    const dryRun = options.dryRun ?? false;
    const stepDeps = stepDepsFor(job);
    const { directory, site } = stepDeps;
    const ctx = makeStepContext(stepDeps, provisionRun(job.id, dryRun), job, "provision", deps.stepBudgetMs);
    const trace: ProvisionTrace = {
      job: job.id,
      entraId,
      dryRun,
      outcome: "failed",
      stages: {
        fetched: { found: false, user: null, graphRequests: 1, ms: 0 },
        inScope: null,
        matched: null,
        planned: null,
        applied: null,
      },
    };
    const { stages } = trace;

    // 1. fetched
    let clock = performance.now();
    let user: GraphUser | null;
    try {
      user = await directory.fetchUser(entraId, selectFor(job), ctx.budget);
    } catch (error) {
      stages.fetched.error = message(error);
      return done(trace, clock, stages.fetched);
    }
    stages.fetched.ms = since(clock);
    if (!user) {
      trace.outcome = "not found";
      return trace;
    }
    stages.fetched = { ...stages.fetched, found: true, user: summary(user) };

    // 2. in scope (group membership for this one user: cost per 20 groups, not per group page)
    clock = performance.now();
    const groups = groupsToList(job);
    const scope: NonNullable<ProvisionTrace["stages"]["inScope"]> = {
      inScope: false,
      reason: null,
      groups: [],
      groupsChecked: groups.length,
      graphRequests: Math.ceil(groups.length / GROUPS_PER_CHECK),
      ms: 0,
    };
    stages.inScope = scope;
    let groupIds: ReadonlySet<string>;
    try {
      groupIds = new Set(groups.length > 0 ? await directory.userGroups(entraId, groups, ctx.budget) : []);
    } catch (error) {
      scope.error = message(error);
      return done(trace, clock, scope);
    }
    scope.groups = [...groupIds];
    scope.ms = since(clock);
    if (user.accountEnabled === false) {
      // A run treats a disabled account as removed; removing is a run's reconciliation, not this.
      scope.reason = "account disabled";
    } else if (!inScope(job, groupIds)) {
      scope.reason = "not a member of the job's source.groups";
    } else if (!passesScopingFilters(job.source.scopingFilters, user)) {
      scope.reason = "outside the job's source.scopingFilters";
    } else {
      scope.inScope = true;
    }
    if (!scope.inScope) {
      trace.outcome = "out of scope";
      return trace;
    }

    // 3. matched (the user map first; else the job's match keys, by direct lookups)
    clock = performance.now();
    let lookups: Promise<UserIndex> | null = null;
    ctx.index = () => {
      lookups ??= lookupIndex(site, job, user);
      return lookups;
    };
    const mapEntry = (await mapEntriesFor(deps.db.pool, job.id, [entraId])).get(entraId) ?? null;
    const matched: NonNullable<ProvisionTrace["stages"]["matched"]> = {
      wpUserId: mapEntry?.wpUserId ?? null,
      how: mapEntry ? "user map" : null,
      mapState: mapEntry?.state ?? null,
      ms: 0,
    };
    stages.matched = matched;
    if (!mapEntry && needsCurrent({ job, user, groupIds, mapEntry })) {
      try {
        Object.assign(matched, await matchHow(ctx, job, user));
      } catch (error) {
        matched.error = message(error);
        return done(trace, clock, matched);
      }
    }
    matched.ms = since(clock);

    // 4. planned and 5. applied: the run's own code, then the user map as a run records it.
    clock = performance.now();
    let outcome: Awaited<ReturnType<typeof syncUser>>;
    try {
      outcome = await syncUser(ctx, user, groupIds, mapEntry, makePageClaims());
    } catch (error) {
      stages.applied = { result: "failed", wpUserId: matched.wpUserId, error: message(error), ms: since(clock) };
      return trace;
    }
    const { item } = outcome;
    stages.planned = { action: item.action, wpUserId: item.wpUserId, diff: item.diff, reason: item.reason };
    if (!dryRun && outcome.map) {
      await upsertMapEntries(deps.db.pool, job.id, [outcome.map]);
    }
    stages.applied = {
      result: item.status === "failed" ? "failed" : dryRun ? "planned" : "ok",
      wpUserId: item.wpUserId,
      error: item.error,
      ms: since(clock),
    };
    trace.outcome = item.status === "failed" ? "refused" : dryRun ? "planned" : "applied";
    logger.info(
      { job: job.id, entraId, dryRun, action: item.action, wpUserId: item.wpUserId, result: stages.applied.result },
      "user synced on demand",
    );
    return trace;
  }
}

/** Which of the job's match keys finds the WordPress user (the same index syncUser then uses: no extra requests). */
async function matchHow(
  ctx: StepContext,
  job: Job,
  user: GraphUser,
): Promise<{ wpUserId: number | null; how: MatchKey | null }> {
  const found = matchUser(job, user, desiredFields(job, user), await ctx.index());
  return { wpUserId: found?.account.id ?? null, how: found?.by ?? null };
}

/**
 * What provisioning one user needs to know of WordPress, from direct lookups rather than a listing
 * of the whole site (100,000 users are 1,000 list requests): the user by Entra id (the companion
 * plugin's filter), by each e-mail it may have, and the logins a new user could be given, from the
 * rule's candidate up to the first free one. A handful of requests whatever the site's size.
 */
async function lookupIndex(site: Site, job: Job, user: GraphUser): Promise<UserIndex> {
  const emails = job.match.by.includes("email") ? emailsOf(job, user, desiredFields(job, user)) : [];
  const found = await Promise.all([
    job.match.by.includes("entraId") ? site.findByEntraId(user.id) : null,
    ...emails.map((email) => site.findUser({ email })),
  ]);
  const taken = new Set<string>();
  for (;;) {
    // The same choice create makes (apply.ts), against the logins found taken so far.
    const login = pickUsername(usernameCandidates(job, user), (candidate) => taken.has(candidate.toLowerCase()));
    const holder = await site.findUser({ username: login });
    if (!holder) break;
    found.push(holder);
    taken.add(login.toLowerCase());
  }
  return makeUserIndex(found.filter((u): u is WpUser => u !== null));
}

/** A run-shaped context for apply.ts: no run row exists, nothing is itemised. */
function provisionRun(jobId: string, dryRun: boolean): Run {
  const now = new Date();
  return {
    id: "provision",
    jobId,
    state: "listing",
    trigger: "manual",
    dryRun,
    mode: "full",
    phase: "users",
    groupIndex: 0,
    cursor: null,
    pageDone: 0,
    newDeltaLink: null,
    step: 0,
    totalEstimate: null,
    counts: zeroCounts(),
    lockedBy: null,
    consecutiveFailures: 0,
    lastError: null,
    failure: null,
    acknowledgedAt: null,
    approved: false,
    createdAt: now,
    startedAt: now,
    finishedAt: null,
    progressedAt: now,
  };
}

function summary(user: GraphUser): NonNullable<ProvisionTrace["stages"]["fetched"]["user"]> {
  const text = (value: unknown) => (typeof value === "string" ? value : null);
  return {
    id: user.id,
    displayName: text(user.displayName),
    mail: text(user.mail),
    userPrincipalName: text(user.userPrincipalName),
    accountEnabled: user.accountEnabled !== false,
  };
}

function since(start: number): number {
  return Math.round(performance.now() - start);
}

/** Upstream errors keep their operator-facing message; anything else is rethrown (a 500 with the log). */
function message(error: unknown): string {
  if (error instanceof UpstreamError) return error.message;
  throw coerceError(error);
}

function done(trace: ProvisionTrace, clock: number, stage: { ms: number }): ProvisionTrace {
  stage.ms = since(clock);
  trace.outcome = "failed";
  return trace;
}
