-- migrate:up
-- Why an address without a proven account gets an email: an invitation, or its own account (welcome,
-- verification, password reset); the footer says which.
ALTER TABLE direct_emails
    ADD COLUMN reason text NOT NULL DEFAULT 'invited' CHECK (reason IN ('invited', 'account'));

-- migrate:down
ALTER TABLE direct_emails DROP COLUMN reason;
