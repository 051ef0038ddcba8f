-- migrate:up
-- Dispatch claims a notification's pending deliveries of one channel in id order, 500 at a time: this
-- index serves each claim directly instead of sorting every pending row of a large fan-out again.
CREATE INDEX deliveries_claim_idx ON deliveries (notification_id, channel, id) WHERE status = 'pending';

-- migrate:down
DROP INDEX deliveries_claim_idx;
