"""Loading municipalities: the pilot region shipped with the hub, and official lists of both countries."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import asyncpg
import msgspec

from i18n.content import fold

PILOT_REGION_CSV = Path(__file__).parent / "data" / "pilot_region.csv"


class MunicipalityRow(msgspec.Struct, frozen=True):
    """One municipality as imported; an unknown name in one language falls back to the official name."""

    code: str
    country: str
    name_fr: str | None
    name_de: str | None
    postal_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    grouping: str | None = None
    source: str | None = None
    #: a row of the verified pilot-region file; an official list's source only fills an empty one
    verified: bool = False


def _float(value: str | None) -> float | None:
    value = (value or "").strip()
    return float(value) if value else None


def read_pilot_csv(path: Path = PILOT_REGION_CSV) -> list[MunicipalityRow]:
    """Rows of the verified pilot-region file (see data/SOURCES.md)."""
    with path.open(newline="", encoding="utf-8") as f:
        return [
            MunicipalityRow(
                code=row["official_code"].strip(),
                country=row["country"].strip(),
                name_fr=row["name_fr"].strip() or None,
                name_de=row["name_de"].strip() or None,
                postal_code=row["postal_code"].strip() or None,
                lat=_float(row["lat"]),
                lon=_float(row["lon"]),
                grouping=row["grouping"].strip() or None,
                source=row["source"].strip() or None,
                verified=True,
            )
            for row in csv.DictReader(f)
        ]


async def upsert(conn: asyncpg.Connection, rows: Iterable[MunicipalityRow]) -> int:
    """Insert or update municipalities by code; a known name is never replaced by an unknown one."""
    records = []
    for r in rows:
        official = r.name_fr if r.country == "FR" else r.name_de
        official = official or r.name_fr or r.name_de
        if not official:
            continue
        name_fr, name_de = r.name_fr or official, r.name_de or official
        records.append(
            (
                r.code,
                r.country,
                name_fr,
                name_de,
                r.name_fr is None,
                r.name_de is None,
                r.postal_code,
                r.lat,
                r.lon,
                r.grouping,
                r.source,
                fold(f"{name_fr} {name_de}"),
                r.verified,
            )
        )
    await conn.executemany(
        """
        INSERT INTO municipalities (code, country, name_fr, name_de, name_fr_is_official_fallback,
            name_de_is_official_fallback, postal_code, lat, lon, grouping, source, search_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (code) DO UPDATE SET
            country = EXCLUDED.country,
            name_fr = CASE WHEN EXCLUDED.name_fr_is_official_fallback
                                AND NOT municipalities.name_fr_is_official_fallback
                           THEN municipalities.name_fr ELSE EXCLUDED.name_fr END,
            name_de = CASE WHEN EXCLUDED.name_de_is_official_fallback
                                AND NOT municipalities.name_de_is_official_fallback
                           THEN municipalities.name_de ELSE EXCLUDED.name_de END,
            name_fr_is_official_fallback = municipalities.name_fr_is_official_fallback
                                           AND EXCLUDED.name_fr_is_official_fallback,
            name_de_is_official_fallback = municipalities.name_de_is_official_fallback
                                           AND EXCLUDED.name_de_is_official_fallback,
            postal_code = coalesce(EXCLUDED.postal_code, municipalities.postal_code),
            lat = coalesce(EXCLUDED.lat, municipalities.lat),
            lon = coalesce(EXCLUDED.lon, municipalities.lon),
            grouping = coalesce(EXCLUDED.grouping, municipalities.grouping),
            source = CASE WHEN $13::boolean THEN coalesce(EXCLUDED.source, municipalities.source)
                          ELSE coalesce(municipalities.source, EXCLUDED.source) END,
            search_key = EXCLUDED.search_key
        """,
        records,
    )
    # The search key must cover the names that won the merge above, so it is recomputed from them.
    merged = await conn.fetch(
        "SELECT code, name_fr, name_de FROM municipalities WHERE code = ANY($1::text[])",
        [r[0] for r in records],
    )
    await conn.executemany(
        "UPDATE municipalities SET search_key = $2 WHERE code = $1 AND search_key <> $2",
        [(m["code"], fold(f"{m['name_fr']} {m['name_de']}")) for m in merged],
    )
    return len(records)


async def load_pilot_region(conn: asyncpg.Connection) -> int:
    """Load (idempotently) the 58 verified municipalities of the pilot region."""
    return await upsert(conn, read_pilot_csv())
