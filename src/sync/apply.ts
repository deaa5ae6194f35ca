/**
 * One user of a page: find what WordPress has (only when the plan needs it), plan with core, and
 * apply the plan (or, in a dry run, only record it). Pure bookkeeping comes back to the caller,
 * which commits a whole page in one transaction.
 */
import { UpstreamError } from "../core/errors";
import { desiredFields } from "../core/mapping";
import { matchUser } from "../core/match";
import { isProtected, type MapEntry, needsCurrent, type PlanInput, planUser, type UserPlan } from "../core/plan";
import { uniqueUsername } from "../core/username";
import type { ItemInput } from "../db/items";
import type { MapWrite } from "../db/user-map";
import type { GraphUser, WpUser } from "./ports";
import type { StepContext } from "./step";

export interface UserOutcome {
  item: ItemInput;
  /** What to store in the user map; null when nothing changes there. */
  map: MapWrite | null;
}

/** Per-user failures that are recorded on the item while the run goes on. */
function isUserError(error: unknown): error is UpstreamError {
  return (
    error instanceof UpstreamError &&
    (error.kind === "invalid" || error.kind === "not-found" || error.kind === "exists")
  );
}

/** Logins handed out in this step but not yet in the index (two users of a page with one candidate). */
export type TakenLogins = Set<string>;

export async function syncUser(
  ctx: StepContext,
  user: GraphUser,
  groupIds: ReadonlySet<string>,
  mapEntry: MapEntry | null,
  taken: TakenLogins,
): Promise<UserOutcome> {
  const { job, deps } = ctx;
  // selfId only matters once WordPress's current user is known (isProtected); an unchanged user
  // needs neither, and so costs no WordPress request at all, not even GET /users/me.
  const draft: Omit<PlanInput, "current"> = { job, user, groupIds, mapEntry, selfId: Number.NaN };
  let current: WpUser | null = null;
  let selfId = Number.NaN;
  if (needsCurrent(draft)) {
    selfId = await deps.selfId();
    if (mapEntry) current = await deps.site.getUser(mapEntry.wpUserId);
    else current = matchUser(job, user, desiredFields(job, user), await ctx.index());
  }
  const input = { ...draft, selfId };
  const plan = planUser({ ...input, current });
  try {
    return await apply(ctx, input, plan, mapEntry, taken);
  } catch (error) {
    if (!isUserError(error)) throw error;
    return { item: itemOf(plan, "failed", error.message), map: null };
  }
}

async function apply(
  ctx: StepContext,
  input: Omit<PlanInput, "current">,
  plan: UserPlan,
  mapEntry: MapEntry | null,
  taken: TakenLogins,
): Promise<UserOutcome> {
  const { site } = ctx.deps;
  if (ctx.run.dryRun) return { item: itemOf(plan, "planned"), map: null };
  switch (plan.action) {
    case "skip":
      return { item: itemOf(plan, "ok"), map: null };
    case "unchanged":
      return { item: itemOf(plan, "ok"), map: mapChanged(mapEntry, plan) ? mapOf(plan, plan.wpUserId!) : null };
    case "update":
      await site.updateUser(plan.wpUserId!, plan.write);
      return { item: itemOf(plan, "ok"), map: mapOf(plan, plan.wpUserId!) };
    case "reactivate":
      await site.reactivateUser(plan.wpUserId!, plan.write);
      return { item: itemOf(plan, "ok"), map: mapOf(plan, plan.wpUserId!) };
    case "create":
      return create(ctx, input, plan, taken);
  }
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
  taken: TakenLogins,
): Promise<UserOutcome> {
  const { site } = ctx.deps;
  const index = await ctx.index();
  const username = uniqueUsername(plan.username!, (login) => taken.has(login.toLowerCase()) || !!index.byLogin(login));
  taken.add(username.toLowerCase());
  try {
    const created = await site.createUser(username, plan.write, plan.entraId);
    return { item: itemOf(plan, "ok", null, created.id), map: mapOf(plan, created.id) };
  } catch (error) {
    if (!(error instanceof UpstreamError && error.kind === "exists")) throw error;
    const existing = await site.findUser({ email: plan.write.fields.email, username });
    if (!existing) throw error;
    ctx.log.info({ entraId: plan.entraId, wpUserId: existing.id }, "create found the user already there; adopting it");
    const adopted = planUser({ ...input, mapEntry: null, current: existing });
    if (adopted.action === "create") throw error; // cannot happen with a current user; never loop
    const outcome = await apply(
      ctx,
      input,
      { ...adopted, reason: adopted.reason ?? "adopted existing WordPress user" },
      null,
      taken,
    );
    return outcome;
  }
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
  };
}

function itemOf(
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

/** Whether a WordPress user may be touched at all (the service's own account never). */
export async function protectedUser(ctx: StepContext, user: WpUser): Promise<boolean> {
  return isProtected(ctx.job, user, await ctx.deps.selfId());
}

/**
 * Runs tasks in order with at most `limit` in flight, starting a new one only while `canStart()`
 * (the first always starts, so every step makes progress). Waits for everything started, then
 * throws the first error. Returns the results of the started prefix.
 */
export async function runInOrder<T>(
  count: number,
  limit: number,
  canStart: () => boolean,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (next < count && failure === null && (next === 0 || canStart())) {
      const index = next++;
      try {
        results[index] = await task(index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
  return results.slice(0, next);
}
