/**
 * The reconciling state: users the source no longer returns get the job's `missing` action, in
 * slices within the step budget, behind the safety guard. The candidates are itemised once, as
 * "pending", when reconciling begins: the guard counts them, an operator approving sees them, and
 * each slice settles some of them (so a step that dies mid-slice redoes only unsettled ones).
 */
import { UpstreamError } from "../core/errors";
import { planMemberships } from "../core/network";
import type { MapEntry } from "../core/plan";
import { guardRoles } from "../core/privileges";
import {
  type ItemInput,
  itemiseRemovals,
  type PendingRemoval,
  pendingRemovals,
  recentRemovals,
  settlePendingItems,
} from "../db/items";
import { setDeltaLink } from "../db/jobs";
import { completeRunNotifications } from "../db/notifications";
import { withTransaction } from "../db/pool";
import { updateLeased } from "../db/runs";
import { countActiveMapped, deleteMapEntries, mapEntriesFor, markDeactivated } from "../db/user-map";
import { protectedUser, runInOrder } from "./apply";
import { membershipDiff, networkGuard, networkOf, protectedOnNetwork } from "./network";
import type { NetworkMember } from "./ports";
import {
  finishedOf,
  LeaseLostError,
  nearDeadline,
  type StepContext,
  type StepOutcome,
  UNFINISHED,
  unlessOutOfTime,
  usersAtOnce,
} from "./step-context";

/** Removals settled per commit. */
const SLICE = 50;
/** The window over which a SCIM job's removals count against its safety limits. */
export const SCIM_GUARD_WINDOW_MS = 3600_000;

export async function reconcileStep(ctx: StepContext): Promise<StepOutcome> {
  if (ctx.run.phase !== "removals") {
    const run = await itemiseCandidates(ctx);
    if (run.state === "awaiting_approval") return { advanced: true, reason: "awaiting approval", run };
    ctx.run = run;
  }
  return removeSlices(ctx);
}

/** One transaction: itemise the candidates and apply the safety guard. */
async function itemiseCandidates(ctx: StepContext): Promise<StepOutcome["run"]> {
  const { run, job, owner } = ctx;
  return withTransaction(ctx.deps.db.pool, async (client) => {
    const missing = job.actions.missing;
    // A full listing that returned nobody is far likelier an outage or a bad filter than an empty tenant.
    const sourceEmpty = run.mode === "full" && run.counts.seen === 0;
    const itemised = missing === "none" || sourceEmpty ? 0 : await itemiseRemovals(client, run, missing);
    // A SCIM run applies the few writes that arrived together: its guard counts the hour's removals.
    const recent = run.trigger === "scim" && itemised > 0 ? await recentRemovals(client, run, SCIM_GUARD_WINDOW_MS) : 0;
    const candidates = itemised + recent;
    const active = (await countActiveMapped(client, job.id)) + recent;
    const overLimit = candidates > job.safety.maxDeleteCount || candidates > job.safety.maxDeleteFraction * active;
    if (sourceEmpty && missing !== "none") ctx.log.warn("the source returned no users: nobody is removed");
    const stop = overLimit && !run.approved && !run.dryRun;
    if (stop) {
      ctx.log.warn(
        { candidates, active, limits: job.safety },
        "removals exceed the safety limits: awaiting an operator's approval",
      );
    }
    const updated = await updateLeased(
      client,
      run.id,
      owner,
      stop
        ? {
            phase: "removals",
            state: "awaiting_approval",
            lastError: `${candidates} removals of ${active} mapped users exceed the safety limits (maxDeleteFraction ${job.safety.maxDeleteFraction}, maxDeleteCount ${job.safety.maxDeleteCount}); approve or cancel the run`,
            progressed: true,
            release: true,
          }
        : { phase: "removals" },
    );
    if (!updated) throw new LeaseLostError(run.id);
    return updated;
  });
}

