/**
 * The /status page as a pure function of what the service reports: no I/O, no build step, no
 * external assets, no script. Every dynamic string goes through `escapeHtml` (job ids, names,
 * e-mails and error messages come from configuration, Entra and WordPress, and any of them can
 * contain markup). Secrets never reach the view: the job's webhook URL is shown as "configured".
 */
import { createHash } from "node:crypto";
import type { Job } from "../core/job";
import type { HistoryItem, RunCounts, RunItem, RunSummary } from "../core/runs";
import type { OutboxBacklog } from "../db/webhook-outbox";
import type { WatchdogWarning } from "../observe/watchdog";
import { escapeHtml } from "./html";

export interface ApprovalView {
  run: RunSummary;
  /** Items with status "pending": what approving would deactivate or delete. */
  removals: RunItem[];
  /** More pending removals exist than are listed. */
  more: boolean;
}

export interface JobView {
  job: Job;
  active: RunSummary | null;
  /** Most recent first. */
  recent: RunSummary[];
  approval: ApprovalView | null;
}

export interface StatusView {
  now: Date;
  jobs: JobView[];
  warnings: WatchdogWarning[];
  /** The webhook outbox, when it could be read. */
  webhooks: OutboxBacklog | null;
  refreshSeconds: number;
  /** Graph subscriptions and pending notifications (jobs with source.notifications). */
  notifications?: NotificationsView;
  /** The person searched for, if any. */
  person?: PersonView;
}

/** One person's items (the search box), newest first. */
export interface PersonView {
  /** As searched for: an e-mail or an Entra object id. */
  user: string;
  entraIds: string[];
  items: HistoryItem[];
  /** More (older) items exist than are listed. */
  more: boolean;
}

export interface NotificationsView {
  subscriptions: Array<{ jobId: string; resource: string; expiresAt: Date | null; lastError: string | null }>;
  pending: Array<{ jobId: string; pending: number; oldestPendingAge: number }>;
}

const CSS = `
:root { color-scheme: light dark; --fg: #1d2329; --muted: #5b6670; --line: #d5dbe0; --card: #fff; --bg: #f3f5f7;
  --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; --info: #0b5cad; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ec; --muted: #9aa5af; --line: #38414a; --card: #1c2228; --bg: #12161a; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 1.5rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 1.35rem; margin: 0 0 .25rem; } h2 { font-size: 1.1rem; margin: 0; } h3 { font-size: .95rem; margin: 1rem 0 .4rem; }
.muted { color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
.head { display: flex; gap: .6rem; align-items: baseline; flex-wrap: wrap; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; border: 1px solid var(--line); font-size: .8rem; }
.state-completed { color: var(--ok); } .state-failed { color: var(--bad); } .state-cancelled { color: var(--muted); }
.state-awaiting_approval { color: var(--warn); } .state-queued, .state-listing, .state-reconciling { color: var(--info); }
progress { width: 100%; height: 1.1rem; accent-color: var(--info); }
.counts { display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: .4rem 0 0; padding: 0; list-style: none; }
.counts b { font-variant-numeric: tabular-nums; }
table { width: 100%; border-collapse: collapse; font-size: .85rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.when { white-space: nowrap; }
.error { color: var(--bad); overflow-wrap: anywhere; }
.warnings { border-color: var(--warn); } .warnings li { color: var(--warn); }
.approval { border-left: 4px solid var(--warn); padding-left: .75rem; }
form.search { display: flex; gap: .5rem; margin: .75rem 0; } form.search input { flex: 0 1 24rem; padding: .3rem .5rem; }
`;

/** For the Content-Security-Policy: the one inline style is allowed by its hash, nothing else runs. */
export const STATUS_STYLE_HASH = `'sha256-${createHash("sha256").update(CSS).digest("base64")}'`;

const COUNT_LABELS: Array<[keyof RunCounts, string]> = [
  ["seen", "seen"],
  ["created", "created"],
  ["updated", "updated"],
  ["unchanged", "unchanged"],
  ["reactivated", "reactivated"],
  ["deactivated", "deactivated"],
  ["deleted", "deleted"],
  ["skipped", "skipped"],
  ["failed", "failed"],
];

