-- migrate:up
-- Interest communities spanning French and German municipalities, written in French, German or both.
CREATE TABLE communities (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name_fr         text,
    name_de         text,
    description_fr  text,
    description_de  text,
    kind            text NOT NULL CHECK (kind IN ('association', 'village', 'seniors', 'care_network', 'events',
                                                  'municipal_news', 'choir', 'sports', 'other')),
    visibility      text NOT NULL CHECK (visibility IN ('public', 'private')),
    join_policy     text NOT NULL CHECK (join_policy IN ('open', 'approval')),
    -- accent- and case-folded names and descriptions of both languages, for discovery
    search_key      text NOT NULL,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (name_fr IS NOT NULL OR name_de IS NOT NULL)
);
CREATE INDEX communities_listing_idx ON communities (created_at DESC, id DESC);
CREATE INDEX communities_kind_idx ON communities (kind, created_at DESC, id DESC);

CREATE TABLE community_municipalities (
    community_id       uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    municipality_code  text NOT NULL REFERENCES municipalities (code),
    PRIMARY KEY (community_id, municipality_code)
);
CREATE INDEX community_municipalities_code_idx ON community_municipalities (municipality_code, community_id);

-- pending: asked to join, waiting for approval; banned: kept so that a banned person cannot simply rejoin
CREATE TABLE memberships (
    community_id  uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'publisher', 'moderator', 'admin')),
    status        text NOT NULL CHECK (status IN ('pending', 'active', 'banned')),
    joined_at     timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id, community_id) WHERE status = 'active';

-- Plain text only: clients render it as text, never as HTML.
CREATE TABLE posts (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    community_id     uuid NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    author_id        uuid REFERENCES users (id) ON DELETE SET NULL,
    title_fr         text,
    title_de         text,
    body_fr          text,
    body_de          text,
    body_fr_simple   text,
    body_de_simple   text,
    priority         text NOT NULL CHECK (priority IN ('info', 'important', 'urgent')),
    -- when the author wants it out; published_at is set once, when it actually went out (and was notified)
    publish_at       timestamptz,
    published_at     timestamptz,
    expires_at       timestamptz,
    hidden_at        timestamptz,
    hidden_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (title_fr IS NOT NULL OR title_de IS NOT NULL),
    CHECK (body_fr IS NOT NULL OR body_de IS NOT NULL)
);
-- Feeds: newest first per community, merged across a member's communities.
CREATE INDEX posts_feed_idx ON posts (community_id, published_at DESC, id DESC)
    WHERE published_at IS NOT NULL AND hidden_at IS NULL;
CREATE INDEX posts_due_idx ON posts (publish_at) WHERE published_at IS NULL;
CREATE INDEX posts_author_idx ON posts (author_id);

CREATE TABLE post_reports (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    post_id      uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    reporter_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolved_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (post_id, reporter_id)
);
CREATE INDEX post_reports_open_idx ON post_reports (post_id) WHERE resolved_at IS NULL;
CREATE INDEX post_reports_reporter_idx ON post_reports (reporter_id);

-- Messaging reads a community's audience from here: active members only (not pending, not banned).
CREATE OR REPLACE VIEW community_audience AS
    SELECT community_id, user_id FROM memberships WHERE status = 'active';

-- migrate:down
CREATE OR REPLACE VIEW community_audience AS
    SELECT NULL::uuid AS community_id, NULL::uuid AS user_id WHERE false;
DROP TABLE post_reports;
DROP TABLE posts;
DROP TABLE memberships;
DROP TABLE community_municipalities;
DROP TABLE communities;
