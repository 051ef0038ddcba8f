"""SQL of municipalities; every function takes the connection first."""

from __future__ import annotations

import asyncpg

from territory.models import Municipality, Names

_COLUMNS = (
    "code, country, name_fr, name_de, name_fr_is_official_fallback, name_de_is_official_fallback, "
    "postal_code, lat, lon, grouping"
)


def _municipality(row: asyncpg.Record) -> Municipality:
    fallback = [lang for lang in ("fr", "de") if row[f"name_{lang}_is_official_fallback"]]
    return Municipality(
        code=row["code"],
        country=row["country"],
        name=Names(fr=row["name_fr"], de=row["name_de"]),
        name_fallback=fallback,
        postal_code=row["postal_code"],
        lat=row["lat"],
        lon=row["lon"],
        grouping=row["grouping"],
    )


async def country_of(conn: asyncpg.Connection, code: str) -> str | None:
    return await conn.fetchval("SELECT country FROM municipalities WHERE code = $1", code)  # type: ignore[no-any-return]


async def search(
    conn: asyncpg.Connection,
    *,
    country: str | None,
    folded_query: str | None,
    after_code: str | None,
    limit: int,
) -> list[Municipality]:
    """Municipalities ordered by code (keyset pagination), filtered by country and folded name."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM municipalities
        WHERE ($1::text IS NULL OR country = $1)
          AND ($2::text IS NULL OR search_key LIKE '%' || $2 || '%')
          AND ($3::text IS NULL OR code > $3)
        ORDER BY code
        LIMIT $4
        """,
        country,
        folded_query,
        after_code,
        limit,
    )
    return [_municipality(r) for r in rows]


async def by_codes(conn: asyncpg.Connection, codes: list[str]) -> list[Municipality]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM municipalities WHERE code = ANY($1::text[]) ORDER BY code", codes
    )
    return [_municipality(r) for r in rows]


async def all_municipalities(conn: asyncpg.Connection) -> list[Municipality]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM municipalities ORDER BY code")
    return [_municipality(r) for r in rows]
