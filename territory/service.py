"""Municipality use cases, called by other domains (they never read the table themselves)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from hub.pagination import decode_cursor, encode_cursor
from i18n.content import fold
from territory import queries
from territory.errors import UnknownMunicipalities
from territory.importers import read_file
from territory.loader import load_pilot_region, upsert
from territory.models import Municipality, MunicipalityPage

__all__ = [
    "all_municipalities",
    "by_codes",
    "check_known",
    "country_of",
    "load_file",
    "load_pilot_region",
    "search",
    "time_zone_of",
    "unknown_codes",
    "zone_of_country",
]

#: the zone of each country's municipalities; a person without a municipality is shown French time
ZONES = {"FR": "Europe/Paris", "DE": "Europe/Berlin"}
DEFAULT_ZONE = "Europe/Paris"

#: positions are public codes, so a fixed key is enough: the signature only rejects tampering
_CURSOR_KEY = "municipalities"


async def country_of(conn: asyncpg.Connection, code: str) -> str | None:
    """'FR' or 'DE' for a known municipality code, else None."""
    return await queries.country_of(conn, code)


def zone_of_country(country: str | None) -> str:
    """The time zone of a country's municipalities ('FR' or 'DE'); the default zone for None."""
    return ZONES.get(country or "", DEFAULT_ZONE)


async def time_zone_of(conn: asyncpg.Connection, code: str | None, field: str = "municipality_code") -> str:
    """The time zone of a person or a place by municipality code: the one rule the hub uses.

    No code gives the default zone; an unknown code is refused naming ``field``.
    """
    if code is None:
        return DEFAULT_ZONE
    country = await queries.country_of(conn, code)
    if country is None:
        raise UnknownMunicipalities([code], field)
    return zone_of_country(country)


async def check_known(conn: asyncpg.Connection, codes: list[str], field: str = "municipality_codes") -> None:
    """Refuse codes that name no known municipality, naming them and ``field``."""
    unknown = await unknown_codes(conn, codes)
    if unknown:
        raise UnknownMunicipalities(unknown, field)


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
