-- jobs.config kept the webhook URL (which may carry user info or a secret path) and the webhook
-- signing secret in clear, although nothing reads them back: the outbox trigger (0006) asks only
-- whether the job has a webhook. The service now stores `"webhook": true` (or null) and no secret
-- (src/db/jobs.ts storedConfig); this scrubs the rows stored before, including those of jobs no
-- longer declared, which start-up does not rewrite.
update jobs
set config = (config - 'webhookSecret')
  || jsonb_build_object('webhook', case when coalesce(config ->> 'webhook', '') <> '' then to_jsonb(true) end)
where config ? 'webhookSecret' or jsonb_typeof(config -> 'webhook') = 'string';
