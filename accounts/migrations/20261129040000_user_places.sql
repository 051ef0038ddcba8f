-- migrate:up
-- Municipalities a person follows besides home: official warnings, sensor alerts and feedback
-- updates for these places reach them as they reach residents.
CREATE TABLE user_places (
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    municipality_code  text NOT NULL REFERENCES municipalities (code),
    position           smallint NOT NULL,
    added_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, municipality_code)
);
CREATE INDEX user_places_code_idx ON user_places (municipality_code);
CREATE INDEX users_municipality_idx ON users (municipality_code);

-- migrate:down
DROP INDEX users_municipality_idx;
DROP TABLE user_places;
