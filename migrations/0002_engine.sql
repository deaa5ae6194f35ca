-- What the engine needs beyond 0001: what was last written per user, one item per user per run,
-- which listing an item came from, and the removals delta mode reports.

-- The fields and roles last written to WordPress (the plan's MapEntry), so a re-sync can diff
-- without reading WordPress when the hash says nothing changed.
alter table user_map
  add column fields jsonb not null default '{}'::jsonb,
  add column roles jsonb not null default '[]'::jsonb;

-- 'listing': the user was returned by the source (counts as seen and as present);
-- 'removal': a reconciliation candidate (deactivate/delete, or skipped as protected).
alter table run_items
  add column phase text not null default 'listing' check (phase in ('listing', 'removal'));

-- One item per user per run: a page replayed (expired page token, delta replays, a step redone
-- after a crash) never counts a user twice. Replaces the plain index of 0001.
drop index run_items_run_entra;
create unique index run_items_run_entra on run_items (run_id, entra_id);

-- Ids that a delta listing reported @removed (or disabled), or that left the job's groups:
-- the removal candidates of a delta run.
create table run_removals (
  run_id uuid not null references runs (id) on delete cascade,
  entra_id text not null,
  primary key (run_id, entra_id)
);
