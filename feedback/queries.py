"""All SQL of citizen feedback: catalogue, staff, keys, reports, their history, photos, followers, abuse."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import msgspec

from feedback.models import Resolution, Routing, Status
from hub.db import update_set

T = TypeVar("T", bound=msgspec.Struct)


def _one(cls: type[T], record: asyncpg.Record | None) -> T | None:
    return None if record is None else cls(**dict(record))


def _all(cls: type[T], records: list[asyncpg.Record]) -> list[T]:
    return [cls(**dict(r)) for r in records]


async def _insert(conn: asyncpg.Connection, table: str, values: dict[str, Any], returning: str) -> Any:
    """``INSERT`` of the given columns (names from code, values as parameters), returning one column."""
    columns = ", ".join(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    return await conn.fetchval(
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING RETURNING {returning}",
        *values.values(),
    )


# -- rows ------------------------------------------------------------------------------------------------------


class ServiceRow(msgspec.Struct, frozen=True):
    code: str
    municipality_code: str | None
    name_fr: str
    name_de: str
    description_fr: str
    description_de: str
    group_fr: str
    group_de: str
    keywords: list[str]
    audience: str
    position: int
    active: bool


class UserRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    display_name: str
    locale: str


class StaffRow(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    display_name: str
    municipality_code: str
    granted_at: datetime


class RequestRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    service_code: str
    municipality_code: str
    routing: Routing
    reporter_id: uuid.UUID | None
    locale: str
    description: str
    lat: float
    lon: float
    address_string: str | None
    status: Status
    resolution: Resolution | None
    duplicate_of: uuid.UUID | None
    forwarded_to: str | None
    review_requested: bool
    satisfied: bool | None
    released_at: datetime | None
    hidden_at: datetime | None
    requested_at: datetime
    updated_at: datetime
    audience: str
    zipcode: str | None


class UpdateRow(msgspec.Struct, frozen=True):
    request_id: uuid.UUID
    kind: str
    status: Status
    resolution: Resolution | None
    note_fr: str | None
    note_de: str | None
    from_municipality: str | None
    to_municipality: str | None
    created_at: datetime


class PhotoRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    request_id: uuid.UUID
    position: int
    released_at: datetime | None


class NearbyRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    service_code: str
    status: Status
    distance_m: float
    requested_at: datetime
    description: str | None
    followers: int


class CentroidRow(msgspec.Struct, frozen=True):
    code: str
    country: str
    lat: float
    lon: float


# -- catalogue -----------------------------------------------------------------------------------------------

_SERVICE = """
    SELECT code, municipality_code, name_fr, name_de, description_fr, description_de, group_fr, group_de,
           keywords, audience, position, active
    FROM feedback_services
"""


async def services(
    conn: asyncpg.Connection, municipality_code: str | None, *, everything: bool = False
) -> list[ServiceRow]:
    """Region-wide services plus a municipality's own (active ones unless ``everything``)."""
    records = await conn.fetch(
        f"""{_SERVICE}
        WHERE (municipality_code IS NULL OR municipality_code = $1) AND (active OR $2)
        ORDER BY position, code
        """,
        municipality_code,
        everything,
    )
    return _all(ServiceRow, records)


async def services_by_codes(conn: asyncpg.Connection, codes: set[str]) -> dict[str, ServiceRow]:
    records = await conn.fetch(f"{_SERVICE} WHERE code = ANY($1)", list(codes))
    return {r["code"]: ServiceRow(**dict(r)) for r in records}


async def service(conn: asyncpg.Connection, code: str) -> ServiceRow | None:
    return _one(ServiceRow, await conn.fetchrow(f"{_SERVICE} WHERE code = $1", code))


