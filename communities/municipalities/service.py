"""Municipality use cases, called by other domains (they never read the table themselves)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from communities.municipalities import queries
from communities.municipalities.importers import read_file
from communities.municipalities.loader import load_pilot_region, upsert
from communities.municipalities.models import Municipality, MunicipalityPage
from hub.pagination import decode_cursor, encode_cursor
from i18n.content import fold

__all__ = [
    "all_municipalities",
    "by_codes",
    "country_of",
    "load_file",
    "load_pilot_region",
    "search",
    "unknown_codes",
]

#: positions are public codes, so a fixed key is enough: the signature only rejects tampering
_CURSOR_KEY = "municipalities"


async def country_of(conn: asyncpg.Connection, code: str) -> str | None:
    """'FR' or 'DE' for a known municipality code, else None."""
    return await queries.country_of(conn, code)


async def unknown_codes(conn: asyncpg.Connection, codes: list[str]) -> list[str]:
    """The codes in ``codes`` that name no known municipality, in the order given."""
    known = {m.code for m in await queries.by_codes(conn, codes)}
    return [c for c in codes if c not in known]


async def by_codes(conn: asyncpg.Connection, codes: list[str]) -> list[Municipality]:
    return await queries.by_codes(conn, codes)


async def all_municipalities(conn: asyncpg.Connection) -> list[Municipality]:
    """Every known municipality of both countries (a few thousand at most), ordered by code."""
    return await queries.all_municipalities(conn)


async def search(
    conn: asyncpg.Connection, *, country: str | None, q: str | None, limit: int, cursor: str | None
) -> MunicipalityPage:
    after = decode_cursor(_CURSOR_KEY, cursor, str) if cursor else None
    folded = fold(q) if q else None
    items = await queries.search(
        conn, country=country, folded_query=folded or None, after_code=after, limit=limit + 1
    )
    next_cursor = encode_cursor(_CURSOR_KEY, items[limit - 1].code) if len(items) > limit else None
    return MunicipalityPage(items=items[:limit], next_cursor=next_cursor)


async def load_file(conn: asyncpg.Connection, path: Path) -> int:
    """Import an INSEE COG communes list, a Destatis GV-ISys list or a pilot-region file; the count.

    The whole file is checked before anything is written (a bad one raises ``MunicipalityFileError``
    naming its line); verified names of either language are kept when the list only knows the official
    one. The caller's transaction makes the import all or nothing.
    """
    return await upsert(conn, read_file(path))
