-- migrate:up
-- Citizen feedback (Open311 GeoReport v2): a bilingual service catalogue, reports routed to a municipality,
-- their public history, photos held back until staff release them, followers and abuse reports.

-- Staff of a municipality for feedback, granted by a hub administrator.
CREATE TABLE feedback_staff (
    municipality_code text NOT NULL REFERENCES municipalities (code) ON DELETE CASCADE,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    granted_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    granted_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_code, user_id)
);
CREATE INDEX feedback_staff_user_idx ON feedback_staff (user_id);

-- The catalogue: region-wide services (municipality_code NULL) and a municipality's own ones.
-- ``audience`` 'care' sends reports to the care providers serving the municipality, not to its staff.
CREATE TABLE feedback_services (
    code              text PRIMARY KEY CHECK (code ~ '^[a-z0-9][a-z0-9_-]{1,63}$'),
    municipality_code text REFERENCES municipalities (code) ON DELETE CASCADE,
    name_fr           text NOT NULL,
    name_de           text NOT NULL,
    description_fr    text NOT NULL,
    description_de    text NOT NULL,
    group_fr          text NOT NULL,
    group_de          text NOT NULL,
    keywords          text[] NOT NULL DEFAULT '{}' CHECK (keywords <@ ARRAY['problem', 'idea', 'tip']),
    audience          text NOT NULL DEFAULT 'municipality' CHECK (audience IN ('municipality', 'care')),
    position          integer NOT NULL DEFAULT 100,
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_services_municipality_idx ON feedback_services (municipality_code);

INSERT INTO feedback_services
    (code, name_fr, name_de, description_fr, description_de, group_fr, group_de, keywords, audience, position)
VALUES
    ('fallen-tree', 'Arbre tombé ou branche dangereuse', 'Umgestürzter Baum oder gefährlicher Ast',
     'Un arbre ou une grosse branche barre une route, un chemin ou menace de tomber.',
     'Ein Baum oder ein großer Ast versperrt eine Straße oder einen Weg oder droht umzustürzen.',
     'Voirie et espaces verts', 'Straßen und Grünflächen', '{problem}', 'municipality', 10),
    ('road-damage', 'Chaussée ou trottoir abîmé', 'Schaden an Straße oder Gehweg',
     'Nid-de-poule, pavé descellé, bordure cassée ou trottoir dangereux.',
     'Schlagloch, lockerer Pflasterstein, gebrochener Bordstein oder gefährlicher Gehweg.',
     'Voirie et espaces verts', 'Straßen und Grünflächen', '{problem}', 'municipality', 20),
    ('street-light', 'Éclairage public en panne', 'Straßenbeleuchtung defekt',
     'Un lampadaire ne s''allume plus, clignote ou reste allumé en plein jour.',
     'Eine Straßenlaterne brennt nicht, flackert oder leuchtet am Tag.',
     'Équipements publics', 'Öffentliche Einrichtungen', '{problem}', 'municipality', 30),
    ('waste', 'Dépôt sauvage ou poubelle pleine', 'Wilder Müll oder volle Mülltonne',
     'Déchets abandonnés, corbeille publique qui déborde, point d''apport volontaire plein.',
     'Illegal abgelagerter Abfall, überquellender Papierkorb, voller Wertstoffcontainer.',
     'Propreté', 'Sauberkeit', '{problem}', 'municipality', 40),
    ('signage', 'Panneau ou marquage', 'Schild oder Markierung',
     'Panneau tombé, illisible ou masqué, marquage au sol effacé.',
     'Umgefallenes, unleserliches oder verdecktes Schild, verblasste Fahrbahnmarkierung.',
     'Voirie et espaces verts', 'Straßen und Grünflächen', '{problem}', 'municipality', 50),
    ('idea', 'Idée pour la commune', 'Idee für die Gemeinde',
     'Une proposition pour améliorer la vie dans la commune : aménagement, service, fête…',
     'Ein Vorschlag, der das Leben in der Gemeinde verbessert: Gestaltung, Angebot, Fest …',
     'Idées et conseils', 'Ideen und Hinweise', '{idea}', 'municipality', 80),
    ('tip', 'Information utile', 'Nützlicher Hinweis',
     'Une information que la mairie devrait connaître, sans que ce soit un problème.',
     'Eine Information, die die Gemeindeverwaltung kennen sollte, ohne dass es ein Problem ist.',
     'Idées et conseils', 'Ideen und Hinweise', '{tip}', 'municipality', 90),
    ('person-in-difficulty', 'Personne en difficulté', 'Person in Schwierigkeiten',
     'Une personne semble isolée ou avoir besoin d''aide, sans danger immédiat. Votre signalement va aux services d''aide et de soins de la commune, jamais au public. En cas d''urgence, appelez le 112.',
     'Eine Person wirkt hilfsbedürftig oder vereinsamt, ohne akute Gefahr. Ihre Meldung geht an die Pflege- und Hilfsdienste der Gemeinde, nie an die Öffentlichkeit. Im Notfall wählen Sie die 112.',
     'Solidarité', 'Nachbarschaftshilfe', '{problem}', 'care', 100);

-- Partner applications that submit reports with an Open311 ``api_key`` (kept hashed).
CREATE TABLE feedback_api_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE feedback_requests (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    service_code      text NOT NULL REFERENCES feedback_services (code),
    municipality_code text NOT NULL REFERENCES municipalities (code),
    -- how the municipality was found: inside its cell, nearest one, chosen by the reporter, or from the
    -- postal code or name in an address given without coordinates
    routing           text NOT NULL CHECK (routing IN ('cell', 'nearest', 'chosen', 'address')),
    reporter_id       uuid REFERENCES users (id) ON DELETE SET NULL,
    api_key_id        uuid REFERENCES feedback_api_keys (id) ON DELETE SET NULL,
    locale            text NOT NULL CHECK (locale IN ('fr', 'de', 'en')),
    description       text NOT NULL,
    lat               double precision NOT NULL,
    lon               double precision NOT NULL,
    address_string    text,
    status            text NOT NULL DEFAULT 'open'
                          CHECK (status IN ('open', 'acknowledged', 'in_progress', 'closed')),
    resolution        text CHECK (resolution IN ('solved', 'not_solved', 'duplicate', 'forwarded', 'rejected')),
    duplicate_of      uuid REFERENCES feedback_requests (id) ON DELETE SET NULL,
    forwarded_to      text,
    review_requested  boolean NOT NULL DEFAULT false,
    satisfied         boolean,
    released_at       timestamptz,
    released_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    hidden_at         timestamptz,
    requested_at      timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'closed') = (resolution IS NOT NULL))
);
CREATE INDEX feedback_requests_municipality_idx ON feedback_requests (municipality_code, requested_at DESC);
CREATE INDEX feedback_requests_open_idx ON feedback_requests (service_code, lat, lon) WHERE status <> 'closed';
CREATE INDEX feedback_requests_reporter_idx ON feedback_requests (reporter_id);
CREATE INDEX feedback_requests_public_idx ON feedback_requests (requested_at DESC)
    WHERE released_at IS NOT NULL AND hidden_at IS NULL;

