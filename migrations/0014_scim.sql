-- SCIM source (issue 28): identity providers push users and groups to /scim/v2/{job}. What they
-- push is stored here before they are answered; runs of kind 'scim' apply it through the engine.

alter table runs drop constraint runs_trigger_check;
alter table runs add constraint runs_trigger_check
  check (trigger in ('manual', 'link', 'schedule', 'cli', 'notification', 'scim'));

-- Bearer tokens of a job's SCIM endpoint, kept only as their SHA-256: a copy of the database is
-- not enough to call the endpoint. Several live at once (rotation); revoked ones stay as a record.
create table scim_tokens (
  id uuid primary key default gen_random_uuid(),
  job_id text not null references jobs (id) on delete cascade,
  digest bytea not null unique,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index scim_tokens_job on scim_tokens (job_id, created_at);

-- The users a provider pushed: the SCIM resource as last written by the provider. `id` is the
-- SCIM id this service assigned (stable for the user's life); `user_key` is the engine's key of
-- the user (the user map's entra_id, the entra_object_id meta): the externalId the user was
-- created with (Entra's object id), else the SCIM id; it never changes afterwards.
create table scim_users (
  id uuid primary key default gen_random_uuid(),
  job_id text not null references jobs (id) on delete cascade,
  user_key text not null,
  user_name text not null,
  external_id text,
  active boolean not null default true,
  resource jsonb not null,
  version int not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (job_id, user_key)
);
-- userName is unique case-insensitively (Entra and Okta match it so); externalId is looked up.
create unique index scim_users_user_name on scim_users (job_id, lower(user_name));
create index scim_users_external_id on scim_users (job_id, external_id);

create table scim_groups (
  id uuid primary key default gen_random_uuid(),
  job_id text not null references jobs (id) on delete cascade,
  display_name text not null,
  external_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index scim_groups_display_name on scim_groups (job_id, lower(display_name));
create index scim_groups_external_id on scim_groups (job_id, external_id);

create table scim_group_members (
  group_id uuid not null references scim_groups (id) on delete cascade,
  user_id uuid not null references scim_users (id) on delete cascade,
  primary key (group_id, user_id)
);
create index scim_group_members_user on scim_group_members (user_id);

-- A SCIM write leaves its user pending in graph_notifications (subscription_id 'scim', entra_id =
-- the user key): the same queue Graph change notifications fill, claimed and applied by runs that
-- list only the users it names (engine.ts startNotificationRun), its backlog on /status and in metrics.
