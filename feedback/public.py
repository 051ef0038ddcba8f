"""What anyone may see of feedback: released reports as Open311, GeoJSON and the public list, released photos."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from feedback import queries
from feedback.catalogue import in_language, names
from feedback.models import (
    Feature,
    FeatureCollection,
    FeatureProperties,
    Open311Request,
    PointGeometry,
    PublicList,
)
from feedback.service import emergency_text, may_manage, photo_url
from hub.auth import CurrentUser
from hub.errors import NotFound
from i18n.content import Bilingual, pick
from territory import service as municipalities

# -- public views ----------------------------------------------------------------------------------------------


async def photo(conn: asyncpg.Connection, user: CurrentUser | None, name: str) -> bytes:
    """A released photo of a public report for anyone; others only for the reporter and the staff."""
    ident, _, extension = name.rpartition(".")
    try:
        photo_id = uuid.UUID(ident)
    except ValueError:
        raise NotFound() from None
    if extension != "jpg":
        raise NotFound()
    found = await queries.photo(conn, photo_id)
    if found is None:
        raise NotFound()
    info, content = found
    row = await queries.request(conn, info.request_id)
    if row is None:
        raise NotFound()
    public = (
        info.released_at is not None
        and row.released_at is not None
        and row.hidden_at is None
        and row.audience == "municipality"
    )
    if public:
        return content
    if user is None:
        raise NotFound()
    if row.reporter_id == user.id or await may_manage(conn, user, row):
        return content
    raise NotFound()


async def _public_photos(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    result: dict[uuid.UUID, list[str]] = {}
    for p in await queries.photos_of(conn, ids):
        if p.released_at is not None:
            result.setdefault(p.request_id, []).append(photo_url(p.id))
    return result


def _latest_note(updates: list[queries.UpdateRow], locale: str) -> str | None:
    for u in reversed(updates):
        if u.note_fr or u.note_de:
            return pick(Bilingual(fr=u.note_fr, de=u.note_de), locale).text
    return None


async def open311_requests(
    conn: asyncpg.Connection, locale: str, public_url: str, **filters: Any
) -> list[Open311Request]:
    rows = await queries.public_requests(conn, **filters)
    ids = [r.id for r in rows]
    notes: dict[uuid.UUID, list[queries.UpdateRow]] = {}
    for u in await queries.updates_of(conn, ids):
        notes.setdefault(u.request_id, []).append(u)
    pictures = await _public_photos(conn, ids)
    services = await queries.services_by_codes(conn, {r.service_code for r in rows})
    agencies = {
        m.code: m for m in await municipalities.by_codes(conn, sorted({r.municipality_code for r in rows}))
    }
    result = []
    for r in rows:
        svc = services[r.service_code]
        town = agencies[r.municipality_code]
        urls = pictures.get(r.id, [])
        result.append(
            Open311Request(
                service_request_id=str(r.id),
                status="closed" if r.status == "closed" else "open",
                status_notes=_latest_note(notes.get(r.id, []), locale),
                service_name=in_language(locale, svc.name_fr, svc.name_de),
                service_code=r.service_code,
                description=r.description,
                agency_responsible=in_language(locale, town.name.fr, town.name.de),
                service_notice=None,
                requested_datetime=r.requested_at,
                updated_datetime=r.updated_at,
                expected_datetime=None,
                address=r.address_string,
                address_id=None,
                zipcode=r.zipcode,
                lat=r.lat,
                long=r.lon,
                media_url=f"{public_url.rstrip('/')}{urls[0]}" if urls else None,
                detailed_status=r.status,
                resolution=r.resolution,
                municipality_code=r.municipality_code,
            )
        )
    return result


async def open311_request(
    conn: asyncpg.Connection, locale: str, public_url: str, request_id: uuid.UUID
) -> list[Open311Request]:
    found = await open311_requests(conn, locale, public_url, ids=[request_id], limit=1)
    if not found:
        raise NotFound()
    return found


async def open_data(conn: asyncpg.Connection, municipality_code: str | None) -> FeatureCollection:
    """Released reports as GeoJSON (RFC 7946: longitude first), without their reporters."""
    rows = await queries.public_requests(conn, municipality_code=municipality_code, limit=5000)
    pictures = await _public_photos(conn, [r.id for r in rows])
    services = await queries.services_by_codes(conn, {r.service_code for r in rows})
    features = []
    for r in rows:
        svc = services[r.service_code]
        features.append(
            Feature(
                geometry=PointGeometry(coordinates=(r.lon, r.lat)),
                properties=FeatureProperties(
                    id=str(r.id),
                    service_code=r.service_code,
                    service_name=names(svc.name_fr, svc.name_de),
                    municipality_code=r.municipality_code,
                    status=r.status,
                    resolution=r.resolution,
                    description=r.description,
                    requested_at=r.requested_at,
                    updated_at=r.updated_at,
                    photo_urls=pictures.get(r.id, []),
                ),
            )
        )
    return FeatureCollection(features=features)


async def public_page(
    conn: asyncpg.Connection, locale: str, public_url: str, municipality_code: str
) -> PublicList:
    """What the public list of a municipality shows: its released reports, in the reader's language."""
    found = await municipalities.by_codes(conn, [municipality_code])
    if not found:
        raise NotFound()
    town = found[0]
    items = await open311_requests(conn, locale, public_url, municipality_code=municipality_code, limit=500)
    country = "DE" if town.country == "DE" else "FR"
    return PublicList(
        code=town.code,
        name=in_language(locale, town.name.fr, town.name.de),
        emergency=emergency_text(locale, country).text,
        items=items,
    )
