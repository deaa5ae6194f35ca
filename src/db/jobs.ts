/** The jobs table: declared jobs mirrored at start-up, plus what the service learns about them. */
import { NotFoundError } from "../core/errors";
import type { Job, LinkCutoff } from "../core/job";
import type { Queryable } from "./pool";

/**
 * What jobs.config keeps of a job: everything but its secrets. Nothing reads the webhook back
 * but the outbox trigger (migration 0006), and it asks only whether there is one; the URL itself
 * may carry user info or a secret path (Slack-style), and the signing secret is a secret, so
 * neither is stored (migration 0012 scrubbed rows stored before).
 */
export function storedConfig(job: Job): Omit<Job, "webhook" | "webhookSecret"> & { webhook: true | null } {
  const { webhook, webhookSecret: _secret, ...rest } = job;
  return { ...rest, webhook: webhook ? true : null };
}

/** Upserts every declared job's id and config; keeps links_valid_from, link_generation and delta_link. */
export async function mirrorJobs(db: Queryable, jobs: Job[]): Promise<void> {
  if (jobs.length === 0) return;
  await db.query(
    `insert into jobs (id, config)
     select j.id, j.config from jsonb_to_recordset($1::jsonb) as j (id text, config jsonb)
     on conflict (id) do update set config = excluded.config, updated_at = now()
     where jobs.config is distinct from excluded.config`,
    [JSON.stringify(jobs.map((job) => ({ id: job.id, config: storedConfig(job) })))],
  );
}

type DbLinkCutoff = { valid_from: number; link_generation: number };
const cutoffOf = (row: DbLinkCutoff): LinkCutoff => ({
  validFrom: row.valid_from,
  legacyGeneration: row.link_generation,
});
const CUTOFF_COLUMNS = "coalesce(extract(epoch from links_valid_from), 0)::float8 as valid_from, link_generation";

export async function getLinkCutoff(db: Queryable, jobId: string): Promise<LinkCutoff> {
  const { rows } = await db.query<DbLinkCutoff>(`select ${CUTOFF_COLUMNS} from jobs where id = $1::text`, [jobId]);
  if (rows.length === 0) throw new NotFoundError(`unknown job ${jobId}`);
  return cutoffOf(rows[0]!);
}

/**
 * The issue time of a link minted now: the database's clock to the microsecond, never before the
 * job's cut-off. Every replica mints and revokes on this one clock, so "minted after the last
 * revocation" is exact however the replicas' own clocks drift.
 */
export async function linkIssueTime(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ issued_at: number }>(
    `select extract(epoch from greatest(now(), links_valid_from))::float8 as issued_at from jobs where id = $1::text`,
    [jobId],
  );
  if (rows.length === 0) throw new NotFoundError(`unknown job ${jobId}`);
  return rows[0]!.issued_at;
}

/**
 * Revokes every link minted so far: the cut-off is the database clock now, to the microsecond (a
 * link minted before it carries an earlier issue time, one minted after a later one; tokens with
 * whole-second iat, minted before sub-second issue times, were issued before it too). It only
 * ever moves forward, so nothing can bring a revoked token back.
 */
export async function revokeLinks(db: Queryable, jobId: string): Promise<LinkCutoff> {
  const { rows } = await db.query<DbLinkCutoff>(
    `update jobs set
       links_valid_from = greatest(links_valid_from, now()),
       updated_at = now()
     where id = $1::text returning ${CUTOFF_COLUMNS}`,
    [jobId],
  );
  if (rows.length === 0) throw new NotFoundError(`unknown job ${jobId}`);
  return cutoffOf(rows[0]!);
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
