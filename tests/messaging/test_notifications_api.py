"""Notification routes: devices, preferences, inbox and receipts, statistics, one-click unsubscribe."""

from __future__ import annotations

import uuid

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from devtools.smtp_local import MailCatcher
from hub.db import transaction
from i18n.content import Bilingual
from messaging import pipeline
from messaging.models import Audience
from messaging.service import notify
from tests.conftest import SignedIn, UserFactory

TITLE = Bilingual(fr="Coupure d'eau", de="Wasserabschaltung")
BODY = Bilingual(fr="Rue principale, de 9 h à 11 h.", de="Hauptstraße, von 9 bis 11 Uhr.")


async def register_device(client: AsyncTestClient[Litestar], user: SignedIn, token: str) -> dict[str, object]:
    response = await client.post(
        "/v1/me/devices", json={"token": token, "platform": "ios"}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_device_token_moves_to_the_account_that_registers_it(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    first, second = await make_user(), await make_user()
    token = f"shared-{uuid.uuid4().hex}"
    await register_device(client, first, token)
    device = await register_device(client, second, token)
    assert (await client.get("/v1/me/devices", headers=first.headers)).json() == []
    assert [d["id"] for d in (await client.get("/v1/me/devices", headers=second.headers)).json()] == [
        device["id"]
    ]


async def test_someone_elses_device_cannot_be_deleted(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner, other = await make_user(), await make_user()
    device = await register_device(client, owner, f"tok-{uuid.uuid4().hex}")
    response = await client.delete(f"/v1/me/devices/{device['id']}", headers=other.headers)
    assert response.status_code == 404
    assert (await client.delete(f"/v1/me/devices/{device['id']}", headers=owner.headers)).status_code == 204
    assert (await client.delete(f"/v1/me/devices/{device['id']}", headers=owner.headers)).status_code == 404


async def test_preferences_defaults_and_changes(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    initial = (await client.get("/v1/me/preferences", headers=user.headers)).json()
    # Nobody without a device is left without any channel: email is on by default for them.
    assert initial["defaults"] == {
        "community_id": str(uuid.UUID(int=0)),
        "push": True,
        "email": True,
        "digest": "off",
    }
    await register_device(client, user, f"tok-{uuid.uuid4().hex}")
    assert (await client.get("/v1/me/preferences", headers=user.headers)).json()["defaults"]["email"] is False
    community = str(uuid.uuid4())
    changed = await client.put(
        "/v1/me/preferences",
        json={"items": [{"community_id": community, "push": False, "email": True, "digest": "weekly"}]},
        headers=user.headers,
    )
    assert changed.json()["items"] == [
        {"community_id": community, "push": False, "email": True, "digest": "weekly"}
    ]
    bad = await client.put(
        "/v1/me/preferences",
        json={"items": [{"community_id": community, "digest": "hourly"}]},
        headers={**user.headers, "Accept-Language": "de"},
    )
    assert bad.status_code == 400


async def test_inbox_read_and_acknowledge(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool, channels: pipeline.Channels
) -> None:
    reader = await make_user(locale="de")
    sender = await make_user(locale="fr")
    async with transaction(db) as conn:
        plain = await notify(
            conn,
            kind="post",
            audience=Audience(user_ids=(uuid.UUID(reader.id),)),
            title=TITLE,
            body=BODY,
            deep_link="/p",
        )
        alert = await notify(
            conn,
            kind="alert",
            audience=Audience(user_ids=(uuid.UUID(reader.id),)),
            title=TITLE,
            body=BODY,
            deep_link="/a",
            ack_requested=True,
            sender_id=uuid.UUID(sender.id),
            priority="urgent",
        )
    async with transaction(db) as conn:
        for notification_id in (plain, alert):
            await pipeline.plan_notification(conn, notification_id, channels.clock())

    inbox = (await client.get("/v1/me/notifications", params={"limit": 1}, headers=reader.headers)).json()
    assert [item["id"] for item in inbox["items"]] == [str(alert)]
    assert inbox["items"][0]["title"] == {
        "text": "Wasserabschaltung",
        "lang": "de",
        "fallback": False,
        "simple": None,
    }
    rest = await client.get(
        "/v1/me/notifications", params={"limit": 1, "cursor": inbox["next_cursor"]}, headers=reader.headers
    )
    assert [item["id"] for item in rest.json()["items"]] == [str(plain)]

    assert (await client.post(f"/v1/notifications/{plain}/read", headers=reader.headers)).status_code == 204
    not_asked = await client.post(f"/v1/notifications/{plain}/ack", headers=reader.headers)
    assert not_asked.status_code == 409
    assert not_asked.json()["code"] == "not_acknowledgeable"
    assert (await client.post(f"/v1/notifications/{alert}/ack", headers=reader.headers)).status_code == 204
    assert (await client.post(f"/v1/notifications/{alert}/ack", headers=sender.headers)).status_code == 404

    stats = (await client.get(f"/v1/notifications/{alert}/stats", headers=sender.headers)).json()
    assert stats["recipients"] == 1
    assert stats["acknowledged"] == 1
    assert stats["by_language"] == [{"key": "de", "count": 1}]
    assert stats["by_municipality"] == [{"key": "57089", "count": 1}]
    assert (await client.get(f"/v1/notifications/{alert}/stats", headers=reader.headers)).status_code == 404


async def test_one_click_unsubscribe(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    db: asyncpg.Pool,
    smtp: MailCatcher,
    channels: pipeline.Channels,
) -> None:
    user = await make_user(locale="de")  # no device: email by default
    community = uuid.uuid4()
    async with transaction(db) as conn:
        notification_id = await notify(
            conn,
            kind="post",
            audience=Audience(user_ids=(uuid.UUID(user.id),)),
            community_id=community,
            title=TITLE,
            body=BODY,
            deep_link="/u",
        )
    async with transaction(db) as conn:
        await pipeline.plan_notification(conn, notification_id, channels.clock())
    await pipeline.dispatch(db, channels, notification_id, "email")
    [mail] = smtp.to(user.email)
    header = mail.header("List-Unsubscribe")
    assert header is not None
    url = header.split("<", 1)[1].split(">", 1)[0]
    path = url.split("hub.example.test", 1)[1]

    page = await client.get(path)
    assert page.status_code == 200
    assert "Diese E-Mails abbestellen?" in page.text  # the owner's language
    assert "Ne plus recevoir ces e-mails" in (await client.get(path, params={"lang": "fr"})).text
    for _ in range(2):  # idempotent
        done = await client.post(path, content=b"List-Unsubscribe=One-Click")
        assert done.status_code == 200
        assert "Sie sind abgemeldet" in done.text
    prefs = (await client.get("/v1/me/preferences", headers=user.headers)).json()["items"]
    assert prefs == [{"community_id": str(community), "push": True, "email": False, "digest": "off"}]

    forged = await client.post("/v1/unsubscribe/not-a-real-token", headers={"Accept-Language": "fr"})
    assert forged.status_code == 404
    assert forged.json()["code"] == "unknown_unsubscribe_link"
    assert (await client.get("/v1/unsubscribe/not-a-real-token")).status_code == 404


async def test_export_and_erasure_cover_notifications(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool, channels: pipeline.Channels
) -> None:
    user = await make_user()
    await register_device(client, user, f"tok-{uuid.uuid4().hex}")
    async with transaction(db) as conn:
        notification_id = await notify(
            conn,
            kind="post",
            audience=Audience(user_ids=(uuid.UUID(user.id),)),
            title=TITLE,
            body=BODY,
            deep_link="/e",
        )
    async with transaction(db) as conn:
        await pipeline.plan_notification(conn, notification_id, channels.clock())
    export = (await client.get("/v1/me/export", headers=user.headers)).json()
    section = export["sections"]["messaging"]
    assert len(section["devices"]) == 1
    assert {d["channel"] for d in section["deliveries"]} == {"inbox", "push"}
    assert "token" not in section["devices"][0]  # the push token is a credential, not personal content
    assert (await client.delete("/v1/me", headers=user.headers)).status_code == 204
    left = await db.fetchval(
        "SELECT count(*) FROM deliveries WHERE user_id = $1", uuid.UUID(user.id)
    ) + await db.fetchval("SELECT count(*) FROM devices WHERE user_id = $1", uuid.UUID(user.id))
    assert left == 0
