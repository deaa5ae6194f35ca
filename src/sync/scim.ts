/**
 * The SCIM source's write path (DESIGN.md "SCIM source"). A provider's write is stored in one
 * transaction with the pending change that names its user (the queue Graph change notifications
 * use), so it is durable before the provider is answered; the notification worker then applies it
 * through the engine (runs of kind "scim": plan, protection, roles, items, safety guard). The
 * answer waits for that, up to a budget: with WordPress down the write is still accepted and
 * applied when it returns, and past a backlog bound the endpoint answers 503 with Retry-After.
 * Writes of one user take turns on its row lock: the later one wins, nothing is duplicated.
 */
import type { Job } from "../core/job";
import { ScimError } from "../core/scim/errors";
import { isScimJob } from "../core/scim/job";
import { applyPatch, readPatch } from "../core/scim/patch";
import { type Condition, matchesFilter, parseFilter } from "../core/scim/paths";
import { groupResource, listResponse, MAX_RESULTS, selectAttributes, userResource } from "../core/scim/resource";
import { canonical, ENTERPRISE_SCHEMA, filterDefs, type ScimObject } from "../core/scim/schema";
import { insertNotifications } from "../db/notifications";
import { type Database, type Queryable, withTransaction } from "../db/pool";
import * as store from "../db/scim";
import { mapEntriesFor } from "../db/user-map";

/**
 * How long a write waits for WordPress before it is answered anyway (it is applied later then).
 * Not a provider's timeout: Entra needs an answer within 60 s (a Microsoft engineer on Microsoft
 * Q&A, "Azure AD SCIM attempting to create the same user repeatedly", 2023; not in its docs), and
 * Okta's on-premises connectors wait 30 s at least. Entra keeps a capped number of requests open
 * and queues the rest, so a write stuck on a slow WordPress holds up the provider's cycle: 5 s
 * answers such a write early, far above the 1 s p95 a write takes to reach WordPress.
 */
export const SCIM_WAIT_MS = 5_000;
/** Writes waiting for WordPress past which a job's writes get 503 + Retry-After: a provider retries them. */
export const SCIM_MAX_BACKLOG = 20_000;
/** Operations one PATCH may carry (Entra sends group members in chunks far below this). */
export const SCIM_MAX_OPERATIONS = 1_000;

export interface ScimOptions {
  db: Database;
  jobs: readonly Job[];
  /** Apply pending changes now (the notification worker's poke). */
  poke(): void;
  /** How long a write waits for WordPress before it is answered anyway (applied later). */
  waitMs: number;
  /** Pending writes of a job past which writes are refused with 503 + Retry-After. */
  maxBacklog: number;
  maxOperations: number;
}

export interface ListQuery {
  filter?: string;
  startIndex?: number;
  count?: number;
  attributes?: string;
  excludedAttributes?: string;
}

export type ScimService = ReturnType<typeof makeScimService>;

