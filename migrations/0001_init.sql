-- Initial schema for the run state machine of DESIGN.md.

-- Declared jobs are mirrored here at start-up: their configuration lives in SYNC_JOBS_FILE,
-- what the service learns about them (link generation, delta link) lives here.
create table jobs (
  id text primary key,
  config jsonb not null,
  -- Bumped by "revoke": every link token carries the generation it was minted for.
  link_generation int not null default 1,
  -- The @odata.deltaLink of the last completed delta run (null: the next run is a full one).
  delta_link text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table runs (
  id uuid primary key default gen_random_uuid(),
  job_id text not null references jobs (id) on delete cascade,
  state text not null default 'queued'
    check (state in ('queued', 'listing', 'reconciling', 'awaiting_approval', 'completed', 'failed', 'cancelled')),
  trigger text not null check (trigger in ('manual', 'link', 'schedule', 'cli')),
  dry_run boolean not null default false,
  -- full or delta, decided when the run starts (delta without a stored deltaLink runs full).
  mode text not null default 'full' check (mode in ('full', 'delta')),
  -- Within listing: 'groups' (resolving group members) then 'users'.
  phase text not null default 'groups' check (phase in ('groups', 'users', 'removals')),
  -- groups phase: index of the group being listed; users phase: unused.
  group_index int not null default 0,
  -- The stored @odata.nextLink (or deltaLink) to fetch next; null: start of the listing/group.
  cursor text,
  -- How many users of the page at `cursor` are already done (a step that ran out of budget).
  page_done int not null default 0,
  -- The deltaLink reported by the last delta page; stored on the job when the run completes.
  new_delta_link text,
  step int not null default 0,
  total_estimate int,
  seen int not null default 0,
  created int not null default 0,
  updated int not null default 0,
  unchanged int not null default 0,
  reactivated int not null default 0,
  deactivated int not null default 0,
  deleted int not null default 0,
  skipped int not null default 0,
  failed int not null default 0,
  -- The lease: exactly one process advances a run at a time.
  locked_by text,
  locked_until timestamptz,
  consecutive_failures int not null default 0,
  last_error text,
  -- Reconciliation: set when an operator approved removals over the safety limits.
  approved boolean not null default false,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  -- Last time a step made progress (watchdog).
  progressed_at timestamptz not null default now()
);
-- At most one active run per job, whatever the number of replicas and callers.
create unique index runs_one_active_per_job on runs (job_id)
  where state in ('queued', 'listing', 'reconciling', 'awaiting_approval');
create index runs_job_created on runs (job_id, created_at desc);
create index runs_active on runs (state) where state in ('queued', 'listing', 'reconciling');

-- The outcome for one user within a run.
create table run_items (
  id bigserial primary key,
  run_id uuid not null references runs (id) on delete cascade,
  entra_id text not null,
  wp_user_id int,
  -- create | update | unchanged | reactivate | deactivate | delete | skip | fail
  action text not null,
  -- ok: applied (or planned, in a dry run); failed: the error says why.
  status text not null check (status in ('ok', 'failed', 'planned', 'pending')),
  -- Field diff { field: [old, new] }.
  diff jsonb not null default '{}'::jsonb,
  email text,
  display_name text,
  reason text,
  error text,
  created_at timestamptz not null default now()
);
create index run_items_run on run_items (run_id, id);
create index run_items_run_entra on run_items (run_id, entra_id);

-- Per job: Entra object id -> WordPress user id, and the hash of what was last written.
create table user_map (
  job_id text not null references jobs (id) on delete cascade,
  entra_id text not null,
  wp_user_id int not null,
  hash text not null,
  state text not null default 'active' check (state in ('active', 'deactivated')),
  email text,
  last_seen_run uuid,
  updated_at timestamptz not null default now(),
  primary key (job_id, entra_id)
);
create index user_map_wp_user on user_map (job_id, wp_user_id);

-- Members of the job's groups, resolved once per run (cost per group page, never per user).
create table run_group_members (
  run_id uuid not null references runs (id) on delete cascade,
  group_id text not null,
  entra_id text not null,
  primary key (run_id, entra_id, group_id)
);

-- Generated secrets (signing key, admin token) persisted so every replica shares them.
create table secrets (
  name text primary key,
  value text not null,
  created_at timestamptz not null default now()
);

-- A schedule fires once per due time across all replicas: the first insert wins.
create table schedule_fires (
  job_id text not null references jobs (id) on delete cascade,
  due_at timestamptz not null,
  run_id uuid,
  fired_at timestamptz not null default now(),
  primary key (job_id, due_at)
);
