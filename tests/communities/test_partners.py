"""Partners: admin-only registration, keys shown once and hashed, the scope matrix, approval, audit,
and the cross-border story end to end."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import asyncpg
import icalendar
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from messaging.models import decode_content
from tests.communities.test_events import community, event_body, joined, notifications, parse_ics
from tests.conftest import SignedIn, UserFactory

Client = AsyncTestClient[Litestar]


async def hub_admin(make_user: UserFactory, db: asyncpg.Pool) -> SignedIn:
    admin = await make_user()
    await db.execute("UPDATE users SET is_admin = true WHERE id = $1", uuid.UUID(admin.id))
    return admin


async def partner(client: Client, admin: SignedIn, language: str = "de") -> str:
    r = await client.post(
        "/v1/partners",
        json={"name": "Tourist-Info Zweibrücken", "kind": "tourism_office", "language": language},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def key(
    client: Client, admin: SignedIn, partner_id: str, scopes: list[str], communities: list[str]
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/partners/{partner_id}/keys",
        json={"scopes": scopes, "community_ids": communities, "label": "site web"},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def post_body(community_id: str) -> dict[str, Any]:
    return {
        "community_id": community_id,
        "title": {"fr": "Marché de Noël", "de": "Weihnachtsmarkt"},
        "body": {"fr": "Ouvert le week-end.", "de": "Am Wochenende geöffnet."},
    }


async def test_only_hub_admins_register_partners_and_keys_are_shown_once_and_stored_hashed(
    client: Client, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    someone = await make_user()
    r = await client.post(
        "/v1/partners", json={"name": "X", "kind": "association", "language": "fr"}, headers=someone.headers
    )
    assert r.status_code == 403
    admin = await hub_admin(make_user, db)
    pid = await partner(client, admin)
    cid = await community(client, admin)
    issued = await key(client, admin, pid, ["events:write"], [cid])
    secret = issued["key"]
    assert secret.startswith("hubp_") and len(secret) > 40
    stored = await db.fetchrow("SELECT * FROM partner_keys WHERE id = $1", uuid.UUID(issued["info"]["id"]))
    assert stored is not None and bytes(stored["secret_hash"]) == hashlib.sha256(secret.encode()).digest()
    assert secret not in str(dict(stored))
    listed = await client.get(f"/v1/partners/{pid}/keys", headers=admin.headers)
    assert "key" not in listed.json()[0] and listed.json()[0]["prefix"] == secret[:12]

    bad = await client.post(
        f"/v1/partners/{pid}/keys",
        json={"scopes": ["events:write"], "community_ids": [cid], "expires_at": "2020-01-01T00:00:00Z"},
        headers=admin.headers,
    )
    assert bad.status_code == 422
    unknown = await client.post(
        f"/v1/partners/{pid}/keys",
        json={"scopes": ["everything"], "community_ids": [cid]},
        headers=admin.headers,
    )
    assert unknown.status_code == 400


@pytest.mark.parametrize(
    ("scopes", "target", "path", "expected"),
    [
        (["events:write"], "a", "events", 201),
        (["events:write"], "a", "posts", 404),
        (["posts:write"], "a", "posts", 201),
        (["posts:write"], "a", "events", 404),
        (["events:write", "posts:write"], "b", "events", 404),
        (["events:write", "posts:write"], "b", "posts", 404),
        (["events:write", "posts:write"], "a", "posts", 201),
    ],
)
async def test_key_scope_matrix(
    client: Client,
    make_user: UserFactory,
    db: asyncpg.Pool,
    scopes: list[str],
    target: str,
    path: str,
    expected: int,
) -> None:
    admin = await hub_admin(make_user, db)
    pid = await partner(client, admin)
    a, b = await community(client, admin), await community(client, admin)
    secret = (await key(client, admin, pid, scopes, [a]))["key"]
    cid = a if target == "a" else b
    body = {**event_body(), "community_id": cid} if path == "events" else post_body(cid)
    r = await client.post(f"/v1/partner/{path}", json=body, headers=bearer(secret))
    assert r.status_code == expected, r.text
    actions = [
        e["action"] for e in (await client.get(f"/v1/partners/{pid}/audit", headers=admin.headers)).json()
    ]
    if expected == 404:
        assert r.json()["code"] == "not_found"
        assert actions[0] == f"{path[:-1]}.denied"
    else:
        assert actions[0] == f"{path[:-1]}.publish"


async def test_missing_revoked_and_expired_keys_are_401(
    client: Client, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    admin = await hub_admin(make_user, db)
    pid = await partner(client, admin)
    cid = await community(client, admin)
    issued = await key(client, admin, pid, ["posts:write"], [cid])
    assert (await client.post("/v1/partner/posts", json=post_body(cid))).status_code == 401
    assert (
        await client.post("/v1/partner/posts", json=post_body(cid), headers=bearer("hubp_nope"))
    ).status_code == 401
    assert (
        await client.post("/v1/partner/posts", json=post_body(cid), headers=admin.headers)
    ).status_code == 401
    r = await client.delete(f"/v1/partners/{pid}/keys/{issued['info']['id']}", headers=admin.headers)
    assert r.status_code == 204
    r = await client.post("/v1/partner/posts", json=post_body(cid), headers=bearer(issued["key"]))
    assert r.status_code == 401 and r.json()["code"] == "invalid_partner_key"
    other = await key(client, admin, pid, ["posts:write"], [cid])
    await db.execute(
        "UPDATE partner_keys SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(other["info"]["id"]),
    )
    assert (
        await client.post("/v1/partner/posts", json=post_body(cid), headers=bearer(other["key"]))
    ).status_code == 401


async def test_partner_input_is_validated_like_the_rest(
    client: Client, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    admin = await hub_admin(make_user, db)
    pid = await partner(client, admin)
    cid = await community(client, admin)
    secret = (await key(client, admin, pid, ["events:write", "posts:write"], [cid]))["key"]
    body = {**event_body(capacity=0), "community_id": cid}
    assert (await client.post("/v1/partner/events", json=body, headers=bearer(secret))).status_code == 422
    urgent = {**post_body(cid), "priority": "urgent"}
    assert (await client.post("/v1/partner/posts", json=urgent, headers=bearer(secret))).status_code == 400
    extra = {**post_body(cid), "author_id": str(uuid.uuid4())}
    assert (await client.post("/v1/partner/posts", json=extra, headers=bearer(secret))).status_code == 400


async def test_community_requiring_approval_queues_partner_content_for_moderators(
    client: Client, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    admin = await hub_admin(make_user, db)
    pid = await partner(client, admin)
    cid = await community(client, admin)
    member = await joined(client, make_user, cid)
    assert (
        await client.put(
            f"/v1/communities/{cid}/partner-settings", json={"require_approval": True}, headers=member.headers
        )
    ).status_code == 403
    r = await client.put(
        f"/v1/communities/{cid}/partner-settings", json={"require_approval": True}, headers=admin.headers
    )
    assert r.json() == {"community_id": cid, "require_approval": True}
    secret = (await key(client, admin, pid, ["events:write", "posts:write"], [cid]))["key"]
    queued = await client.post(
        "/v1/partner/events", json={**event_body(), "community_id": cid}, headers=bearer(secret)
    )
    assert queued.status_code == 201 and queued.json()["status"] == "pending"
    post = await client.post("/v1/partner/posts", json=post_body(cid), headers=bearer(secret))
    assert post.json()["status"] == "pending"
    assert (await client.get(f"/v1/communities/{cid}/events")).json()["items"] == []

    assert (
        await client.get(f"/v1/communities/{cid}/partner-submissions", headers=member.headers)
    ).status_code == 403
    queue = (await client.get(f"/v1/communities/{cid}/partner-submissions", headers=admin.headers)).json()[
        "items"
    ]
    assert [s["kind"] for s in queue] == ["event", "post"]
    approved = await client.post(
        f"/v1/communities/{cid}/partner-submissions/{queue[0]['id']}/approve", headers=admin.headers
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    event_id = approved.json()["result_id"]
    assert [e["id"] for e in (await client.get(f"/v1/communities/{cid}/events")).json()["items"]] == [
        event_id
    ]
    assert len(await notifications(db, "event", event_id)) == 1
    rejected = await client.post(
        f"/v1/communities/{cid}/partner-submissions/{queue[1]['id']}/reject", headers=admin.headers
    )
    assert rejected.json()["status"] == "rejected"
    again = await client.post(
        f"/v1/communities/{cid}/partner-submissions/{queue[1]['id']}/approve", headers=admin.headers
    )
    assert again.status_code == 404
    actions = {
        e["action"] for e in (await client.get(f"/v1/partners/{pid}/audit", headers=admin.headers)).json()
    }
    assert {
        "event.submit",
        "post.submit",
        "event.approve",
        "post.reject",
        "key.issue",
        "partner.create",
    } <= actions


async def test_partner_post_is_published_in_the_community_name_and_notified(
    client: Client, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    admin = await hub_admin(make_user, db)
    pid = await partner(client, admin)
    cid = await community(client, admin)
    secret = (await key(client, admin, pid, ["posts:write"], [cid]))["key"]
    r = await client.post(
        "/v1/partner/posts", json=post_body(cid), headers=bearer(secret), params={"lang": "de"}
    )
    assert r.status_code == 201, r.text
    post = r.json()["post"]
    assert post["title"]["text"] == "Weihnachtsmarkt" and post["author_id"] is None
    note = await db.fetchrow(
        "SELECT * FROM notifications WHERE kind = 'post' AND source_id = $1", uuid.UUID(post["id"])
    )
    assert note is not None and note["audience_community_id"] == uuid.UUID(cid)


async def test_cross_border_story_end_to_end(
    client: Client, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    """A partner key publishes a bilingual event on Good Friday into a Bitche–Homburg community; a French
    and a German member take the two places, the next waits and is promoted when one cancels; the feed
    opens in both languages; the date is flagged as a holiday in Moselle."""
    admin = await hub_admin(make_user, db)
    pid = await partner(client, admin, language="de")
    cid = await community(client, admin, codes=["57089", "10045114"])
    marie = await joined(client, make_user, cid, "fr")
    jonas = await joined(client, make_user, cid, "de")
    paul = await joined(client, make_user, cid, "fr")
    secret = (await key(client, admin, pid, ["events:write"], [cid]))["key"]

    body = {
        "community_id": cid,
        "title": {"fr": "Randonnée du Vendredi saint", "de": "Karfreitagswanderung"},
        "description": {"fr": "Départ à la citadelle", "de": "Start an der Zitadelle"},
        "starts_at": "2030-04-19T09:00:00+02:00",  # Good Friday 2030
        "ends_at": "2030-04-19T13:00:00+02:00",
        "time_zone": "Europe/Paris",
        "location": "Citadelle de Bitche",
        "municipality_code": "57089",
        "capacity": 2,
    }
    r = await client.post("/v1/partner/events", json=body, headers=bearer(secret), params={"lang": "fr"})
    assert r.status_code == 201, r.text
    event = r.json()["event"]
    assert r.json()["status"] == "published" and event["partner_id"] == pid
    assert ("57089", "Vendredi saint") in {
        (c["municipality_code"], c["name"]) for c in event["holiday_conflicts"]
    }
    announced = await notifications(db, "event", event["id"])
    assert len(announced) == 1
    sender_name = decode_content(announced[0]["content"]).sender_name
    assert sender_name is not None and sender_name.de == "Tourist-Info Zweibrücken"

    first = await asyncio.gather(
        client.post(f"/v1/events/{event['id']}/rsvp", headers=marie.headers),
        client.post(f"/v1/events/{event['id']}/rsvp", headers=jonas.headers),
    )
    assert sorted(a.json()["status"] for a in first) == ["attending", "attending"]
    waiting = await client.post(f"/v1/events/{event['id']}/rsvp", headers=paul.headers)
    assert waiting.json() == {"event_id": event["id"], "status": "waiting", "position": 1}

    assert (await client.delete(f"/v1/events/{event['id']}/rsvp", headers=jonas.headers)).status_code == 204
    mine = await client.get(f"/v1/events/{event['id']}", headers=paul.headers)
    assert mine.json()["my_rsvp"] == "attending" and mine.json()["attending"] == 2
    [promoted] = await notifications(db, "event_promoted", event["id"])
    assert [str(u) for u in promoted["audience_user_ids"]] == [paul.id]

    german = await client.get(f"/v1/events/{event['id']}", headers=jonas.headers)
    assert german.json()["title"]["text"] == "Karfreitagswanderung"
    assert ("57089", "Karfreitag") in {
        (c["municipality_code"], c["name"]) for c in german.json()["holiday_conflicts"]
    }

    for lang, title in (("fr", "Randonnée du Vendredi saint"), ("de", "Karfreitagswanderung")):
        feed = await client.get(f"/v1/communities/{cid}/events.ics", params={"lang": lang})
        assert feed.status_code == 200
        [item] = parse_ics(feed.content)
        assert str(item["SUMMARY"]) == title
        assert str(item["UID"]) == f"{event['id']}@hub"
        assert icalendar.Calendar.from_ical(feed.content).walk("VTIMEZONE")


async def test_partner_requests_are_rate_limited_per_key(
    client: Client, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    """A key that floods the partner routes gets 429 with Retry-After; another key is not affected.
    (Wrong keys are throttled per address much sooner: tests/test_throttles.py.)"""
    from communities.partners.routes import PARTNER_RATE_PER_MINUTE

    admin = await hub_admin(make_user, db)
    pid = await partner(client, admin)
    cid = await community(client, admin)
    flooding = bearer((await key(client, admin, pid, ["posts:write"], [cid]))["key"])
    statuses = [
        (
            await client.post("/v1/partner/posts", json=post_body(str(uuid.uuid4())), headers=flooding)
        ).status_code
        for _ in range(PARTNER_RATE_PER_MINUTE + 1)
    ]
    assert set(statuses[:-1]) == {404}  # a community outside the key's reach, answered until the limit
    assert statuses[-1] == 429
    limited = await client.post(
        "/v1/partner/posts", json=post_body(str(uuid.uuid4())), headers={**flooding, "Accept-Language": "de"}
    )
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["code"] == "rate_limited"
    other_key = bearer((await key(client, admin, pid, ["posts:write"], [cid]))["key"])
    other = await client.post("/v1/partner/posts", json=post_body(str(uuid.uuid4())), headers=other_key)
    assert other.status_code == 404
