-- Near-real-time sync from Microsoft Graph change notifications: the subscriptions each job
-- keeps, the notifications received (stored before Graph gets its 202), and runs of kind
-- 'notification' that apply them.

alter table runs drop constraint runs_trigger_check;
alter table runs add constraint runs_trigger_check
  check (trigger in ('manual', 'link', 'schedule', 'cli', 'notification'));
-- 'notification': the run lists only the users its notifications name (graph_notifications.run_id).
alter table runs drop constraint runs_mode_check;
alter table runs add constraint runs_mode_check check (mode in ('full', 'delta', 'notification'));

-- One row per job and Graph resource ("users", "groups/<id>"): one set per job across replicas.
-- A replica works on a row (create, renew, delete) under a lease, like a run.
create table graph_subscriptions (
  job_id text not null references jobs (id) on delete cascade,
  resource text not null,
  -- false: the job no longer wants it (option turned off, job gone); deleted in Graph, then here.
  wanted boolean not null default true,
  -- Graph's id; null until created (or after Graph removed it).
  subscription_id text unique,
  -- SHA-256 of the random clientState sent to Graph. The clientState itself is never stored, so a
  -- copy of the database is not enough to forge a notification (256 random bits cannot be guessed back).
  client_state_hash bytea,
  expires_at timestamptz,
  last_error text,
  locked_by text,
  locked_until timestamptz,
  created_at timestamptz not null default now(),
  renewed_at timestamptz,
  primary key (job_id, resource)
);

create table graph_notifications (
  id bigserial primary key,
  job_id text not null references jobs (id) on delete cascade,
  subscription_id text not null,
  -- The user a change notification names (resourceData.id); null for group and lifecycle notifications.
  entra_id text,
  change_type text,
  -- reauthorizationRequired | subscriptionRemoved | missed (lifecycle notifications).
  lifecycle_event text,
  received_at timestamptz not null default now(),
  -- The notification run that claimed it; a notification is pending until that run completes.
  run_id uuid references runs (id) on delete set null,
  done_at timestamptz
);
create index graph_notifications_pending on graph_notifications (job_id, id) where done_at is null;

-- Set when a delta (or full) reconciliation must run soon: at start-up, after a lifecycle event,
-- after a group's membership changed. Cleared when the job's next non-notification run completes.
alter table jobs add column reconcile_requested_at timestamptz;
