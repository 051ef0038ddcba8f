-- migrate:up
-- Who belongs to a community's audience. The communities package replaces this view with its active,
-- non-banned members; messaging only ever reads it.
CREATE VIEW community_audience AS
    SELECT NULL::uuid AS community_id, NULL::uuid AS user_id WHERE false;

CREATE TABLE devices (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token         text NOT NULL UNIQUE,
    platform      text NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_user_idx ON devices (user_id);

-- Per person and community (an opaque id here). A missing row or a null column means the default:
-- push on; email on only for people without a device; no digest.
CREATE TABLE notification_preferences (
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    community_id  uuid NOT NULL,
    push          boolean,
    email         boolean,
    digest        text NOT NULL DEFAULT 'off' CHECK (digest IN ('off', 'daily', 'weekly')),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, community_id)
);

-- The outbox: written in the publisher's transaction, planned into deliveries by the worker.
CREATE TABLE notifications (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind                   text NOT NULL,
    source_id              uuid,
    community_id           uuid,
    sender_id              uuid REFERENCES users (id) ON DELETE SET NULL,
    priority               text NOT NULL CHECK (priority IN ('info', 'important', 'urgent')),
    -- user-written content in both languages, or a catalog message translated for each reader
    title_fr               text,
    title_de               text,
    body_fr                text,
    body_de                text,
    message                jsonb,
    sender_name_fr         text,
    sender_name_de         text,
    deep_link              text NOT NULL,
    ack_requested          boolean NOT NULL DEFAULT false,
    respect_preferences    boolean NOT NULL DEFAULT true,
    channels               text[] NOT NULL DEFAULT '{push,email}',
    audience_community_id  uuid,
    audience_user_ids      uuid[] NOT NULL DEFAULT '{}',
    exclude_user_ids       uuid[] NOT NULL DEFAULT '{}',
    not_before             timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    enqueued_at            timestamptz,
    planned_at             timestamptz,
    -- the source was withdrawn (a deleted post): what is not sent yet is skipped
    cancelled_at           timestamptz,
    recipients             integer
);
CREATE INDEX notifications_unplanned_idx ON notifications (created_at) WHERE planned_at IS NULL;
CREATE INDEX notifications_source_idx ON notifications (kind, source_id);

-- One row per recipient and channel; the unique key makes planning idempotent. The in-app inbox is a
-- channel too: every recipient gets an 'inbox' row (sent at planning), which carries the read and
-- acknowledgement receipts and the recipient's language and municipality for statistics.
CREATE TABLE deliveries (
    id               bigserial PRIMARY KEY,
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
    UNIQUE (notification_id, user_id, channel)
);
CREATE INDEX deliveries_due_idx ON deliveries (due_at) WHERE status = 'pending';
CREATE INDEX deliveries_lease_idx ON deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_held_idx ON deliveries (user_id) WHERE status = 'held';
CREATE INDEX deliveries_user_idx ON deliveries (user_id);
CREATE INDEX deliveries_inbox_idx ON deliveries (user_id, sent_at DESC, notification_id DESC) WHERE channel = 'inbox';

-- One opaque token per person and community for one-click unsubscribe links (RFC 8058).
CREATE TABLE unsubscribe_tokens (
    token         text PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    community_id  uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    UNIQUE (user_id, community_id)
);

-- Addresses that bounced hard repeatedly get no more email.
CREATE TABLE email_bounces (
    address       text PRIMARY KEY,
    hard_bounces  integer NOT NULL DEFAULT 0,
    last_error    text,
    suppressed_at timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One digest run per period and local date, whichever worker comes first.
CREATE TABLE digest_runs (
    period      text NOT NULL CHECK (period IN ('daily', 'weekly')),
    run_date    date NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (period, run_date)
);

-- When a reader's quiet hours end: null if ``at`` is outside them. Start/end are local wall-clock times in
-- ``zone``; the window may span midnight (22:00–07:00). Daylight-saving gaps resolve as PostgreSQL does.
CREATE FUNCTION quiet_hours_end(at timestamptz, q_start time, q_end time, zone text)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN q_start IS NULL OR q_end IS NULL OR q_start = q_end THEN NULL
        WHEN q_start < q_end THEN
            CASE WHEN (at AT TIME ZONE zone)::time >= q_start AND (at AT TIME ZONE zone)::time < q_end
                 THEN ((at AT TIME ZONE zone)::date + q_end) AT TIME ZONE zone END
        ELSE
            CASE WHEN (at AT TIME ZONE zone)::time >= q_start
                 THEN ((at AT TIME ZONE zone)::date + 1 + q_end) AT TIME ZONE zone
                 WHEN (at AT TIME ZONE zone)::time < q_end
                 THEN ((at AT TIME ZONE zone)::date + q_end) AT TIME ZONE zone END
    END
$$;

-- migrate:down
DROP FUNCTION quiet_hours_end;
DROP TABLE digest_runs;
DROP TABLE email_bounces;
DROP TABLE unsubscribe_tokens;
DROP TABLE deliveries;
DROP TABLE notifications;
DROP TABLE notification_preferences;
DROP TABLE devices;
DROP VIEW community_audience;
