"""Idempotency keys are bound to their caller and request, never stuck, sealed at rest, and accepted from partners."""

from __future__ import annotations

import uuid

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.communities.test_events import community
from tests.communities.test_partners import bearer, hub_admin, key, partner, post_body
from tests.conftest import UserFactory
from tests.hub.test_idempotency import COMMUNITY

Client = AsyncTestClient[Litestar]


async def test_same_key_with_another_body_is_a_422_not_a_replay(
    client: Client, make_user: UserFactory
) -> None:
    user = await make_user(locale="de")
    headers = {**user.headers, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/v1/communities", json=COMMUNITY, headers=headers)
    assert first.status_code == 201
    other = {**COMMUNITY, "name": {"fr": "Autre chose", "de": "Etwas anderes"}}
    reused = await client.post("/v1/communities", json=other, headers=headers)
    assert reused.status_code == 422, reused.text
    assert reused.json()["code"] == "idempotency_key_reused"
    assert reused.headers["content-language"] == "de"
    elsewhere = await client.post(f"/v1/communities/{first.json()['id']}/posts", json={}, headers=headers)
    assert elsewhere.status_code == 422  # the same key on another route is another request too


async def test_a_crashed_request_does_not_hold_its_key(
    client: Client, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    user = await make_user()
    key_value = uuid.uuid4().hex
    headers = {**user.headers, "Idempotency-Key": key_value}
    first = await client.post("/v1/communities", json=COMMUNITY, headers=headers)
    assert first.status_code == 201
    # the state a worker killed mid-request leaves: reserved, never answered, its lock run out
    await db.execute(
        "UPDATE idempotency_keys SET status = 0, body = '', locked_until = now() - interval '1 second'"
        " WHERE user_id = $1",
        uuid.UUID(user.id),
    )
    again = await client.post("/v1/communities", json=COMMUNITY, headers=headers)
    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
    row = await db.fetchrow(
        "SELECT status, expires_at > now() + interval '23 hours' AS kept FROM idempotency_keys WHERE user_id = $1",
        uuid.UUID(user.id),
    )
    assert row is not None and row["status"] == 201 and row["kept"]


async def test_a_new_partner_key_is_replayed_but_not_stored_in_clear(
    client: Client, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    admin = await hub_admin(make_user, db)
    pid = await partner(client, admin)
    body = {"scopes": ["posts:write"], "community_ids": [await community(client, admin)], "label": "site"}
    headers = {**admin.headers, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post(f"/v1/partners/{pid}/keys", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post(f"/v1/partners/{pid}/keys", json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["key"] == first.json()["key"]
    stored = await db.fetchval("SELECT body FROM idempotency_keys WHERE user_id = $1", uuid.UUID(admin.id))
    secret = first.json()["key"].encode()
    assert stored and secret not in bytes(stored) and b"hubp_" not in bytes(stored)


async def test_partner_requests_accept_idempotency_key(
    client: Client, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    admin = await hub_admin(make_user, db)
    pid = await partner(client, admin)
    cid = await community(client, admin)
    secret = (await key(client, admin, pid, ["posts:write"], [cid]))["key"]
    headers = {**bearer(secret), "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/v1/partner/posts", json=post_body(cid), headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/v1/partner/posts", json=post_body(cid), headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    posts = await db.fetchval("SELECT count(*) FROM posts WHERE community_id = $1", uuid.UUID(cid))
    assert posts == 1
    # another partner key with the same Idempotency-Key is another caller
    other = (await key(client, admin, pid, ["posts:write"], [cid]))["key"]
    third = await client.post(
        "/v1/partner/posts",
        json=post_body(cid),
        headers={**bearer(other), "Idempotency-Key": headers["Idempotency-Key"]},
    )
    assert third.status_code == 201 and "idempotent-replayed" not in third.headers