-- Each change of a report, with its public note in both languages.
CREATE TABLE feedback_updates (
    id                bigserial PRIMARY KEY,
    request_id        uuid NOT NULL REFERENCES feedback_requests (id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('status', 'forwarded', 'reopened')),
    status            text NOT NULL,
    resolution        text,
    note_fr           text,
    note_de           text,
    from_municipality text,
    to_municipality   text,
    author_id         uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_updates_request_idx ON feedback_updates (request_id, id);

-- Photos, re-encoded without metadata; public only once a staff member released them.
CREATE TABLE feedback_photos (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id  uuid NOT NULL REFERENCES feedback_requests (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    content     bytea NOT NULL,
    width       integer NOT NULL,
    height      integer NOT NULL,
    released_at timestamptz,
    released_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (request_id, position)
);

CREATE TABLE feedback_followers (
    request_id  uuid NOT NULL REFERENCES feedback_requests (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, user_id)
);
CREATE INDEX feedback_followers_user_idx ON feedback_followers (user_id);

CREATE TABLE feedback_abuse_reports (
    request_id  uuid NOT NULL REFERENCES feedback_requests (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, user_id)
);

-- migrate:down
DROP TABLE feedback_abuse_reports;
DROP TABLE feedback_followers;
DROP TABLE feedback_photos;
DROP TABLE feedback_updates;
DROP TABLE feedback_requests;
DROP TABLE feedback_api_keys;
DROP TABLE feedback_services;
DROP TABLE feedback_staff;
