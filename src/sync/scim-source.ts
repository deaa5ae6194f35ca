/**
 * Where a SCIM job's runs read their users: what providers pushed, stored in PostgreSQL
 * (src/db/scim.ts), instead of Microsoft Graph. A run of kind "scim" lists the users its pending
 * changes name; a user stored active is present, one stored inactive or deleted is a removal
 * candidate (the job's actions.missing, behind the safety guard).
 */
import type { Job } from "../core/job";
import { graphUserOf } from "../core/scim/user";
import type { Queryable } from "../db/pool";
import { membersOfNamedGroup, usersByKey } from "../db/scim";
import type { UsersPage } from "./ports";

export async function scimUsersPage(db: Queryable, job: Job, keys: string[]): Promise<UsersPage> {
  const stored = new Map((await usersByKey(db, job.id, keys)).map((user) => [user.key, user]));
  const users = keys.flatMap((key) => {
    const user = stored.get(key);
    return user?.active ? [graphUserOf(key, user.resource)] : [];
  });
  const present = new Set(users.map((user) => user.id));
  return {
    users,
    removed: keys.filter((key) => !present.has(key)),
    nextLink: null,
    deltaLink: null,
    totalCount: null,
  };
}

/** The users in the SCIM group a job's roles.groups entry names (by externalId or displayName). */
export function scimGroupMembers(db: Queryable, job: Job, name: string): Promise<string[]> {
  return membersOfNamedGroup(db, job.id, name);
}
