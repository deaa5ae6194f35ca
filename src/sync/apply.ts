/**
 * One user of a page: find what WordPress has (only when the plan needs it), plan with core, and
 * apply the plan (or, in a dry run, only record it). Pure bookkeeping comes back to the caller,
 * which commits a whole page in one transaction.
 */
import { isDeepStrictEqual } from "node:util";
import { UpstreamError } from "../core/errors";
import type { MatchKey } from "../core/job";
import { desiredFields } from "../core/mapping";
import { matchUser } from "../core/match";
import {
  type Assumption,
  assumedCurrent,
  isProtected,
  type MapEntry,
  needsCurrent,
  type PlanInput,
  planUser,
  type UserPlan,
} from "../core/plan";
import { guardRoles } from "../core/privileges";
import { pickUsername, usernameCandidates } from "../core/username";
import type { GraphUser, WpUser } from "../core/users";
import type { ItemInput } from "../db/items";
import { type MapWrite, mapOwnerOf } from "../db/user-map";
import { makeLimiter } from "../net/limiter";
import { syncPhoto } from "./photos";
import type { StepContext } from "./step-context";

export interface UserOutcome {
  item: ItemInput;
  /** What to store in the user map; null when nothing changes there. */
  map: MapWrite | null;
}

/** Per-user failures that are recorded on the item while the run goes on. */
export function isUserError(error: unknown): error is UpstreamError {
  return (
    error instanceof UpstreamError &&
    (error.kind === "invalid" || error.kind === "not-found" || error.kind === "exists")
  );
}

/**
 * What the users of one page have claimed so far, before anything is committed: logins handed
 * out (two users with one candidate), and WordPress accounts (by id, or by e-mail for one being
 * created) so that two Entra users with one e-mail never share, or take over, one account.
 */
export interface PageClaims {
  logins: Set<string>;
  /** "wp:<id>" or "email:<address>" -> the Entra id that claimed it. */
  accounts: Map<string, string>;
}

export function makePageClaims(): PageClaims {
  return { logins: new Set(), accounts: new Map() };
}

export async function syncUser(
  ctx: StepContext,
  user: GraphUser,
  groupIds: ReadonlySet<string>,
  mapEntry: MapEntry | null,
  claims: PageClaims,
): Promise<UserOutcome> {
  const { job, deps } = ctx;
  // selfId and the grants only matter once WordPress's current user is known; an unchanged user
  // needs neither, and so costs no WordPress request at all, not even GET /users/me.
  const input: Omit<PlanInput, "current"> = {
    job,
    user,
    groupIds,
    mapEntry,
    selfId: Number.NaN,
    matchedBy: null,
    grants: { grantable: new Set(), catalogue: {} },
  };
  let current: WpUser | null = null;
  let assumed: ReturnType<typeof assumedCurrent> = null;
  if (needsCurrent(input)) {
    input.grants = await ctx.grants();
    input.selfId = await deps.selfId();
    if (mapEntry) {
      assumed = !ctx.run.dryRun && deps.site.updateIfUnchanged ? assumedCurrent(input) : null;
      // Only a write can check the assumption: anything else is planned against the user as read.
      if (assumed && !WRITES_ASSUMING.has(planUser({ ...input, current: assumed.user }).action)) assumed = null;
      if (!assumed) current = await deps.site.getUser(mapEntry.wpUserId);
    } else {
      // The index keeps references only: read the whole user (roles, capabilities) when one matches.
      const match = matchUser(job, user, desiredFields(job, user), await ctx.index());
      current = match ? await deps.site.getUser(match.account.id) : null;
      input.matchedBy = match?.by ?? null;
    }
  }
  const plan = planUser({ ...input, current: assumed?.user ?? current });
  try {
    if (!mapEntry && plan.wpUserId !== null) await claim(ctx, plan.entraId, { wpUserId: plan.wpUserId }, claims);
    const outcome = assumed
      ? await applyAssuming(ctx, input, plan, assumed.assumption, mapEntry, claims)
      : await apply(ctx, input, plan, mapEntry, claims);
    const { action, status, wpUserId } = outcome.item;
    if (job.photos && !ctx.run.dryRun && status === "ok" && action !== "skip" && wpUserId !== null) {
      await syncPhoto(ctx, plan.entraId, wpUserId, action !== "unchanged");
    }
    return outcome;
  } catch (error) {
    if (isUserError(error) || (await failedForThisUserOnly(ctx, error))) {
      return { item: itemOf(plan, "failed", (error as Error).message), map: null };
    }
    throw error;
  }
}

/**
 * Takes a WordPress account for this Entra user, refusing one that another Entra user of the job
 * is synced to, or that another user of this page claimed: duplicate e-mails in Entra must end in
 * a failed item, never in one account overwritten by two people. The page claim is set before
 * anything is awaited, so two users of the page racing for one account cannot both pass.
 */
