"""Communities: creation, bilingual names with fallback, discovery, membership and roles, GDPR."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.communities.helpers import create_community, create_post, join, set_member
from tests.conftest import UserFactory


async def test_creator_becomes_admin_and_reads_their_language(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user(locale="de")
    community = await create_community(client, owner)
    assert community["membership"] == {"role": "admin", "status": "active"}
    assert community["name"] == {
        "text": "Grenzüberschreitender Chor",
        "lang": "de",
        "fallback": False,
        "simple": None,
    }
    assert community["municipality_codes"] == ["10045114", "57089"]
    assert community["member_count"] == 1


async def test_name_in_one_language_is_a_marked_fallback(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user(locale="fr")
    community = await create_community(client, owner, name={"de": "Seniorentreff Saarpfalz"}, description={})
    assert community["name"]["text"] == "Seniorentreff Saarpfalz"
    assert community["name"]["fallback"] is True
    assert community["description"] is None
    response = await client.get(f"/v1/communities/{community['id']}", params={"lang": "de"})
    assert response.json()["name"]["fallback"] is False


async def test_unknown_municipality_codes_are_listed_in_a_422(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user(locale="en")
    response = await client.post(
        "/v1/communities",
        json={"name": {"fr": "X"}, "municipality_codes": ["57089", "57999", "10099999"]},
        headers=owner.headers,
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["unknown_codes"] == ["57999", "10099999"]
    assert "57999, 10099999" in problem["detail"]
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"name": {"fr": "  ", "de": ""}}, "name", 422),
        ({"name": {}}, "name", 422),
        ({"name": {"fr": "x" * 121}}, "name", 422),
        ({"name": {"fr": "ok"}, "description": {"de": "y" * 2001}}, "description", 422),
        ({"name": {"fr": "ok"}, "municipality_codes": []}, "municipality_codes", 400),
        ({"name": {"fr": "ok"}, "kind": "casino"}, "kind", 400),
        ({"name": {"fr": "ok"}, "name_en": "x"}, "name_en", 400),
    ],
)
async def test_bad_community_input_is_a_problem_naming_the_field(
    client: AsyncTestClient[Litestar], make_user: UserFactory, body: dict[str, Any], field: str, status: int
) -> None:
    owner = await make_user()
    payload = {"municipality_codes": ["57089"], **body}
    response = await client.post("/v1/communities", json=payload, headers=owner.headers)
    assert response.status_code == status, response.text
    problem = response.json()
    assert field in problem["detail"] or problem.get("errors", [{}])[0].get("field") == field


async def test_discovery_by_municipality_text_and_kind_hides_private_from_outsiders(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user()
    outsider = await make_user()
    marker = "Wanderfreunde Bliesgau Zyxw"
    public = await create_community(
        client, owner, name={"de": marker}, municipality_codes=["10045112"], kind="sports"
    )
    private = await create_community(
        client,
        owner,
        name={"fr": "Randonneurs zyxw privés"},
        municipality_codes=["10045112"],
        kind="sports",
        visibility="private",
    )

    async def found(user: Any, **params: Any) -> set[str]:
        headers = user.headers if user else {}
        response = await client.get("/v1/communities", params={"limit": 100, **params}, headers=headers)
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()["items"]}

    assert public["id"] in await found(None, q="BLIESGAU zyxw")
    assert public["id"] in await found(outsider, q="wanderfreunde")
    assert public["id"] in await found(outsider, municipality="10045112", kind="sports")
    assert public["id"] not in await found(outsider, municipality="57089")
    assert public["id"] not in await found(outsider, q="zyxw", kind="choir")
    assert private["id"] not in await found(outsider, q="zyxw")
    assert private["id"] not in await found(None, q="zyxw")
    assert private["id"] in await found(owner, q="randonneurs prives zyxw")


async def test_discovery_pages_with_signed_cursor_and_limit(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user()
    ids = [
        (await create_community(client, owner, name={"fr": f"Pagination qqpage {i}"}))["id"] for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "qqpage", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/v1/communities", params=params)).json()
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))

    too_big = await client.get("/v1/communities", params={"limit": 101})
    assert too_big.status_code == 400
    assert too_big.json()["errors"][0]["field"] == "limit"
    first = (await client.get("/v1/communities", params={"q": "qqpage", "limit": 2})).json()["next_cursor"]
    tampered = first[:-2] + ("AA" if first[-2:] != "AA" else "BB")
    response = await client.get("/v1/communities", params={"cursor": tampered})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_field"


async def test_join_open_is_active_and_approval_is_pending_until_approved(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool
) -> None:
    owner = await make_user()
    reader = await make_user()
    open_one = await create_community(client, owner)
    approval = await create_community(client, owner, join_policy="approval")
    assert (await join(client, reader, open_one["id"]))["status"] == "active"
    assert (await join(client, reader, approval["id"]))["status"] == "pending"
    assert (await join(client, reader, approval["id"]))["status"] == "pending"
    audience = await db.fetch(
        "SELECT user_id::text FROM community_audience WHERE community_id = $1", approval["id"]
    )
    assert {r["user_id"] for r in audience} == {owner.id}

    pending = await client.get(
        f"/v1/communities/{approval['id']}/members", params={"status": "pending"}, headers=owner.headers
    )
    assert [m["user_id"] for m in pending.json()["items"]] == [reader.id]
    approved = await set_member(client, owner, approval["id"], reader.id, status="active")
    assert approved["status"] == "active"
    audience = await db.fetch(
        "SELECT user_id::text FROM community_audience WHERE community_id = $1", approval["id"]
    )
    assert {r["user_id"] for r in audience} == {owner.id, reader.id}


async def test_rejected_request_is_removed_and_banned_member_leaves_the_audience(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool
) -> None:
    owner = await make_user()
    asker = await make_user()
    troll = await make_user()
    community = await create_community(client, owner, join_policy="approval")
    await join(client, asker, community["id"])
    assert await set_member(client, owner, community["id"], asker.id, status="removed") is None
    await join(client, troll, community["id"])
    await set_member(client, owner, community["id"], troll.id, status="active")
    banned = await set_member(client, owner, community["id"], troll.id, status="banned")
    assert banned["status"] == "banned"
    in_audience = await db.fetchval(
        "SELECT count(*) FROM community_audience WHERE community_id = $1 AND user_id = $2",
        community["id"],
        troll.id,
    )
    assert in_audience == 0
    again = await client.post(f"/v1/communities/{community['id']}/join", headers=troll.headers)
    assert again.status_code == 403


async def test_last_admin_cannot_leave_until_handing_over(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user(locale="de")
    successor = await make_user()
    community = await create_community(client, owner)
    refused = await client.delete(f"/v1/communities/{community['id']}/membership", headers=owner.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "last_admin"
    demote = await client.patch(
        f"/v1/communities/{community['id']}/members/{owner.id}",
        json={"role": "member"},
        headers=owner.headers,
    )
    assert demote.status_code == 409
    await join(client, successor, community["id"])
    await set_member(client, owner, community["id"], successor.id, role="admin")
    left = await client.delete(f"/v1/communities/{community['id']}/membership", headers=owner.headers)
    assert left.status_code == 204
    after = await client.get(f"/v1/communities/{community['id']}", headers=owner.headers)
    assert after.json()["membership"] is None


async def test_moderator_bans_members_but_cannot_change_roles(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user()
    moderator = await make_user()
    member = await make_user()
    community = await create_community(client, owner)
    for user in (moderator, member):
        await join(client, user, community["id"])
    await set_member(client, owner, community["id"], moderator.id, role="moderator")
    promote = await client.patch(
        f"/v1/communities/{community['id']}/members/{member.id}",
        json={"role": "publisher"},
        headers=moderator.headers,
    )
    assert promote.status_code == 403
    ban_admin = await client.patch(
        f"/v1/communities/{community['id']}/members/{owner.id}",
        json={"status": "banned"},
        headers=moderator.headers,
    )
    assert ban_admin.status_code == 403
    ban = await set_member(client, moderator, community["id"], member.id, status="banned")
    assert ban["status"] == "banned"


async def test_admin_updates_community_and_unknown_codes_are_refused(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    owner = await make_user()
    community = await create_community(client, owner)
    response = await client.patch(
        f"/v1/communities/{community['id']}",
        json={"name": {"fr": "Chorale de Bitche renommée zqren"}, "municipality_codes": ["57631"]},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["municipality_codes"] == ["57631"]
    found = (await client.get("/v1/communities", params={"q": "zqren"})).json()["items"]
    assert [c["id"] for c in found] == [community["id"]]
    bad = await client.patch(
        f"/v1/communities/{community['id']}", json={"municipality_codes": ["00000"]}, headers=owner.headers
    )
    assert bad.status_code == 422
    assert bad.json()["unknown_codes"] == ["00000"]


async def test_export_lists_memberships_posts_reports_and_erasure_detaches_posts(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool
) -> None:
    owner = await make_user()
    person = await make_user()
    community = await create_community(client, owner)
    await join(client, person, community["id"])
    await set_member(client, owner, community["id"], person.id, role="publisher")
    post = await create_post(client, person, community["id"])
    other = await create_post(client, owner, community["id"])
    report = await client.post(
        f"/v1/posts/{other['id']}/report", json={"reason": "spam"}, headers=person.headers
    )
    assert report.status_code == 201

    export = await client.get("/v1/me/export", headers=person.headers)
    assert export.status_code == 200, export.text
    section = export.json()["sections"]["communities"]
    assert [m["community_id"] for m in section["memberships"]] == [community["id"]]
    assert [p["id"] for p in section["posts"]] == [post["id"]]
    assert [r["post_id"] for r in section["reports"]] == [other["id"]]

    erased = await client.delete("/v1/me", headers=person.headers)
    assert erased.status_code == 204
    row = await db.fetchrow("SELECT author_id FROM posts WHERE id = $1", post["id"])
    assert row is not None
    assert row["author_id"] is None
    assert await db.fetchval("SELECT count(*) FROM post_reports WHERE reporter_id = $1", person.id) == 0
    assert await db.fetchval("SELECT count(*) FROM memberships WHERE user_id = $1", person.id) == 0
