/** What the admin API shows of a job: everything but the secrets a webhook URL may carry. */
import type { Job } from "../core/job";

/**
 * Keeps only the webhook's origin. Masking the query and userinfo is not enough: Slack and
 * Teams put the secret in the path (https://hooks.slack.com/services/T0/B0/<secret>).
 */
export function redactWebhook(webhook: string): string {
  let url: URL;
  try {
    url = new URL(webhook);
  } catch {
    return "[REDACTED]";
  }
  const rest = url.pathname !== "/" || url.search || url.hash || url.username || url.password;
  return `${url.protocol}//${url.host}${rest ? "/[REDACTED]" : "/"}`;
}

export function jobView(job: Job): Job {
  return { ...job, webhook: job.webhook === null ? null : redactWebhook(job.webhook) };
}