export async function claim(
  ctx: StepContext,
  entraId: string,
  account: { wpUserId: number } | { email: string },
  claims: PageClaims,
): Promise<void> {
  const key = "wpUserId" in account ? `wp:${account.wpUserId}` : `email:${account.email.toLowerCase()}`;
  const holder = claims.accounts.get(key);
  if (holder === undefined) claims.accounts.set(key, entraId);
  const owner =
    holder ?? ("wpUserId" in account ? await mapOwnerOf(ctx.deps.db.pool, ctx.job.id, account.wpUserId) : null);
  if (owner !== null && owner !== entraId) {
    const what = "wpUserId" in account ? `WordPress user ${account.wpUserId}` : `The e-mail ${account.email}`;
    throw new UpstreamError(
      `${what} already belongs to Entra user ${owner}: the same e-mail or login in two Entra accounts?`,
      "wordpress",
      "exists",
      { code: "already_synced" },
    );
  }
}

/**
 * WordPress answers HTTP 500 both when it is down and when one user's data makes PHP fail (a
 * fatal on a value the database refuses). If a cheap read succeeds right after, the site is up
 * and the failure belongs to this user: record it on the item instead of failing every step.
 */
export async function failedForThisUserOnly(ctx: StepContext, error: unknown): Promise<boolean> {
  if (!(error instanceof UpstreamError && error.source === "wordpress" && error.details.status === 500)) return false;
  try {
    await ctx.deps.site.info();
    ctx.log.warn({ err: error }, "WordPress failed on one user while answering other requests; recorded as failed");
    return true;
  } catch {
    return false;
  }
}

async function apply(
  ctx: StepContext,
  input: Omit<PlanInput, "current">,
  plan: UserPlan,
  mapEntry: MapEntry | null,
  claims: PageClaims,
): Promise<UserOutcome> {
  const { site } = ctx.deps;
  if (plan.refusal) return { item: itemOf(plan, "failed", plan.refusal), map: null };
  if (ctx.run.dryRun) return { item: itemOf(plan, "planned"), map: null };
  // The plan found the account unprotected when it read it; the guard holds the write to that.
  const guard = guardRoles(ctx.job, mapEntry?.granted ?? []);
  switch (plan.action) {
    case "skip":
      return { item: itemOf(plan, "ok"), map: null };
    case "unchanged":
      return { item: itemOf(plan, "ok"), map: mapChanged(mapEntry, plan) ? mapOf(plan, plan.wpUserId!) : null };
    case "update":
      await site.updateUser(plan.wpUserId!, plan.write, guard);
      return { item: itemOf(plan, "ok"), map: mapOf(plan, plan.wpUserId!) };
    case "reactivate":
      await site.reactivateUser(plan.wpUserId!, plan.write, guard);
      return { item: itemOf(plan, "ok"), map: mapOf(plan, plan.wpUserId!) };
    case "create":
      return create(ctx, input, plan, claims);
  }
}

/** The plan actions a conditional write (Site.updateIfUnchanged) can carry. */
const WRITES_ASSUMING: ReadonlySet<UserPlan["action"]> = new Set(["update", "reactivate"]);

/**
 * A mapped user's update (or reactivation) without reading the user first: `plan` was made against
 * the user as the service last left it (core/plan.ts assumedCurrent) and WordPress writes it only
 * while the user still holds everything that plan read. Either way the site answers the user as it
 * was, and the plan is made again from that, so items show what WordPress really had: when applied,
 * it is the same plan (the assumption held); when not, it is applied as the plan after a read would be.
 * A site that cannot check assumptions (null) costs the read after all.
 */
async function applyAssuming(
  ctx: StepContext,
  input: Omit<PlanInput, "current">,
  plan: UserPlan,
  assumption: Assumption,
  mapEntry: MapEntry | null,
  claims: PageClaims,
): Promise<UserOutcome> {
  const { site } = ctx.deps;
  const id = plan.wpUserId!;
  const kind = plan.action === "reactivate" ? "reactivate" : "update";
  const answer = await site.updateIfUnchanged!(id, kind, assumption, plan.write);
  const current = answer === null ? await site.getUser(id) : answer.before;
  const real = planUser({ ...input, current });
  if (answer === null || !answer.applied) return apply(ctx, input, real, mapEntry, claims);
  if (real.action !== plan.action || !isDeepStrictEqual(real.write, plan.write)) {
    // The assumption held, so this cannot happen unless the site compared less than it was given.
    ctx.log.error(
      { entraId: plan.entraId, wpUserId: id, planned: plan.write, fromBefore: real.write },
      "conditional write: the plan from the user as it was differs from the plan that was written",
    );
  }
  return { item: itemOf(real, "ok"), map: mapOf(real, id) };
}

/**
 * Creates with a login free in the index and in this step. WordPress saying "exists" means the user
 * is already there (a step that died after creating it, or someone else's account with that e-mail):
 * adopt it by planning again against it, so it is updated (or skipped when protected), never duplicated.
 */
