-- One person's history (GET /v1/users/{entraId or email}/history, the CLI's `user`, the search on
-- /status): every item about one Entra user across runs and jobs, newest first, a page at a time.
-- Without these, each lookup read all of run_items (every user of every run of HISTORY_DAYS).
--
-- The items of one Entra user, newest first (id order is insertion order), read backwards from a cursor.
create index run_items_entra_history on run_items (entra_id, id);
-- The Entra users an e-mail was ever recorded for: an item keeps the e-mail the person had at that
-- run, so a lookup by the e-mail of today finds the items written under an earlier one, and the
-- other way round, through the Entra id they share.
create index run_items_email_history on run_items (lower(email), entra_id) where email is not null;
