/** What the admin API shows of a job: everything but the secrets a webhook URL may carry. */
import type { Job } from "../core/job";
import { redactUrl } from "../net/redact";

export function jobView(job: Job): Job {
  return {
    ...job,
    webhook: job.webhook === null ? null : redactUrl(job.webhook),
    webhookSecret: job.webhookSecret === null ? null : "[REDACTED]",
  };
}
