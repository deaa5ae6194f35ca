/**
 * The listing state: first the members of the job's groups (a few group pages per step, each
 * committed under the lease), then one page of users per step. No transaction is held across a
 * Graph or WordPress call: the page is fetched, planned and applied, then committed in one
 * transaction guarded by the lease.
 */

import { ID_BATCH } from "../core/graph-query";
import type { Job } from "../core/job";
import { selectFor } from "../core/mapping";
import { isScimJob } from "../core/scim/job";
import { inJobScope } from "../core/scoping";
import { addGroupMembers, groupsOf } from "../db/group-members";
import { addRemovals, insertItems, itemisedAmong } from "../db/items";
import { runTargets } from "../db/notifications";
import { withTransaction } from "../db/pool";
import { type RunPatch, updateLeased } from "../db/runs";
import { mapEntriesFor, upsertMapEntries } from "../db/user-map";
import { makePageClaims, runInOrder, syncUser, type UserOutcome } from "./apply";
import { syncNetworkUser } from "./network";
import type { UsersPage, UsersQuery } from "./ports";
import { scimGroupMembers, scimUsersPage } from "./scim-source";
import {
  finishedOf,
  LeaseLostError,
  nearDeadline,
  type StepContext,
  type StepOutcome,
  startCursor,
  unlessOutOfTime,
  usersAtOnce,
} from "./step-context";

const NO_GROUPS: ReadonlySet<string> = new Set();

/** Every group the job reads: scoping groups, then role-mapping groups (a network's per site too); no repeats. */
export function groupsToList(job: Job): string[] {
  const mapping = [...job.roles.groups, ...(job.network?.groups ?? [])].map((entry) => entry.group);
  return [...new Set([...job.source.groups, ...mapping])];
}

export async function listGroupsStep(ctx: StepContext): Promise<StepOutcome> {
  const { deps, job, owner } = ctx;
  const pool = deps.db.pool;
  const groups = groupsToList(job);
  let run = ctx.run;
  while (run.groupIndex < groups.length) {
    const groupId = groups[run.groupIndex]!;
    const page = isScimJob(job)
      ? { userIds: await scimGroupMembers(pool, job, groupId), nextLink: null }
      : await deps.directory.fetchGroupMembersPage(groupId, run.cursor, ctx.budget);
    const before = run;
    run = await withTransaction(pool, async (client) => {
      await addGroupMembers(client, before.id, groupId, page.userIds);
      const updated = await updateLeased(client, before.id, owner, {
        cursor: page.nextLink,
        groupIndex: page.nextLink ? before.groupIndex : before.groupIndex + 1,
      });
      if (!updated) throw new LeaseLostError(before.id);
      return updated;
    });
    if (nearDeadline(ctx)) break;
  }
  const patch: RunPatch = { progressed: true, release: true, consecutiveFailures: 0, lastError: null };
  if (run.groupIndex >= groups.length)
    Object.assign(patch, { phase: "users", cursor: await startCursor(ctx), pageDone: 0 });
  const done = await updateLeased(pool, run.id, owner, patch);
  if (!done) throw new LeaseLostError(run.id);
  return { advanced: true, run: done };
}