async def insert_service(conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
    """False when the code is taken."""
    return await _insert(conn, "feedback_services", values, "code") is not None


_SERVICE_COLUMNS = frozenset(
    {
        "name_fr",
        "name_de",
        "description_fr",
        "description_de",
        "group_fr",
        "group_de",
        "keywords",
        "position",
        "active",
    }
)


async def update_service(conn: asyncpg.Connection, code: str, changes: dict[str, Any]) -> None:
    if changes:
        sql, values = update_set("feedback_services", _SERVICE_COLUMNS, changes, key="code")
        await conn.execute(sql, code, *values)


# -- staff and keys ------------------------------------------------------------------------------------------


async def user_by_email(conn: asyncpg.Connection, email: str) -> UserRow | None:
    """The account that proved an address; an address nobody proved matches no account."""
    record = await conn.fetchrow(
        "SELECT id, display_name, locale FROM users WHERE lower(email) = lower($1) AND email_verified_at IS NOT NULL",
        email,
    )
    return _one(UserRow, record)


async def is_staff(conn: asyncpg.Connection, user_id: uuid.UUID, municipality_code: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM feedback_staff WHERE user_id = $1 AND municipality_code = $2)",
            user_id,
            municipality_code,
        )
    )


async def staff_municipalities(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[str]:
    records = await conn.fetch(
        "SELECT municipality_code FROM feedback_staff WHERE user_id = $1 ORDER BY municipality_code", user_id
    )
    return [r["municipality_code"] for r in records]


async def grant_staff(
    conn: asyncpg.Connection, municipality_code: str, user_id: uuid.UUID, granted_by: uuid.UUID
) -> None:
    await conn.execute(
        """
        INSERT INTO feedback_staff (municipality_code, user_id, granted_by) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING
        """,
        municipality_code,
        user_id,
        granted_by,
    )


async def revoke_staff(conn: asyncpg.Connection, municipality_code: str, user_id: uuid.UUID) -> bool:
    result = await conn.execute(
        "DELETE FROM feedback_staff WHERE municipality_code = $1 AND user_id = $2", municipality_code, user_id
    )
    return bool(result != "DELETE 0")


async def staff_of(conn: asyncpg.Connection, municipality_code: str) -> list[StaffRow]:
    records = await conn.fetch(
        """
        SELECT s.user_id, u.display_name, s.municipality_code, s.granted_at
        FROM feedback_staff s JOIN users u ON u.id = s.user_id
        WHERE s.municipality_code = $1 ORDER BY u.display_name, s.user_id
        """,
        municipality_code,
    )
    return _all(StaffRow, records)


async def insert_api_key(
    conn: asyncpg.Connection, name: str, key_hash: bytes, created_by: uuid.UUID
) -> uuid.UUID:
    key_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO feedback_api_keys (name, key_hash, created_by) VALUES ($1, $2, $3) RETURNING id",
        name,
        key_hash,
        created_by,
    )
    return key_id


async def api_key_id(conn: asyncpg.Connection, key_hash: bytes) -> uuid.UUID | None:
    key_id: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM feedback_api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash
    )
    return key_id


# -- territory -----------------------------------------------------------------------------------------------


async def centroids(conn: asyncpg.Connection) -> list[CentroidRow]:
    records = await conn.fetch(
        "SELECT code, country, lat, lon FROM municipalities WHERE lat IS NOT NULL AND lon IS NOT NULL"
    )
    return _all(CentroidRow, records)


# -- reports -------------------------------------------------------------------------------------------------

_REQUEST = """
    SELECT r.id, r.service_code, r.municipality_code, r.routing, r.reporter_id, r.locale, r.description,
           r.lat, r.lon, r.address_string, r.status, r.resolution, r.duplicate_of, r.forwarded_to,
           r.review_requested, r.satisfied, r.released_at, r.hidden_at, r.requested_at, r.updated_at,
           s.audience, m.postal_code AS zipcode
    FROM feedback_requests r
    JOIN feedback_services s ON s.code = r.service_code
    JOIN municipalities m ON m.code = r.municipality_code
"""


