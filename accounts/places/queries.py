"""SQL of followed places; every function takes the connection first."""

from __future__ import annotations

import uuid

import asyncpg


async def places_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[str]:
    rows = await conn.fetch(
        "SELECT municipality_code FROM user_places WHERE user_id = $1 ORDER BY position", user_id
    )
    return [r["municipality_code"] for r in rows]


async def replace_places(conn: asyncpg.Connection, user_id: uuid.UUID, codes: list[str]) -> None:
    await conn.execute("DELETE FROM user_places WHERE user_id = $1", user_id)
    await conn.execute(
        """
        INSERT INTO user_places (user_id, municipality_code, position)
        SELECT $1, code, ord FROM unnest($2::text[]) WITH ORDINALITY AS t(code, ord)
        """,
        user_id,
        codes,
    )


async def people_in(conn: asyncpg.Connection, codes: list[str]) -> list[uuid.UUID]:
    """People whose home municipality or one of whose followed places is in ``codes``, each once."""
    rows = await conn.fetch(
        """
        SELECT id AS user_id FROM users WHERE municipality_code = ANY ($1::text[])
        UNION
        SELECT user_id FROM user_places WHERE municipality_code = ANY ($1::text[])
        ORDER BY 1
        """,
        codes,
    )
    return [r["user_id"] for r in rows]


async def places_rows(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT municipality_code, added_at FROM user_places WHERE user_id = $1 ORDER BY position", user_id
    )


async def delete_places(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM user_places WHERE user_id = $1", user_id)


async def administrators(conn: asyncpg.Connection) -> list[uuid.UUID]:
    rows = await conn.fetch("SELECT id FROM users WHERE is_admin ORDER BY id")
    return [r["id"] for r in rows]
