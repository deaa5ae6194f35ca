/**
 * The SCIM source's tables (migrations/0014_scim.sql): tokens kept as digests, the users and
 * groups providers pushed, and the members of each group. A write and the pending change that
 * makes the engine apply it commit together (src/sync/scim.ts holds the transaction).
 */
import { randomUUID } from "node:crypto";
import type { Queryable } from "./pool";

/** PostgreSQL's unique_violation: a userName, externalId or group name already taken in the job. */
export class ScimTakenError extends Error {
  override name = "ScimTakenError";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids are this service's UUIDs: anything else names no resource (and never reaches a ::uuid cast). */
export const isScimId = (id: string): boolean => UUID.test(id);

async function guarded<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if ((error as { code?: string }).code === "23505") throw new ScimTakenError("taken");
    throw error;
  }
}

// --- tokens

export interface ScimToken {
  id: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}
type DbToken = { id: string; created_at: Date; last_used_at: Date | null; revoked_at: Date | null };
const toToken = (row: DbToken): ScimToken => ({
  id: row.id,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
});

export async function insertToken(db: Queryable, jobId: string, digest: Buffer): Promise<ScimToken> {
  const { rows } = await db.query<DbToken>(
    "insert into scim_tokens (job_id, digest) values ($1::text, $2::bytea) returning *",
    [jobId, digest],
  );
  return toToken(rows[0]!);
}

export async function listTokens(db: Queryable, jobId: string): Promise<ScimToken[]> {
  const { rows } = await db.query<DbToken>(
    "select * from scim_tokens where job_id = $1::text order by created_at, id",
    [jobId],
  );
  return rows.map(toToken);
}

/** Revokes one token of the job (again: no change); null when the job has no such token. */
export async function revokeToken(db: Queryable, jobId: string, id: string): Promise<ScimToken | null> {
  if (!isScimId(id)) return null;
  const { rows } = await db.query<DbToken>(
    `update scim_tokens set revoked_at = coalesce(revoked_at, now())
     where job_id = $1::text and id = $2::uuid returning *`,
    [jobId, id],
  );
  return rows[0] ? toToken(rows[0]) : null;
}

/**
 * The job a live token belongs to, or null. The digest is looked up, never compared byte by byte
 * in JavaScript; last_used_at is written at most once a minute (a cycle sends thousands of requests).
 */
export async function tokenJob(db: Queryable, digest: Buffer): Promise<string | null> {
  const { rows } = await db.query<{ job_id: string; stale: boolean }>(
    `select job_id, coalesce(last_used_at < now() - interval '1 minute', true) as stale
     from scim_tokens where digest = $1::bytea and revoked_at is null`,
    [digest],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.stale) await db.query("update scim_tokens set last_used_at = now() where digest = $1::bytea", [digest]);
  return row.job_id;
}

// --- users

export interface StoredUser {
  id: string;
  jobId: string;
  /** The engine's key of the user (user_map.entra_id). */
  key: string;
  userName: string;
  externalId: string | null;
  active: boolean;
  resource: Record<string, unknown>;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}
