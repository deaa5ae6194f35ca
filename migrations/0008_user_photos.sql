-- Profile photos synced as WordPress avatars (jobs with photos: true): what was last put on the
-- site per user, so an unchanged photo costs no WordPress request, and when Graph was last asked,
-- because delta queries do not report photo changes.
create table user_photos (
  job_id text not null,
  entra_id text not null,
  -- sha-256 of the photo stored on WordPress; null: the user has no photo (WordPress's default).
  hash text,
  checked_at timestamptz not null,
  primary key (job_id, entra_id)
);
