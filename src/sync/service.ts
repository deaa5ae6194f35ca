/**
 * What the HTTP API, the CLI and the driver ask of the engine. Implemented in src/sync/engine.ts
 * (makeSyncService); consumed by src/http and src/cli. Shapes follow DESIGN.md "HTTP API".
 */
import type { Job } from "../core/job";

export type RunState =
  | "queued"
  | "listing"
  | "reconciling"
  | "awaiting_approval"
  | "completed"
  | "failed"
  | "cancelled";
export const ACTIVE_STATES: readonly RunState[] = ["queued", "listing", "reconciling", "awaiting_approval"];
/** Who started a run; "notification": Microsoft Graph change notifications (src/sync/notifications.ts). */
export type RunTrigger = "manual" | "link" | "schedule" | "cli" | "notification";
/** What a run lists: every user, Graph's changes since the last deltaLink, or only the users notifications named. */
export type RunMode = "full" | "delta" | "notification";

export interface RunCounts {
  seen: number;
  created: number;
  updated: number;
  unchanged: number;
  reactivated: number;
  deactivated: number;
  deleted: number;
  skipped: number;
  failed: number;
}

export interface RunSummary {
  id: string;
  job: string;
  state: RunState;
  trigger: RunTrigger;
  dryRun: boolean;
  mode: RunMode;
  step: number;
  counts: RunCounts;
  /** Users expected in total when Graph said so (@odata.count), else null. */
  totalEstimate: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Last time a step made progress (the watchdog compares it with now). */
  progressedAt: string;
  lastError: string | null;
}

export type ItemAction = "create" | "update" | "unchanged" | "reactivate" | "deactivate" | "delete" | "skip";

export interface RunItem {
  id: string;
  entraId: string;
  wpUserId: number | null;
  action: ItemAction;
  status: "ok" | "failed" | "planned" | "pending";
  /** { field: [old, new] } */
  diff: Record<string, [unknown, unknown]>;
  email: string | null;
  displayName: string | null;
  reason: string | null;
  error: string | null;
  createdAt: string;
}

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

export interface ItemQuery {
  action?: ItemAction;
  /** Case-insensitive substring of e-mail or display name. */
  search?: string;
  cursor?: string;
  limit?: number;
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