type DbUser = {
  id: string;
  job_id: string;
  user_key: string;
  user_name: string;
  external_id: string | null;
  active: boolean;
  resource: Record<string, unknown>;
  version: number;
  created_at: Date;
  updated_at: Date;
};
const toUser = (row: DbUser): StoredUser => ({
  id: row.id,
  jobId: row.job_id,
  key: row.user_key,
  userName: row.user_name,
  externalId: row.external_id,
  active: row.active,
  resource: row.resource,
  version: row.version,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export interface UserWrite {
  userName: string;
  externalId: string | null;
  active: boolean;
  resource: Record<string, unknown>;
}

/** Throws ScimTakenError when the userName (case-insensitively) or the key is taken in the job. */
export async function insertUser(db: Queryable, jobId: string, user: UserWrite): Promise<StoredUser> {
  const id = randomUUID();
  const { rows } = await guarded(() =>
    db.query<DbUser>(
      `insert into scim_users (id, job_id, user_key, user_name, external_id, active, resource)
       values ($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::boolean, $7::jsonb) returning *`,
      [id, jobId, user.externalId ?? id, user.userName, user.externalId, user.active, user.resource],
    ),
  );
  return toUser(rows[0]!);
}

/** Replaces what the provider holds of the user; null when gone. Throws ScimTakenError. */
export async function updateUser(
  db: Queryable,
  jobId: string,
  id: string,
  user: UserWrite,
): Promise<StoredUser | null> {
  if (!isScimId(id)) return null;
  const { rows } = await guarded(() =>
    db.query<DbUser>(
      `update scim_users set user_name = $3::text, external_id = $4::text, active = $5::boolean, resource = $6::jsonb,
         version = version + 1, updated_at = now()
       where job_id = $1::text and id = $2::uuid returning *`,
      [jobId, id, user.userName, user.externalId, user.active, user.resource],
    ),
  );
  return rows[0] ? toUser(rows[0]) : null;
}

export async function deleteUser(db: Queryable, jobId: string, id: string): Promise<StoredUser | null> {
  if (!isScimId(id)) return null;
  const { rows } = await db.query<DbUser>(
    "delete from scim_users where job_id = $1::text and id = $2::uuid returning *",
    [jobId, id],
  );
  return rows[0] ? toUser(rows[0]) : null;
}

/** One user; `forUpdate` locks its row until the transaction ends (writes of one user take turns). */
export async function findUser(
  db: Queryable,
  jobId: string,
  id: string,
  forUpdate = false,
): Promise<StoredUser | null> {
  if (!isScimId(id)) return null;
  const { rows } = await db.query<DbUser>(
    `select * from scim_users where job_id = $1::text and id = $2::uuid${forUpdate ? " for update" : ""}`,
    [jobId, id],
  );
  return rows[0] ? toUser(rows[0]) : null;
}

/** What a query filter narrows to by index: an id, a userName, an externalId (all given must hold). */
export interface UserLookup {
  id?: string;
  userName?: string;
  externalId?: string;
}

/** The job's users (ordered by creation), narrowed by `lookup`; the caller applies the rest of its filter. */
export async function findUsers(db: Queryable, jobId: string, lookup: UserLookup): Promise<StoredUser[]> {
  if (lookup.id !== undefined && !isScimId(lookup.id)) return [];
  const { rows } = await db.query<DbUser>(
    `select * from scim_users where job_id = $1::text
       and ($2::uuid is null or id = $2::uuid)
       and ($3::text is null or lower(user_name) = lower($3::text))
       and ($4::text is null or lower(external_id) = lower($4::text))
     order by created_at, id`,
    [jobId, lookup.id ?? null, lookup.userName ?? null, lookup.externalId ?? null],
  );
  return rows.map(toUser);
}

/** The stored users with these keys (the engine's page of a SCIM run). */
export async function usersByKey(db: Queryable, jobId: string, keys: string[]): Promise<StoredUser[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<DbUser>(
    "select * from scim_users where job_id = $1::text and user_key = any($2::text[])",
    [jobId, keys],
  );
  return rows.map(toUser);
}

/** Which of these SCIM ids are users of the job (group members must be). */
export async function existingUserIds(db: Queryable, jobId: string, ids: string[]): Promise<StoredUser[]> {
  const valid = ids.filter(isScimId);
  if (valid.length === 0) return [];
  const { rows } = await db.query<DbUser>("select * from scim_users where job_id = $1::text and id = any($2::uuid[])", [
    jobId,
    valid,
  ]);
  return rows.map(toUser);
}

// --- groups

export interface StoredGroup {
  id: string;
  displayName: string;
  externalId: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** SCIM ids and userNames of the members (empty when not asked for). */
  members: Array<{ value: string; display: string }>;
}
type DbGroup = {
  id: string;
  display_name: string;
  external_id: string | null;
  created_at: Date;
  updated_at: Date;
  members: Array<{ value: string; display: string }> | null;
};
const toGroup = (row: DbGroup): StoredGroup => ({
  id: row.id,
  displayName: row.display_name,
  externalId: row.external_id,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  members: row.members ?? [],
});

const MEMBERS = `(select coalesce(jsonb_agg(jsonb_build_object('value', u.id, 'display', u.user_name) order by u.created_at, u.id), '[]')
  from scim_group_members m join scim_users u on u.id = m.user_id where m.group_id = g.id)`;

export interface GroupLookup {
  id?: string;
  displayName?: string;
  externalId?: string;
}

export async function findGroups(
  db: Queryable,
  jobId: string,
  lookup: GroupLookup,
  withMembers: boolean,
): Promise<StoredGroup[]> {
  if (lookup.id !== undefined && !isScimId(lookup.id)) return [];
  const { rows } = await db.query<DbGroup>(
    `select g.*, ${withMembers ? MEMBERS : "null::jsonb"} as members from scim_groups g where g.job_id = $1::text
       and ($2::uuid is null or g.id = $2::uuid)
       and ($3::text is null or lower(g.display_name) = lower($3::text))
       and ($4::text is null or lower(g.external_id) = lower($4::text))
     order by g.created_at, g.id`,
    [jobId, lookup.id ?? null, lookup.displayName ?? null, lookup.externalId ?? null],
  );
  return rows.map(toGroup);
}

export async function insertGroup(
  db: Queryable,
  jobId: string,
  group: { displayName: string; externalId: string | null },
): Promise<string> {
  const { rows } = await guarded(() =>
    db.query<{ id: string }>(
      "insert into scim_groups (job_id, display_name, external_id) values ($1::text, $2::text, $3::text) returning id",
      [jobId, group.displayName, group.externalId],
    ),
  );
  return rows[0]!.id;
}

/** Locks the group's row for the rest of the transaction; false when the job has no such group. */
export async function lockGroup(db: Queryable, jobId: string, id: string): Promise<boolean> {
  if (!isScimId(id)) return false;
  const { rows } = await db.query("select 1 from scim_groups where job_id = $1::text and id = $2::uuid for update", [
    jobId,
    id,
  ]);
  return rows.length > 0;
}

export async function updateGroup(
  db: Queryable,
  id: string,
  group: { displayName: string; externalId: string | null },
): Promise<void> {
  await guarded(() =>
    db.query(
      "update scim_groups set display_name = $2::text, external_id = $3::text, updated_at = now() where id = $1::uuid",
      [id, group.displayName, group.externalId],
    ),
  );
}

/** Sets the group's members to exactly these users; returns the keys of users who joined or left. */
export async function setMembers(db: Queryable, groupId: string, userIds: string[]): Promise<string[]> {
  const { rows } = await db.query<{ user_key: string }>(
    `with wanted as (select unnest($2::uuid[]) as user_id),
     gone as (delete from scim_group_members m where m.group_id = $1::uuid
              and m.user_id not in (select user_id from wanted) returning m.user_id),
     added as (insert into scim_group_members (group_id, user_id) select $1::uuid, user_id from wanted
               on conflict do nothing returning user_id)
     select u.user_key from scim_users u where u.id in (select user_id from gone union select user_id from added)`,
    [groupId, userIds],
  );
  return rows.map((row) => row.user_key);
}

/** The keys of the group's members (before a change: whose roles a rename may change). */
export async function groupMemberKeys(db: Queryable, groupId: string): Promise<string[]> {
  const { rows } = await db.query<{ user_key: string }>(
    "select u.user_key from scim_group_members m join scim_users u on u.id = m.user_id where m.group_id = $1::uuid",
    [groupId],
  );
  return rows.map((row) => row.user_key);
}

/** Deletes the group; the keys of its members (whose roles may change), or null when there was none. */
export async function deleteGroup(db: Queryable, jobId: string, id: string): Promise<string[] | null> {
  if (!isScimId(id)) return null;
  const { rows } = await db.query<{ user_key: string | null }>(
    `with gone as (delete from scim_groups where job_id = $1::text and id = $2::uuid returning id)
     select u.user_key from gone left join scim_group_members m on m.group_id = gone.id
       left join scim_users u on u.id = m.user_id`,
    [jobId, id],
  );
  if (rows.length === 0) return null;
  return rows.flatMap((row) => (row.user_key ? [row.user_key] : []));
}

/** The keys of the members of the group a job names (by externalId, else displayName, case-insensitively). */
export async function membersOfNamedGroup(db: Queryable, jobId: string, name: string): Promise<string[]> {
  const { rows } = await db.query<{ user_key: string }>(
    `select u.user_key from scim_groups g
       join scim_group_members m on m.group_id = g.id join scim_users u on u.id = m.user_id
     where g.job_id = $1::text and (lower(g.external_id) = lower($2::text) or lower(g.display_name) = lower($2::text))`,
    [jobId, name],
  );
  return [...new Set(rows.map((row) => row.user_key))];
}

/**
 * SCIM jobs that were dry runs when last mirrored (jobs.config) and now write: every user their
 * provider pushed, and every user they map (one deleted meanwhile is a removal), is queued once, so
 * WordPress gets what was only planned. Call it before mirroring the jobs; the users queued per job.
 */
export async function queueAfterDryRun(db: Queryable, jobIds: string[]): Promise<Map<string, number>> {
  if (jobIds.length === 0) return new Map();
  const { rows } = await db.query<{ job_id: string; n: number }>(
    `with queued as (
       insert into graph_notifications (job_id, subscription_id, entra_id, change_type)
       select j.id, 'scim', k.user_key, 'scim' from jobs j
         cross join lateral (select user_key from scim_users where job_id = j.id
                             union select entra_id from user_map where job_id = j.id) k
       where j.id = any($1::text[]) and coalesce((j.config ->> 'dryRun')::boolean, false)
       returning job_id)
     select job_id, count(*)::int as n from queued group by job_id`,
    [jobIds],
  );
  return new Map(rows.map((row) => [row.job_id, row.n]));
}

/** The job's SCIM writes stored and not applied yet (the backlog /status and the metrics show). */
export async function scimBacklog(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from graph_notifications
     where job_id = $1::text and subscription_id = 'scim' and done_at is null`,
    [jobId],
  );
  return rows[0]!.n;
}

/** Whether a change of this user is still waiting to be applied. */
export async function isPending(db: Queryable, jobId: string, key: string): Promise<boolean> {
  const { rows } = await db.query(
    `select 1 from graph_notifications where job_id = $1::text and subscription_id = 'scim'
       and entra_id = $2::text and done_at is null limit 1`,
    [jobId, key],
  );
  return rows.length > 0;
}
