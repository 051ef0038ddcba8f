-- migrate:up
-- A delivery retries transient failures until a deadline that depends on what it is (hours for urgent
-- and care alerts, a day otherwise), not a number of attempts; ``waiting_provider`` marks one whose last
-- attempt failed because the provider was unreachable or throttling (shown apart in the statistics).
ALTER TABLE deliveries ADD COLUMN retry_until timestamptz;
ALTER TABLE deliveries ADD COLUMN waiting_provider boolean NOT NULL DEFAULT false;
ALTER TABLE direct_emails ADD COLUMN retry_until timestamptz;
-- Deliveries planned before deadlines existed get a day from when they were due.
UPDATE deliveries SET retry_until = due_at + interval '1 day'
WHERE status IN ('pending', 'sending') AND channel <> 'inbox';
UPDATE direct_emails SET retry_until = due_at + interval '1 day' WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_retry_until_idx ON deliveries (retry_until) WHERE status = 'pending';
CREATE INDEX deliveries_waiting_idx ON deliveries (channel, notification_id) WHERE status = 'pending' AND waiting_provider;

-- One circuit breaker per provider (push: FCM, email: the SMTP server), shared by every worker. While it
-- is open nothing is claimed on that channel; when ``open_until`` has passed one worker sends a probe
-- (``probe_until`` keeps others from probing at the same time), and a success closes it.
CREATE TABLE delivery_circuits (
    channel      text PRIMARY KEY CHECK (channel IN ('push', 'email')),
    failures     integer NOT NULL DEFAULT 0,
    trips        integer NOT NULL DEFAULT 0,
    opened_at    timestamptz,
    open_until   timestamptz,
    probe_until  timestamptz,
    last_error   text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO delivery_circuits (channel) VALUES ('push'), ('email');

-- migrate:down
DROP TABLE delivery_circuits;
ALTER TABLE direct_emails DROP COLUMN retry_until;
DROP INDEX deliveries_waiting_idx;
DROP INDEX deliveries_retry_until_idx;
ALTER TABLE deliveries DROP COLUMN waiting_provider;
ALTER TABLE deliveries DROP COLUMN retry_until;
