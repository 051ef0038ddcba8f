"""Followed places: read and replace them, and find the people a place concerns (home or followed)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from accounts.places import queries
from accounts.places.models import MAX_PLACES, Places, PlacesIn
from hub.domain import UserData
from hub.errors import InvalidField
from i18n import N_
from territory import service as municipalities

REASON_TOO_MANY_PLACES = N_("you can follow at most {max} places besides your home.")


async def get_places(conn: asyncpg.Connection, user_id: uuid.UUID) -> Places:
    return Places(municipality_codes=await queries.places_of(conn, user_id))


async def put_places(conn: asyncpg.Connection, user_id: uuid.UUID, data: PlacesIn) -> Places:
    """Replace the followed places: up to MAX_PLACES known municipalities of either country."""
    codes = list(dict.fromkeys(data.municipality_codes))
    if len(codes) > MAX_PLACES:
        raise InvalidField("municipality_codes", REASON_TOO_MANY_PLACES, max=MAX_PLACES)
    await municipalities.check_known(conn, codes)
    await queries.replace_places(conn, user_id, codes)
    return Places(municipality_codes=codes)


async def people_in_municipalities(conn: asyncpg.Connection, codes: list[str]) -> list[uuid.UUID]:
    """The audience "people whose home or followed places lie in these municipalities", each once.

    Official warnings, sensor alerts and feedback updates use it to reach residents and followers alike.
    """
    if not codes:
        return []
    return await queries.people_in(conn, list(dict.fromkeys(codes)))


async def hub_administrators(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Hub administrators (exercises and tests of public alerting reach them, not the public)."""
    return await queries.administrators(conn)


async def export_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    return [dict(r) for r in await queries.places_rows(conn, user_id)]


async def erase_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await queries.delete_places(conn, user_id)


USER_DATA = UserData("places", export_user, erase_user)
