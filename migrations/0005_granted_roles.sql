-- Roles the service gave a user that the account did not hold before (core/plan.ts MapEntry.granted).
-- They never protect the account from the service: a leaver the job made administrator loses it.
-- Rows written before this migration start empty: the service then treats every role as the
-- account's own, so an administrator it may have granted earlier stays protected (the safe side).
alter table user_map add column granted_roles jsonb not null default '[]'::jsonb;