const num = (n: number) => n.toLocaleString("en-US");

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

function time(iso: string | null, now: Date): string {
  if (!iso) return `<span class="muted">–</span>`;
  const at = new Date(iso);
  const text = `${at.toISOString().slice(0, 19).replace("T", " ")} UTC`;
  return `<time datetime="${escapeHtml(at.toISOString())}" title="${escapeHtml(text)}">${escapeHtml(
    formatDuration(now.getTime() - at.getTime()),
  )} ago</time>`;
}

/**
 * When the run began and for how long: a run no step has started yet (queued, waiting for its
 * continue link or the driver) counts from when it was queued, and says so, so that a run
 * nothing advances shows how long it has waited.
 */
function began(run: RunSummary, now: Date): string {
  return run.startedAt ? time(run.startedAt, now) : `queued ${time(run.createdAt, now)}`;
}

function duration(run: RunSummary, now: Date): string {
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now.getTime();
  const text = formatDuration(end - Date.parse(run.startedAt ?? run.createdAt));
  return run.startedAt ? text : `${text} queued`;
}

function state(run: RunSummary): string {
  const label = run.state.replace("_", " ");
  return `<span class="badge state-${escapeHtml(run.state)}" data-state="${escapeHtml(run.state)}">${escapeHtml(label)}</span>`;
}

function counts(c: RunCounts): string {
  const items = COUNT_LABELS.map(([key, label]) => `<li>${escapeHtml(label)} <b>${num(c[key])}</b></li>`);
  return `<ul class="counts">${items.join("")}</ul>`;
}

function progress(run: RunSummary): string {
  const seen = run.counts.seen;
  // A run waiting for a person is not moving: no bar, which would suggest it is.
  if (run.state === "awaiting_approval")
    return `<div class="muted">${num(seen)} users seen; waiting for approval</div>`;
  if (run.totalEstimate !== null && run.totalEstimate > 0) {
    const max = run.totalEstimate;
    const value = Math.min(seen, max);
    // Floor: the bar never reads 100% while users remain.
    const pct = Math.floor((value / max) * 100);
    return `<progress class="run-progress" value="${value}" max="${max}" aria-label="users done">${pct}%</progress>
<div class="muted">${num(seen)} of about ${num(max)} users (${pct}%)</div>`;
  }
  // No @odata.count: an indeterminate bar (no value attribute) and the live count.
  return `<progress class="run-progress" aria-label="users done"></progress>
<div class="muted">${num(seen)} users so far (total unknown)</div>`;
}

function currentRun(run: RunSummary | null, now: Date): string {
  if (!run) return `<h3>Current run</h3><p class="muted">No run in progress.</p>`;
  const dry = run.dryRun ? ` <span class="badge">dry run</span>` : "";
  return `<h3>Current run</h3>
<div class="run current" data-run-id="${escapeHtml(run.id)}">
<div class="head">${state(run)}${dry}<span class="muted">step ${num(run.step)} · ${escapeHtml(run.mode)} · ${escapeHtml(
    run.trigger,
  )} · ${run.startedAt ? "started " : ""}${began(run, now)} · ${escapeHtml(duration(run, now))} · last progress ${time(run.progressedAt, now)}</span></div>
${progress(run)}
${counts(run.counts)}
${run.lastError ? `<p class="error">Last error: ${escapeHtml(run.lastError)}</p>` : ""}
</div>`;
}

