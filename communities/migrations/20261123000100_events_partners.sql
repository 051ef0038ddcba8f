-- migrate:up
-- Partner organisations (municipalities, associations, tourism offices, care providers) and their keys.
CREATE TABLE partners (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('municipality', 'association', 'tourism_office', 'care_provider')),
    language    text NOT NULL CHECK (language IN ('fr', 'de')),
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Only the sha256 of a key's secret is kept; the key itself is shown once, when issued.
CREATE TABLE partner_keys (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id     uuid NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    label          text NOT NULL DEFAULT '',
    prefix         text NOT NULL,
    secret_hash    bytea NOT NULL UNIQUE,
    scopes         text[] NOT NULL,
    community_ids  uuid[] NOT NULL,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    last_used_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_keys_partner_idx ON partner_keys (partner_id, created_at);

-- Communities that want a moderator to approve what partners publish.
CREATE TABLE community_partner_settings (
    community_id      uuid PRIMARY KEY REFERENCES communities (id) ON DELETE CASCADE,
    require_approval  boolean NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    community_id       uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    created_by         uuid REFERENCES users (id) ON DELETE SET NULL,
    partner_id         uuid REFERENCES partners (id) ON DELETE SET NULL,
    title_fr           text,
    title_de           text,
    description_fr     text,
    description_de     text,
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL,
    time_zone          text NOT NULL,
    location           text NOT NULL DEFAULT '',
    municipality_code  text REFERENCES municipalities (code),
    capacity           integer CHECK (capacity IS NULL OR capacity >= 1),
    -- kept in step with event_rsvps under the event's row lock; the CHECK is the last line of defence
    attending          integer NOT NULL DEFAULT 0 CHECK (attending >= 0),
    status             text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    -- iCalendar SEQUENCE: incremented on every change subscribers should see
    sequence           integer NOT NULL DEFAULT 0,
    reminder_sent_at   timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (title_fr IS NOT NULL OR title_de IS NOT NULL),
    CHECK (ends_at > starts_at),
    CHECK (capacity IS NULL OR attending <= capacity)
);
CREATE INDEX events_community_idx ON events (community_id, starts_at, id);
CREATE INDEX events_updated_idx ON events (community_id, updated_at);
CREATE INDEX events_reminder_idx ON events (starts_at) WHERE reminder_sent_at IS NULL AND status = 'scheduled';
CREATE INDEX events_creator_idx ON events (created_by);

CREATE TABLE event_rsvps (
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status      text NOT NULL CHECK (status IN ('attending', 'waiting')),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX event_rsvps_waiting_idx ON event_rsvps (event_id, created_at, user_id) WHERE status = 'waiting';
CREATE INDEX event_rsvps_user_idx ON event_rsvps (user_id);

-- Personal, revocable tokens for reading a community's calendar feed without signing in.
CREATE TABLE event_feed_tokens (
    token_hash    bytea PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, community_id)
);

-- What partners sent to communities that approve partner content first.
CREATE TABLE partner_submissions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id    uuid NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    key_id        uuid REFERENCES partner_keys (id) ON DELETE SET NULL,
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('event', 'post')),
    payload       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    result_id     uuid,
    decided_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    decided_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_submissions_queue_idx ON partner_submissions (community_id, created_at, id)
    WHERE status = 'pending';

-- Every action taken with a partner key, and every administrative change to partners and keys.
CREATE TABLE partner_audit (
    id            bigserial PRIMARY KEY,
    partner_id    uuid NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    key_id        uuid,
    actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    action        text NOT NULL,
    community_id  uuid,
    object_id     uuid,
    detail        jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_audit_partner_idx ON partner_audit (partner_id, created_at);

-- migrate:down
DROP TABLE partner_audit;
DROP TABLE partner_submissions;
DROP TABLE event_feed_tokens;
DROP TABLE event_rsvps;
DROP TABLE events;
DROP TABLE community_partner_settings;
DROP TABLE partner_keys;
DROP TABLE partners;
