"""Posts: who may post, edit and delete, urgent priority, scheduling, notification hand-off, moderation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from communities import service
from communities.jobs import publish_due_posts
from communities.models import PostIn
from hub.auth import CurrentUser
from i18n.content import Bilingual
from messaging.models import WrittenText, decode_content
from tests.communities.helpers import create_community, create_post, join, set_member
from tests.conftest import SignedIn, UserFactory


async def _community_with(
    client: AsyncTestClient[Litestar], make_user: UserFactory, *roles: str
) -> tuple[dict[str, Any], SignedIn, list[SignedIn]]:
    owner = await make_user()
    community = await create_community(client, owner)
    people = []
    for role in roles:
        person = await make_user()
        await join(client, person, community["id"])
        if role != "member":
            await set_member(client, owner, community["id"], person.id, role=role)
        people.append(person)
    return community, owner, people


async def _notifications(db: asyncpg.Pool, post_id: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM notifications WHERE kind = 'post' AND source_id = $1", uuid.UUID(post_id)
    )


async def test_publisher_post_is_notified_to_the_community_except_its_author(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool
) -> None:
    community, _, (publisher,) = await _community_with(client, make_user, "publisher")
    post = await create_post(client, publisher, community["id"], priority="important")
    assert post["published_at"] is not None
    (row,) = await _notifications(db, post["id"])
    assert row["community_id"] == uuid.UUID(community["id"])
    assert row["audience_community_id"] == uuid.UUID(community["id"])
    assert row["exclude_user_ids"] == [uuid.UUID(publisher.id)]
    assert row["sender_id"] == uuid.UUID(publisher.id)
    content = decode_content(row["content"])
    assert content.title == WrittenText(fr="Répétition", de="Probe")
    assert content.body == WrittenText(fr="Mardi à 19 h.", de="Dienstag um 19 Uhr.")
    assert content.sender_name is not None and content.sender_name.de == "Grenzüberschreitender Chor"
    assert row["priority"] == "important"
    assert row["deep_link"] == f"/communities/{community['id']}/posts/{post['id']}"


async def test_plain_members_cannot_post_and_only_moderators_post_urgent(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    community, owner, (member, publisher, moderator) = await _community_with(
        client, make_user, "member", "publisher", "moderator"
    )
    body = {"title": {"fr": "Alerte"}, "body": {"fr": "Route barrée"}, "priority": "urgent"}
    url = f"/v1/communities/{community['id']}/posts"
    assert (
        await client.post(url, json={**body, "priority": "info"}, headers=member.headers)
    ).status_code == 403
    refused = await client.post(url, json=body, headers=publisher.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "urgent_not_allowed"
    assert (await client.post(url, json=body, headers=moderator.headers)).status_code == 201
    assert (await client.post(url, json=body, headers=owner.headers)).status_code == 201
    info = await create_post(client, publisher, community["id"])
    escalate = await client.patch(
        f"/v1/posts/{info['id']}", json={"priority": "urgent"}, headers=publisher.headers
    )
    assert escalate.status_code == 403


async def test_text_stays_plain_and_simple_language_variant_is_served(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    community, owner, _ = await _community_with(client, make_user)
    post = await create_post(
        client,
        owner,
        community["id"],
        title={"fr": "<b>Fête</b> & bal"},
        body={"fr": "<script>alert(1)</script>", "fr_simple": "Il y a une fête."},
    )
    assert post["title"]["text"] == "<b>Fête</b> & bal"
    assert post["body"] == {
        "text": "<script>alert(1)</script>",
        "lang": "fr",
        "fallback": False,
        "simple": "Il y a une fête.",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": {"fr": " "}, "body": {"fr": "x"}}, "title"),
        ({"title": {"fr": "x"}, "body": {"de": ""}}, "body"),
        ({"title": {"fr": "x" * 201}, "body": {"fr": "x"}}, "title"),
        ({"title": {"fr": "x"}, "body": {"fr": "x", "de_simple": "y" * 10_001}}, "body"),
        ({"title": {"fr": "x"}, "body": {"fr": "x"}, "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    ],
)
async def test_bad_post_input_is_a_422_naming_the_field(
    client: AsyncTestClient[Litestar], make_user: UserFactory, body: dict[str, Any], field: str
) -> None:
    owner = await make_user(locale="en")
    community = await create_community(client, owner)
    response = await client.post(f"/v1/communities/{community['id']}/posts", json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"The field {field} ")


async def test_author_and_moderator_edit_and_delete_but_other_publishers_cannot(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool
) -> None:
    community, _, (author, other, moderator) = await _community_with(
        client, make_user, "publisher", "publisher", "moderator"
    )
    post = await create_post(client, author, community["id"])
    url = f"/v1/posts/{post['id']}"
    assert (await client.patch(url, json={"title": {"de": "X"}}, headers=other.headers)).status_code == 403
    edited = await client.patch(url, json={"title": {"de": "Probe verschoben"}}, headers=author.headers)
    assert edited.status_code == 200
    assert edited.json()["title"] == {
        "text": "Probe verschoben",
        "lang": "de",
        "fallback": True,
        "simple": None,
    }
    fixed = await client.patch(url, json={"body": {"fr": "Mercredi."}}, headers=moderator.headers)
    assert fixed.json()["body"]["text"] == "Mercredi."
    assert len(await _notifications(db, post["id"])) == 1
    assert (await client.delete(url, headers=other.headers)).status_code == 403
    assert (await client.delete(url, headers=author.headers)).status_code == 204
    assert (await client.get(url, headers=author.headers)).status_code == 404


async def test_scheduled_post_is_invisible_until_the_worker_publishes_it_once(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool
) -> None:
    community, owner, (member,) = await _community_with(client, make_user, "member")
    later = datetime.now(UTC) + timedelta(hours=1)
    post = await create_post(client, owner, community["id"], publish_at=later.isoformat())
    assert post["published_at"] is None
    assert await _notifications(db, post["id"]) == []
    assert (await client.get(f"/v1/posts/{post['id']}", headers=member.headers)).status_code == 404
    assert (await client.get(f"/v1/posts/{post['id']}", headers=owner.headers)).status_code == 200
    feed = (await client.get("/v1/feed", headers=member.headers)).json()["items"]
    assert post["id"] not in [p["id"] for p in feed]

    await db.execute(
        "UPDATE posts SET publish_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(post["id"])
    )
    # two workers at once: each due post is claimed by one of them
    results = await asyncio.gather(
        publish_due_posts({"pool": db, "redis": None}), publish_due_posts({"pool": db, "redis": None})
    )
    assert sum(results) >= 1
    assert await publish_due_posts({"pool": db, "redis": None}) == 0
    assert len(await _notifications(db, post["id"])) == 1
    feed = (await client.get("/v1/feed", headers=member.headers)).json()["items"]
    assert feed[0]["id"] == post["id"]
    assert feed[0]["published_at"] is not None


async def test_concurrent_publishers_never_publish_a_post_twice(
    db: asyncpg.Pool, client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    community, owner, _ = await _community_with(client, make_user)
    ids = []
    for _ in range(20):
        post = await create_post(
            client, owner, community["id"], publish_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()
        )
        ids.append(uuid.UUID(post["id"]))
    await db.execute("UPDATE posts SET publish_at = now() WHERE id = ANY($1)", ids)

    async def worker() -> int:
        async with db.acquire() as conn, conn.transaction():
            first = await service.publish_due(conn, limit=7)
            await asyncio.sleep(0.05)  # hold the claimed rows while the other worker runs
            return first + await service.publish_due(conn, limit=7)

    published = sum(await asyncio.gather(worker(), worker(), worker()))
    assert published == 20
    counts = await db.fetch(
        "SELECT source_id, count(*) AS n FROM notifications WHERE kind = 'post' AND source_id = ANY($1) GROUP BY source_id",
        ids,
    )
    assert sorted(r["n"] for r in counts) == [1] * 20


async def test_rolled_back_post_leaves_no_notification(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool
) -> None:
    community, owner, _ = await _community_with(client, make_user)
    user = CurrentUser(
        id=uuid.UUID(owner.id),
        session_id=uuid.uuid4(),
        email=owner.email,
        display_name="x",
        locale="fr",
        is_admin=False,
    )
    data = PostIn(title=Bilingual(fr="Annulé zzrollback"), body=Bilingual(fr="Ne doit pas partir"))
    async with db.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        post = await service.create_post(conn, user, uuid.UUID(community["id"]), data, "fr")
        assert len(await conn.fetch("SELECT 1 FROM notifications WHERE source_id = $1", post.id)) == 1
        await transaction.rollback()
    assert await db.fetchval("SELECT count(*) FROM posts WHERE id = $1", post.id) == 0
    assert await db.fetchval("SELECT count(*) FROM notifications WHERE source_id = $1", post.id) == 0


async def test_reported_post_reaches_the_moderation_queue_and_hiding_removes_it_from_feeds(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    community, owner, (member, moderator) = await _community_with(client, make_user, "member", "moderator")
    post = await create_post(client, owner, community["id"])
    reported = await client.post(
        f"/v1/posts/{post['id']}/report", json={"reason": "hors sujet"}, headers=member.headers
    )
    assert reported.status_code == 201
    queue = await client.get(f"/v1/communities/{community['id']}/reports", headers=moderator.headers)
    (item,) = queue.json()["items"]
    assert (item["post_id"], item["reason"], item["reporter_id"]) == (post["id"], "hors sujet", member.id)
    assert (
        await client.get(f"/v1/communities/{community['id']}/reports", headers=member.headers)
    ).status_code == 403

    hidden = await client.post(f"/v1/posts/{post['id']}/hide", headers=moderator.headers)
    assert hidden.status_code == 200
    assert hidden.json()["hidden"] is True
    for reader in (member, moderator, owner):
        feed = (await client.get("/v1/feed", headers=reader.headers)).json()["items"]
        assert post["id"] not in [p["id"] for p in feed]
        listing = (
            await client.get(f"/v1/communities/{community['id']}/posts", headers=reader.headers)
        ).json()
        assert post["id"] not in [p["id"] for p in listing["items"]]
    assert (await client.get(f"/v1/posts/{post['id']}", headers=member.headers)).status_code == 404
    assert (await client.get(f"/v1/communities/{community['id']}/reports", headers=moderator.headers)).json()[
        "items"
    ] == []

    restored = await client.post(f"/v1/posts/{post['id']}/restore", headers=moderator.headers)
    assert restored.json()["hidden"] is False
    feed = (await client.get("/v1/feed", headers=member.headers)).json()["items"]
    assert post["id"] in [p["id"] for p in feed]
