-- migrate:up
-- A replayed response keeps its media type; a row still at status 0 is a first request in progress.
ALTER TABLE idempotency_keys ADD COLUMN content_type text NOT NULL DEFAULT 'application/json';

-- migrate:down
ALTER TABLE idempotency_keys DROP COLUMN content_type;
