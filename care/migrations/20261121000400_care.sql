-- migrate:up
-- Care data (GDPR art. 9) lives in these tables only; only the senior and accepted circle members reach it.

-- Organisations offering care services; listed in the directory once a hub admin has verified them.
CREATE TABLE care_providers (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind                text NOT NULL CHECK (kind IN ('home_care', 'meals_on_wheels', 'transport',
                            'emergency_call', 'day_care', 'nursing', 'other')),
    name                text NOT NULL,
    description_fr      text,
    description_de      text,
    languages           text[] NOT NULL,
    municipality_codes  text[] NOT NULL,
    phone               text,
    email               text,
    website             text,
    created_by          uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    verified_at         timestamptz,
    verified_by         uuid REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX care_providers_codes_idx ON care_providers USING gin (municipality_codes);

CREATE TABLE care_provider_staff (
    provider_id  uuid NOT NULL REFERENCES care_providers (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_id, user_id)
);
CREATE INDEX care_provider_staff_user_idx ON care_provider_staff (user_id);

-- People who explicitly agreed to be served (and alerted) by a provider; withdrawal keeps the record.
CREATE TABLE care_provider_clients (
    provider_id    uuid NOT NULL REFERENCES care_providers (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text_version   text NOT NULL,
    consent_locale text NOT NULL,
    consented_at   timestamptz NOT NULL,
    withdrawn_at   timestamptz,
    PRIMARY KEY (provider_id, user_id)
);
CREATE INDEX care_provider_clients_user_idx ON care_provider_clients (user_id);

-- A provider's broadcast to its clients; acknowledgements are kept per recipient below.
CREATE TABLE care_alerts (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id          uuid NOT NULL REFERENCES care_providers (id) ON DELETE CASCADE,
    author_id            uuid REFERENCES users (id) ON DELETE SET NULL,
    title_fr             text,
    title_de             text,
    body_fr              text,
    body_de              text,
    priority             text NOT NULL CHECK (priority IN ('info', 'important', 'urgent')),
    ack_requested        boolean NOT NULL,
    remind_after_minutes integer NOT NULL,
    created_at           timestamptz NOT NULL,
    notification_id      uuid,
    reminded_at          timestamptz,
    reminder_notification_id uuid
);
CREATE INDEX care_alerts_reminder_idx ON care_alerts (created_at)
    WHERE ack_requested AND reminded_at IS NULL;

CREATE TABLE care_alert_recipients (
    alert_id          uuid NOT NULL REFERENCES care_alerts (id) ON DELETE CASCADE,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    locale            text NOT NULL,
    municipality_code text,
    acknowledged_at   timestamptz,
    reminded          boolean NOT NULL DEFAULT false,
    PRIMARY KEY (alert_id, user_id)
);
CREATE INDEX care_alert_recipients_user_idx ON care_alert_recipients (user_id);

-- A senior's circle of caregivers; closed when the senior withdraws their consent.
CREATE TABLE care_circles (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    senior_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz
);
CREATE INDEX care_circles_senior_idx ON care_circles (senior_id);

-- Invitations and memberships in one row: invited → accepted/declined → removed/withdrawn.
CREATE TABLE care_circle_members (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    circle_id      uuid NOT NULL REFERENCES care_circles (id) ON DELETE CASCADE,
    invited_email  text NOT NULL,
    user_id        uuid REFERENCES users (id) ON DELETE CASCADE,
    provider_id    uuid REFERENCES care_providers (id) ON DELETE CASCADE,
    role           text NOT NULL CHECK (role IN ('family', 'neighbour', 'friend', 'provider')),
    state          text NOT NULL DEFAULT 'invited'
                   CHECK (state IN ('invited', 'accepted', 'declined', 'removed', 'withdrawn')),
    invited_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    invited_at     timestamptz NOT NULL DEFAULT now(),
    responded_at   timestamptz,
    ended_at       timestamptz,
    CHECK ((role = 'provider') = (provider_id IS NOT NULL))
);
CREATE UNIQUE INDEX care_circle_members_open_key ON care_circle_members (circle_id, lower(invited_email))
    WHERE state IN ('invited', 'accepted');
CREATE INDEX care_circle_members_user_idx ON care_circle_members (user_id);
CREATE INDEX care_circle_members_email_idx ON care_circle_members (lower(invited_email)) WHERE state = 'invited';

-- Consent as given: who, when, for what, which text version, in which language; withdrawal is dated.
CREATE TABLE care_consents (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    circle_id     uuid NOT NULL REFERENCES care_circles (id) ON DELETE CASCADE,
    user_id       uuid REFERENCES users (id) ON DELETE CASCADE,
    member_id     uuid REFERENCES care_circle_members (id) ON DELETE CASCADE,
    purpose       text NOT NULL CHECK (purpose IN ('senior_circle', 'caregiver_membership')),
    text_version  text NOT NULL,
    locale        text NOT NULL,
    given_at      timestamptz NOT NULL,
    withdrawn_at  timestamptz
);
CREATE INDEX care_consents_circle_idx ON care_consents (circle_id);
CREATE INDEX care_consents_user_idx ON care_consents (user_id);

-- One plan per senior: the days (ISO 1 = Monday) and the local window in which they say "I'm fine".
CREATE TABLE care_checkin_plans (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    senior_id            uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    circle_id            uuid NOT NULL REFERENCES care_circles (id) ON DELETE CASCADE,
    days                 smallint[] NOT NULL,
    window_start         time NOT NULL,
    window_end           time NOT NULL,
    zone                 text NOT NULL CHECK (zone IN ('Europe/Paris', 'Europe/Berlin')),
    grace_minutes        integer NOT NULL,
    caregiver_ack_minutes integer NOT NULL,
    active_from          timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (window_start < window_end)
);

-- Local dates (inclusive) on which no check-in is expected: holidays, hospital stays (no reason kept).
CREATE TABLE care_checkin_pauses (
    plan_id    uuid NOT NULL REFERENCES care_checkin_plans (id) ON DELETE CASCADE,
    first_day  date NOT NULL,
    last_day   date NOT NULL,
    CHECK (first_day <= last_day)
);
CREATE INDEX care_checkin_pauses_plan_idx ON care_checkin_pauses (plan_id);

CREATE TABLE care_checkins (
    id          bigserial PRIMARY KEY,
    senior_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    local_date  date NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX care_checkins_senior_idx ON care_checkins (senior_id, local_date);

-- One ladder per plan and local date, advanced only by UPDATE … WHERE state = expected.
CREATE TABLE care_escalations (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_id            uuid NOT NULL REFERENCES care_checkin_plans (id) ON DELETE CASCADE,
    circle_id          uuid NOT NULL REFERENCES care_circles (id) ON DELETE CASCADE,
    local_date         date NOT NULL,
    state              text NOT NULL CHECK (state IN ('reminded', 'circle_alerted', 'provider_alerted',
                           'claimed', 'resolved', 'stopped')),
    reminded_at        timestamptz NOT NULL,
    circle_alerted_at  timestamptz,
    provider_alerted_at timestamptz,
    claimed_by         uuid REFERENCES users (id) ON DELETE SET NULL,
    claimed_at         timestamptz,
    ended_at           timestamptz,
    UNIQUE (plan_id, local_date)
);
CREATE INDEX care_escalations_circle_idx ON care_escalations (circle_id, local_date DESC);

-- What caregivers see; a ladder step appears once (unique per escalation and step).
CREATE TABLE care_events (
    id             bigserial PRIMARY KEY,
    circle_id      uuid NOT NULL REFERENCES care_circles (id) ON DELETE CASCADE,
    kind           text NOT NULL,
    actor_id       uuid REFERENCES users (id) ON DELETE SET NULL,
    subject_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    escalation_id  uuid REFERENCES care_escalations (id) ON DELETE CASCADE,
    local_date     date,
    at             timestamptz NOT NULL
);
CREATE INDEX care_events_circle_idx ON care_events (circle_id, id DESC);
CREATE UNIQUE INDEX care_events_step_key ON care_events (escalation_id, kind) WHERE escalation_id IS NOT NULL;

-- Every read of a circle's log: who, when, what.
CREATE TABLE care_access_log (
    id         bigserial PRIMARY KEY,
    circle_id  uuid NOT NULL REFERENCES care_circles (id) ON DELETE CASCADE,
    reader_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    what       text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX care_access_log_circle_idx ON care_access_log (circle_id, at);

-- migrate:down
DROP TABLE care_access_log;
DROP TABLE care_events;
DROP TABLE care_escalations;
DROP TABLE care_checkins;
DROP TABLE care_checkin_pauses;
DROP TABLE care_checkin_plans;
DROP TABLE care_consents;
DROP TABLE care_circle_members;
DROP TABLE care_circles;
DROP TABLE care_alert_recipients;
DROP TABLE care_alerts;
DROP TABLE care_provider_clients;
DROP TABLE care_provider_staff;
DROP TABLE care_providers;