async function create(
  ctx: StepContext,
  input: Omit<PlanInput, "current">,
  plan: UserPlan,
  claims: PageClaims,
): Promise<UserOutcome> {
  const { site } = ctx.deps;
  const index = await ctx.index();
  const username = pickUsername(
    usernameCandidates(ctx.job, input.user),
    (login) => claims.logins.has(login.toLowerCase()) || !!index.byLogin(login),
  );
  claims.logins.add(username.toLowerCase());
  if (plan.write.fields.email) await claim(ctx, plan.entraId, { email: plan.write.fields.email }, claims);
  try {
    const created = await site.createUser(username, plan.write, plan.entraId);
    index.add(created);
    return { item: itemOf(plan, "ok", null, created.id), map: mapOf(plan, created.id) };
  } catch (error) {
    if (!(error instanceof UpstreamError && error.kind === "exists")) throw error;
    // An earlier attempt whose answer never came (cut short at a step's deadline, a lost
    // connection) may have created it: with the companion plugin it carries this Entra id.
    const own = await site.findByEntraId(plan.entraId);
    const existing = own ?? (await site.findUser({ email: plan.write.fields.email, username }));
    if (!existing) throw error;
    await claim(ctx, plan.entraId, { wpUserId: existing.id }, claims);
    ctx.log.info({ entraId: plan.entraId, wpUserId: existing.id }, "create found the user already there; adopting it");
    const matchedBy = await foundBy(ctx, plan, existing);
    const adopted = planUser({ ...input, mapEntry: null, current: existing, matchedBy });
    if (adopted.action === "create") throw error; // cannot happen with a current user; never loop
    // Our own create, as planned: that is what this item records.
    if (own && adopted.action === "unchanged")
      return { item: itemOf(plan, "ok", null, own.id), map: mapOf(plan, own.id) };
    const outcome = await apply(
      ctx,
      input,
      { ...adopted, reason: adopted.reason ?? "adopted existing WordPress user" },
      null,
      claims,
    );
    return outcome;
  }
}

/**
 * Which match key an account found after "exists" answers to: the Entra id when the plugin stored
 * this user's (a create that died after WordPress applied it), else its e-mail, else its login.
 */
async function foundBy(ctx: StepContext, plan: UserPlan, existing: WpUser): Promise<MatchKey> {
  if ((await ctx.deps.site.findByEntraId(plan.entraId))?.id === existing.id) return "entraId";
  return existing.email.toLowerCase() === plan.write.fields.email?.toLowerCase() ? "email" : "username";
}

function mapChanged(entry: MapEntry | null, plan: UserPlan): boolean {
  return entry?.state !== "active" || entry.hash !== plan.hash || entry.wpUserId !== plan.wpUserId;
}

function mapOf(plan: UserPlan, wpUserId: number): MapWrite {
  return {
    entraId: plan.entraId,
    wpUserId,
    hash: plan.hash,
    state: "active",
    email: plan.email,
    fields: plan.desired,
    roles: plan.roles ?? null,
    granted: plan.granted,
  };
}

export function itemOf(
  plan: UserPlan,
  status: ItemInput["status"],
  error: string | null = null,
  wpUserId?: number,
): ItemInput {
  return {
    entraId: plan.entraId,
    wpUserId: wpUserId ?? plan.wpUserId,
    action: plan.action,
    status,
    diff: plan.diff,
    email: plan.email,
    displayName: plan.displayName,
    reason: plan.reason,
    error,
  };
}

/** Whether a WordPress user may be touched at all (the service's own account never); granted roles never protect. */
export async function protectedUser(ctx: StepContext, user: WpUser, granted: readonly string[]): Promise<boolean> {
  return isProtected(ctx.job, user, await ctx.deps.selfId(), granted, await ctx.grants());
}

/**
 * Runs tasks in order with at most `limit` in flight (the one limiter, src/net/limiter.ts: FIFO,
 * so tasks start in index order), starting a new one only while `canStart()` (the first always
 * starts, so every step makes progress). Waits for everything started, then throws the first
 * error. Returns the results of the started prefix.
 */
export async function runInOrder<T>(
  count: number,
  limit: number,
  canStart: () => boolean,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const limiter = makeLimiter(Math.max(1, Math.min(limit, count)));
  const results: T[] = [];
  let started = 0;
  let failure: { error: unknown } | null = null;
  await Promise.all(
    Array.from({ length: count }, (_, index) =>
      limiter.run(async () => {
        // Once one task may not start (or one failed), none after it does: the started ones stay a prefix.
        if (failure !== null || started < index || (index > 0 && !canStart())) return;
        started++;
        try {
          results[index] = await task(index);
        } catch (error) {
          failure ??= { error };
        }
      }),
    ),
  );
  if (failure) throw (failure as { error: unknown }).error;
  return results.slice(0, started);
}
