/**
 * An in-memory SyncService for the HTTP and observe tests: enough state to answer every route and
 * the status page, watchdog and metrics, and a log of the calls so a test can prove a route did
 * (or did not) act. Build its runs and items with aRun() and anItem() from ./builders.
 */
import { ConflictError, NotFoundError } from "../../src/core/errors";
import type { Job } from "../../src/core/job";
import { ACTIVE_STATES, type ItemQuery, type RunItem, type RunSummary, type RunTrigger } from "../../src/core/runs";
import type { AdvanceResult, StartResult, SyncService } from "../../src/sync/service";
import { aRun } from "./builders";

export class FakeSync implements SyncService {
  readonly calls: string[] = [];
  readonly runsById = new Map<string, RunSummary>();
  readonly itemsByRun = new Map<string, RunItem[]>();
  /** What advanceJob answers next (default: one step of the active run). */
  nextAdvance: ((jobId: string) => AdvanceResult) | null = null;

  /** The jobs it declares, and runs (with their items by run id) it already holds. */
  constructor(
    private readonly declared: Job[],
    runs: RunSummary[] = [],
    items: Record<string, RunItem[]> = {},
  ) {
    for (const run of runs) this.addRun(run, items[run.id]);
  }

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
    const run = this.addRun(
      aRun().forJob(jobId).withState("queued").withTrigger(options.trigger).with({ dryRun: !!options.dryRun }).build(),
    );
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
