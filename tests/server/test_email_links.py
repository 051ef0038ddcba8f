"""Every link of every kind of email leads to a page the hub answers, never to an app-only path."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from devtools.smtp_local import MailCatcher
from hub.db import transaction
from messaging import pipeline, texts
from tests.care.test_care import CONSENT_DE, create_circle, verified_provider
from tests.care.test_care_trust import ALERT
from tests.communities.helpers import create_community, create_post, join
from tests.conftest import SignedIn, UserFactory

Client = AsyncTestClient[Litestar]
PUBLIC_URL = "https://hub.example.test"
LINK = re.compile(r"https://hub\.example\.test/[^\s\"<>)]+")


async def _send_direct(db: asyncpg.Pool, channels: pipeline.Channels, address: str, kind: str) -> None:
    ids = await db.fetch(
        "SELECT id FROM direct_emails WHERE lower(address) = lower($1) AND kind = $2", address, kind
    )
    assert ids, f"no {kind} email for the address"
    for row in ids:
        assert await pipeline.send_direct_email(db, channels, row["id"]) == "sent"


async def _send_notification(
    db: asyncpg.Pool, channels: pipeline.Channels, kind: str, user: SignedIn, community_id: str | None = None
) -> None:
    notification_id = await db.fetchval(
        "SELECT id FROM notifications WHERE kind = $1 "
        "AND ($2 = ANY(audience_user_ids) OR audience_community_id = $3) ORDER BY created_at DESC LIMIT 1",
        kind,
        uuid.UUID(user.id),
        uuid.UUID(community_id) if community_id else None,
    )
    assert notification_id is not None, f"no {kind} notification"
    async with transaction(db) as conn:
        await pipeline.plan_notification(conn, notification_id, datetime.now(UTC))
    await pipeline.dispatch(db, channels, notification_id, "email")


def _links(smtp: MailCatcher, address: str) -> set[str]:
    found: set[str] = set()
    for mail in smtp.to(address):
        for text in (mail.text or "", mail.html or ""):
            found.update(link.replace("&amp;", "&") for link in LINK.findall(text))
    return found


async def test_every_link_of_every_kind_of_email_is_answered_by_the_hub(
    client: Client, db: asyncpg.Pool, make_user: UserFactory, smtp: MailCatcher, channels: pipeline.Channels
) -> None:
    # welcome (with its verification link) and password reset, both direct emails
    newcomer = await make_user(locale="de", verified=False)
    assert (await client.post("/v1/auth/password/forgot", json={"email": newcomer.email})).status_code == 202
    await _send_direct(db, channels, newcomer.email, "accounts.verify_email")
    await _send_direct(db, channels, newcomer.email, "accounts.password_reset")

    # a care invitation to an address without an account
    senior = await make_user()
    circle_id = await create_circle(client, senior)
    invited = f"{uuid.uuid4().hex[:12]}@example.test"
    response = await client.post(
        f"/v1/care/circles/{circle_id}/invitations",
        json={"email": invited, "role": "friend"},
        headers=senior.headers,
    )
    assert response.status_code == 200, response.text
    await _send_direct(db, channels, invited, "care.invitation")

    # a post, emailed to a member who asked for email
    author = await make_user()
    reader = await make_user(locale="de")
    community = await create_community(client, author)
    await join(client, reader, community["id"])
    preferences = {
        "items": [{"community_id": community["id"], "push": False, "email": True, "digest": "off"}]
    }
    assert (
        await client.put("/v1/me/preferences", json=preferences, headers=reader.headers)
    ).status_code == 200
    await create_post(client, author, community["id"])
    await _send_notification(db, channels, "post", reader, community["id"])

    # a care provider's alert to an approved client
    staff = await make_user()
    provider_id = await verified_provider(client, db, make_user, staff)
    client_person = await make_user()
    await client.post(
        f"/v1/care/providers/{provider_id}/clients", json=CONSENT_DE, headers=client_person.headers
    )
    await client.post(
        f"/v1/care/providers/{provider_id}/clients/{client_person.id}/approve", headers=staff.headers
    )
    sent = await client.post(f"/v1/care/providers/{provider_id}/alerts", json=ALERT, headers=staff.headers)
    assert sent.status_code == 201, sent.text
    await _send_notification(db, channels, "care.provider_alert", client_person)

    kinds = {
        "welcome": (newcomer.email, "/verify-email?token="),
        "reset": (newcomer.email, "/reset-password?token="),
        "care invitation": (invited, "/open/care/invitations"),
        "post": (reader.email, f"/open/communities/{community['id']}/posts/"),
        "provider alert": (client_person.email, "/open/care/"),
    }
    walked = 0
    for kind, (address, expected) in kinds.items():
        links = _links(smtp, address)
        assert any(expected in link for link in links), (kind, links)
        for link in links:
            parts = urlsplit(link)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            answer = await client.get(target, headers={"Accept-Language": "de"})
            assert answer.status_code < 400, (kind, parts.path, answer.status_code)
            walked += 1
    assert walked >= 10


def test_account_pages_are_linked_directly_and_app_paths_through_the_landing_page() -> None:
    assert texts.email_link(PUBLIC_URL, "/verify-email?token=abc") == f"{PUBLIC_URL}/verify-email?token=abc"
    assert (
        texts.email_link(PUBLIC_URL, "/reset-password?token=abc") == f"{PUBLIC_URL}/reset-password?token=abc"
    )
    assert texts.email_link(PUBLIC_URL, "/sign-in") == f"{PUBLIC_URL}/open/sign-in"
    assert texts.email_link(PUBLIC_URL, "/care/circles/1") == f"{PUBLIC_URL}/open/care/circles/1"
    # an app path that merely starts like an account page is still the app's
    assert texts.email_link(PUBLIC_URL, "/verify-email-help") == f"{PUBLIC_URL}/open/verify-email-help"


async def test_the_sign_in_link_of_a_second_sign_up_lands_on_a_page(client: Client) -> None:
    page = await client.get("/open/sign-in", headers={"Accept-Language": "fr"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Ouvrir dans l’application" in page.text
