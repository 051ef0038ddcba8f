-- migrate:up
-- Deliveries (and the inbox rows among them) are partitioned by week of planning, so that retention drops a
-- partition instead of deleting rows, and a dispatch claim walks the small indexes of its notification's
-- week. ``planned_at`` is the time planning wrote the row (the notification's ``planned_at``): every row of
-- one notification lies in one partition. A row written otherwise gets '-infinity' and lies in the DEFAULT
-- partition, purged row by row as before.
ALTER TABLE deliveries RENAME TO deliveries_unpartitioned;
ALTER SEQUENCE deliveries_id_seq OWNED BY NONE;
ALTER INDEX deliveries_pkey RENAME TO deliveries_unpartitioned_pkey;
ALTER INDEX deliveries_notification_id_user_id_channel_key RENAME TO deliveries_unpartitioned_key;
DROP INDEX deliveries_due_idx, deliveries_lease_idx, deliveries_held_idx, deliveries_user_idx,
    deliveries_inbox_idx, deliveries_claim_idx, deliveries_retry_until_idx, deliveries_waiting_idx;

CREATE TABLE deliveries (
    id               bigint NOT NULL DEFAULT nextval('deliveries_id_seq'),
    notification_id  uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel          text NOT NULL CHECK (channel IN ('inbox', 'push', 'email')),
    locale           text NOT NULL,
    municipality_code text,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'held')),
    due_at           timestamptz NOT NULL DEFAULT now(),
    quiet_override   boolean NOT NULL DEFAULT false,
    deferred_by_quiet_hours boolean NOT NULL DEFAULT false,
    digest           text CHECK (digest IN ('daily', 'weekly')),
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    skip_reason      text,
    enqueued_at      timestamptz,
    lease_until      timestamptz,
    sent_at          timestamptz,
    read_at          timestamptz,
    acknowledged_at  timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    retry_until      timestamptz,
    waiting_provider boolean NOT NULL DEFAULT false,
    planned_at       timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (id, planned_at),
    UNIQUE (notification_id, user_id, channel, planned_at)
) PARTITION BY RANGE (planned_at);
ALTER SEQUENCE deliveries_id_seq OWNED BY deliveries.id;

CREATE TABLE deliveries_default PARTITION OF deliveries DEFAULT;

-- one partition per week (Monday 00:00 UTC), from the oldest planned delivery to four weeks ahead
SELECT hub_ensure_partition('deliveries', 'planned_at', w, w + interval '7 days')
FROM generate_series(
    date_trunc('week', least(
        now(),
        coalesce((SELECT min(n.planned_at) FROM deliveries_unpartitioned d JOIN notifications n ON n.id = d.notification_id), now())
    ) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
    now() + interval '4 weeks',
    interval '7 days'
) AS w;

INSERT INTO deliveries (id, notification_id, user_id, channel, locale, municipality_code, status, due_at,
                        quiet_override, deferred_by_quiet_hours, digest, attempts, last_error, skip_reason,
                        enqueued_at, lease_until, sent_at, read_at, acknowledged_at, updated_at, retry_until,
                        waiting_provider, planned_at)
SELECT d.id, d.notification_id, d.user_id, d.channel, d.locale, d.municipality_code, d.status, d.due_at,
       d.quiet_override, d.deferred_by_quiet_hours, d.digest, d.attempts, d.last_error, d.skip_reason,
       d.enqueued_at, d.lease_until, d.sent_at, d.read_at, d.acknowledged_at, d.updated_at, d.retry_until,
       d.waiting_provider, coalesce(n.planned_at, '-infinity')
FROM deliveries_unpartitioned d JOIN notifications n ON n.id = d.notification_id;
DROP TABLE deliveries_unpartitioned;

CREATE INDEX deliveries_due_idx ON deliveries (due_at) WHERE status = 'pending';
CREATE INDEX deliveries_lease_idx ON deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_held_idx ON deliveries (user_id) WHERE status = 'held';
CREATE INDEX deliveries_user_idx ON deliveries (user_id);
CREATE INDEX deliveries_inbox_idx ON deliveries (user_id, sent_at DESC, notification_id DESC) WHERE channel = 'inbox';
CREATE INDEX deliveries_claim_idx ON deliveries (notification_id, channel, id) WHERE status = 'pending';
CREATE INDEX deliveries_retry_until_idx ON deliveries (retry_until) WHERE status = 'pending';
CREATE INDEX deliveries_waiting_idx ON deliveries (channel, notification_id) WHERE status = 'pending' AND waiting_provider;

-- migrate:down
ALTER TABLE deliveries RENAME TO deliveries_partitioned;
ALTER SEQUENCE deliveries_id_seq OWNED BY NONE;
CREATE TABLE deliveries (
    id               bigint PRIMARY KEY DEFAULT nextval('deliveries_id_seq'),
    notification_id  uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel          text NOT NULL CHECK (channel IN ('inbox', 'push', 'email')),
    locale           text NOT NULL,
    municipality_code text,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'held')),
    due_at           timestamptz NOT NULL DEFAULT now(),
    quiet_override   boolean NOT NULL DEFAULT false,
    deferred_by_quiet_hours boolean NOT NULL DEFAULT false,
    digest           text CHECK (digest IN ('daily', 'weekly')),
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    skip_reason      text,
    enqueued_at      timestamptz,
    lease_until      timestamptz,
    sent_at          timestamptz,
    read_at          timestamptz,
    acknowledged_at  timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    retry_until      timestamptz,
    waiting_provider boolean NOT NULL DEFAULT false,
    UNIQUE (notification_id, user_id, channel)
);
INSERT INTO deliveries SELECT id, notification_id, user_id, channel, locale, municipality_code, status, due_at,
       quiet_override, deferred_by_quiet_hours, digest, attempts, last_error, skip_reason, enqueued_at,
       lease_until, sent_at, read_at, acknowledged_at, updated_at, retry_until, waiting_provider
FROM deliveries_partitioned;
DROP TABLE deliveries_partitioned;
ALTER SEQUENCE deliveries_id_seq OWNED BY deliveries.id;
CREATE INDEX deliveries_due_idx ON deliveries (due_at) WHERE status = 'pending';
CREATE INDEX deliveries_lease_idx ON deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_held_idx ON deliveries (user_id) WHERE status = 'held';
CREATE INDEX deliveries_user_idx ON deliveries (user_id);
CREATE INDEX deliveries_inbox_idx ON deliveries (user_id, sent_at DESC, notification_id DESC) WHERE channel = 'inbox';
CREATE INDEX deliveries_claim_idx ON deliveries (notification_id, channel, id) WHERE status = 'pending';
CREATE INDEX deliveries_retry_until_idx ON deliveries (retry_until) WHERE status = 'pending';
CREATE INDEX deliveries_waiting_idx ON deliveries (channel, notification_id) WHERE status = 'pending' AND waiting_provider;
