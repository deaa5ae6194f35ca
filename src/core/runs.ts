/**
 * Runs and their items as every layer sees them. Each list below is the one definition of its
 * concept: the migrations' check constraints and indexes, the SQL predicates in src/db, the CLI
 * and the metrics are written from (or tested against, test/db/constraints.test.ts) these lists.
 */

import type { FailureKind } from "./run-alarm";

export const RUN_STATES = [
  "queued",
  "listing",
  "reconciling",
  "awaiting_approval",
  "completed",
  "failed",
  "cancelled",
] as const;
export type RunState = (typeof RUN_STATES)[number];

/** At most one run per job is in one of these (the runs_one_active_per_job index). */
export const ACTIVE_STATES: readonly RunState[] = ["queued", "listing", "reconciling", "awaiting_approval"];
/** Active states in which a step may run: awaiting_approval waits for a person instead. */
export const STEPPABLE_STATES: readonly RunState[] = ["queued", "listing", "reconciling"];
/** A run in one of these never changes again. */
export const TERMINAL_STATES: readonly RunState[] = ["completed", "failed", "cancelled"];

export function isTerminal(state: RunState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** Terminal, or waiting for a person: nothing more happens until someone acts. */
export function isSettled(state: RunState): boolean {
  return isTerminal(state) || state === "awaiting_approval";
}

/**
 * The states a job's webhook hears about (a cancelled run was ended by a person), each as the event
 * type "run.<state>" (migrations/0006: the outbox's type check and the trigger that writes events).
 */
export const WEBHOOK_STATES = ["completed", "failed", "awaiting_approval"] as const satisfies readonly RunState[];
export type WebhookEventType = `run.${(typeof WEBHOOK_STATES)[number]}`;
export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = WEBHOOK_STATES.map((state) => `run.${state}` as const);

/** Who started a run; "notification": Microsoft Graph change notifications (src/sync/notifications.ts). */
export const RUN_TRIGGERS = ["manual", "link", "schedule", "cli", "notification"] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

/** What a run lists: every user, Graph's changes since the last deltaLink, or only the users notifications named. */
export const RUN_MODES = ["full", "delta", "notification"] as const;
export type RunMode = (typeof RUN_MODES)[number];

export const COUNTERS = [
  "seen",
  "created",
  "updated",
  "unchanged",
  "reactivated",
  "deactivated",
  "deleted",
  "skipped",
  "failed",
] as const;
export type RunCounts = Record<(typeof COUNTERS)[number], number>;

export function zeroCounts(): RunCounts {
  return {
    seen: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    reactivated: 0,
    deactivated: 0,
    deleted: 0,
    skipped: 0,
    failed: 0,
  };
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
  /** A failed run: what failed, as a category (lastError has the details). */
  failure: FailureKind | null;
  /** When an operator acknowledged the run (failed, or awaiting approval): monitors stay green. */
  acknowledgedAt: string | null;
}

export const ITEM_ACTIONS = ["create", "update", "unchanged", "reactivate", "deactivate", "delete", "skip"] as const;
export type ItemAction = (typeof ITEM_ACTIONS)[number];

/** The counter an applied (or, in a dry run, planned) item of each action counts under. */
export const COUNTER_OF: Readonly<Record<ItemAction, keyof RunCounts>> = {
  create: "created",
  update: "updated",
  unchanged: "unchanged",
  reactivate: "reactivated",
  deactivate: "deactivated",
  delete: "deleted",
  skip: "skipped",
};

/** ok: applied; planned: a dry run's; pending: a removal not yet settled; failed: the error says why. */
export const ITEM_STATUSES = ["ok", "failed", "planned", "pending"] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

export interface RunItem {
  id: string;
  entraId: string;
  wpUserId: number | null;
  action: ItemAction;
  status: ItemStatus;
  /** { field: [old, new] } */
  diff: Record<string, [unknown, unknown]>;
  email: string | null;
  displayName: string | null;
  reason: string | null;
  error: string | null;
  createdAt: string;
}

/** An item in one person's history: the item, and the run and job it belongs to. */
export interface HistoryItem extends RunItem {
  job: string;
  runId: string;
  dryRun: boolean;
}

export interface ItemQuery {
  action?: ItemAction;
  /** Case-insensitive substring of e-mail or display name. */
  search?: string;
  cursor?: string;
  limit?: number;
}
