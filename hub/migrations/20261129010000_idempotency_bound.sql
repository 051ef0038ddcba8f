-- migrate:up
-- A key belongs to one caller (a person, or a partner key) and to one request (its fingerprint: method,
-- path, query and body); a first request holds it only until locked_until; the stored answer is sealed
-- (it may carry a secret, such as a new partner key); every key expires and is purged.
DROP TABLE idempotency_keys;
CREATE TABLE idempotency_keys (
    caller        bytea NOT NULL,
    key           text NOT NULL,
    user_id       uuid REFERENCES users (id) ON DELETE CASCADE,
    fingerprint   bytea NOT NULL,
    status        integer NOT NULL,
    content_type  text NOT NULL DEFAULT 'application/json',
    body          bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_user_id ON idempotency_keys (user_id) WHERE user_id IS NOT NULL;

-- migrate:down
DROP TABLE idempotency_keys;
CREATE TABLE idempotency_keys (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text NOT NULL,
    route        text NOT NULL,
    status       integer NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    content_type text NOT NULL DEFAULT 'application/json',
    PRIMARY KEY (user_id, key, route)
);
