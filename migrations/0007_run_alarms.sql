-- What a monitor calling a job's continue link needs to turn red and back (README "Trigger modes
-- and links"): the category of what made a run fail, which a link holder may see (the upstream
-- text stays in last_error, for the admin API and the log only), and an operator's
-- acknowledgement of a failed run or of a run left awaiting approval too long.
alter table runs
  add column failure text,
  add column acknowledged_at timestamptz;
