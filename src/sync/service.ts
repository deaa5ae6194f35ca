/**
 * What the HTTP API, the CLI and the driver ask of the engine. Implemented in src/sync/engine.ts
 * (makeSyncService); consumed by src/http and src/cli. Shapes follow DESIGN.md "HTTP API".
 */
import type { Job } from "../core/job";
import type { ItemQuery, RunItem, RunSummary, RunTrigger } from "../core/runs";

export interface StartResult {
  started: boolean;
  reason?: string;
  run: RunSummary;
}

export interface AdvanceResult {
  advanced: boolean;
  /** "busy" | "no active run" | "completed" | "awaiting approval" | "failed" | ... */
  reason?: string;
  run: RunSummary | null;
}

export interface SyncService {
  jobs(): Job[];
  /** Throws NotFoundError for an unknown job. */
  job(id: string): Job;
  /** Starts a run unless one is active (then started:false, reason "already running", that run). */
  startRun(jobId: string, options: { trigger: RunTrigger; dryRun?: boolean }): Promise<StartResult>;
  /** One step of the job's active run (continue link / driver). Never waits on a busy run. */
  advanceJob(jobId: string): Promise<AdvanceResult>;
  /** One step of a given run. */
  advanceRun(runId: string): Promise<AdvanceResult>;
  /** Throws NotFoundError. */
  run(runId: string): Promise<RunSummary>;
  activeRun(jobId: string): Promise<RunSummary | null>;
  runs(jobId: string, options?: { limit?: number; before?: string }): Promise<RunSummary[]>;
  items(runId: string, query: ItemQuery): Promise<{ items: RunItem[]; nextCursor: string | null }>;
  /** ConflictError when the run is already terminal. */
  cancelRun(runId: string): Promise<RunSummary>;
  /** ConflictError unless the run is awaiting_approval. */
  approveRun(runId: string): Promise<RunSummary>;
}
