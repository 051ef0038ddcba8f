"""Feedback catalogue and its managers: bilingual services, municipal staff, Open311 application keys."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from typing import Any

import asyncpg

from feedback import queries
from feedback.errors import (
    REASON_BOTH_LANGUAGES,
    REASON_NO_ACCOUNT,
    ServiceExists,
)
from feedback.models import (
    ApiKeyCreated,
    ApiKeyIn,
    MunicipalStaffIn,
    Open311Service,
    ServiceIn,
    ServiceOut,
    ServicePatch,
    ServiceTexts,
    StaffMember,
)
from hub.auth import CurrentUser
from hub.errors import Forbidden, InvalidField, NotFound
from territory import service as municipalities

logger = logging.getLogger("feedback")

API_KEY_PREFIX = "hubf_"


def names(fr: str, de: str) -> ServiceTexts:
    return ServiceTexts(fr=fr, de=de)


def service_out(row: queries.ServiceRow) -> ServiceOut:
    return ServiceOut(
        code=row.code,
        municipality_code=row.municipality_code,
        name=names(row.name_fr, row.name_de),
        description=names(row.description_fr, row.description_de),
        group=names(row.group_fr, row.group_de),
        keywords=row.keywords,
        audience=row.audience,
        position=row.position,
        active=row.active,
    )


def in_language(locale: str, fr: str, de: str) -> str:
    return de if locale == "de" else fr


async def require_staff(conn: asyncpg.Connection, user: CurrentUser, municipality_code: str) -> None:
    """Staff of a municipality (or a hub admin) go on; anyone else gets 404."""
    if not (user.is_admin or await queries.is_staff(conn, user.id, municipality_code)):
        raise NotFound()


# -- catalogue -------------------------------------------------------------------------------------------------


async def open311_services(
    conn: asyncpg.Connection, locale: str, municipality_code: str | None
) -> list[Open311Service]:
    return [
        Open311Service(
            service_code=s.code,
            service_name=in_language(locale, s.name_fr, s.name_de),
            description=in_language(locale, s.description_fr, s.description_de),
            metadata=False,
            type="realtime",
            keywords=",".join(s.keywords),
            group=in_language(locale, s.group_fr, s.group_de),
        )
        for s in await queries.services(conn, municipality_code)
    ]


async def catalogue(
    conn: asyncpg.Connection, user: CurrentUser, municipality_code: str | None
) -> list[ServiceOut]:
    """The catalogue as its managers see it (inactive services included)."""
    if municipality_code is not None:
        await require_staff(conn, user, municipality_code)
    elif not user.is_admin:
        raise Forbidden()
    return [service_out(s) for s in await queries.services(conn, municipality_code, everything=True)]


async def create_service(conn: asyncpg.Connection, user: CurrentUser, data: ServiceIn) -> ServiceOut:
    """A region-wide service (hub administrators) or a municipality's own (its staff too)."""
    if data.municipality_code is None:
        if not user.is_admin:
            raise Forbidden()
    else:
        await require_staff(conn, user, data.municipality_code)
    values: dict[str, Any] = {
        "code": data.code,
        "municipality_code": data.municipality_code,
        "name_fr": data.name.fr.strip(),
        "name_de": data.name.de.strip(),
        "description_fr": data.description.fr.strip(),
        "description_de": data.description.de.strip(),
        "group_fr": data.group.fr.strip(),
        "group_de": data.group.de.strip(),
        "keywords": sorted(set(data.keywords)),
        "audience": data.audience,
        "position": data.position,
    }
    if not all(v for k, v in values.items() if k.endswith(("_fr", "_de"))):
        raise InvalidField("name", REASON_BOTH_LANGUAGES)
    if not await queries.insert_service(conn, values):
        raise ServiceExists()
    row = await queries.service(conn, data.code)
    assert row is not None
    return service_out(row)


async def update_service(
    conn: asyncpg.Connection, user: CurrentUser, code: str, data: ServicePatch
) -> ServiceOut:
    row = await queries.service(conn, code)
    if row is None:
        raise NotFound()
    if row.municipality_code is None:
        if not user.is_admin:
            raise NotFound()
    else:
        await require_staff(conn, user, row.municipality_code)
    changes: dict[str, Any] = {}
    for field in ("name", "description", "group"):
        text = getattr(data, field)
        if text is not None:
            changes[f"{field}_fr"], changes[f"{field}_de"] = text.fr.strip(), text.de.strip()
    if data.keywords is not None:
        changes["keywords"] = sorted(set(data.keywords))
    if data.position is not None:
        changes["position"] = data.position
    if data.active is not None:
        changes["active"] = data.active
    await queries.update_service(conn, code, changes)
    updated = await queries.service(conn, code)
    assert updated is not None
    return service_out(updated)


# -- staff and keys ------------------------------------------------------------------------------------------


async def grant_staff(
    conn: asyncpg.Connection, user: CurrentUser, data: MunicipalStaffIn
) -> list[StaffMember]:
    """A hub administrator makes someone staff of a municipality for feedback."""
    if not user.is_admin:
        raise Forbidden()
    await municipalities.check_known(conn, [data.municipality_code], field="municipality_code")
    person = await queries.user_by_email(conn, data.email.strip())
    if person is None:
        raise InvalidField("email", REASON_NO_ACCOUNT)
    await queries.grant_staff(conn, data.municipality_code, person.id, user.id)
    logger.info("feedback staff granted for %s", data.municipality_code)
    return await list_staff(conn, user, data.municipality_code)


async def revoke_staff(
    conn: asyncpg.Connection, user: CurrentUser, municipality_code: str, user_id: uuid.UUID
) -> None:
    if not user.is_admin:
        raise Forbidden()
    if not await queries.revoke_staff(conn, municipality_code, user_id):
        raise NotFound()


async def list_staff(
    conn: asyncpg.Connection, user: CurrentUser, municipality_code: str
) -> list[StaffMember]:
    await require_staff(conn, user, municipality_code)
    return [
        StaffMember(
            user_id=r.user_id,
            display_name=r.display_name,
            municipality_code=r.municipality_code,
            granted_at=r.granted_at,
        )
        for r in await queries.staff_of(conn, municipality_code)
    ]


def hash_key(secret: str) -> bytes:
    """How application keys are kept (they are long random secrets: one SHA-256 is enough)."""
    return hashlib.sha256(secret.encode()).digest()


async def create_api_key(conn: asyncpg.Connection, user: CurrentUser, data: ApiKeyIn) -> ApiKeyCreated:
    """A key for a partner's Open311 application, shown once and kept hashed."""
    if not user.is_admin:
        raise Forbidden()
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = await queries.insert_api_key(conn, data.name.strip(), hash_key(secret), user.id)
    return ApiKeyCreated(id=key_id, name=data.name.strip(), api_key=secret)