async function removeSlices(ctx: StepContext): Promise<StepOutcome> {
  const pool = ctx.deps.db.pool;
  const { job, owner } = ctx;
  for (let first = true; ; first = false) {
    const run = ctx.run;
    const slice = await pendingRemovals(pool, run.id, SLICE);
    if (slice.length === 0) return complete(ctx);
    const entries = await mapEntriesFor(
      pool,
      job.id,
      slice.map((removal) => removal.entraId),
    );
    const outOfTime: unknown[] = [];
    const started = await runInOrder(
      slice.length,
      await usersAtOnce(ctx),
      () => !nearDeadline(ctx),
      (i) =>
        unlessOutOfTime(
          ctx,
          () =>
            job.network
              ? removeFromNetwork(ctx, slice[i]!, entries.get(slice[i]!.entraId))
              : removeOne(ctx, slice[i]!, entries.get(slice[i]!.entraId)?.granted ?? []),
          outOfTime,
        ),
    );
    // Nothing of this slice finished, but earlier slices of the step were committed: that is progress.
    if (!first && started.every((o) => o === UNFINISHED)) break;
    const { finished: outcomes } = finishedOf(started, outOfTime);
    // Removals left unfinished stay pending for the next step.
    ctx.run = await withTransaction(pool, async (client) => {
      const counts = await settlePendingItems(
        client,
        run.id,
        outcomes.map((outcome) => outcome.item),
      );
      if (!run.dryRun) {
        await markDeactivated(
          client,
          job.id,
          outcomes.flatMap((o) => (o.map === "deactivated" ? [o.item.entraId] : [])),
        );
        await deleteMapEntries(
          client,
          job.id,
          outcomes.flatMap((o) => (o.map === "deleted" ? [o.item.entraId] : [])),
        );
      }
      const updated = await updateLeased(client, run.id, owner, { counts });
      if (!updated) throw new LeaseLostError(run.id);
      return updated;
    });
    if (nearDeadline(ctx)) break;
  }
  const released = await updateLeased(pool, ctx.run.id, owner, {
    progressed: true,
    release: true,
    consecutiveFailures: 0,
    lastError: null,
  });
  if (!released) throw new LeaseLostError(ctx.run.id);
  return { advanced: true, run: released };
}

interface RemovalOutcome {
  item: ItemInput;
  map: "deactivated" | "deleted" | null;
}

/**
 * GET first: a protected user (by role, id, capability, or the service's own account) is never removed; but
 * roles the service granted (`granted`) never protect, and are taken back even from a protected user.
 */
async function removeOne(ctx: StepContext, removal: PendingRemoval, granted: string[]): Promise<RemovalOutcome> {
  const { site } = ctx.deps;
  const base = {
    entraId: removal.entraId,
    wpUserId: removal.wpUserId,
    email: removal.email,
    displayName: null,
    error: null,
  };
  const current = await site.getUser(removal.wpUserId);
  if (!current) {
    return {
      item: {
        ...base,
        action: "skip",
        status: ctx.run.dryRun ? "planned" : "ok",
        diff: {},
        reason: "not found in WordPress",
      },
      map: "deleted",
    };
  }
  const withName = { ...base, displayName: current.name || null, email: current.email || base.email };
  if (await protectedUser(ctx, current, granted)) {
    const kept = current.roles.filter((role) => !granted.includes(role));
    if (kept.length === current.roles.length) {
      return {
        item: { ...withName, action: "skip", status: ctx.run.dryRun ? "planned" : "ok", diff: {}, reason: "protected" },
        map: null,
      };
    }
    const item: ItemInput = {
      ...withName,
      action: "update",
      status: ctx.run.dryRun ? "planned" : "ok",
      diff: { roles: [current.roles, kept] },
      reason: "protected: only the roles the service granted were taken away",
    };
    if (ctx.run.dryRun) return { item, map: null };
    try {
      await site.updateUser(current.id, { fields: {}, roles: kept });
      return { item, map: "deactivated" };
    } catch (error) {
      return refusedBy(error, item);
    }
  }
  const diff: Record<string, [unknown, unknown]> =
    removal.action === "deactivate" ? { roles: [current.roles, []] } : { user: [current.username, null] };
  const item: ItemInput = { ...withName, action: removal.action, status: "ok", diff, reason: null };
  if (ctx.run.dryRun) return { item: { ...item, status: "planned" }, map: null };
  // Unprotected when read: the guard refuses the removal if a privilege was given in WordPress since.
  const guard = guardRoles(ctx.job, granted);
  try {
    if (removal.action === "deactivate") {
      await site.deactivateUser(current.id, guard);
      return { item, map: "deactivated" };
    }
    await site.deleteUser(current.id, ctx.job.actions.reassignTo ?? (await ctx.deps.selfId()), guard);
    return { item, map: "deleted" };
  } catch (error) {
    return refusedBy(error, item);
  }
}

