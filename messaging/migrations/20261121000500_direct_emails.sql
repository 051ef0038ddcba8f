-- migrate:up
-- Emails to an address that has no account yet (an invitation to a care circle): in the language the
-- sender chose, retried like deliveries, never to an address that asked for no more.
CREATE TABLE direct_emails (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind          text NOT NULL,
    address       text NOT NULL,
    locale        text NOT NULL CHECK (locale IN ('fr', 'de', 'en')),
    message       jsonb NOT NULL,
    deep_link     text NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
    skip_reason   text,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    due_at        timestamptz NOT NULL DEFAULT now(),
    enqueued_at   timestamptz,
    lease_until   timestamptz,
    sent_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX direct_emails_due_idx ON direct_emails (due_at) WHERE status = 'pending';
CREATE INDEX direct_emails_address_idx ON direct_emails (lower(address));

-- One opaque opt-out link per address without an account.
CREATE TABLE address_optout_tokens (
    token       text PRIMARY KEY,
    address     text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- migrate:down
DROP TABLE address_optout_tokens;
DROP TABLE direct_emails;
