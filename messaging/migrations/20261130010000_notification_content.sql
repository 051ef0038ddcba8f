-- migrate:up
-- What a notification says is one JSON value: its title and body, each either written by someone
-- ({"kind": "written", "fr", "de"}) or a catalog sentence ({"kind": "catalog", "msgid", "params"}), and the
-- sender's name when it is not the hub ({"kind": "written", "fr", "de"}); messaging.models.NotificationContent.
ALTER TABLE notifications ADD COLUMN content jsonb;

UPDATE notifications SET content = jsonb_build_object(
    'title', CASE WHEN message ? 'title' THEN jsonb_build_object('kind', 'catalog') || (message -> 'title')
                  ELSE jsonb_build_object('kind', 'written', 'fr', title_fr, 'de', title_de) END,
    'body', CASE WHEN message ? 'body' THEN jsonb_build_object('kind', 'catalog') || (message -> 'body')
                 ELSE jsonb_build_object('kind', 'written', 'fr', body_fr, 'de', body_de) END,
    'sender_name', CASE WHEN sender_name_fr IS NOT NULL OR sender_name_de IS NOT NULL
                        THEN jsonb_build_object('kind', 'written', 'fr', sender_name_fr, 'de', sender_name_de) END
);

ALTER TABLE notifications
    ALTER COLUMN content SET NOT NULL,
    DROP COLUMN title_fr,
    DROP COLUMN title_de,
    DROP COLUMN body_fr,
    DROP COLUMN body_de,
    DROP COLUMN message,
    DROP COLUMN sender_name_fr,
    DROP COLUMN sender_name_de;

-- migrate:down
ALTER TABLE notifications
    ADD COLUMN title_fr text,
    ADD COLUMN title_de text,
    ADD COLUMN body_fr text,
    ADD COLUMN body_de text,
    ADD COLUMN message jsonb,
    ADD COLUMN sender_name_fr text,
    ADD COLUMN sender_name_de text;

UPDATE notifications SET
    title_fr = CASE WHEN content -> 'title' ->> 'kind' = 'written' THEN content -> 'title' ->> 'fr' END,
    title_de = CASE WHEN content -> 'title' ->> 'kind' = 'written' THEN content -> 'title' ->> 'de' END,
    body_fr = CASE WHEN content -> 'body' ->> 'kind' = 'written' THEN content -> 'body' ->> 'fr' END,
    body_de = CASE WHEN content -> 'body' ->> 'kind' = 'written' THEN content -> 'body' ->> 'de' END,
    message = nullif(
        CASE WHEN content -> 'title' ->> 'kind' = 'catalog'
             THEN jsonb_build_object('title', (content -> 'title') - 'kind') ELSE '{}'::jsonb END
        || CASE WHEN content -> 'body' ->> 'kind' = 'catalog'
                THEN jsonb_build_object('body', (content -> 'body') - 'kind') ELSE '{}'::jsonb END,
        '{}'::jsonb
    ),
    sender_name_fr = content -> 'sender_name' ->> 'fr',
    sender_name_de = content -> 'sender_name' ->> 'de';

ALTER TABLE notifications DROP COLUMN content;