export function makeScimService(options: ScimOptions) {
  const pool = options.db.pool;
  const jobs = new Map(options.jobs.filter(isScimJob).map((job) => [job.id, job]));

  function scimJob(id: string): Job {
    const job = jobs.get(id);
    if (!job) throw new ScimError(404, null, `no SCIM job ${id}`);
    return job;
  }

  async function enqueue(db: Queryable, jobId: string, keys: string[]): Promise<void> {
    await insertNotifications(
      db,
      [...new Set(keys)].map((key) => ({
        jobId,
        subscriptionId: "scim",
        entraId: key,
        changeType: "scim",
        lifecycleEvent: null,
      })),
    );
  }

  async function admit(jobId: string): Promise<void> {
    if ((await store.scimBacklog(pool, jobId)) >= options.maxBacklog) {
      throw new ScimError(503, null, "WordPress is behind: too many changes wait to be applied; retry later", 30);
    }
  }

  /** Waits until the users' changes are applied, or the budget is spent (they are applied later then). */
  async function settle(jobId: string, keys: string[]): Promise<void> {
    options.poke();
    const deadline = Date.now() + options.waitMs;
    for (const key of keys) {
      while (Date.now() < deadline && (await store.isPending(pool, jobId, key))) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /** The user as WordPress holds it: active false once the service deactivated it there. */
  async function userView(jobId: string, baseUrl: string, user: store.StoredUser): Promise<ScimObject> {
    const entry = (await mapEntriesFor(pool, jobId, [user.key])).get(user.key);
    const active = entry ? entry.state === "active" : user.active;
    return userResource(baseUrl, user, user.resource, active);
  }

  function readUser(body: unknown): store.UserWrite {
    const resource = canonical(body, "User");
    const userName = typeof resource.userName === "string" ? resource.userName.trim() : "";
    if (!userName) throw new ScimError(400, "invalidValue", "userName is required");
    resource.userName = userName;
    const externalId = typeof resource.externalId === "string" && resource.externalId ? resource.externalId : null;
    return { userName, externalId, active: resource.active !== false, resource };
  }

  function taken(error: unknown, what: string): never {
    if (error instanceof store.ScimTakenError) throw new ScimError(409, "uniqueness", `${what} is already taken`);
    throw error;
  }

  async function writeUser(
    jobId: string,
    baseUrl: string,
    write: (client: Queryable) => Promise<store.StoredUser | null>,
  ): Promise<ScimObject> {
    scimJob(jobId);
    await admit(jobId);
    const user = await withTransaction(pool, async (client) => {
      const written = await write(client);
      if (!written) throw new ScimError(404, null, "no such user");
      await enqueue(client, jobId, [written.key]);
      return written;
    }).catch((error) => taken(error, "the userName or externalId"));
    await settle(jobId, [user.key]);
    return userView(jobId, baseUrl, user);
  }

  async function listUsers(jobId: string, baseUrl: string, query: ListQuery): Promise<ScimObject> {
    scimJob(jobId);
    const conditions = query.filter === undefined ? [] : parseFilter(query.filter, filterDefs("User"));
    const lookup: store.UserLookup = {};
    for (const c of conditions) {
      const name = c.path.attr.length === 1 && !c.path.sub && !c.path.filter ? c.path.attr[0] : null;
      if (typeof c.value !== "string") continue;
      if (name === "userName") lookup.userName = c.value;
      if (name === "externalId") lookup.externalId = c.value;
    }
    const idCondition = conditions.find((c) => c.path.attr[0] === "id");
    if (typeof idCondition?.value === "string") lookup.id = idCondition.value;
    const candidates = await store.findUsers(pool, jobId, lookup);
    const matching = conditions.length === 0 ? candidates : candidates.filter((u) => userMatches(u, conditions));
    const { start, page } = pageOf(matching, query);
    const resources = await Promise.all(page.map((user) => userView(jobId, baseUrl, user)));
    return listResponse(
      resources.map((r) => selectAttributes(r, query.attributes, query.excludedAttributes)),
      matching.length,
      start,
    );
  }

  async function listGroups(jobId: string, baseUrl: string, query: ListQuery): Promise<ScimObject> {
    scimJob(jobId);
    const conditions = query.filter === undefined ? [] : parseFilter(query.filter, filterDefs("Group"));
    const lookup: store.GroupLookup = {};
    for (const c of conditions) {
      const name = c.path.sub || c.path.filter ? null : c.path.attr[0];
      if (typeof c.value !== "string") continue;
      if (name === "displayName") lookup.displayName = c.value;
      else if (name === "externalId") lookup.externalId = c.value;
      else if (name === "id") lookup.id = c.value;
      else throw new ScimError(400, "invalidFilter", "groups are filtered by displayName, externalId or id");
    }
    const withMembers = !(query.excludedAttributes ?? "")
      .toLowerCase()
      .split(",")
      .map((s) => s.trim())
      .includes("members");
    const groups = await store.findGroups(pool, jobId, lookup, withMembers);
    const { start, page } = pageOf(groups, query);
    return listResponse(
      page.map((g) => selectAttributes(groupView(baseUrl, g, withMembers), query.attributes, query.excludedAttributes)),
      groups.length,
      start,
    );
  }

  function groupView(baseUrl: string, group: store.StoredGroup, withMembers: boolean): ScimObject {
    return groupResource(baseUrl, { ...group, version: 1 }, { ...group, members: withMembers ? group.members : null });
  }

  async function getGroup(jobId: string, baseUrl: string, id: string): Promise<ScimObject> {
    scimJob(jobId);
    const [group] = await store.findGroups(pool, jobId, { id }, true);
    if (!group) throw new ScimError(404, null, "no such group");
    return groupView(baseUrl, group, true);
  }

  function readGroup(body: unknown): { displayName: string; externalId: string | null; members: string[] | null } {
    const group = canonical(body, "Group");
    const displayName = typeof group.displayName === "string" ? group.displayName.trim() : "";
    if (!displayName) throw new ScimError(400, "invalidValue", "displayName is required");
    const externalId = typeof group.externalId === "string" && group.externalId ? group.externalId : null;
    const members = Array.isArray(group.members)
      ? (group.members as ScimObject[]).flatMap((m) => (typeof m.value === "string" ? [m.value] : []))
      : null;
    return { displayName, externalId, members };
  }

  /**
   * Writes a group and its members in one transaction. The users who joined or left are re-planned
   * (roles), and every member when the group's names changed: a job's roles.groups names a group by
   * displayName or externalId, so a renamed group may map another role, or none.
   */
  async function writeGroup(
    jobId: string,
    baseUrl: string,
    id: string | null,
    change: (current: ScimObject | null) => ReturnType<typeof readGroup>,
  ): Promise<{ group: ScimObject; created: boolean }> {
    scimJob(jobId);
    await admit(jobId);
    const { groupId, moved } = await withTransaction(pool, async (client) => {
      let current: ScimObject | null = null;
      if (id !== null) {
        if (!(await store.lockGroup(client, jobId, id))) throw new ScimError(404, null, "no such group");
        const [existing] = await store.findGroups(client, jobId, { id }, true);
        current = groupView(baseUrl, existing!, true);
      }
      const next = change(current);
      const groupId = id ?? (await store.insertGroup(client, jobId, next));
      if (id !== null) await store.updateGroup(client, groupId, next);
      const renamed =
        current !== null &&
        (current.displayName !== next.displayName || (current.externalId ?? null) !== next.externalId);
      let moved: string[] = renamed ? await store.groupMemberKeys(client, groupId) : [];
      if (next.members !== null) {
        const users = await store.existingUserIds(client, jobId, next.members);
        if (users.length < new Set(next.members).size) {
          throw new ScimError(400, "invalidValue", "members must be ids of users of this endpoint");
        }
        moved = [
          ...moved,
          ...(await store.setMembers(
            client,
            groupId,
            users.map((u) => u.id),
          )),
        ];
      }
      await enqueue(client, jobId, moved);
      return { groupId, moved };
    }).catch((error) => taken(error, "the displayName"));
    if (moved.length > 0) await settle(jobId, moved);
    return { group: await getGroup(jobId, baseUrl, groupId), created: id === null };
  }

  return {
    isScimJob: (id: string) => jobs.has(id),
    listUsers,
    async getUser(jobId: string, baseUrl: string, id: string): Promise<ScimObject> {
      scimJob(jobId);
      const user = await store.findUser(pool, jobId, id);
      if (!user) throw new ScimError(404, null, "no such user");
      return userView(jobId, baseUrl, user);
    },
    createUser(jobId: string, baseUrl: string, body: unknown): Promise<ScimObject> {
      const user = readUser(body);
      return writeUser(jobId, baseUrl, (client) => store.insertUser(client, jobId, user));
    },
    replaceUser(jobId: string, baseUrl: string, id: string, body: unknown): Promise<ScimObject> {
      const user = readUser(body);
      return writeUser(jobId, baseUrl, async (client) => {
        const current = await store.findUser(client, jobId, id, true);
        if (!current) return null;
        // Okta's PUT may leave active out: it stays what it was.
        const active = user.resource.active === undefined ? current.active : user.active;
        return store.updateUser(client, jobId, id, { ...user, active, resource: { ...user.resource, active } });
      });
    },
    patchUser(jobId: string, baseUrl: string, id: string, body: unknown): Promise<ScimObject> {
      const operations = readPatch(body, "User", options.maxOperations);
      return writeUser(jobId, baseUrl, async (client) => {
        const current = await store.findUser(client, jobId, id, true);
        if (!current) return null;
        const patched = applyPatch(current.resource, operations, "User");
        const next = readUser(patched);
        return store.updateUser(client, jobId, id, next);
      });
    },
    async deleteUser(jobId: string, id: string): Promise<void> {
      scimJob(jobId);
      await admit(jobId);
      const user = await withTransaction(pool, async (client) => {
        const deleted = await store.deleteUser(client, jobId, id);
        if (!deleted) throw new ScimError(404, null, "no such user");
        await enqueue(client, jobId, [deleted.key]);
        return deleted;
      });
      await settle(jobId, [user.key]);
    },
    listGroups,
    getGroup,
    createGroup(jobId: string, baseUrl: string, body: unknown) {
      const group = readGroup(body);
      return writeGroup(jobId, baseUrl, null, () => group);
    },
    replaceGroup(jobId: string, baseUrl: string, id: string, body: unknown) {
      const group = readGroup(body);
      return writeGroup(jobId, baseUrl, id, () => ({ ...group, members: group.members ?? [] }));
    },
    patchGroup(jobId: string, baseUrl: string, id: string, body: unknown) {
      const operations = readPatch(body, "Group", options.maxOperations);
      return writeGroup(jobId, baseUrl, id, (current) => readGroup(applyPatch(current!, operations, "Group")));
    },
    async deleteGroup(jobId: string, id: string): Promise<void> {
      scimJob(jobId);
      const members = await withTransaction(pool, async (client) => {
        const keys = await store.deleteGroup(client, jobId, id);
        if (keys === null) throw new ScimError(404, null, "no such group");
        await enqueue(client, jobId, keys);
        return keys;
      });
      if (members.length > 0) await settle(jobId, members);
    },
  };
}

/** Whether a stored user meets a query filter (the enterprise extension read under its URN). */
function userMatches(user: store.StoredUser, conditions: readonly Condition[]): boolean {
  const resource: ScimObject = { ...user.resource, id: user.id };
  if (resource[ENTERPRISE_SCHEMA] === undefined) delete resource[ENTERPRISE_SCHEMA];
  return matchesFilter(resource, conditions);
}

/** startIndex is 1-based (below 1 reads as 1); count is capped at MAX_RESULTS (0: only totalResults). */
function pageOf<T>(items: T[], query: ListQuery): { start: number; page: T[] } {
  const start = Math.max(1, query.startIndex ?? 1);
  const count = Math.min(Math.max(0, query.count ?? MAX_RESULTS), MAX_RESULTS);
  return { start, page: items.slice(start - 1, start - 1 + count) };
}
