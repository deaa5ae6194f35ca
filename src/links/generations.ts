/**
 * Every link token carries its job's link generation; revoking bumps the generation, so every
 * earlier token of the job stops working at once (the count lives in jobs.link_generation).
 */
export interface LinkGenerations {
  get(jobId: string): Promise<number>;
  /** Returns the new generation. */
  bump(jobId: string): Promise<number>;
}

/**
 * Adapts the jobs repository (src/db/jobs.ts: getLinkGeneration, bumpLinkGeneration) to the
 * interface above; main.ts wires it as `linkGenerationsFrom(db.pool, jobsRepository)`.
 */
export function linkGenerationsFrom<Db>(
  db: Db,
  repository: {
    getLinkGeneration(db: Db, jobId: string): Promise<number>;
    bumpLinkGeneration(db: Db, jobId: string): Promise<number>;
  },
): LinkGenerations {
  return {
    get: (jobId) => repository.getLinkGeneration(db, jobId),
    bump: (jobId) => repository.bumpLinkGeneration(db, jobId),
  };
}

/** For tests and tools that run without a database. */
export function makeMemoryLinkGenerations(initial: Record<string, number> = {}): LinkGenerations {
  const generations = new Map(Object.entries(initial));
  return {
    get: async (jobId) => generations.get(jobId) ?? 1,
    bump: async (jobId) => {
      const next = (generations.get(jobId) ?? 1) + 1;
      generations.set(jobId, next);
      return next;
    },
  };
}
