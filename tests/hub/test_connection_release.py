"""Bad access tokens on public routes, from many clients at once, never keep a pooled connection."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid

import asyncpg
from litestar.testing import AsyncTestClient

from hub.settings import Settings, load_settings
from server.app import create_app
from tests.conftest import Servers, UserFactory

PUBLIC_GETS = (
    "/v1/communities",
    "/v1/communities?q=chorale",
    "/v1/communities?municipality=57089",
    f"/v1/communities/{uuid.uuid4()}",
    f"/v1/posts/{uuid.uuid4()}",
)


async def _held_connections(db: asyncpg.Pool, application_marker: str) -> list[str]:
    rows = await db.fetch(
        "SELECT state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND state LIKE 'idle in transaction%' AND application_name = $1",
        application_marker,
    )
    return [r["state"] for r in rows]


async def test_hundreds_of_bad_tokens_on_public_routes_hold_no_connection(
    settings: Settings, servers: Servers, db: asyncpg.Pool, make_user: UserFactory, client: AsyncTestClient
) -> None:
    env = {
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_SECRET_KEY": settings.secret_key,
        "HUB_QUEUE_NAME": f"hub-test-leak-{secrets.token_hex(4)}",
        "HUB_AUTH_RATE_PER_MINUTE": "100000",
    }
    marker = f"hub-leak-{secrets.token_hex(4)}"
    sep = "&" if "?" in servers.database_url else "?"
    app = create_app(
        load_settings(env),
        database_url=f"{servers.database_url}{sep}application_name={marker}",
        redis_url=servers.redis_url,
    )
    revoked = await make_user()
    out = await client.post("/v1/auth/logout", headers=revoked.headers)
    assert out.status_code == 204
    expired_looking = revoked.access_token[:-4] + "AAAA"  # a forged signature
    bad_tokens = [revoked.access_token, expired_looking, "not-a-jwt", "a.b.c"]

    loop = asyncio.get_running_loop()
    loop_errors: list[str] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(str(context.get("exception"))))
    async with AsyncTestClient(app=app, timeout=30) as bad_client:
        requests = [
            bad_client.get(path, headers={"Authorization": f"Bearer {token}"})
            for _ in range(12)
            for token in bad_tokens
            for path in PUBLIC_GETS
        ]
        assert len(requests) >= 200
        answers = await asyncio.gather(*requests)
        assert {a.status_code for a in answers} == {401}
        # at once, not after a garbage collection: every connection is back in the pool, none in a transaction
        pool: asyncpg.Pool = app.state.db_pool
        assert pool.get_idle_size() == pool.get_size()
        assert await _held_connections(db, marker) == []

        started = time.perf_counter()
        ready = await bad_client.get("/health/ready")
        listing = await bad_client.get("/v1/communities")
        elapsed = time.perf_counter() - started
        assert ready.status_code == 200, ready.text
        assert listing.status_code == 200, listing.text
        assert elapsed < 1.0

    # the lifespan closed the pool: a clean shutdown, nothing of this app is left on the server
    left = -1
    for _ in range(100):
        left = await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", marker)
        if not left:
            break
        await asyncio.sleep(0.05)
    assert left == 0
    loop.set_exception_handler(previous_handler)
    assert loop_errors == []  # no dependency left half-open ("asynchronous generator is already running")


def test_public_routes_document_401_for_a_bad_token(client: AsyncTestClient) -> None:
    spec = client.app.openapi_schema.to_schema()
    for path in ("/v1/communities", "/v1/communities/{community_id}", "/v1/posts/{post_id}"):
        assert "401" in spec["paths"][path]["get"]["responses"], path