/**
 * A leaver of a network job, per `missing` on the job's sites (core/network.ts planMemberships):
 * "deactivate" keeps the memberships without a role, "delete" removes them, or deletes the account
 * from the network with deleteFromNetwork. Sites the job does not select keep the user as it is.
 * The user map keeps a leaver that is still on the network (as deactivated), so a returning user
 * finds its account again; only a network delete (or an account gone) drops the entry.
 */
async function removeFromNetwork(
  ctx: StepContext,
  removal: PendingRemoval,
  entry: MapEntry | undefined,
): Promise<RemovalOutcome> {
  const { all, selected } = await ctx.sites();
  const status = ctx.run.dryRun ? "planned" : "ok";
  const base = {
    entraId: removal.entraId,
    wpUserId: removal.wpUserId,
    email: removal.email,
    displayName: null,
    error: null,
  };
  let member: NetworkMember;
  try {
    member = await networkOf(ctx).member(removal.wpUserId);
  } catch (error) {
    if (!(error instanceof UpstreamError && error.kind === "not-found")) throw error;
    return { item: { ...base, action: "skip", status, diff: {}, reason: "not found in WordPress" }, map: "deleted" };
  }
  if (await protectedOnNetwork(ctx, removal.wpUserId, member, entry?.sites)) {
    return { item: { ...base, action: "skip", status, diff: {}, reason: "protected" }, map: null };
  }
  const changes = planMemberships(ctx.job.network!, selected, null, member.sites, {
    missing: removal.action,
    protectedRoles: [],
  });
  const item: ItemInput = {
    ...base,
    action: removal.action,
    status,
    diff: membershipDiff(changes, member.sites, all),
    reason: changes.length === 0 ? "nothing to take away on the job's sites" : null,
  };
  if (ctx.run.dryRun) return { item, map: null };
  try {
    // Unprotected when read: the guard refuses the removal if a privilege was given in WordPress since.
    await networkOf(ctx).apply(removal.wpUserId, changes, networkGuard(ctx.job, entry?.sites));
  } catch (error) {
    return refusedBy(error, item);
  }
  return { item, map: changes.some((change) => change.kind === "delete") ? "deleted" : "deactivated" };
}

/** WordPress refused this one user's change, or the user is gone: a failed item, and the run goes on. */
function refusedBy(error: unknown, item: ItemInput): RemovalOutcome {
  if (error instanceof UpstreamError && (error.kind === "invalid" || error.kind === "not-found")) {
    return { item: { ...item, status: "failed", error: error.message }, map: null };
  }
  throw error;
}

/** The last guarded transition: completed, and (delta jobs, real runs) the new deltaLink stored on the job. */
async function complete(ctx: StepContext): Promise<StepOutcome> {
  const { run, job, owner } = ctx;
  const completed = await withTransaction(ctx.deps.db.pool, async (client) => {
    const updated = await updateLeased(client, run.id, owner, {
      state: "completed",
      finished: true,
      progressed: true,
      release: true,
      consecutiveFailures: 0,
      lastError: null,
    });
    if (!updated) throw new LeaseLostError(run.id);
    if (run.mode === "notification") await completeRunNotifications(client, run.id);
    if (job.source.mode === "delta" && !run.dryRun && run.newDeltaLink) {
      await setDeltaLink(client, job.id, run.newDeltaLink);
    }
    return updated;
  });
  return { advanced: true, reason: "completed", run: completed };
}
