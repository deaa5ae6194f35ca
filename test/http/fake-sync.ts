/**
 * An in-memory SyncService for the HTTP tests: enough state to answer every route, and a log of
 * the calls so a test can prove a route did (or did not) act.
 */
import { randomUUID } from "node:crypto";
import { ConflictError, NotFoundError } from "../../src/core/errors";
import type { Job, TriggerMode } from "../../src/core/job";
import {
  ACTIVE_STATES,
  type AdvanceResult,
  type ItemQuery,
  type RunItem,
  type RunSummary,
  type RunTrigger,
  type StartResult,
  type SyncService,
} from "../../src/sync/service";

export function aJob(id: string, mode: TriggerMode = "link-start-continue", webhook: string | null = null): Job {
  return {
    id,
    trigger: { mode, schedule: mode === "schedule" ? "0 3 * * *" : null, timezone: "UTC" },
    source: { mode: "full", filter: null, groups: [], pageSize: 500, attributes: [] },
    match: ["entraId", "email", "username"],
    username: "upn",
    fields: { email: "mail|userPrincipalName" },
    roles: { mode: "replace", default: "subscriber", groups: [] },
    actions: { create: true, update: true, missing: "deactivate", reassignTo: null },
    protect: { roles: ["administrator"], users: [] },
    safety: { maxDeleteFraction: 0.1, maxDeleteCount: 100 },
    webhook,
  };
}

let clock = Date.parse("2025-03-01T00:00:00Z");
function nextTime(): string {
  clock += 1000;
  return new Date(clock).toISOString();
}

export function aRun(job: string, overrides: Partial<RunSummary> = {}): RunSummary {
  const at = nextTime();
  return {
    id: randomUUID(),
    job,
    state: "listing",
    trigger: "link",
    dryRun: false,
    mode: "full",
    step: 0,
    counts: {
      seen: 0,
      created: 0,
      updated: 0,
      unchanged: 0,
      reactivated: 0,
      deactivated: 0,
      deleted: 0,
      skipped: 0,
      failed: 0,
    },
    totalEstimate: null,
    createdAt: at,
    startedAt: at,
    finishedAt: null,
    progressedAt: at,
    lastError: null,
    ...overrides,
  };
}

export function anItem(overrides: Partial<RunItem> = {}): RunItem {
  return {
    id: randomUUID(),
    entraId: randomUUID(),
    wpUserId: 7,
    action: "create",
    status: "ok",
    diff: {},
    email: "someone@example.org",
    displayName: "Someone",
    reason: null,
    error: null,
    createdAt: nextTime(),
    ...overrides,
  };
}

export class FakeSync implements SyncService {
  readonly calls: string[] = [];
  readonly runsById = new Map<string, RunSummary>();
  readonly itemsByRun = new Map<string, RunItem[]>();
  /** What advanceJob answers next (default: one step of the active run). */
  nextAdvance: ((jobId: string) => AdvanceResult) | null = null;

  constructor(private readonly declared: Job[]) {}

  jobs(): Job[] {
    this.calls.push("jobs");
    return this.declared;
  }

  job(id: string): Job {
    this.calls.push(`job ${id}`);
    const job = this.declared.find((candidate) => candidate.id === id);
    if (!job) throw new NotFoundError(`Unknown job "${id}"`);
    return job;
  }

  addRun(run: RunSummary, items: RunItem[] = []): RunSummary {
    this.runsById.set(run.id, run);
    this.itemsByRun.set(run.id, items);
    return run;
  }

  async startRun(jobId: string, options: { trigger: RunTrigger; dryRun?: boolean }): Promise<StartResult> {
    this.calls.push(`startRun ${jobId} ${options.trigger}${options.dryRun ? " dry" : ""}`);
    const active = await this.findActive(jobId);
    if (active) return { started: false, reason: "already running", run: active };
    const run = this.addRun(aRun(jobId, { state: "queued", trigger: options.trigger, dryRun: !!options.dryRun }));
    return { started: true, run };
  }

  async advanceJob(jobId: string): Promise<AdvanceResult> {
    this.calls.push(`advanceJob ${jobId}`);
    if (this.nextAdvance) return this.nextAdvance(jobId);
    const active = await this.findActive(jobId);
    if (!active) return { advanced: false, reason: "no active run", run: null };
    active.step += 1;
    return { advanced: true, run: active };
  }

  async advanceRun(runId: string): Promise<AdvanceResult> {
    this.calls.push(`advanceRun ${runId}`);
    return { advanced: false, reason: "busy", run: this.runsById.get(runId) ?? null };
  }

  async run(runId: string): Promise<RunSummary> {
    this.calls.push(`run ${runId}`);
    const run = this.runsById.get(runId);
    if (!run) throw new NotFoundError(`Unknown run "${runId}"`);
    return run;
  }

  async activeRun(jobId: string): Promise<RunSummary | null> {
    this.calls.push(`activeRun ${jobId}`);
    return this.findActive(jobId);
  }

  async runs(jobId: string, options: { limit?: number; before?: string } = {}): Promise<RunSummary[]> {
    this.calls.push(`runs ${jobId}`);
    const before = options.before ? this.runsById.get(options.before)?.createdAt : undefined;
    return [...this.runsById.values()]
      .filter((run) => run.job === jobId && (!before || run.createdAt < before))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, options.limit ?? 20);
  }

  async items(runId: string, query: ItemQuery): Promise<{ items: RunItem[]; nextCursor: string | null }> {
    this.calls.push(`items ${runId}`);
    const needle = query.search?.toLowerCase();
    const all = (this.itemsByRun.get(runId) ?? []).filter(
      (item) =>
        (!query.action || item.action === query.action) &&
        (!needle || `${item.email ?? ""} ${item.displayName ?? ""}`.toLowerCase().includes(needle)),
    );
    const from = query.cursor ? Number(query.cursor) : 0;
    const limit = query.limit ?? 100;
    const items = all.slice(from, from + limit);
    return { items, nextCursor: from + limit < all.length ? String(from + limit) : null };
  }

  async cancelRun(runId: string): Promise<RunSummary> {
    this.calls.push(`cancelRun ${runId}`);
    const run = await this.run(runId);
    if (!ACTIVE_STATES.includes(run.state)) throw new ConflictError(`Run ${runId} is already ${run.state}`);
    run.state = "cancelled";
    return run;
  }

  async approveRun(runId: string): Promise<RunSummary> {
    this.calls.push(`approveRun ${runId}`);
    const run = await this.run(runId);
    if (run.state !== "awaiting_approval") {
      throw new ConflictError(`Run ${runId} is ${run.state}, not awaiting approval`);
    }
    run.state = "reconciling";
    return run;
  }

  private async findActive(jobId: string): Promise<RunSummary | null> {
    return [...this.runsById.values()].find((run) => run.job === jobId && ACTIVE_STATES.includes(run.state)) ?? null;
  }
}
