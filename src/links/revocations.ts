/**
 * Revoking a job's links sets a cut-off: every token issued before it is refused, whatever else
 * it carries. The cut-off lives in jobs.links_valid_from, so it holds across restarts and replicas.
 */
import type { LinkCutoff } from "../core/job";

export interface LinkCutoffs {
  get(jobId: string): Promise<LinkCutoff>;
  /** Refuses every token issued so far; returns the new cut-off. */
  revoke(jobId: string): Promise<LinkCutoff>;
}

/**
 * Adapts the jobs repository (src/db/jobs.ts: getLinkCutoff, revokeLinks) to the interface
 * above; runtime.ts wires it as `linkCutoffsFrom(db.pool, jobsRepository)`.
 */
export function linkCutoffsFrom<Db>(
  db: Db,
  repository: {
    getLinkCutoff(db: Db, jobId: string): Promise<LinkCutoff>;
    revokeLinks(db: Db, jobId: string): Promise<LinkCutoff>;
  },
): LinkCutoffs {
  return {
    get: (jobId) => repository.getLinkCutoff(db, jobId),
    revoke: (jobId) => repository.revokeLinks(db, jobId),
  };
}
