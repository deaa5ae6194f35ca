-- user_map.last_seen_run was written by every run and read by nothing: whether a run saw a user
-- is its run_items row (unique per run and user). A replica of an older version still running
-- writes the column, so its user-map commits fail (and its steps are retried) until it is replaced.
alter table user_map drop column last_seen_run;

-- run_items.action had no check constraint (0001's comment also names a 'fail' action that was
-- never written). The list is ITEM_ACTIONS of src/core/runs.ts; test/db/constraints.test.ts
-- compares every check constraint of the schema with the TypeScript lists. "not valid": existing
-- rows were written from the same list, and validating them would scan and lock run_items,
-- which holds every user of every run of HISTORY_DAYS, while replicas keep writing it.
alter table run_items
  add constraint run_items_action_check
  check (action in ('create', 'update', 'unchanged', 'reactivate', 'deactivate', 'delete', 'skip')) not valid;
