"""Every community endpoint × every kind of caller: the status each one gets (404 where they may not see)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.communities.helpers import create_community, create_post
from tests.conftest import SignedIn

ROLES = ("anonymous", "non_member", "pending", "member", "publisher", "moderator", "admin", "banned")

# (endpoint, method, path, body, expected status per role in ROLES order) on a private community that
# needs approval; {c} is the community, {p} a post by its admin, {t} an ordinary member.
PRIVATE: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    ("discover", "GET", "/v1/communities", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("community", "GET", "/v1/communities/{c}", None, (404, 404, 200, 200, 200, 200, 200, 404)),
    (
        "update community",
        "PATCH",
        "/v1/communities/{c}",
        {"kind": "events"},
        (401, 404, 403, 403, 403, 403, 200, 404),
    ),
    ("join", "POST", "/v1/communities/{c}/join", None, (401, 200, 200, 200, 200, 200, 200, 404)),
    ("leave", "DELETE", "/v1/communities/{c}/membership", None, (401, 404, 204, 204, 204, 204, 409, 404)),
    ("members", "GET", "/v1/communities/{c}/members", None, (401, 404, 403, 403, 403, 200, 200, 404)),
    (
        "ban member",
        "PATCH",
        "/v1/communities/{c}/members/{t}",
        {"status": "banned"},
        (401, 404, 403, 403, 403, 200, 200, 404),
    ),
    (
        "set role",
        "PATCH",
        "/v1/communities/{c}/members/{t}",
        {"role": "publisher"},
        (401, 404, 403, 403, 403, 403, 200, 404),
    ),
    (
        "create post",
        "POST",
        "/v1/communities/{c}/posts",
        {"title": {"fr": "T"}, "body": {"de": "B"}},
        (401, 404, 403, 403, 201, 201, 201, 404),
    ),
    ("community posts", "GET", "/v1/communities/{c}/posts", None, (404, 404, 403, 200, 200, 200, 200, 404)),
    ("post", "GET", "/v1/posts/{p}", None, (404, 404, 404, 200, 200, 200, 200, 404)),
    ("edit post", "PATCH", "/v1/posts/{p}", {"title": {"fr": "X"}}, (401, 404, 404, 403, 403, 200, 200, 404)),
    ("delete post", "DELETE", "/v1/posts/{p}", None, (401, 404, 404, 403, 403, 204, 204, 404)),
    ("report", "POST", "/v1/posts/{p}/report", {"reason": "r"}, (401, 404, 404, 201, 201, 201, 201, 404)),
    ("report queue", "GET", "/v1/communities/{c}/reports", None, (401, 404, 403, 403, 403, 200, 200, 404)),
    ("hide", "POST", "/v1/posts/{p}/hide", None, (401, 404, 404, 403, 403, 200, 200, 404)),
    ("restore", "POST", "/v1/posts/{p}/restore", None, (401, 404, 404, 403, 403, 200, 200, 404)),
    ("feed", "GET", "/v1/feed", None, (401, 200, 200, 200, 200, 200, 200, 200)),
]

# The same community made public: outsiders read it; a ban still closes every door but reading.
PUBLIC: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    ("community", "GET", "/v1/communities/{c}", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("community posts", "GET", "/v1/communities/{c}/posts", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("post", "GET", "/v1/posts/{p}", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("join", "POST", "/v1/communities/{c}/join", None, (401, 200, 200, 200, 200, 200, 200, 403)),
    ("report", "POST", "/v1/posts/{p}/report", {"reason": "r"}, (401, 201, 201, 201, 201, 201, 201, 404)),
    (
        "create post",
        "POST",
        "/v1/communities/{c}/posts",
        {"title": {"fr": "T"}, "body": {"fr": "B"}},
        (401, 403, 403, 403, 201, 201, 201, 403),
    ),
    ("members", "GET", "/v1/communities/{c}/members", None, (401, 403, 403, 403, 403, 200, 200, 403)),
    ("leave", "DELETE", "/v1/communities/{c}/membership", None, (401, 404, 204, 204, 204, 204, 409, 404)),
]

CASES = [
    pytest.param(visibility, name, method, path, body, role, expected[i], id=f"{visibility}-{name}-{role}")
    for visibility, table in (("private", PRIVATE), ("public", PUBLIC))
    for name, method, path, body, expected in table
    for i, role in enumerate(ROLES)
]

_MEMBERSHIP = {
    "pending": ("member", "pending"),
    "member": ("member", "active"),
    "publisher": ("publisher", "active"),
    "moderator": ("moderator", "active"),
    "banned": ("member", "banned"),
}


@pytest.fixture(scope="module")
async def people(client: AsyncTestClient[Litestar]) -> dict[str, SignedIn]:
    """One account per role, plus the ordinary member that moderation acts on."""
    found: dict[str, SignedIn] = {}
    for role in (*ROLES[1:], "target"):
        email = f"matrix-{role}-{uuid.uuid4().hex[:8]}@example.test"
        response = await client.post(
            "/v1/auth/register",
            json={"email": email, "password": "correct horse battery", "display_name": role, "locale": "fr"},
        )
        assert response.status_code == 201, response.text
        data = response.json()
        found[role] = SignedIn(data["user"]["id"], email, "fr", data["access_token"], data["refresh_token"])
    return found


@pytest.mark.parametrize(("visibility", "endpoint", "method", "path", "body", "role", "expected"), CASES)
async def test_endpoint_answers_each_kind_of_caller(
    client: AsyncTestClient[Litestar],
    db: asyncpg.Pool,
    people: dict[str, SignedIn],
    visibility: str,
    endpoint: str,
    method: str,
    path: str,
    body: Any,
    role: str,
    expected: int,
) -> None:
    admin = people["admin"]
    community = await create_community(client, admin, visibility=visibility, join_policy="approval")
    post = await create_post(client, admin, community["id"])
    cid = uuid.UUID(community["id"])
    await db.execute(
        "INSERT INTO memberships (community_id, user_id, role, status) VALUES ($1, $2, 'member', 'active')",
        cid,
        uuid.UUID(people["target"].id),
    )
    if role in _MEMBERSHIP:
        member_role, status = _MEMBERSHIP[role]
        await db.execute(
            "INSERT INTO memberships (community_id, user_id, role, status) VALUES ($1, $2, $3, $4)",
            cid,
            uuid.UUID(people[role].id),
            member_role,
            status,
        )
    url = path.format(c=community["id"], p=post["id"], t=people["target"].id)
    headers = {} if role == "anonymous" else people[role].headers
    response = await client.request(method, url, json=body, headers=headers)
    assert response.status_code == expected, f"{endpoint} as {role}: {response.status_code} {response.text}"
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    if expected == 404:
        # a refusal says nothing about what exists
        assert response.json()["code"] == "not_found"
