-- migrate:up
CREATE TABLE users (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email              text NOT NULL,
    password_hash      text NOT NULL,
    display_name       text NOT NULL,
    locale             text NOT NULL CHECK (locale IN ('fr', 'de', 'en')),
    municipality_code  text REFERENCES municipalities (code),
    -- local wall-clock times in the user's zone; both null means no quiet hours
    quiet_hours_start  time,
    quiet_hours_end    time,
    time_zone          text NOT NULL DEFAULT 'Europe/Paris',
    is_admin           boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_hours_start IS NULL) = (quiet_hours_end IS NULL))
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- A signed-in device: refresh tokens rotate inside a session; logging out revokes the session and with it
-- every access token that names it.
CREATE TABLE sessions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash        bytea NOT NULL,
    previous_hash       bytea,
    created_at          timestamptz NOT NULL DEFAULT now(),
    refreshed_at        timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Replays of POST requests that carried an Idempotency-Key return the first response.
CREATE TABLE idempotency_keys (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text NOT NULL,
    route        text NOT NULL,
    status       integer NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key, route)
);

-- migrate:down
DROP TABLE idempotency_keys;
DROP TABLE sessions;
DROP TABLE users;