function approval(view: ApprovalView | null): string {
  if (!view) return "";
  const rows = view.removals.map(
    (item) =>
      `<tr><td>${escapeHtml(item.action)}</td><td>${escapeHtml(item.displayName ?? "")}</td><td>${escapeHtml(
        item.email ?? "",
      )}</td><td class="num">${item.wpUserId ?? "–"}</td><td>${escapeHtml(item.reason ?? "")}</td></tr>`,
  );
  const more = view.more ? `<p class="muted">…and more: list them all with GET /v1/runs/{id}/items.</p>` : "";
  return `<section class="approval">
<h3>Awaiting approval</h3>
<p>Run <code>${escapeHtml(view.run.id)}</code> stopped at the safety limit. Approving it would apply these removals
(POST /v1/runs/{id}/approve; cancel with POST /v1/runs/{id}/cancel):</p>
${
  rows.length
    ? `<table><thead><tr><th>Action</th><th>Name</th><th>E-mail</th><th>WP user</th><th>Reason</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
    : `<p class="muted">No pending removals were recorded.</p>`
}
${more}
</section>`;
}

function recentRuns(runs: RunSummary[], now: Date): string {
  if (runs.length === 0) return `<h3>Last runs</h3><p class="muted">No runs yet.</p>`;
  const rows = runs.map((run) => {
    const c = run.counts;
    return `<tr data-run-id="${escapeHtml(run.id)}"><td class="when">${began(run, now)}</td><td>${state(run)}${
      run.dryRun ? " (dry)" : ""
    }</td><td>${escapeHtml(run.trigger)}</td><td class="num">${escapeHtml(duration(run, now))}</td>${[
      c.seen,
      c.created,
      c.updated,
      c.deactivated + c.deleted,
      c.failed,
    ]
      .map((n) => `<td class="num">${num(n)}</td>`)
      .join("")}<td class="error">${escapeHtml(run.lastError ?? "")}</td></tr>`;
  });
  return `<h3>Last runs</h3>
<table><thead><tr><th>Started</th><th>State</th><th>Trigger</th><th>Duration</th><th>Seen</th><th>Created</th><th>Updated</th><th>Removed</th><th>Failed</th><th>Error</th></tr></thead>
<tbody>${rows.join("")}</tbody></table>`;
}

/** The Entra tenant a job reads; a SCIM job reads none (its provider pushes). */
function tenant(job: JobView["job"]): string {
  return job.source.kind === "scim" ? "" : `<span class="badge">tenant: ${escapeHtml(job.source.tenant)}</span>`;
}

function jobCard(view: JobView, now: Date): string {
  const { job } = view;
  const schedule = job.trigger.schedule
    ? ` <span class="badge">${escapeHtml(job.trigger.schedule)} ${escapeHtml(job.trigger.timezone)}</span>`
    : "";
  return `<section class="card job" data-job="${escapeHtml(job.id)}">
<div class="head"><h2>${escapeHtml(job.id)}</h2><span class="badge">site: ${escapeHtml(job.site)}</span>${tenant(job)}<span class="badge">trigger: ${escapeHtml(job.trigger.mode)}</span>${schedule}
<span class="badge">source: ${escapeHtml(job.source.mode)}</span><span class="badge">missing: ${escapeHtml(job.actions.missing)}</span>
<span class="badge">webhook: ${job.webhook ? "configured" : "none"}</span></div>
${currentRun(view.active, now)}
${approval(view.approval)}
${recentRuns(view.recent, now)}
</section>`;
}

function warnings(list: WatchdogWarning[]): string {
  if (list.length === 0) return "";
  const items = list.map((w) => `<li><b>${escapeHtml(w.job)}</b>: ${escapeHtml(w.message)}</li>`);
  return `<section class="card warnings"><h2>Watchdog</h2><ul>${items.join("")}</ul></section>`;
}

function notifications(view: NotificationsView | undefined, now: Date): string {
  if (!view || (view.subscriptions.length === 0 && view.pending.length === 0)) return "";
  const rows = view.subscriptions.map((s) => {
    const expiry = s.expiresAt
      ? `expires in ${Math.round((s.expiresAt.getTime() - now.getTime()) / 3600_000)} h (${escapeHtml(s.expiresAt.toISOString().slice(0, 16).replace("T", " "))} UTC)`
      : "not in Graph yet";
    const error = s.lastError ? ` · last error: ${escapeHtml(s.lastError)}` : "";
    return `<li><b>${escapeHtml(s.jobId)}</b> ${escapeHtml(s.resource)}: ${expiry}${error}</li>`;
  });
  const pending = view.pending
    .filter((p) => p.pending > 0)
    .map(
      (p) => `<li><b>${escapeHtml(p.jobId)}</b>: ${p.pending} pending, oldest ${Math.round(p.oldestPendingAge)} s</li>`,
    );
  return `<section class="card"><h2>Change notifications</h2><ul>${[...rows, ...pending].join("")}</ul></section>`;
}

/** Shown only when something is waiting or was given up: a healthy outbox is empty. */
function webhookBacklog(backlog: OutboxBacklog | null, now: Date): string {
  if (!backlog || (backlog.pending === 0 && backlog.givenUp === 0)) return "";
  const oldest = backlog.oldestPendingAt
    ? `, the oldest for ${formatDuration(now.getTime() - backlog.oldestPendingAt.getTime())}`
    : "";
  return `<section class="card warnings"><h2>Webhooks</h2><ul>
