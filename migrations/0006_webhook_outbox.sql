-- Webhook deliveries as an outbox. A trigger writes the event in the same transaction that
-- settles the run, so a crash between a run's end and its delivery loses nothing; any replica
-- then claims due rows (a lease, as for runs) and delivers them at least once.
create table webhook_outbox (
  -- The webhook-id header and the payload's id: the same on every attempt, for de-duplication.
  id uuid primary key default gen_random_uuid(),
  job_id text not null,
  run_id uuid not null references runs (id) on delete cascade,
  type text not null check (type in ('run.completed', 'run.failed', 'run.awaiting_approval')),
  -- The run row as the event left it (the payload's run).
  run jsonb not null,
  occurred_at timestamptz not null default now(),
  attempts int not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_by text,
  locked_until timestamptz,
  delivered_at timestamptz,
  gave_up_at timestamptz,
  last_error text
);
create index webhook_outbox_due on webhook_outbox (next_attempt_at)
  where delivered_at is null and gave_up_at is null;

-- Only jobs whose declared configuration (mirrored into jobs at start-up) has a webhook.
create function webhook_outbox_enqueue() returns trigger language plpgsql as $$
begin
  if new.state is distinct from old.state
     and new.state in ('completed', 'failed', 'awaiting_approval')
     and exists (select 1 from jobs where id = new.job_id and coalesce(config ->> 'webhook', '') <> '') then
    insert into webhook_outbox (job_id, run_id, type, run)
    values (new.job_id, new.id, 'run.' || new.state, to_jsonb(new));
  end if;
  return new;
end $$;

create trigger runs_webhook_outbox after update of state on runs
  for each row execute function webhook_outbox_enqueue();
