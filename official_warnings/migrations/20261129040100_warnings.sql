-- migrate:up
-- Official warnings: each configured feed's polling state and a record of every fetch.
CREATE TABLE warning_feeds (
    feed_key        text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('cap-atom', 'dwd', 'nina')),
    url             text NOT NULL,
    etag            text,
    last_modified   text,
    failures        integer NOT NULL DEFAULT 0,
    next_poll_at    timestamptz NOT NULL DEFAULT now(),
    last_polled_at  timestamptz
);

CREATE TABLE warning_fetches (
    id           bigserial PRIMARY KEY,
    feed_key     text NOT NULL REFERENCES warning_feeds (feed_key) ON DELETE CASCADE,
    url          text NOT NULL,
    fetched_at   timestamptz NOT NULL,
    http_status  integer,
    outcome      text NOT NULL CHECK (outcome IN ('ok', 'not_modified', 'http_error', 'garbage', 'unreachable')),
    alerts       integer NOT NULL DEFAULT 0,
    error        text
);
CREATE INDEX warning_fetches_feed_idx ON warning_fetches (feed_key, fetched_at DESC);

-- Documents a feed points to (CAP links of an Atom feed, NINA details), read once per version.
CREATE TABLE warning_documents (
    url      text PRIMARY KEY,
    version  text NOT NULL,
    read_at  timestamptz NOT NULL
);

-- One hazard for overlapping places and times, whichever sources report it: what people are told about.
CREATE TABLE warning_incidents (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    hazard              text NOT NULL,
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz,
    municipality_codes  text[] NOT NULL,
    sources             text[] NOT NULL,
    ended_at            timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX warning_incidents_open_idx ON warning_incidents (hazard) WHERE ended_at IS NULL;

CREATE TABLE warnings (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source              text NOT NULL CHECK (source IN ('dwd', 'meteoalarm', 'nina')),
    identifier          text NOT NULL,
    sender              text NOT NULL,
    sent                timestamptz NOT NULL,
    status              text NOT NULL CHECK (status IN ('Actual', 'Exercise', 'System', 'Test', 'Draft')),
    msg_type            text NOT NULL CHECK (msg_type IN ('Alert', 'Update', 'Cancel', 'Ack', 'Error')),
    refs                text[] NOT NULL DEFAULT '{}',
    -- the first message of its alert → update → cancel chain (itself for an alert)
    chain_id            uuid NOT NULL,
    incident_id         uuid REFERENCES warning_incidents (id),
    event_code          text,
    hazard              text NOT NULL,
    severity            text NOT NULL CHECK (severity IN ('minor', 'moderate', 'severe', 'extreme')),
    -- the colour of the source's own scale (Météo-France's orange is CAP Severe, DWD's is Moderate)
    level               text NOT NULL CHECK (level IN ('yellow', 'orange', 'red', 'violet')),
    urgency             text NOT NULL,
    certainty           text NOT NULL,
    onset               timestamptz,
    effective           timestamptz,
    expires             timestamptz,
    -- {lang: {event, headline, description, instruction, web}} as the source wrote them
    texts               jsonb NOT NULL,
    area_desc           text NOT NULL,
    -- the source's own area: {geocodes: [[name, value]], polygons: [...], circles: [...]}
    area                jsonb NOT NULL,
    municipality_codes  text[] NOT NULL,
    licence             text NOT NULL,
    attribution         text NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, identifier)
);
CREATE INDEX warnings_chain_idx ON warnings (chain_id, sent);
CREATE INDEX warnings_codes_idx ON warnings USING gin (municipality_codes);

-- Who was told about an incident, at which severity (updates tell only the newly concerned).
CREATE TABLE warning_recipients (
    incident_id  uuid NOT NULL REFERENCES warning_incidents (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    severity     smallint NOT NULL,
    told_at      timestamptz NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);
CREATE INDEX warning_recipients_user_idx ON warning_recipients (user_id);

-- Every notification sent for an incident (alert, all-clear, care providers) or an exercise.
CREATE TABLE warning_notifications (
    notification_id  uuid PRIMARY KEY,
    warning_id       uuid NOT NULL REFERENCES warnings (id) ON DELETE CASCADE,
    incident_id      uuid REFERENCES warning_incidents (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('alert', 'all_clear', 'exercise', 'care')),
    provider_id      uuid,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX warning_notifications_care_key ON warning_notifications (incident_id, provider_id)
    WHERE kind = 'care';
CREATE UNIQUE INDEX warning_notifications_all_clear_key ON warning_notifications (incident_id)
    WHERE kind = 'all_clear';

-- migrate:down
DROP TABLE warning_notifications;
DROP TABLE warning_recipients;
DROP TABLE warnings;
DROP TABLE warning_incidents;
DROP TABLE warning_documents;
DROP TABLE warning_fetches;
DROP TABLE warning_feeds;
