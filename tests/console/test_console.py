"""Console pages without a browser: sign-in and sessions, CSRF, access, compose, audience, sending once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from console.service import guess_language, parse_local_time, read_draft, read_post_draft, text_warnings
from hub.settings import Settings, load_settings
from server.app import create_app
from tests.communities.helpers import create_community, create_post, join, set_member
from tests.conftest import Servers, UserFactory
from tests.console.helpers import (
    SEND_KEY,
    Client,
    Visitor,
    become_client,
    quiet_now,
    verified_provider,
)

ALERT = {
    "title_fr": "Canicule : buvez de l’eau",
    "title_de": "Hitzewelle: Trinken Sie Wasser",
    "body_fr": "Il va faire très chaud demain. Buvez de l’eau et restez au frais, nous passons plus tôt.",
    "body_de": "Morgen wird es sehr heiß. Bitte trinken Sie viel Wasser und bleiben Sie im Kühlen.",
    "priority": "important",
    "ack_requested": "on",
    "remind_after_minutes": "120",
}


def test_language_guess_tells_french_from_german() -> None:
    assert guess_language("Il va faire très chaud demain, buvez de l’eau.") == "fr"
    assert guess_language("Morgen wird es sehr heiß, bitte trinken Sie Wasser.") == "de"
    assert guess_language("OK") is None


def test_missing_side_and_wrong_language_are_warned() -> None:
    draft, errors = read_draft(
        {"title_fr": "Hitzewelle: bitte trinken Sie viel Wasser", "body_fr": "Il fait chaud, buvez de l’eau."}
    )
    assert errors == []
    kinds = {(w.field, w.lang, w.kind) for w in text_warnings(draft)}
    assert kinds == {("title", "fr", "wrong_language"), ("title", "de", "missing"), ("body", "de", "missing")}
    _, errors = read_draft({"priority": "loud", "remind_after_minutes": "5"})
    assert len(errors) == 3


async def test_sign_in_page_in_french_and_german(client: Client) -> None:
    visitor = Visitor(client)
    french = await visitor.get("/console/sign-in", headers={"Accept-Language": "fr-FR"})
    assert french.status_code == 200
    assert '<html lang="fr">' in french.text and "Connexion à la console" in french.text
    german = await visitor.get("/console/sign-in?lang=de")
    assert '<html lang="de">' in german.text and "Anmeldung an der Konsole" in german.text
    # The switch is remembered in a cookie for the next pages.
    again = await visitor.get("/console/sign-in")
    assert '<html lang="de">' in again.text


async def test_cookies_are_httponly_samesite_and_secure_over_https(
    client: Client, make_user: UserFactory
) -> None:
    person = await make_user()
    visitor = Visitor(client, base="https://hub.example.test")
    page = await visitor.get("/console/sign-in")
    csrf_cookie = next(h for h in page.headers.get_list("set-cookie") if h.startswith("hub_console_csrf="))
    assert "HttpOnly" in csrf_cookie and "SameSite=strict" in csrf_cookie and "Secure" in csrf_cookie
    signed_in = await visitor.sign_in(person)
    session = next(
        h for h in signed_in.headers.get_list("set-cookie") if h.startswith("hub_console_session=")
    )
    assert (
        "HttpOnly" in session
        and "SameSite=lax" in session
        and "Secure" in session
        and "Path=/console" in session
    )
    plain = Visitor(client)
    over_http = await plain.get("/console/sign-in")
    assert "Secure" not in next(
        h for h in over_http.headers.get_list("set-cookie") if "hub_console_csrf" in h
    )


async def test_a_form_without_its_csrf_token_is_refused(client: Client, make_user: UserFactory) -> None:
    person = await make_user()
    visitor = Visitor(client)
    await visitor.get("/console/sign-in")
    forged = await visitor.post(
        "/console/sign-in", {"email": person.email, "password": "correct horse battery"}, csrf=False
    )
    assert forged.status_code == 403
    assert "Ce formulaire a expiré" in forged.text
    wrong = await visitor.post(
        "/console/sign-in",
        {"email": person.email, "password": "correct horse battery", "csrf_token": "x" * 43},
    )
    assert wrong.status_code == 403
    await visitor.sign_in(person)
    no_token = await visitor.post("/console/sign-out", csrf=False)
    assert no_token.status_code == 403
    assert (await visitor.get("/console/")).status_code == 200


async def test_wrong_password_is_said_in_the_readers_language(client: Client, make_user: UserFactory) -> None:
    person = await make_user()
    visitor = Visitor(client)
    await visitor.get("/console/sign-in?lang=de")
    refused = await visitor.post("/console/sign-in", {"email": person.email, "password": "not the password"})
    assert refused.status_code == 401
    assert "Die E-Mail-Adresse oder das Passwort ist nicht korrekt." in refused.text
    assert "hub_console_session" not in visitor.cookies


async def test_pages_send_strangers_to_sign_in_and_back(client: Client, make_user: UserFactory) -> None:
    person = await make_user()
    visitor = Visitor(client)
    away = await visitor.get("/console/")
    assert away.status_code == 303
    assert away.headers["location"] == "/console/sign-in?next=/console"
    await visitor.get("/console/sign-in")
    back = await visitor.post(
        "/console/sign-in",
        {"email": person.email, "password": "correct horse battery", "next": "https://evil.test/"},
    )
    assert back.headers["location"] == "/console/"


async def test_sign_out_and_api_revocation_end_the_same_session(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    person = await make_user()
    visitor = Visitor(client)
    await visitor.sign_in(person)
    session_id = uuid.UUID(visitor.cookies["hub_console_session"].split(".")[0])
    assert await db.fetchval("SELECT user_id FROM sessions WHERE id = $1", session_id) == uuid.UUID(person.id)
    out = await visitor.post("/console/sign-out")
    assert out.status_code == 303
    assert await db.fetchval("SELECT revoked_at IS NOT NULL FROM sessions WHERE id = $1", session_id)
    assert (await visitor.get("/console/")).status_code == 303

    # Ending every session of the person (as "log out everywhere" does) closes the console too.
    await visitor.sign_in(person)
    assert (await visitor.get("/console/")).status_code == 200
    await db.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = $1", uuid.UUID(person.id))
    assert (await visitor.get("/console/")).status_code == 303


async def test_sign_in_attempts_are_limited(
    servers: Servers, settings: Settings, make_user: UserFactory
) -> None:
    person = await make_user()
    strict = load_settings(
        {
            "HUB_SECRET_KEY": settings.secret_key,
            "HUB_QUEUE_NAME": f"{settings.queue_name}-strict",
            "HUB_AUTH_RATE_PER_MINUTE": "2",
            "HUB_DATA_DIR": str(settings.data_dir),
        }
    )
    app: Litestar = create_app(strict, database_url=servers.database_url, redis_url=servers.redis_url)
    async with AsyncTestClient(app=app) as own:
        visitor = Visitor(own)
        await visitor.get("/console/sign-in?lang=de")
        for _ in range(2):
            refused = await visitor.post("/console/sign-in", {"email": person.email, "password": "wrong"})
            assert refused.status_code == 401
        limited = await visitor.post(
            "/console/sign-in", {"email": person.email, "password": "correct horse battery"}
        )
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "60"
        assert "Zu viele Versuche" in limited.text


async def test_staff_preview_shows_audience_and_both_languages_then_sends_once(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    staff = await make_user()
    provider_id = await verified_provider(client, db, make_user, staff)
    french = [await make_user(locale="fr", municipality_code="57089") for _ in range(3)]
    german = [await make_user(locale="de", municipality_code="10045114") for _ in range(2)]
    for person in french + german:
        await become_client(client, provider_id, person, staff)
    await quiet_now(client, german[0], "Europe/Berlin")

    visitor = Visitor(client)
    await visitor.sign_in(staff)
    overview = await visitor.get("/console/")
    assert "Soins à domicile du Pays de Bitche" in overview.text
    compose = await visitor.get(f"/console/providers/{provider_id}/compose")
    assert compose.status_code == 200

    preview = await visitor.post(f"/console/providers/{provider_id}/preview", ALERT)
    assert preview.status_code == 200
    text = preview.text
    assert "5 personnes la recevront : 4 maintenant, 1 après leurs heures calmes." in text
    assert "Bitche" in text  # municipality names, not codes
    assert 'id="preview-fr"' in text and 'id="preview-de"' in text
    assert "Canicule : buvez de l’eau" in text and "Hitzewelle: Trinken Sie Wasser" in text
    assert "[Hub] Canicule" in text or "Canicule" in text.split('class="subject"')[1][:200]

    fragment = await visitor.post(
        f"/console/providers/{provider_id}/preview", ALERT, headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.text and "audience-summary" in fragment.text

    key = SEND_KEY.search(text)
    assert key is not None
    form = {**ALERT, "send_key": key.group(1)}
    first = await visitor.post(f"/console/providers/{provider_id}/alerts", form)
    second = await visitor.post(f"/console/providers/{provider_id}/alerts", form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    count = await db.fetchval(
        "SELECT count(*) FROM care_alerts WHERE provider_id = $1", uuid.UUID(provider_id)
    )
    assert count == 1
    follow = await visitor.get(first.headers["location"])
    assert follow.status_code == 200
    assert "0 personnes sur 5 ont confirmé." in follow.text
    live = await visitor.get(first.headers["location"] + "/live")
    assert 'hx-trigger="every 2s"' in live.text and "<html" not in live.text


async def test_urgent_alert_needs_confirmation(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    staff = await make_user(locale="de")
    provider_id = await verified_provider(client, db, make_user, staff)
    person = await make_user(locale="de", municipality_code="10045114")
    await become_client(client, provider_id, person, staff)
    await quiet_now(client, person, "Europe/Berlin")
    visitor = Visitor(client)
    await visitor.sign_in(staff, lang="de")
    urgent = {**ALERT, "priority": "urgent"}
    preview = await visitor.post(f"/console/providers/{provider_id}/preview", urgent)
    assert "1 Personen erhalten sie: 1 sofort, 0 nach ihrer Ruhezeit." in preview.text
    assert 'name="confirm"' in preview.text
    key = SEND_KEY.search(preview.text)
    assert key is not None
    unconfirmed = await visitor.post(
        f"/console/providers/{provider_id}/alerts", {**urgent, "send_key": key.group(1)}
    )
    assert unconfirmed.status_code == 422
    assert (
        await db.fetchval("SELECT count(*) FROM care_alerts WHERE provider_id = $1", uuid.UUID(provider_id))
        == 0
    )
    confirmed = await visitor.post(
        f"/console/providers/{provider_id}/alerts", {**urgent, "send_key": key.group(1), "confirm": "on"}
    )
    assert confirmed.status_code == 303


async def test_not_yours_is_not_found(client: Client, db: asyncpg.Pool, make_user: UserFactory) -> None:
    staff = await make_user()
    provider_id = await verified_provider(client, db, make_user, staff)
    stranger = await make_user()
    visitor = Visitor(client)
    await visitor.sign_in(stranger)
    for path in (f"/console/providers/{provider_id}", f"/console/providers/{provider_id}/compose"):
        page = await visitor.get(path)
        assert page.status_code == 404, path
        assert "Introuvable" in page.text
    sent = await visitor.post(f"/console/providers/{provider_id}/alerts", {**ALERT, "send_key": "k"})
    assert sent.status_code == 404
    assert (
        await db.fetchval("SELECT count(*) FROM care_alerts WHERE provider_id = $1", uuid.UUID(provider_id))
        == 0
    )


async def test_moderator_hides_a_reported_post_from_the_queue(client: Client, make_user: UserFactory) -> None:
    owner = await make_user(locale="de")
    community = await create_community(client, owner)
    member = await make_user()
    await join(client, member, community["id"])
    post = await create_post(
        client, owner, community["id"], title={"fr": "Vends voiture", "de": "Auto zu verkaufen"}
    )
    reported = await client.post(
        f"/v1/posts/{post['id']}/report", json={"reason": "Publicité"}, headers=member.headers
    )
    assert reported.status_code in (200, 201), reported.text

    outsider = Visitor(client)
    await outsider.sign_in(member)
    assert (await outsider.get(f"/console/communities/{community['id']}/moderation")).status_code in (
        403,
        404,
    )
    refused = await outsider.post(f"/console/posts/{post['id']}/hide")
    assert refused.status_code in (403, 404)

    visitor = Visitor(client)
    await visitor.sign_in(owner, lang="de")
    overview = await visitor.get("/console/")
    assert f"/console/communities/{community['id']}/moderation" in overview.text
    queue = await visitor.get(f"/console/communities/{community['id']}/moderation")
    assert "Auto zu verkaufen" in queue.text and "Publicité" in queue.text
    hidden = await visitor.post(f"/console/posts/{post['id']}/hide")
    assert hidden.status_code == 303
    after = await visitor.get(hidden.headers["location"])
    assert "Der Beitrag ist ausgeblendet." in after.text
    assert "Auto zu verkaufen" not in after.text
    public = await client.get(f"/v1/posts/{post['id']}")
    assert public.status_code == 404


async def test_hub_admin_verifies_a_provider_and_issues_a_key_shown_once_then_revokes_it(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    from tests.console.helpers import make_admin

    staff = await make_user()
    created = await client.post(
        "/v1/care/providers",
        json={
            "kind": "nursing",
            "name": "Pflegedienst Homburg",
            "description": {"de": "Ambulante Pflege."},
            "languages": ["de"],
            "municipality_codes": ["10045114"],
        },
        headers=staff.headers,
    )
    provider_id = created.json()["id"]
    admin = await make_admin(db, make_user)
    owner = await make_user(locale="de")
    community = await create_community(client, owner)
    partner = await client.post(
        "/v1/partners",
        json={"name": "Office de tourisme", "kind": "tourism_office", "language": "fr"},
        headers=admin.headers,
    )
    assert partner.status_code == 201, partner.text
    partner_id = partner.json()["id"]

    nobody = Visitor(client)
    await nobody.sign_in(staff)
    assert (await nobody.get("/console/admin")).status_code == 403
    assert (await nobody.get(f"/console/admin/partners/{partner_id}")).status_code == 403

    visitor = Visitor(client)
    await visitor.sign_in(admin)
    page = await visitor.get("/console/admin")
    assert "Pflegedienst Homburg" in page.text and "Office de tourisme" in page.text
    verified = await visitor.post(f"/console/admin/providers/{provider_id}/verify")
    assert verified.headers["location"] == "/console/admin?done=verified"
    assert await db.fetchval(
        "SELECT verified_at IS NOT NULL FROM care_providers WHERE id = $1", uuid.UUID(provider_id)
    )

    await visitor.get(f"/console/admin/partners/{partner_id}")
    refused = await visitor.post(
        f"/console/admin/partners/{partner_id}/keys", {"label": "site", "community_ids": "x"}
    )
    assert refused.status_code == 422
    assert "Choisissez ce que la clé peut faire." in refused.text
    issued = await visitor.post(
        f"/console/admin/partners/{partner_id}/keys",
        {"label": "site web", "scope_posts": "on", "community_ids": community["id"]},
    )
    assert issued.status_code == 303
    issued = await visitor.get(issued.headers["location"])
    key = issued.text.split('<code class="key">')[1].split("</code>")[0]
    assert key.startswith("hubp_")
    again = await visitor.get(issued.url.path + "?" + issued.url.query.decode())
    assert key not in again.text and key[:12] in again.text

    submitted = await client.post(
        "/v1/partner/posts",
        json={"community_id": community["id"], "title": {"fr": "Marché de Noël"}, "body": {"fr": "Samedi."}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert submitted.status_code in (200, 201, 202), submitted.text

    key_id = await db.fetchval("SELECT id FROM partner_keys WHERE prefix = $1", key[:12])
    revoked = await visitor.post(f"/console/admin/partners/{partner_id}/keys/{key_id}/revoke")
    assert revoked.status_code == 303
    after = await client.post(
        "/v1/partner/posts",
        json={"community_id": community["id"], "title": {"fr": "Encore"}, "body": {"fr": "Non."}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert after.status_code == 401


async def test_moderator_approves_a_partner_submission(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    from tests.console.helpers import make_admin

    admin = await make_admin(db, make_user)
    owner = await make_user(locale="de")
    community = await create_community(client, owner)
    settings = await client.put(
        f"/v1/communities/{community['id']}/partner-settings",
        json={"require_approval": True},
        headers=owner.headers,
    )
    assert settings.status_code == 200, settings.text
    partner = await client.post(
        "/v1/partners",
        json={"name": "Verkehrsverein", "kind": "association", "language": "de"},
        headers=admin.headers,
    )
    issued = await client.post(
        f"/v1/partners/{partner.json()['id']}/keys",
        json={"scopes": ["posts:write"], "community_ids": [community["id"]]},
        headers=admin.headers,
    )
    assert issued.status_code == 201, issued.text
    submitted = await client.post(
        "/v1/partner/posts",
        json={
            "community_id": community["id"],
            "title": {"de": "Weihnachtsmarkt"},
            "body": {"de": "Am Samstag."},
        },
        headers={"Authorization": f"Bearer {issued.json()['key']}"},
    )
    assert submitted.status_code in (200, 201, 202), submitted.text
    visitor = Visitor(client)
    await visitor.sign_in(owner, lang="de")
    queue = await visitor.get(f"/console/communities/{community['id']}/moderation")
    assert "Weihnachtsmarkt" in queue.text and "Verkehrsverein" in queue.text
    submission_id = await db.fetchval(
        "SELECT id FROM partner_submissions WHERE community_id = $1", uuid.UUID(community["id"])
    )
    approved = await visitor.post(
        f"/console/communities/{community['id']}/submissions/{submission_id}/approve"
    )
    assert approved.status_code == 303
    done = await visitor.get(approved.headers["location"])
    assert "Der Beitrag ist freigegeben und veröffentlicht." in done.text
    twice = await visitor.post(f"/console/communities/{community['id']}/submissions/{submission_id}/approve")
    assert twice.status_code == 404


async def test_moderator_lets_in_one_person_and_declines_another(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    owner = await make_user()
    community = await create_community(client, owner, join_policy="approval")
    welcome, refused = (
        await make_user(display_name="Marie Schmitt"),
        await make_user(display_name="Paul Weber"),
    )
    for person in (welcome, refused):
        asked = await client.post(f"/v1/communities/{community['id']}/join", headers=person.headers)
        assert asked.status_code == 200, asked.text
    visitor = Visitor(client)
    await visitor.sign_in(owner)
    queue = await visitor.get(f"/console/communities/{community['id']}/moderation")
    assert "Marie Schmitt" in queue.text and "Paul Weber" in queue.text
    base = f"/console/communities/{community['id']}/members"
    assert (await visitor.post(f"{base}/{welcome.id}/accept")).status_code == 303
    declined = await visitor.post(f"{base}/{refused.id}/decline")
    assert declined.status_code == 303
    after = await visitor.get(declined.headers["location"])
    assert "La demande est refusée." in after.text
    assert "Marie Schmitt" not in after.text and "Paul Weber" not in after.text
    statuses = dict(
        await db.fetch(
            "SELECT user_id, status FROM memberships WHERE community_id = $1", uuid.UUID(community["id"])
        )
    )
    assert statuses[uuid.UUID(welcome.id)] == "active" and uuid.UUID(refused.id) not in statuses


POST = {
    "title_fr": "Répétition de la chorale mardi",
    "title_de": "Chorprobe am Dienstag",
    "body_fr": "La répétition a lieu mardi à 19 h dans la salle des fêtes de Bitche. Venez avec vos partitions.",
    "body_de": "Die Probe ist am Dienstag um 19 Uhr im Festsaal von Bitsch. Bitte bringen Sie die Noten mit.",
    "body_fr_simple": "Mardi, nous chantons ensemble. C’est à 19 h, dans la salle des fêtes.",
    "body_de_simple": "Am Dienstag singen wir zusammen. Das ist um 19 Uhr im Festsaal.",
    "priority": "important",
}


async def _choir(client: Client, make_user: UserFactory, owner_locale: str = "fr") -> tuple[Any, str]:
    owner = await make_user(locale=owner_locale)
    community = await create_community(client, owner)
    return owner, str(community["id"])


async def test_post_preview_counts_members_by_language_place_and_quiet_hours_then_posts_once(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    owner, community_id = await _choir(client, make_user)
    french = [await make_user(locale="fr", municipality_code="57089") for _ in range(2)]
    german = [await make_user(locale="de", municipality_code="10045114") for _ in range(3)]
    for person in french + german:
        await join(client, person, community_id)
    await quiet_now(client, german[0], "Europe/Berlin")

    visitor = Visitor(client)
    await visitor.sign_in(owner)
    compose = await visitor.get(f"/console/communities/{community_id}/compose")
    assert compose.status_code == 200
    assert 'name="body_fr_simple"' in compose.text and 'name="publish_date"' in compose.text
    assert "30/11/2026" in compose.text  # the date as it is typed in French, from Babel

    preview = await visitor.post(f"/console/communities/{community_id}/preview", POST)
    assert preview.status_code == 200, preview.text
    # the author is not notified of their own post
    assert "5 personnes la recevront : 4 maintenant, 1 après leurs heures calmes." in preview.text
    assert "Bitche" in preview.text
    assert 'id="preview-fr"' in preview.text and 'id="preview-de"' in preview.text
    assert "Chorprobe am Dienstag" in preview.text
    assert 'name="body_de_simple" value="Am Dienstag singen wir zusammen.' in preview.text

    key = SEND_KEY.search(preview.text)
    assert key is not None
    form = {**POST, "send_key": key.group(1)}
    first = await visitor.post(f"/console/communities/{community_id}/posts", form)
    second = await visitor.post(f"/console/communities/{community_id}/posts", form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    rows = await db.fetch("SELECT * FROM posts WHERE community_id = $1", uuid.UUID(community_id))
    assert len(rows) == 1
    assert rows[0]["body_de_simple"] == POST["body_de_simple"] and rows[0]["priority"] == "important"
    notified = await db.fetchval(
        "SELECT count(*) FROM notifications WHERE kind = 'post' AND source_id = $1", rows[0]["id"]
    )
    assert notified == 1

    follow = await visitor.get(first.headers["location"])
    assert follow.status_code == 200
    assert "Répétition de la chorale mardi" in follow.text and 'id="delivery"' in follow.text
    live = await visitor.get(first.headers["location"] + "/live")
    assert 'hx-trigger="every 2s"' in live.text and "<html" not in live.text


async def test_scheduled_post_is_stored_in_utc_from_the_writers_local_time(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    owner, community_id = await _choir(client, make_user, owner_locale="de")
    member = await make_user(locale="de", municipality_code="10045114")
    await join(client, member, community_id)
    visitor = Visitor(client)
    await visitor.sign_in(owner, lang="de")
    year = datetime.now(UTC).year + 1
    # 15 June is summer time in Berlin (UTC+2); the German date is typed as Babel writes it
    form = {**POST, "publish_date": f"15.06.{year}", "publish_time": "14:30"}
    preview = await visitor.post(f"/console/communities/{community_id}/preview", form)
    assert preview.status_code == 200, preview.text
    assert 'id="schedule-summary"' in preview.text and f"15.06.{year}, 14:30" in preview.text
    key = SEND_KEY.search(preview.text)
    assert key is not None
    sent = await visitor.post(
        f"/console/communities/{community_id}/posts", {**form, "send_key": key.group(1)}
    )
    assert sent.status_code == 303, sent.text
    row = await db.fetchrow("SELECT * FROM posts WHERE community_id = $1", uuid.UUID(community_id))
    assert row["publish_at"] == datetime(year, 6, 15, 12, 30, tzinfo=UTC)
    assert row["published_at"] is None
    assert await db.fetchval("SELECT count(*) FROM notifications WHERE source_id = $1", row["id"]) == 0
    follow = await visitor.get(sent.headers["location"])
    assert "Geplant für" in follow.text

    past = await visitor.post(
        f"/console/communities/{community_id}/preview",
        {**POST, "publish_date": "01.01.2020", "publish_time": "9:00"},
    )
    assert "Der Veröffentlichungszeitpunkt ist schon vorbei." in past.text
    unreadable = await visitor.post(
        f"/console/communities/{community_id}/preview",
        {**POST, "publish_date": "morgen", "publish_time": "x"},
    )
    assert 'id="preview-fr"' not in unreadable.text and 'role="alert"' in unreadable.text


def test_local_time_is_read_in_the_writers_language() -> None:
    assert parse_local_time("30/11/2026", "14:30", "fr") == datetime(2026, 11, 30, 13, 30, tzinfo=UTC)
    assert parse_local_time("30.11.2026", "14:30", "de") == datetime(2026, 11, 30, 13, 30, tzinfo=UTC)
    assert parse_local_time("demain", "14:30", "fr") is None
    draft, errors = read_post_draft(
        {**POST, "body_fr_simple": "Morgen singen wir bitte zusammen im Saal."}, "fr", datetime.now(UTC)
    )
    assert errors == []
    assert ("body_simple", "fr", "wrong_language") in {
        (w.field, w.lang, w.kind) for w in text_warnings(draft)
    }


async def test_publisher_cannot_post_urgent_and_urgent_needs_confirmation(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    owner, community_id = await _choir(client, make_user)
    publisher = await make_user()
    await join(client, publisher, community_id)
    await set_member(client, owner, community_id, publisher.id, role="publisher")
    visitor = Visitor(client)
    await visitor.sign_in(publisher)
    overview = await visitor.get("/console/")
    assert "Communautés pour lesquelles vous écrivez" in overview.text
    assert f'href="/console/communities/{community_id}/compose"' in overview.text
    assert f"/console/communities/{community_id}/moderation" not in overview.text
    compose = await visitor.get(f"/console/communities/{community_id}/compose")
    assert compose.status_code == 200
    assert 'value="urgent"' not in compose.text and 'id="urgent-reserved"' in compose.text
    urgent = {**POST, "priority": "urgent"}
    preview = await visitor.post(f"/console/communities/{community_id}/preview", urgent)
    assert "Seuls les modérateurs et les administrateurs de la communauté" in preview.text
    assert SEND_KEY.search(preview.text) is None
    forced = await visitor.post(
        f"/console/communities/{community_id}/posts", {**urgent, "send_key": "k1", "confirm": "on"}
    )
    assert forced.status_code == 422
    assert (
        await db.fetchval("SELECT count(*) FROM posts WHERE community_id = $1", uuid.UUID(community_id)) == 0
    )

    # the same post as "important" goes, and its author follows it up
    sent = await visitor.post(f"/console/communities/{community_id}/posts", {**POST, "send_key": "k2"})
    assert sent.status_code == 303

    moderator = Visitor(client)
    await moderator.sign_in(owner)
    preview = await moderator.post(f"/console/communities/{community_id}/preview", urgent)
    assert 'name="confirm"' in preview.text
    key = SEND_KEY.search(preview.text)
    assert key is not None
    unconfirmed = await moderator.post(
        f"/console/communities/{community_id}/posts", {**urgent, "send_key": key.group(1)}
    )
    assert unconfirmed.status_code == 422
    confirmed = await moderator.post(
        f"/console/communities/{community_id}/posts", {**urgent, "send_key": key.group(1), "confirm": "on"}
    )
    assert confirmed.status_code == 303
    assert (
        await db.fetchval(
            "SELECT count(*) FROM posts WHERE community_id = $1 AND priority = 'urgent'",
            uuid.UUID(community_id),
        )
        == 1
    )


async def test_composing_in_a_community_not_yours_is_not_found(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    owner, community_id = await _choir(client, make_user)
    member = await make_user()
    await join(client, member, community_id)
    post = await create_post(client, owner, community_id)
    for person in (member, await make_user()):
        visitor = Visitor(client)
        await visitor.sign_in(person)
        for path in (
            f"/console/communities/{community_id}/compose",
            f"/console/posts/{post['id']}",
            f"/console/posts/{post['id']}/live",
        ):
            page = await visitor.get(path)
            assert page.status_code == 404, path
            assert "Introuvable" in page.text
        refused = await visitor.post(f"/console/communities/{community_id}/posts", {**POST, "send_key": "k"})
        assert refused.status_code == 404
    assert (
        await db.fetchval("SELECT count(*) FROM posts WHERE community_id = $1", uuid.UUID(community_id)) == 1
    )


async def test_community_admin_changes_roles_and_bans_and_others_get_404(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    owner, community_id = await _choir(client, make_user, owner_locale="de")
    singer = await make_user(display_name="Sängerin Anna")
    moderator = await make_user()
    for person in (singer, moderator):
        await join(client, person, community_id)
    await set_member(client, owner, community_id, moderator.id, role="moderator")

    admin = Visitor(client)
    await admin.sign_in(owner, lang="de")
    page = await admin.get(f"/console/communities/{community_id}/members")
    assert page.status_code == 200
    assert "Sängerin Anna" in page.text and "Mitglieder" in page.text
    base = f"/console/communities/{community_id}/people/{singer.id}"
    promoted = await admin.post(f"{base}/role", {"role": "publisher"})
    assert promoted.status_code == 303
    assert promoted.headers["location"].endswith("?done=role")
    role = "SELECT role, status FROM memberships WHERE community_id = $1 AND user_id = $2"
    row = await db.fetchrow(role, uuid.UUID(community_id), uuid.UUID(singer.id))
    assert (row["role"], row["status"]) == ("publisher", "active")
    assert (await admin.post(f"{base}/role", {"role": "emperor"})).status_code == 404
    banned = await admin.post(f"{base}/ban")
    assert banned.headers["location"].endswith("?done=banned")
    row = await db.fetchrow(role, uuid.UUID(community_id), uuid.UUID(singer.id))
    assert row["status"] == "banned"
    shown = await admin.get(banned.headers["location"])
    assert "gesperrt" in shown.text
    lifted = await admin.post(f"{base}/unban")
    assert lifted.headers["location"].endswith("?done=unbanned")
    row = await db.fetchrow(role, uuid.UUID(community_id), uuid.UUID(singer.id))
    assert row["status"] == "active"

    # a moderator moderates, but the member list is the administrators'; a stranger sees nothing
    for person in (moderator, await make_user()):
        visitor = Visitor(client)
        await visitor.sign_in(person)
        assert (await visitor.get(f"/console/communities/{community_id}/members")).status_code == 404
        assert (await visitor.post(f"{base}/ban")).status_code == 404
    row = await db.fetchrow(role, uuid.UUID(community_id), uuid.UUID(singer.id))
    assert row["status"] == "active"