async def insert_request(conn: asyncpg.Connection, values: dict[str, Any]) -> uuid.UUID:
    request_id: uuid.UUID = await _insert(conn, "feedback_requests", values, "id")
    return request_id


async def request(
    conn: asyncpg.Connection, request_id: uuid.UUID, *, lock: bool = False
) -> RequestRow | None:
    suffix = " FOR UPDATE OF r" if lock else ""
    return _one(RequestRow, await conn.fetchrow(f"{_REQUEST} WHERE r.id = $1{suffix}", request_id))


async def public_requests(
    conn: asyncpg.Connection,
    *,
    ids: list[uuid.UUID] | None = None,
    service_codes: list[str] | None = None,
    statuses: list[str] | None = None,
    municipality_code: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 1000,
) -> list[RequestRow]:
    """Released, not hidden reports (never those for care providers), newest first."""
    south = west = north = east = None
    if bbox is not None:
        west, south, east, north = bbox
    records = await conn.fetch(
        f"""{_REQUEST}
        WHERE r.released_at IS NOT NULL AND r.hidden_at IS NULL AND s.audience = 'municipality'
          AND ($1::uuid[] IS NULL OR r.id = ANY($1))
          AND ($2::text[] IS NULL OR r.service_code = ANY($2))
          AND ($3::text[] IS NULL OR (CASE WHEN r.status = 'closed' THEN 'closed' ELSE 'open' END) = ANY($3))
          AND ($4::text IS NULL OR r.municipality_code = $4)
          AND ($5::timestamptz IS NULL OR r.requested_at >= $5)
          AND ($6::timestamptz IS NULL OR r.requested_at <= $6)
          AND ($7::float8 IS NULL OR (r.lat BETWEEN $7 AND $9 AND r.lon BETWEEN $8 AND $10))
        ORDER BY r.requested_at DESC, r.id
        LIMIT $11
        """,
        ids,
        service_codes,
        statuses,
        municipality_code,
        start,
        end,
        south,
        west,
        north,
        east,
        limit,
    )
    return _all(RequestRow, records)


