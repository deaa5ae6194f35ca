/**
 * Revoking a job's links sets a cut-off: every token issued before it is refused, whatever else
 * it carries. The cut-off lives in jobs.links_valid_from, so it holds across restarts and replicas.
 */
import type { LinkCutoff } from "../core/job";

export interface LinkCutoffs {
  get(jobId: string): Promise<LinkCutoff>;
  /** Refuses every token issued so far; returns the new cut-off. */
  revoke(jobId: string): Promise<LinkCutoff>;
  /** Seconds since the epoch (fractional) to stamp a link minted now with: on the cut-offs' clock, never before the cut-off. */
  issueTime(jobId: string): Promise<number>;
}

/**
 * Adapts the jobs repository (src/db/jobs.ts: getLinkCutoff, revokeLinks, linkIssueTime) to the interface
 * above; runtime.ts wires it as `linkCutoffsFrom(db.pool, jobsRepository)`.
 */
export function linkCutoffsFrom<Db>(
  db: Db,
  repository: {
    getLinkCutoff(db: Db, jobId: string): Promise<LinkCutoff>;
    revokeLinks(db: Db, jobId: string): Promise<LinkCutoff>;
    linkIssueTime(db: Db, jobId: string): Promise<number>;
  },
): LinkCutoffs {
  return {
    get: (jobId) => repository.getLinkCutoff(db, jobId),
    revoke: (jobId) => repository.revokeLinks(db, jobId),
    issueTime: (jobId) => repository.linkIssueTime(db, jobId),
  };
}
