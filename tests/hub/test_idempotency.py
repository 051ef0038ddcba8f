"""Idempotency-Key: a replayed POST returns the first response and creates nothing twice."""

from __future__ import annotations

import uuid

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import UserFactory

COMMUNITY = {
    "name": {"fr": "Marcheurs du Bitscherland", "de": "Wanderer im Bitscher Land"},
    "municipality_codes": ["57089", "10045114"],
    "kind": "sports",
}


async def test_replay_returns_the_first_response_and_creates_once(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool
) -> None:
    user = await make_user()
    key = uuid.uuid4().hex
    headers = {**user.headers, "Idempotency-Key": key}
    first = await client.post("/v1/communities", json=COMMUNITY, headers=headers)
    again = await client.post("/v1/communities", json=COMMUNITY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    created = await db.fetchval("SELECT count(*) FROM communities WHERE created_by = $1", uuid.UUID(user.id))
    assert created == 1
    other = await client.post("/v1/communities", json=COMMUNITY, headers=user.headers)
    assert other.json()["id"] != first.json()["id"]  # no key: a new community


async def test_keys_belong_to_their_user(client: AsyncTestClient[Litestar], make_user: UserFactory) -> None:
    key = uuid.uuid4().hex
    first, second = await make_user(), await make_user()
    a = await client.post(
        "/v1/communities", json=COMMUNITY, headers={**first.headers, "Idempotency-Key": key}
    )
    b = await client.post(
        "/v1/communities", json=COMMUNITY, headers={**second.headers, "Idempotency-Key": key}
    )
    assert a.json()["id"] != b.json()["id"]


async def test_a_failed_request_is_not_remembered(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    headers = {**user.headers, "Idempotency-Key": uuid.uuid4().hex}
    bad = await client.post(
        "/v1/communities", json={**COMMUNITY, "municipality_codes": ["99999"]}, headers=headers
    )
    assert bad.status_code == 422
    good = await client.post("/v1/communities", json=COMMUNITY, headers=headers)
    assert good.status_code == 201


async def test_an_unusable_key_is_a_problem(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    response = await client.post(
        "/v1/communities",
        json=COMMUNITY,
        headers={**user.headers, "Idempotency-Key": "x" * 201, "Accept-Language": "de"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_field"
    assert "Idempotency-Key" in body["detail"]
