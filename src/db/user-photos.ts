/** user_photos: per job and Entra user, the photo last put on WordPress (hash) and when Graph was last asked. */
import type { Queryable } from "./pool";

export interface PhotoRecord {
  /** sha-256 of the photo on WordPress; null when the user has none there. */
  hash: string | null;
  checkedAt: Date;
}

interface DbPhotoRecord {
  hash: string | null;
  checked_at: Date;
}

export async function photoRecordOf(db: Queryable, jobId: string, entraId: string): Promise<PhotoRecord | null> {
  const { rows } = await db.query<DbPhotoRecord>(
    "select hash, checked_at from user_photos where job_id = $1::text and entra_id = $2::text",
    [jobId, entraId],
  );
  const row = rows[0];
  return row ? { hash: row.hash, checkedAt: row.checked_at } : null;
}

/** Records a check whose outcome is on WordPress (written, removed or found unchanged). */
export async function recordPhoto(db: Queryable, jobId: string, entraId: string, hash: string | null): Promise<void> {
  await db.query(
    `insert into user_photos (job_id, entra_id, hash, checked_at) values ($1::text, $2::text, $3::text, now())
     on conflict (job_id, entra_id) do update set hash = excluded.hash, checked_at = excluded.checked_at`,
    [jobId, entraId, hash],
  );
}
