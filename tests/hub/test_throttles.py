"""Rate limits that hold: per account on sign-in, X-Forwarded-For only from trusted proxies, wrong partner
keys per client address, and at most 20 devices per person."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hub.settings import Settings, load_settings
from hub.throttle import SIGN_IN_FAILURES, client_address
from messaging.service import MAX_DEVICES
from server.app import create_app
from tests.conftest import Servers, UserFactory


@pytest.fixture
async def strict_client(settings: Settings, servers: Servers) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An app with a low per-address limit and one trusted proxy, on its own rate-limit namespace."""
    env = {
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_SECRET_KEY": settings.secret_key,
        "HUB_QUEUE_NAME": f"hub-test-throttle-{secrets.token_hex(4)}",
        "HUB_AUTH_RATE_PER_MINUTE": "5",
        "HUB_TRUSTED_PROXIES": "10.9.0.0/16",
    }
    app = create_app(load_settings(env), database_url=servers.database_url, redis_url=servers.redis_url)
    async with AsyncTestClient(app=app) as client:
        yield client


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    spoofed = {"client": ("203.0.113.9", 5000), "headers": [(b"x-forwarded-for", b"1.2.3.4")]}
    assert client_address(spoofed, ()) == "203.0.113.9"
    assert client_address(spoofed, ("10.9.0.0/16",)) == "203.0.113.9"
    proxied = {
        "client": ("10.9.0.2", 5000),
        "headers": [(b"x-forwarded-for", b"6.6.6.6, 198.51.100.7, 10.9.0.1")],
    }
    assert client_address(proxied, ("10.9.0.0/16",)) == "198.51.100.7"  # the hop our proxy saw
    assert client_address(proxied, ()) == "10.9.0.2"


async def test_a_spoofed_forwarded_for_does_not_escape_the_address_limit(
    strict_client: AsyncTestClient[Litestar],
) -> None:
    statuses = []
    for i in range(8):
        r = await strict_client.post(
            "/v1/auth/login",
            json={"email": f"nobody{i}@example.test", "password": "whatever it is"},
            headers={"X-Forwarded-For": f"192.0.2.{i}"},
        )
        statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5 and 429 in statuses[5:]


async def test_sign_in_is_limited_per_account_from_any_address(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user(locale="de")
    for _ in range(SIGN_IN_FAILURES):
        r = await client.post("/v1/auth/login", json={"email": user.email, "password": "not the password"})
        assert r.status_code == 401
    blocked = await client.post(
        "/v1/auth/login", json={"email": user.email.upper(), "password": "correct horse battery"}
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert blocked.json()["code"] == "rate_limited"
    other = await make_user()
    fine = await client.post(
        "/v1/auth/login", json={"email": other.email, "password": "correct horse battery"}
    )
    assert fine.status_code == 200


async def test_wrong_partner_keys_are_throttled_per_address(strict_client: AsyncTestClient[Litestar]) -> None:
    body = {"community_id": str(uuid.uuid4()), "title": {"fr": "x"}, "body": {"fr": "y"}}
    statuses = []
    for _ in range(14):
        guess = {"Authorization": f"Bearer hubp_{secrets.token_urlsafe(24)}"}
        statuses.append((await strict_client.post("/v1/partner/posts", json=body, headers=guess)).status_code)
    assert statuses[:10] == [401] * 10
    assert set(statuses[10:]) == {429}


async def test_devices_per_person_are_capped_and_the_oldest_dropped(
    client: AsyncTestClient[Litestar], make_user: UserFactory, db: asyncpg.Pool
) -> None:
    user = await make_user()
    tokens = [f"fcm-{uuid.uuid4().hex}" for _ in range(MAX_DEVICES + 5)]
    for token in tokens:
        r = await client.post(
            "/v1/me/devices", json={"token": token, "platform": "android"}, headers=user.headers
        )
        assert r.status_code in {200, 201}
    kept = await db.fetch("SELECT token FROM devices WHERE user_id = $1", uuid.UUID(user.id))
    assert MAX_DEVICES == 20
    assert {r["token"] for r in kept} == set(tokens[-MAX_DEVICES:])


async def test_account_page_forms_are_limited_per_address_like_sign_in_but_opening_them_is_not(
    strict_client: AsyncTestClient[Litestar],
) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    statuses = [
        (
            await strict_client.post(
                "/reset-password", content=f"token=guess{i}&password=a+long+password", headers=form
            )
        ).status_code
        for i in range(7)
    ]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]
    limited = await strict_client.post("/verify-email", content="token=guess", headers=form)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    for _ in range(7):
        assert (await strict_client.get("/verify-email", params={"token": "guess"})).status_code == 200