export async function listUsersStep(ctx: StepContext): Promise<StepOutcome> {
  const { deps, job, run, owner } = ctx;
  const pool = deps.db.pool;
  const query: UsersQuery = {
    mode: job.source.mode,
    filter: job.source.filter,
    pageSize: job.source.pageSize,
    select: selectFor(job),
  };
  const started = performance.now();
  const page = await fetchPage(ctx, query);
  const fetched = performance.now();
  const todo = page.users.slice(run.pageDone);
  const ids = todo.map((user) => user.id);
  const scoped = groupsToList(job).length > 0;
  const [itemised, groups, entries] = await Promise.all([
    itemisedAmong(pool, run.id, ids),
    scoped ? groupsOf(pool, run.id, ids) : Promise.resolve(new Map<string, Set<string>>()),
    mapEntriesFor(pool, job.id, ids),
  ]);

  // Users that left the job's groups or scoping filters but are still mapped: removal candidates
  // (under the safety limits) in delta mode too.
  const leftScope: string[] = [];
  const claims = makePageClaims();
  async function userTask(i: number): Promise<UserOutcome | null> {
    const user = todo[i]!;
    // Already itemised in this run (a restarted listing, a delta replay): never counted twice.
    if (itemised.has(user.id)) return null;
    const groupIds = groups.get(user.id) ?? NO_GROUPS;
    const mapEntry = entries.get(user.id) ?? null;
    if (!inJobScope(job, user, groupIds)) {
      if (mapEntry?.state === "active") leftScope.push(user.id);
      return null;
    }
    return (job.network ? syncNetworkUser : syncUser)(ctx, user, groupIds, mapEntry, claims);
  }
  const outOfTime: unknown[] = [];
  const outcomes = await runInOrder(
    todo.length,
    await usersAtOnce(ctx),
    () => !nearDeadline(ctx),
    (i) => unlessOutOfTime(ctx, () => userTask(i), outOfTime),
  );

  const applied = performance.now();
  const { prefix, finished } = finishedOf(outcomes, outOfTime);
  const done = finished.filter((outcome): outcome is UserOutcome => outcome !== null);
  const pageFinished = run.pageDone + prefix >= page.users.length;
  const committed = await withTransaction(pool, async (client) => {
    const counts = await insertItems(
      client,
      run.id,
      done.map((outcome) => outcome.item),
    );
    if (!run.dryRun) {
      await upsertMapEntries(
        client,
        job.id,
        done.flatMap((outcome) => (outcome.map ? [outcome.map] : [])),
      );
    }
    await addRemovals(client, run.id, pageFinished ? [...page.removed, ...leftScope] : leftScope);
    const patch: RunPatch = { counts, progressed: true, release: true, consecutiveFailures: 0, lastError: null };
    if (page.totalCount !== null) patch.totalEstimate = page.totalCount;
    if (pageFinished) {
      Object.assign(patch, { cursor: page.nextLink, pageDone: 0 });
      if (page.deltaLink) patch.newDeltaLink = page.deltaLink;
      if (page.nextLink === null) patch.state = "reconciling";
    } else {
      patch.pageDone = run.pageDone + prefix;
    }
    const updated = await updateLeased(client, run.id, owner, patch);
    if (!updated) throw new LeaseLostError(run.id);
    return updated;
  });
  ctx.log.debug(
    {
      users: finished.length,
      fetchMs: Math.round(fetched - started),
      planAndApplyMs: Math.round(applied - fetched),
      commitMs: Math.round(performance.now() - applied),
    },
    "page done",
  );
  return { advanced: true, run: committed };
}

/**
 * The next page of the run's listing. A notification run lists the users its notifications name,
 * ID_BATCH per Graph request; its cursor is the offset into that (sorted, distinct) list.
 */
async function fetchPage(ctx: StepContext, query: UsersQuery): Promise<UsersPage> {
  const { deps, run } = ctx;
  if (run.mode !== "notification") return deps.directory.fetchUsersPage(query, run.cursor, ctx.budget);
  const offset = Number(run.cursor ?? 0);
  const ids = await runTargets(deps.db.pool, run.id, offset, ID_BATCH + 1);
  const more = ids.length > ID_BATCH ? String(offset + ID_BATCH) : null;
  if (ids.length === 0) return { users: [], removed: [], nextLink: null, deltaLink: null, totalCount: null };
  const batch = ids.slice(0, ID_BATCH);
  const page = isScimJob(ctx.job)
    ? await scimUsersPage(deps.db.pool, ctx.job, batch)
    : await deps.directory.fetchUsersById(query, batch, ctx.budget);
  return { ...page, nextLink: more };
}
