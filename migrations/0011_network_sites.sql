-- Network jobs (WordPress multisite): blog id -> the role the service last wrote there ("" = a
-- member without a role). A role the service wrote never protects the user from the service on
-- that site, as granted_roles does on a single site. Null for single-site jobs.
alter table user_map add column sites jsonb;