async def requests_of_reporter(
    conn: asyncpg.Connection, user_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[RequestRow]:
    """Reports a person made or follows, newest first."""
    records = await conn.fetch(
        f"""{_REQUEST}
        WHERE (r.reporter_id = $1
               OR EXISTS (SELECT 1 FROM feedback_followers f WHERE f.request_id = r.id AND f.user_id = $1))
          AND ($2::timestamptz IS NULL OR (r.requested_at, r.id) < ($2, $3))
        ORDER BY r.requested_at DESC, r.id DESC
        LIMIT $4
        """,
        user_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return _all(RequestRow, records)


async def requests_for_staff(
    conn: asyncpg.Connection,
    municipality_code: str,
    audience: str,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[RequestRow]:
    records = await conn.fetch(
        f"""{_REQUEST}
        WHERE r.municipality_code = $1 AND s.audience = $2
          AND ($3::timestamptz IS NULL OR (r.requested_at, r.id) < ($3, $4))
        ORDER BY r.requested_at DESC, r.id DESC
        LIMIT $5
        """,
        municipality_code,
        audience,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return _all(RequestRow, records)


async def nearby_open(
    conn: asyncpg.Connection, service_code: str, lat: float, lon: float, radius_m: float, limit: int = 10
) -> list[NearbyRow]:
    """Open reports of a service within ``radius_m`` (haversine), nearest first; the text only if released.
    Reports about a person in difficulty are never offered."""
    records = await conn.fetch(
        """
        WITH candidates AS (
            SELECT r.id, r.service_code, r.status, r.requested_at,
                   CASE WHEN r.released_at IS NOT NULL AND r.hidden_at IS NULL THEN r.description END
                       AS description,
                   2 * 6371008.8 * asin(sqrt(
                       power(sin(radians(r.lat - $2) / 2), 2)
                       + cos(radians($2)) * cos(radians(r.lat)) * power(sin(radians(r.lon - $3) / 2), 2)
                   )) AS distance_m
            FROM feedback_requests r JOIN feedback_services s ON s.code = r.service_code
            WHERE r.service_code = $1 AND r.status <> 'closed' AND s.audience = 'municipality'
              AND r.lat BETWEEN $2 - $4 / 111000.0 AND $2 + $4 / 111000.0
              AND r.lon BETWEEN $3 - $4 / (111000.0 * cos(radians($2))) AND $3 + $4 / (111000.0 * cos(radians($2)))
        )
        SELECT c.*, (SELECT count(*) FROM feedback_followers f WHERE f.request_id = c.id)::int AS followers
        FROM candidates c WHERE c.distance_m <= $4
        ORDER BY c.distance_m, c.id
        LIMIT $5
        """,
        service_code,
        lat,
        lon,
        radius_m,
        limit,
    )
    return _all(NearbyRow, records)


async def set_status(
    conn: asyncpg.Connection,
    request_id: uuid.UUID,
    *,
    status: str,
    resolution: str | None,
    duplicate_of: uuid.UUID | None,
    forwarded_to: str | None,
    review_requested: bool,
    satisfied: bool | None,
) -> None:
    await conn.execute(
        """
        UPDATE feedback_requests
        SET status = $2, resolution = $3, duplicate_of = $4, forwarded_to = $5, review_requested = $6,
            satisfied = $7, updated_at = now()
        WHERE id = $1
        """,
        request_id,
        status,
        resolution,
        duplicate_of,
        forwarded_to,
        review_requested,
        satisfied,
    )


async def move_request(conn: asyncpg.Connection, request_id: uuid.UUID, municipality_code: str) -> None:
    await conn.execute(
        """
        UPDATE feedback_requests
        SET municipality_code = $2, status = 'open', resolution = NULL, updated_at = now()
        WHERE id = $1
        """,
        request_id,
        municipality_code,
    )


async def release_request(conn: asyncpg.Connection, request_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
    await conn.execute(
        "UPDATE feedback_requests SET released_at = coalesce(released_at, now()), released_by = $2, "
        "hidden_at = NULL, updated_at = now() WHERE id = $1",
        request_id,
        user_id,
    )


async def hide_request(conn: asyncpg.Connection, request_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE feedback_requests SET hidden_at = coalesce(hidden_at, now()), updated_at = now() WHERE id = $1",
        request_id,
    )


async def insert_update(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    await _insert(conn, "feedback_updates", values, "id")


async def updates_of(conn: asyncpg.Connection, request_ids: list[uuid.UUID]) -> list[UpdateRow]:
    records = await conn.fetch(
        """
        SELECT request_id, kind, status, resolution, note_fr, note_de, from_municipality, to_municipality,
               created_at
        FROM feedback_updates WHERE request_id = ANY($1) ORDER BY request_id, id
        """,
        request_ids,
    )
    return _all(UpdateRow, records)


# -- photos --------------------------------------------------------------------------------------------------


async def insert_photo(
    conn: asyncpg.Connection, request_id: uuid.UUID, position: int, content: bytes, width: int, height: int
) -> uuid.UUID:
    photo_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO feedback_photos (request_id, position, content, width, height)
        VALUES ($1, $2, $3, $4, $5) RETURNING id
        """,
        request_id,
        position,
        content,
        width,
        height,
    )
    return photo_id


async def photos_of(conn: asyncpg.Connection, request_ids: list[uuid.UUID]) -> list[PhotoRow]:
    records = await conn.fetch(
        "SELECT id, request_id, position, released_at FROM feedback_photos WHERE request_id = ANY($1) "
        "ORDER BY request_id, position",
        request_ids,
    )
    return _all(PhotoRow, records)


async def photo(conn: asyncpg.Connection, photo_id: uuid.UUID) -> tuple[PhotoRow, bytes] | None:
    record = await conn.fetchrow(
        "SELECT id, request_id, position, released_at, content FROM feedback_photos WHERE id = $1", photo_id
    )
    if record is None:
        return None
    values = dict(record)
    content: bytes = values.pop("content")
    return PhotoRow(**values), content


async def release_photos(
    conn: asyncpg.Connection, request_id: uuid.UUID, photo_ids: list[uuid.UUID], user_id: uuid.UUID
) -> int:
    result = await conn.execute(
        """
        UPDATE feedback_photos SET released_at = coalesce(released_at, now()), released_by = $3
        WHERE request_id = $1 AND id = ANY($2)
        """,
        request_id,
        photo_ids,
        user_id,
    )
    return int(result.split()[-1])


# -- followers and abuse -------------------------------------------------------------------------------------


async def follow(conn: asyncpg.Connection, request_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO feedback_followers (request_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        request_id,
        user_id,
    )


async def unfollow(conn: asyncpg.Connection, request_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await conn.execute(
        "DELETE FROM feedback_followers WHERE request_id = $1 AND user_id = $2", request_id, user_id
    )


async def followers(conn: asyncpg.Connection, request_id: uuid.UUID) -> list[uuid.UUID]:
    records = await conn.fetch(
        "SELECT user_id FROM feedback_followers WHERE request_id = $1 ORDER BY user_id", request_id
    )
    return [r["user_id"] for r in records]


async def followed_by(
    conn: asyncpg.Connection, user_id: uuid.UUID, request_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    records = await conn.fetch(
        "SELECT request_id FROM feedback_followers WHERE user_id = $1 AND request_id = ANY($2)",
        user_id,
        request_ids,
    )
    return {r["request_id"] for r in records}


async def report_abuse(
    conn: asyncpg.Connection, request_id: uuid.UUID, user_id: uuid.UUID, reason: str
) -> int:
    """Records one report per person; returns how many people reported the request."""
    await conn.execute(
        """
        INSERT INTO feedback_abuse_reports (request_id, user_id, reason) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING
        """,
        request_id,
        user_id,
        reason,
    )
    count: int = await conn.fetchval(
        "SELECT count(*) FROM feedback_abuse_reports WHERE request_id = $1", request_id
    )
    return count


# -- GDPR ----------------------------------------------------------------------------------------------------


async def export_rows(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    reports = await conn.fetch(
        """
        SELECT id, service_code, municipality_code, description, lat, lon, address_string, status, resolution,
               satisfied, requested_at, updated_at
        FROM feedback_requests WHERE reporter_id = $1 ORDER BY requested_at
        """,
        user_id,
    )
    follows = await conn.fetch(
        "SELECT request_id, created_at FROM feedback_followers WHERE user_id = $1 ORDER BY created_at",
        user_id,
    )
    abuse = await conn.fetch(
        "SELECT request_id, reason, created_at FROM feedback_abuse_reports WHERE user_id = $1 ORDER BY created_at",
        user_id,
    )
    return {
        "reports": [dict(r) for r in reports],
        "following": [dict(r) for r in follows],
        "abuse_reports": [dict(r) for r in abuse],
    }


async def erase_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Reports stay for the municipality without their author; their photos and unreleased text go with them."""
    await conn.execute(
        "DELETE FROM feedback_photos p USING feedback_requests r WHERE p.request_id = r.id AND r.reporter_id = $1",
        user_id,
    )
    await conn.execute(
        """
        UPDATE feedback_requests SET reporter_id = NULL,
               description = CASE WHEN released_at IS NULL THEN '' ELSE description END,
               address_string = NULL
        WHERE reporter_id = $1
        """,
        user_id,
    )
    await conn.execute("DELETE FROM feedback_followers WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM feedback_abuse_reports WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM feedback_staff WHERE user_id = $1", user_id)
