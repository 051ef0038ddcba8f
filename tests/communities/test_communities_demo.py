"""Demo data: realistic cross-border communities, loaded once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from communities import demo
from tests.conftest import Servers


@pytest.fixture
async def conn(servers: Servers) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction rolled back after the test, on a database without communities."""
    connection = await asyncpg.connect(servers.database_url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute("DELETE FROM communities")
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()


async def test_demo_seeds_bilingual_communities_once_with_a_german_only_post(
    conn: asyncpg.Connection,
) -> None:
    await demo.seed(conn)
    await demo.seed(conn)
    assert await conn.fetchval("SELECT count(*) FROM communities") == 3
    admin = await conn.fetchval("SELECT id FROM users WHERE email = $1", demo.DEMO_EMAIL)
    roles = await conn.fetch("SELECT role FROM memberships WHERE user_id = $1", admin)
    assert {r["role"] for r in roles} == {"admin"}
    german_only = await conn.fetchval(
        "SELECT count(*) FROM posts WHERE title_fr IS NULL AND title_de IS NOT NULL"
    )
    assert german_only >= 1
    published = await conn.fetchval("SELECT count(*) FROM posts WHERE published_at IS NOT NULL")
    notified = await conn.fetchval(
        "SELECT count(*) FROM notifications n JOIN posts p ON p.id = n.source_id WHERE n.kind = 'post'"
    )
    assert published == notified == 5
