-- migrate:up
-- Proven addresses: only the account that proved an address owns it. Until then several accounts may name
-- the same address (a sign-up never tells whether an address is taken), and nothing matches them by it.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
-- Addresses of accounts that existed before proof was required count as proven by their owners' use.
UPDATE users SET email_verified_at = created_at;
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_verified_email_key ON users (lower(email)) WHERE email_verified_at IS NOT NULL;
CREATE INDEX users_email_idx ON users (lower(email));

-- Single-use tokens sent by email: proving an address, resetting a password. Only their hash is kept.
CREATE TABLE account_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    -- the address the token proves (a verification for an address the account no longer has is void)
    email       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- Who was made or unmade a hub administrator, by which operator (the console's system user), and when.
CREATE TABLE admin_audit (
    id           bigserial PRIMARY KEY,
    action       text NOT NULL CHECK (action IN ('grant', 'revoke')),
    user_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    email        text NOT NULL,
    operator     text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE admin_audit;
DROP TABLE account_tokens;
DROP INDEX users_email_idx;
DROP INDEX users_verified_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
ALTER TABLE users DROP COLUMN email_verified_at;
