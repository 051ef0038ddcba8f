-- migrate:up
-- Municipalities of both countries: INSEE codes (5 characters) and AGS (8 digits) share one key.
CREATE TABLE municipalities (
    code        text PRIMARY KEY CHECK (code ~ '^(([0-9]{2}|2A|2B)[0-9]{3}|[0-9]{8})$'),
    country     text NOT NULL CHECK (country IN ('FR', 'DE')),
    name_fr     text NOT NULL,
    name_de     text NOT NULL,
    -- true where the name in that language is the official one standing in for an unknown translation
    name_fr_is_official_fallback boolean NOT NULL DEFAULT false,
    name_de_is_official_fallback boolean NOT NULL DEFAULT false,
    postal_code text,
    lat         double precision,
    lon         double precision,
    grouping    text,
    source      text,
    -- accent- and case-folded names of both languages, for search
    search_key  text NOT NULL,
    CHECK ((country = 'FR' AND length(code) = 5) OR (country = 'DE' AND length(code) = 8))
);
CREATE INDEX municipalities_country_idx ON municipalities (country, code);

-- migrate:down
DROP TABLE municipalities;
