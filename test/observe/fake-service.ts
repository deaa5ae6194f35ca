/**
 * An in-memory SyncService for the observe tests: the engine is built elsewhere, and the status
 * page, watchdog and metrics only read through the interface. Builders give readable fixtures.
 */

import { NotFoundError } from "../../src/core/errors";
import type { Job } from "../../src/core/job";
import type { RunItem, RunSummary, SyncService } from "../../src/sync/service";
import { ACTIVE_STATES } from "../../src/sync/service";

let sequence = 0;

export function aJob(overrides: Partial<Job> & { id: string }): Job {
  return {
    trigger: { mode: "link-start-continue", schedule: null, timezone: "UTC" },
    source: { mode: "full", filter: null, groups: [], pageSize: 500, attributes: [] },
    match: ["entraId", "email", "username"],
    username: "upn",
    fields: { email: "mail|userPrincipalName" },
    roles: { mode: "replace", default: "subscriber", groups: [] },
    actions: { create: true, update: true, missing: "deactivate", reassignTo: null },
    protect: { roles: ["administrator"], users: [] },
    safety: { maxDeleteFraction: 0.1, maxDeleteCount: 100 },
    webhook: null,
    ...overrides,
  };
}

export function aRun(overrides: Partial<RunSummary> & { job: string }): RunSummary {
  sequence++;
  const started = new Date(Date.now() - 60_000).toISOString();
  return {
    id: `00000000-0000-4000-8000-${String(sequence).padStart(12, "0")}`,
    state: "completed",
    trigger: "link",
    dryRun: false,
    mode: "full",
    step: 3,
    counts: {
      seen: 120,
      created: 2,
      updated: 5,
      unchanged: 113,
      reactivated: 0,
      deactivated: 0,
      deleted: 0,
      skipped: 0,
      failed: 0,
    },
    totalEstimate: null,
    createdAt: started,
    startedAt: started,
    finishedAt: new Date().toISOString(),
    progressedAt: new Date().toISOString(),
    lastError: null,
    ...overrides,
  };
}

export function anItem(overrides: Partial<RunItem>): RunItem {
  sequence++;
  return {
    id: String(sequence),
    entraId: `entra-${sequence}`,
    wpUserId: sequence,
    action: "deactivate",
    status: "pending",
    diff: {},
    email: `user${sequence}@example.com`,
    displayName: `User ${sequence}`,
    reason: "no longer in the directory",
    error: null,
    createdAt: new Date().toISOString(),
    ...overrides,
  };
}

export class FakeSyncService implements SyncService {
  constructor(
    private readonly jobList: Job[],
    /** Most recent first, per job. */
    readonly runList: RunSummary[] = [],
    readonly itemsByRun: Record<string, RunItem[]> = {},
  ) {}

  jobs(): Job[] {
    return this.jobList;
  }
  job(id: string): Job {
    const job = this.jobList.find((j) => j.id === id);
    if (!job) throw new NotFoundError(`No job "${id}"`);
    return job;
  }
  async startRun(): Promise<never> {
    throw new Error("not used by these tests");
  }
  async advanceJob(): Promise<never> {
    throw new Error("not used by these tests");
  }
  async advanceRun(): Promise<never> {
    throw new Error("not used by these tests");
  }
  async run(runId: string): Promise<RunSummary> {
    const run = this.runList.find((r) => r.id === runId);
    if (!run) throw new NotFoundError(`No run ${runId}`);
    return run;
  }
  async activeRun(jobId: string): Promise<RunSummary | null> {
    return this.runList.find((r) => r.job === jobId && ACTIVE_STATES.includes(r.state)) ?? null;
  }
  async runs(jobId: string, options: { limit?: number } = {}): Promise<RunSummary[]> {
    return this.runList.filter((r) => r.job === jobId).slice(0, options.limit ?? 20);
  }
  async items(runId: string, query: { action?: string; limit?: number }) {
    const all = (this.itemsByRun[runId] ?? []).filter((item) => !query.action || item.action === query.action);
    const limit = query.limit ?? 100;
    return { items: all.slice(0, limit), nextCursor: all.length > limit ? String(limit) : null };
  }
  async cancelRun(): Promise<never> {
    throw new Error("not used by these tests");
  }
  async approveRun(): Promise<never> {
    throw new Error("not used by these tests");
  }
}