<li>${backlog.pending} event(s) waiting for delivery${escapeHtml(oldest)}</li>
<li>${backlog.givenUp} event(s) given up (the receiver refused them, or kept failing; see the log)</li>
</ul></section>`;
}

/** A GET form back to this page: the browser resends its login, and the URL names only the person. */
function searchForm(value: string): string {
  return `<form class="search" method="get" action="/status" role="search">
<input type="search" name="user" value="${escapeHtml(value)}" placeholder="e-mail or Entra object id" aria-label="Person" maxlength="320" required>
<button type="submit">Show history</button></form>`;
}

function diffText(diff: Record<string, [unknown, unknown]>): string {
  const value = (v: unknown) => (typeof v === "string" ? v : (JSON.stringify(v) ?? "null"));
  return Object.entries(diff)
    .map(([field, [before, after]]) => `${field}: ${value(before)} → ${value(after)}`)
    .join("; ");
}

function personSection(view: PersonView, now: Date): string {
  const who = view.entraIds.length ? ` (Entra id ${view.entraIds.map(escapeHtml).join(", ")})` : "";
  if (view.items.length === 0) {
    return `<section class="card person"><h2>History of ${escapeHtml(view.user)}</h2><p class="muted">No run has recorded an item about this person.</p></section>`;
  }
  const rows = view.items.map(
    (item) =>
      `<tr data-item-id="${escapeHtml(item.id)}"><td class="when">${time(item.createdAt, now)}</td><td>${escapeHtml(item.job)}</td><td><code>${escapeHtml(
        item.runId.slice(0, 8),
      )}</code>${item.dryRun ? " (dry)" : ""}</td><td>${escapeHtml(item.action)}</td><td>${escapeHtml(item.status)}</td><td>${escapeHtml(
        item.email ?? "",
      )}</td><td>${escapeHtml(diffText(item.diff))}</td><td class="${item.error ? "error" : ""}">${escapeHtml(item.error ?? item.reason ?? "")}</td></tr>`,
  );
  const more = view.more
    ? `<p class="muted">…and older items: GET /v1/users/{e-mail or id}/history pages through them all.</p>`
    : "";
  return `<section class="card person"><h2>History of ${escapeHtml(view.user)}${who}</h2>
<table><thead><tr><th>When</th><th>Job</th><th>Run</th><th>Action</th><th>Status</th><th>E-mail</th><th>Changes</th><th>Reason</th></tr></thead>
<tbody>${rows.join("")}</tbody></table>
${more}
</section>`;
}

export function renderStatusPage(view: StatusView): string {
  const jobs = view.jobs.length
    ? view.jobs.map((job) => jobCard(job, view.now)).join("\n")
    : `<section class="card"><p class="muted">No jobs are configured.</p></section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${view.person ? "" : `<meta http-equiv="refresh" content="${view.refreshSeconds}">`}
<title>entra-wp-sync status</title>
<style>${CSS}</style>
</head>
<body>
<h1>entra-wp-sync</h1>
<p class="muted">Status at ${escapeHtml(view.now.toISOString().slice(0, 19).replace("T", " "))} UTC · ${
    view.person ? "not refreshing while a history is shown" : `refreshes every ${view.refreshSeconds} s`
  }</p>
${searchForm(view.person?.user ?? "")}
${view.person ? personSection(view.person, view.now) : ""}
${warnings(view.warnings)}
${notifications(view.notifications, view.now)}
${webhookBacklog(view.webhooks, view.now)}
${jobs}
</body>
</html>
`;
}
