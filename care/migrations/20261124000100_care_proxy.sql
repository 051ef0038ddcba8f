-- migrate:up
-- Circles set up for a senior by someone else, with the senior's consent as that person obtained it.

-- How a consent was obtained: given in the app by the person themselves ('app', recorded_by NULL), or
-- obtained in person, by phone or on paper by the person who recorded it.
ALTER TABLE care_consents
    ADD COLUMN method text NOT NULL DEFAULT 'app' CHECK (method IN ('app', 'in_person', 'phone', 'paper')),
    ADD COLUMN recorded_by uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX care_consents_recorded_by_idx ON care_consents (recorded_by) WHERE recorded_by IS NOT NULL;

-- The membership of the person who set the circle up; it ends (and their rights with it) like any other.
ALTER TABLE care_circle_members ADD COLUMN proxy boolean NOT NULL DEFAULT false;

-- migrate:down
ALTER TABLE care_circle_members DROP COLUMN proxy;
DROP INDEX care_consents_recorded_by_idx;
ALTER TABLE care_consents DROP COLUMN recorded_by, DROP COLUMN method;
