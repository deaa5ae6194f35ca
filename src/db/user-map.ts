/** user_map: per job, Entra object id -> WordPress user id and what was last written. */
import type { MapEntry } from "../core/plan";
import type { Queryable } from "./pool";

interface DbMapEntry {
  entra_id: string;
  wp_user_id: number;
  hash: string;
  state: "active" | "deactivated";
  fields: Record<string, string>;
  roles: string[] | null;
  granted_roles: string[];
  sites: Record<string, string> | null;
}

export interface MapWrite extends MapEntry {
  entraId: string;
  email: string | null;
}

/** The entries of one page of users, in one query. */
export async function mapEntriesFor(db: Queryable, jobId: string, entraIds: string[]): Promise<Map<string, MapEntry>> {
  const result = new Map<string, MapEntry>();
  if (entraIds.length === 0) return result;
  const { rows } = await db.query<DbMapEntry>(
    `select entra_id, wp_user_id, hash, state, fields, roles, granted_roles, sites from user_map
     where job_id = $1::text and entra_id = any($2::text[])`,
    [jobId, entraIds],
  );
  for (const row of rows) {
    result.set(row.entra_id, {
      wpUserId: row.wp_user_id,
      hash: row.hash,
      state: row.state,
      fields: row.fields,
      roles: row.roles,
      granted: row.granted_roles,
      sites: row.sites,
    });
  }
  return result;
}

/** The Entra user a WordPress user is synced from in this job, or null when none is. */
export async function mapOwnerOf(db: Queryable, jobId: string, wpUserId: number): Promise<string | null> {
  const { rows } = await db.query<{ entra_id: string }>(
    "select entra_id from user_map where job_id = $1::text and wp_user_id = $2::int limit 1",
    [jobId, wpUserId],
  );
  return rows[0]?.entra_id ?? null;
}

/** One multi-row upsert for a page. */
export async function upsertMapEntries(db: Queryable, jobId: string, entries: MapWrite[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `insert into user_map (job_id, entra_id, wp_user_id, hash, state, email, fields, roles, granted_roles, sites)
     select $1::text, e.entra_id, e.wp_user_id, e.hash, e.state, e.email, e.fields,
       coalesce(e.roles, 'null'::jsonb), e.granted_roles, e.sites
     from jsonb_to_recordset($2::jsonb)
       as e (entra_id text, wp_user_id int, hash text, state text, email text, fields jsonb, roles jsonb,
             granted_roles jsonb, sites jsonb)
     on conflict (job_id, entra_id) do update set
       wp_user_id = excluded.wp_user_id, hash = excluded.hash, state = excluded.state, email = excluded.email,
       fields = excluded.fields, roles = excluded.roles, granted_roles = excluded.granted_roles,
       sites = excluded.sites, updated_at = now()`,
    [
      jobId,
      JSON.stringify(
        entries.map((e) => ({
          entra_id: e.entraId,
          wp_user_id: e.wpUserId,
          hash: e.hash,
          state: e.state,
          email: e.email,
          fields: e.fields,
          // No roles (roles.mode "skip"): a JSON null, read back as null (the column is not null).
          roles: e.roles ?? null,
          granted_roles: e.granted,
          sites: e.sites ?? null,
        })),
      ),
    ],
  );
}

/** Deactivation takes every role away, the granted ones included. */
export async function markDeactivated(db: Queryable, jobId: string, entraIds: string[]): Promise<void> {
  if (entraIds.length === 0) return;
  await db.query(
    `update user_map set state = 'deactivated', granted_roles = '[]'::jsonb, updated_at = now()
     where job_id = $1::text and entra_id = any($2::text[])`,
    [jobId, entraIds],
  );
}

export async function deleteMapEntries(db: Queryable, jobId: string, entraIds: string[]): Promise<void> {
  if (entraIds.length === 0) return;
  await db.query("delete from user_map where job_id = $1::text and entra_id = any($2::text[])", [jobId, entraIds]);
}

/** The base of safety.maxDeleteFraction. */
export async function countActiveMapped(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "select count(*)::int as n from user_map where job_id = $1::text and state = 'active'",
    [jobId],
  );
  return rows[0]!.n;
}
