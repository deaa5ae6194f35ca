/**
 * When a job's continue link turns its uptime monitor red, and what the answer says. A monitor
 * treats any non-2xx as "down", so the link answers 503 while the job's latest run has failed, or
 * has waited for approval longer than APPROVAL_OVERDUE_MS, until a new run starts or an operator
 * acknowledges the run. Link holders are not operators: the answer names what failed as a
 * category and what to do, never the upstream error text (that stays in the admin API and the log).
 */
import { UpstreamError } from "./errors";

/** What made a run fail: where (Graph, WordPress, the service) and how. */
export const FAILURE_KINDS = [
  "graph-auth",
  "graph-config",
  "graph-unavailable",
  "wordpress-auth",
  "wordpress-config",
  "wordpress-unavailable",
  "job-removed",
  "internal",
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** The category of an error that failed a run (a step's error, or retries exhausted). */
export function failureKindOf(error: Error): FailureKind {
  if (!(error instanceof UpstreamError)) return "internal";
  if (error.kind === "auth" || error.kind === "config") return `${error.source}-${error.kind}`;
  return `${error.source}-unavailable`;
}

/** For each kind: what failed, and what to do about it (shown to link holders: no secrets, no upstream text). */
const FAILURES: Record<FailureKind, { what: string; todo: string }> = {
  "graph-auth": {
    what: "Microsoft Graph refused the service's credentials",
    todo: "check AZURE_TENANT_ID, AZURE_CLIENT_ID and the client secret or certificate, and the app's Graph permissions",
  },
  "graph-config": {
    what: "the Microsoft Graph settings are missing, or Graph refused the job's request as configured",
    todo: "set AZURE_TENANT_ID, AZURE_CLIENT_ID and the credential, and check GRAPH_BASE_URL and the job's source (filter, groups, attributes)",
  },
  "graph-unavailable": {
    what: "Microsoft Graph kept failing or throttling beyond the retries",
    todo: "check that Microsoft Graph answers (service health, network)",
  },
  "wordpress-auth": {
    what: "WordPress refused the service's credentials",
    todo: "check WP_USERNAME and WP_APP_PASSWORD (an administrator's Application Password)",
  },
  "wordpress-config": {
    what: "the WordPress settings are missing, or WordPress refused the job's request as configured",
    todo: "set WP_URL, WP_USERNAME and WP_APP_PASSWORD, and check that the REST API is enabled and the job's fields and roles",
  },
  "wordpress-unavailable": {
    what: "WordPress kept failing beyond the retries",
    todo: "check that the site at WP_URL answers",
  },
  "job-removed": {
    what: "the run's job is no longer declared",
    todo: "declare the job again or stop calling its links",
  },
  internal: {
    what: "the service or its database failed",
    todo: "look at the service log around the time of the failure",
  },
};

/** The fields of a run the alarm reads. */
export interface AlarmedRun {
  id: string;
  state: string;
  failure: FailureKind | null;
  finishedAt: string | null;
  /** For a run awaiting approval: when it started waiting. */
  progressedAt: string;
  acknowledgedAt: string | null;
}

export interface RunAlarm {
  reason: "run failed" | "approval overdue";
  detail: string;
  /** Problem+json members beside the detail. */
  extra: Record<string, unknown>;
}

/** The alarm a job's latest run raises now, or null when its continue link answers 200. */
export function runAlarm(
  job: string,
  run: AlarmedRun | null,
  options: { now: Date; approvalOverdueMs: number },
): RunAlarm | null {
  if (!run || run.acknowledgedAt) return null;
  const acknowledge = `POST /v1/runs/${run.id}/acknowledge with the admin token`;
  if (run.state === "failed") {
    const kind = run.failure ?? "internal";
    const { what, todo } = FAILURES[kind];
    const failedAt = run.finishedAt ?? run.progressedAt;
    const steps = `${todo}; the full error is in the admin API (GET /v1/runs/${run.id}) and the service log; then start a new run, or ${acknowledge}`;
    return {
      reason: "run failed",
      detail: `The latest run of job "${job}" failed at ${failedAt}: ${what}. To do: ${steps}.`,
      extra: { reason: "run failed", job, run: { id: run.id, state: run.state, failedAt }, failure: kind, todo: steps },
    };
  }
  if (run.state === "awaiting_approval") {
    const waitingMs = options.now.getTime() - Date.parse(run.progressedAt);
    if (waitingMs < options.approvalOverdueMs) return null;
    const todo = `review the removals (GET /v1/runs/${run.id}/items?action=deactivate, or action=delete), then approve them (POST /v1/runs/${run.id}/approve) or cancel the run (POST /v1/runs/${run.id}/cancel); or ${acknowledge} to keep waiting`;
    return {
      reason: "approval overdue",
      detail: `The run of job "${job}" has been awaiting approval since ${run.progressedAt}, longer than APPROVAL_OVERDUE_MS: its removals exceed the job's safety limits and no new run starts meanwhile. To do: ${todo}.`,
      extra: {
        reason: "approval overdue",
        job,
        run: { id: run.id, state: run.state, awaitingSince: run.progressedAt },
        todo,
      },
    };
  }
  return null;
}
