/** The jobs table: declared jobs mirrored at start-up, plus what the service learns about them. */
import { NotFoundError } from "../core/errors";
import type { Job } from "../core/job";
import type { Queryable } from "./pool";

/** Upserts every declared job's id and config; keeps link_generation and delta_link. */
export async function mirrorJobs(db: Queryable, jobs: Job[]): Promise<void> {
  if (jobs.length === 0) return;
  await db.query(
    `insert into jobs (id, config)
     select j.id, j.config from jsonb_to_recordset($1::jsonb) as j (id text, config jsonb)
     on conflict (id) do update set config = excluded.config, updated_at = now()
     where jobs.config is distinct from excluded.config`,
    [JSON.stringify(jobs.map((job) => ({ id: job.id, config: job })))],
  );
}

export async function getLinkGeneration(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ link_generation: number }>("select link_generation from jobs where id = $1::text", [
    jobId,
  ]);
  if (rows.length === 0) throw new NotFoundError(`unknown job ${jobId}`);
  return rows[0]!.link_generation;
}

/** Revokes every link minted so far: tokens carry the generation they were minted for. */
export async function bumpLinkGeneration(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ link_generation: number }>(
    `update jobs set link_generation = link_generation + 1, updated_at = now()
     where id = $1::text returning link_generation`,
    [jobId],
  );
  if (rows.length === 0) throw new NotFoundError(`unknown job ${jobId}`);
  return rows[0]!.link_generation;
}

export async function getDeltaLink(db: Queryable, jobId: string): Promise<string | null> {
  const { rows } = await db.query<{ delta_link: string | null }>("select delta_link from jobs where id = $1::text", [
    jobId,
  ]);
  return rows[0]?.delta_link ?? null;
}

/** null clears it: the next run of the job lists in full. */
export async function setDeltaLink(db: Queryable, jobId: string, deltaLink: string | null): Promise<void> {
  await db.query("update jobs set delta_link = $2::text, updated_at = now() where id = $1::text", [jobId, deltaLink]);
}
