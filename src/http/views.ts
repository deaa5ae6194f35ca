/**
 * What callers are shown: the admin API sees a job without the secrets a webhook URL may carry;
 * a link holder sees a run's progress and nothing more.
 */
import type { Job } from "../core/job";
import type { RunSummary } from "../core/runs";
import { redactUrl } from "../net/redact";

export function jobView(job: Job): Job {
  return {
    ...job,
    webhook: job.webhook === null ? null : redactUrl(job.webhook),
    webhookSecret: job.webhookSecret ? "[REDACTED]" : null,
  };
}

/**
 * A run as a trigger link answers it (RunProgress): what a monitor needs to tell progress from a
 * stall. A link is a bearer credential that ends up in scheduler configs and proxy logs, so it
 * shows no upstream error text, URLs, user names or e-mails: those stay in the admin API's
 * RunSummary (lastError and the items).
 */
export function runProgress(run: RunSummary) {
  const { id, state, step, counts, startedAt, finishedAt } = run;
  return { id, state, step, counts, startedAt, finishedAt };
}
