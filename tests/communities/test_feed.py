"""Feeds: newest first across my communities, stable pages while posts arrive, in the reader's language."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.communities.helpers import create_community, create_post, join
from tests.conftest import UserFactory


async def _pages(
    client: AsyncTestClient[Litestar], url: str, headers: dict[str, str], limit: int
) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [p["id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return seen


async def test_feed_merges_my_communities_newest_first_and_pages_without_gaps_while_posts_arrive(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user()
    reader = await make_user()
    choir = await create_community(client, owner)
    seniors = await create_community(client, owner, name={"de": "Seniorentreff"}, kind="seniors")
    elsewhere = await create_community(client, owner, name={"fr": "Ailleurs"})
    for community in (choir, seniors):
        await join(client, reader, community["id"])
    posted = []
    for i in range(7):
        target = choir if i % 2 else seniors
        posted.append((await create_post(client, owner, target["id"], title={"fr": f"n{i}"}))["id"])
    await create_post(client, owner, elsewhere["id"])

    first = (await client.get("/v1/feed", params={"limit": 3}, headers=reader.headers)).json()
    assert [p["id"] for p in first["items"]] == posted[::-1][:3]
    # posts arriving between pages go to the top and do not shift the pages being read
    await create_post(client, owner, choir["id"], title={"fr": "nouveau"})
    seen = [p["id"] for p in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (
            await client.get("/v1/feed", params={"limit": 3, "cursor": cursor}, headers=reader.headers)
        ).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor:
            await create_post(client, owner, seniors["id"], title={"fr": "encore"})
    assert seen == posted[::-1]


async def test_community_posts_page_newest_first_for_anonymous_readers_of_a_public_community(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user()
    community = await create_community(client, owner)
    posted = [(await create_post(client, owner, community["id"]))["id"] for _ in range(5)]
    assert await _pages(client, f"/v1/communities/{community['id']}/posts", {}, 2) == posted[::-1]


async def test_each_reader_gets_their_language_with_a_marked_fallback(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user()
    french = await make_user(locale="fr")
    german = await make_user(locale="de")
    community = await create_community(client, owner)
    for reader in (french, german):
        await join(client, reader, community["id"])
    await create_post(
        client,
        owner,
        community["id"],
        title={"de": "Nur auf Deutsch"},
        body={"de": "Chorprobe", "de_simple": "Wir singen."},
    )
    fr_item = (await client.get("/v1/feed", headers=french.headers)).json()["items"][0]
    assert fr_item["title"] == {"text": "Nur auf Deutsch", "lang": "de", "fallback": True, "simple": None}
    assert fr_item["body"]["simple"] == "Wir singen."
    assert fr_item["community_name"]["text"] == "Chorale transfrontalière"
    de_item = (await client.get("/v1/feed", headers=german.headers)).json()["items"][0]
    assert de_item["title"]["fallback"] is False
    assert de_item["community_name"]["text"] == "Grenzüberschreitender Chor"
    # the lang parameter wins over the account's locale; Accept-Language serves anonymous readers
    asked = (await client.get("/v1/feed", params={"lang": "de"}, headers=french.headers)).json()["items"][0]
    assert asked["community_name"]["lang"] == "de"
    anonymous = (
        await client.get(
            f"/v1/communities/{community['id']}/posts", headers={"Accept-Language": "de-DE,de;q=0.9"}
        )
    ).json()["items"][0]
    assert anonymous["community_name"] == {
        "text": "Grenzüberschreitender Chor",
        "lang": "de",
        "fallback": False,
        "simple": None,
    }


async def test_expired_posts_leave_the_feeds(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool
) -> None:
    owner = await make_user()
    community = await create_community(client, owner)
    post = await create_post(client, owner, community["id"], expires_at="2099-01-01T00:00:00+01:00")
    assert (await client.get("/v1/feed", headers=owner.headers)).json()["items"][0]["id"] == post["id"]
    await db.execute(
        "UPDATE posts SET expires_at = now() - interval '1 minute' WHERE id = $1", uuid.UUID(post["id"])
    )
    assert post["id"] not in [
        p["id"] for p in (await client.get("/v1/feed", headers=owner.headers)).json()["items"]
    ]
    listing = (await client.get(f"/v1/communities/{community['id']}/posts")).json()["items"]
    assert post["id"] not in [p["id"] for p in listing]


async def test_feed_refuses_tampered_cursors_and_oversized_pages(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user(locale="de")
    community = await create_community(client, owner)
    await create_community(client, owner)
    for _ in range(3):
        await create_post(client, owner, community["id"])
    cursor = (await client.get("/v1/feed", params={"limit": 1}, headers=owner.headers)).json()["next_cursor"]
    forged = cursor[:-3] + ("xyz" if not cursor.endswith("xyz") else "abc")
    response = await client.get("/v1/feed", params={"cursor": forged}, headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_field"
    assert "cursor" in response.json()["detail"]
    # a cursor of another listing is refused the same way
    other = (await client.get("/v1/communities", params={"limit": 1})).json()["next_cursor"]
    assert other
    assert (await client.get("/v1/feed", params={"cursor": other}, headers=owner.headers)).status_code == 422
    too_big = await client.get("/v1/feed", params={"limit": 500}, headers=owner.headers)
    assert too_big.status_code == 400
    assert too_big.json()["errors"][0]["field"] == "limit"
