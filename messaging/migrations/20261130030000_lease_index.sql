-- migrate:up
-- The lease index keeps the deliveries being sent, by when their lease ends, for the sweep that returns a
-- stopped worker's rows to pending. Its condition is now the lease itself: a delivery holds one exactly
-- while it is 'sending' (a claim sets it; recording, releasing and expiring clear it). With the former
-- condition, status = 'sending', every statement that finds a job's own rows by id and checks that they
-- are still being sent (outcomes, lease renewals, releases) could be planned on this index instead of the
-- primary key: the statistics, taken when almost nothing is being sent, make it look tiny, and in the
-- middle of a fan-out a heartbeat then walked thousands of leases to renew its own 450 (38 ms, against
-- 1.4 ms by the primary key).
DROP INDEX deliveries_lease_idx;
CREATE INDEX deliveries_lease_idx ON deliveries (lease_until) WHERE lease_until IS NOT NULL;

-- migrate:down
DROP INDEX deliveries_lease_idx;
CREATE INDEX deliveries_lease_idx ON deliveries (lease_until) WHERE status = 'sending';
