/** run_group_members: the transitive members of the job's groups, resolved once per run. */
import type { Queryable } from "./pool";

export async function addGroupMembers(
  db: Queryable,
  runId: string,
  groupId: string,
  entraIds: string[],
): Promise<void> {
  if (entraIds.length === 0) return;
  await db.query(
    `insert into run_group_members (run_id, group_id, entra_id)
     select $1::uuid, $2::text, m.id from unnest($3::text[]) as m (id)
     on conflict do nothing`,
    [runId, groupId, entraIds],
  );
}

/** Group ids per user, for one page of users in one query; users in no group are absent. */
export async function groupsOf(db: Queryable, runId: string, entraIds: string[]): Promise<Map<string, Set<string>>> {
  const result = new Map<string, Set<string>>();
  if (entraIds.length === 0) return result;
  const { rows } = await db.query<{ entra_id: string; group_id: string }>(
    `select entra_id, group_id from run_group_members
     where run_id = $1::uuid and entra_id = any($2::text[])`,
    [runId, entraIds],
  );
  for (const row of rows) {
    const set = result.get(row.entra_id) ?? new Set<string>();
    set.add(row.group_id);
    result.set(row.entra_id, set);
  }
  return result;
}
