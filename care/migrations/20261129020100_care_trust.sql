-- migrate:up
-- A circle set up on a senior's behalf waits for the senior's yes (or their verified provider's record of
-- it): until then it is pending, and the person who asked sees and sets nothing.
ALTER TABLE care_circles
    ADD COLUMN confirmed_at       timestamptz,
    ADD COLUMN requested_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    -- the short code of the request (in the senior's notice), hashed; it answers the request once
    ADD COLUMN confirm_code_hash  bytea,
    ADD COLUMN confirm_expires_at timestamptz;
UPDATE care_circles SET confirmed_at = created_at;
CREATE UNIQUE INDEX care_circles_confirm_code_key ON care_circles (confirm_code_hash)
    WHERE confirm_code_hash IS NOT NULL;

-- How the senior's yes was given: in the app, with the code of the notice, or obtained by a provider.
ALTER TABLE care_consents DROP CONSTRAINT care_consents_method_check;
ALTER TABLE care_consents
    ADD CONSTRAINT care_consents_method_check
        CHECK (method IN ('app', 'code', 'in_person', 'phone', 'paper')),
    ADD COLUMN provider_id uuid REFERENCES care_providers (id) ON DELETE SET NULL;

-- Every request to set up someone's circle, whether or not the address has an account; the senior sees
-- those about them. The address is kept only as a hash (to limit repeats), never in clear.
CREATE TABLE care_setup_requests (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    requester_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address_hash  bytea NOT NULL,
    senior_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    circle_id     uuid REFERENCES care_circles (id) ON DELETE SET NULL,
    outcome       text NOT NULL CHECK (outcome IN ('pending', 'not_possible', 'limited')),
    -- how the person asking said they obtained the senior's agreement (not taken as the agreement)
    claimed_method text CHECK (claimed_method IN ('in_person', 'phone', 'paper')),
    requested_at  timestamptz NOT NULL
);
CREATE INDEX care_setup_requests_requester_idx ON care_setup_requests (requester_id, requested_at);
CREATE INDEX care_setup_requests_senior_idx ON care_setup_requests (senior_id, requested_at);

-- Clients of a provider are approved by its staff (or accept the staff's invitation); alerts reach only
-- approved clients. Staff seats need the person's acceptance. Rows from before count as approved/accepted.
ALTER TABLE care_provider_clients
    ADD COLUMN status text NOT NULL DEFAULT 'approved'
        CHECK (status IN ('requested', 'invited', 'approved', 'declined')),
    ADD COLUMN decided_by uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN decided_at timestamptz;
ALTER TABLE care_provider_clients ALTER COLUMN status SET DEFAULT 'requested';
ALTER TABLE care_provider_staff
    ADD COLUMN accepted_at timestamptz,
    ADD COLUMN invited_by uuid REFERENCES users (id) ON DELETE SET NULL;
UPDATE care_provider_staff SET accepted_at = added_at;

-- migrate:down
ALTER TABLE care_provider_staff DROP COLUMN invited_by, DROP COLUMN accepted_at;
ALTER TABLE care_provider_clients DROP COLUMN decided_at, DROP COLUMN decided_by, DROP COLUMN status;
DROP TABLE care_setup_requests;
ALTER TABLE care_consents DROP COLUMN provider_id, DROP CONSTRAINT care_consents_method_check;
ALTER TABLE care_consents ADD CONSTRAINT care_consents_method_check
    CHECK (method IN ('app', 'in_person', 'phone', 'paper'));
DROP INDEX care_circles_confirm_code_key;
ALTER TABLE care_circles DROP COLUMN confirm_expires_at, DROP COLUMN confirm_code_hash,
    DROP COLUMN requested_by, DROP COLUMN confirmed_at;
