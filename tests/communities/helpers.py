"""Helpers shared by the community, post, feed and access-matrix tests."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import SignedIn


async def create_community(
    client: AsyncTestClient[Litestar], owner: SignedIn, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": {"fr": "Chorale transfrontalière", "de": "Grenzüberschreitender Chor"},
        "description": {"fr": "Nous chantons à Bitche.", "de": "Wir singen in Bitsch."},
        "municipality_codes": ["57089", "10045114"],
        "visibility": "public",
        "join_policy": "open",
        "kind": "choir",
    }
    body.update(overrides)
    response = await client.post("/v1/communities", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def create_post(
    client: AsyncTestClient[Litestar], author: SignedIn, community_id: str, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": {"fr": "Répétition", "de": "Probe"},
        "body": {"fr": "Mardi à 19 h.", "de": "Dienstag um 19 Uhr."},
    }
    body.update(overrides)
    response = await client.post(f"/v1/communities/{community_id}/posts", json=body, headers=author.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def join(client: AsyncTestClient[Litestar], user: SignedIn, community_id: str) -> dict[str, Any]:
    response = await client.post(f"/v1/communities/{community_id}/join", headers=user.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def set_member(
    client: AsyncTestClient[Litestar], admin: SignedIn, community_id: str, user_id: str, **changes: Any
) -> Any:
    response = await client.patch(
        f"/v1/communities/{community_id}/members/{user_id}", json=changes, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return response.json()
