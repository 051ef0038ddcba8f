-- migrate:up
CREATE TABLE sensors (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name_fr              text,
    name_de              text,
    kind                 text NOT NULL CHECK (kind IN ('water_level', 'temperature', 'humidity', 'rain',
                             'fill_level', 'parking', 'wind', 'air_quality', 'other')),
    unit                 text NOT NULL,
    municipality_code    text NOT NULL REFERENCES municipalities (code),
    lat                  double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon                  double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    expected_interval_s  integer NOT NULL CHECK (expected_interval_s BETWEEN 10 AND 604800),
    -- a hub administrator or a partner whose key may write sensors
    owner_user_id        uuid REFERENCES users (id) ON DELETE SET NULL,
    owner_partner_id     uuid REFERENCES partners (id) ON DELETE CASCADE,
    source               text NOT NULL,
    licence              text NOT NULL,
    -- rivers group gauges of both sides on one chart
    river                text,
    -- LoRaWAN device EUI (TTS and ChirpStack uplinks), MQTT or gauge station id, and the payload field read
    device_eui           text UNIQUE,
    station_id           text,
    -- official gauges read over HTTP: which service, for the station above
    poller               text CHECK (poller IN ('pegelonline', 'hubeau')),
    payload_field        text NOT NULL DEFAULT 'value',
    -- readings outside this range are kept as doubtful
    valid_min            double precision,
    valid_max            double precision,
    -- last gateway heard, to tell of a silent station once for all of its sensors
    gateway_id           text,
    battery              double precision,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sensors_municipality_idx ON sensors (municipality_code);
CREATE INDEX sensors_river_idx ON sensors (river) WHERE river IS NOT NULL;
CREATE UNIQUE INDEX sensors_poller_idx ON sensors (poller, station_id) WHERE poller IS NOT NULL;

-- Compact readings: the primary key serves per-sensor ranges, the BRIN index time ranges across sensors
-- (rows arrive in time order, so it stays a few pages at tens of millions of rows).
CREATE TABLE sensor_observations (
    sensor_id    uuid NOT NULL REFERENCES sensors (id) ON DELETE CASCADE,
    observed_at  timestamptz NOT NULL,
    value        double precision NOT NULL,
    -- 0 good, 1 doubtful (kept, ignored by rules)
    quality      smallint NOT NULL DEFAULT 0 CHECK (quality IN (0, 1)),
    PRIMARY KEY (sensor_id, observed_at)
);
CREATE INDEX sensor_observations_time_brin ON sensor_observations USING brin (observed_at);

-- Uplinks already taken in (device and frame counter, ChirpStack deduplication id): a replay adds nothing.
CREATE TABLE sensor_uplinks (
    key          text PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sensor_uplinks_received_idx ON sensor_uplinks (received_at);

-- Keys of network-server integrations (X-Hub-Ingest-Key); only their hash is kept.
CREATE TABLE sensor_ingest_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    label        text NOT NULL DEFAULT '',
    prefix       text NOT NULL,
    secret_hash  bytea NOT NULL UNIQUE,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- A rule and its state machine in one row, locked (FOR UPDATE) whenever it moves.
CREATE TABLE sensor_rules (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sensor_id                   uuid NOT NULL REFERENCES sensors (id) ON DELETE CASCADE,
    levels                      jsonb NOT NULL,
    no_data_after_s             integer,
    rise_per_hour               double precision,
    stuck_after_s               integer,
    audience_municipality_codes text[] NOT NULL DEFAULT '{}',
    audience_community_id       uuid,
    template_fr                 text,
    template_de                 text,
    heat                        boolean NOT NULL DEFAULT false,
    enabled                     boolean NOT NULL DEFAULT true,
    created_by                  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    status                      text NOT NULL DEFAULT 'normal'
                                CHECK (status IN ('normal', 'pending', 'firing', 'recovering', 'no_data')),
    level                       integer NOT NULL DEFAULT -1,
    candidate                   integer NOT NULL DEFAULT -1,
    candidate_since             timestamptz,
    recovering_since            timestamptz,
    incident_started_at         timestamptz,
    before_no_data              text NOT NULL DEFAULT 'normal',
    last_seen                   timestamptz,
    last_value                  double precision,
    value_since                 timestamptz,
    stuck                       boolean NOT NULL DEFAULT false,
    rising                      boolean NOT NULL DEFAULT false,
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sensor_rules_sensor_idx ON sensor_rules (sensor_id);
CREATE INDEX sensor_rules_watch_idx ON sensor_rules (last_seen) WHERE enabled AND status <> 'no_data';

-- What each rule told, and when: the dashboard's alerts in force and a rule's history.
CREATE TABLE sensor_rule_events (
    id               bigserial PRIMARY KEY,
    rule_id          uuid NOT NULL REFERENCES sensor_rules (id) ON DELETE CASCADE,
    kind             text NOT NULL,
    level            integer NOT NULL,
    value            double precision,
    at               timestamptz NOT NULL,
    duration_s       integer,
    notification_id  uuid
);
CREATE INDEX sensor_rule_events_rule_idx ON sensor_rule_events (rule_id, at);

-- Official gauges polled over HTTP: the validators of the last answer and the backoff after failures.
CREATE TABLE sensor_polls (
    url            text PRIMARY KEY,
    etag           text,
    last_modified  text,
    failures       integer NOT NULL DEFAULT 0,
    next_at        timestamptz NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE sensor_polls;
DROP TABLE sensor_rule_events;
DROP TABLE sensor_rules;
DROP TABLE sensor_ingest_keys;
DROP TABLE sensor_uplinks;
DROP TABLE sensor_observations;
DROP TABLE sensors;
