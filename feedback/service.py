"""Feedback reports: placing and submitting them, access, staff work, followers, the reporter's views."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from care import service as care
from feedback import boundaries, photos, queries
from feedback.catalogue import hash_key, names, require_staff
from feedback.errors import (
    REASON_ADDRESS,
    REASON_DESCRIPTION,
    REASON_DUPLICATE_OF,
    REASON_FORWARDED_TO,
    REASON_NOT_A_CANDIDATE,
    REASON_OUTSIDE_REGION,
    REASON_PHOTO_COUNT,
    REASON_PHOTO_FORMAT,
    REASON_PHOTO_NOT_OF_REPORT,
    REASON_PHOTO_SIZE,
    REASON_RESOLUTION_ONLY_WHEN_CLOSED,
    REASON_RESOLUTION_REQUIRED,
    REASON_SAME_MUNICIPALITY,
    REASON_UNKNOWN_SERVICE,
    ApiKeyRequired,
    ChooseMunicipality,
    InvalidTransition,
    NotClosed,
    StaffOnly,
)
from feedback.models import (
    AbuseIn,
    Candidate,
    FeedbackItem,
    FeedbackPage,
    ForwardIn,
    Nearby,
    Open311Created,
    PhotoInfo,
    Placement,
    ReleaseIn,
    SatisfactionIn,
    StatusIn,
    Update,
)
from hub.auth import CurrentUser
from hub.domain import UserData
from hub.errors import InvalidField, NotFound
from hub.pagination import decode_cursor, encode_cursor
from i18n import N_, translate
from i18n.content import Bilingual, Localized, fold, pick
from messaging import service as messaging
from messaging.models import Audience, Message, Priority
from territory import service as municipalities
from territory.models import Municipality

logger = logging.getLogger("feedback")

DUPLICATE_RADIUS_M = 50.0
MAX_DESCRIPTION = 4000
#: people reporting a released report as abusive before it is hidden until staff look at it again
ABUSE_THRESHOLD = 3
_CURSOR_KEY = "feedback:cursor"

EMERGENCY = {
    "FR": N_(
        "In an emergency do not report here: call 112 (all emergencies), 17 (police) or 18 (fire brigade)."
    ),
    "DE": N_("In an emergency do not report here: call 112 (fire brigade and ambulance) or 110 (police)."),
    None: N_(
        "In an emergency do not report here. In France call 112, 17 (police) or 18 (fire brigade); "
        "in Germany call 112 or 110 (police)."
    ),
}

STATUS_TITLES = {
    "acknowledged": N_("Your report has been received by the municipality"),
    "in_progress": N_("Your report is being dealt with"),
    "closed": N_("Your report has been closed"),
    "forwarded": N_("Your report has been passed on to another municipality"),
    "reopened": N_("Your report is being looked at again"),
}
SATISFACTION_TITLE = N_("Are you satisfied?")
SATISFACTION_BODY = N_("Tell us in the app whether the way your report was handled satisfies you.")
NEW_REPORT_TITLE = N_("New report")
NEW_REPORT_BODY = N_("A new report is waiting in the feedback list of your municipality.")
CARE_REPORT_TITLE = N_("Someone may need help")
CARE_REPORT_BODY = N_(
    "A resident reported a person in difficulty in a municipality you serve. Open the app to see it."
)
REOPENED_NOTE = N_("The reporter is not satisfied; the report is being reviewed again.")


# -- access ----------------------------------------------------------------------------------------------------


async def may_manage(conn: asyncpg.Connection, user: CurrentUser, row: queries.RequestRow) -> bool:
    """Staff of the report's municipality (or, for a person in difficulty, the care providers serving it)."""
    if user.is_admin:
        return True
    if row.audience == "care":
        return user.id in await care.staff_serving(conn, row.municipality_code)
    return await queries.is_staff(conn, user.id, row.municipality_code)


async def access_request(
    conn: asyncpg.Connection,
    user: CurrentUser,
    request_id: uuid.UUID,
    *,
    manage: bool = False,
    lock: bool = False,
) -> queries.RequestRow:
    """A report as its reporter, its followers or the staff handling it reach it; others get 404. With
    ``manage``, only staff may go on (the reporter is told it is for staff only)."""
    row = await queries.request(conn, request_id, lock=lock)
    if row is None:
        raise NotFound()
    if await may_manage(conn, user, row):
        return row
    visible = row.reporter_id == user.id or (
        row.audience == "municipality" and user.id in await queries.followers(conn, request_id)
    )
    if not visible:
        raise NotFound()
    if manage:
        raise StaffOnly()
    return row


# -- placing a report ------------------------------------------------------------------------------------------


async def _centroids(conn: asyncpg.Connection) -> list[boundaries.Centroid]:
    return [
        boundaries.Centroid(code=c.code, country="DE" if c.country == "DE" else "FR", lat=c.lat, lon=c.lon)
        for c in await queries.centroids(conn)
    ]


async def _candidates(conn: asyncpg.Connection, codes: tuple[str, ...]) -> list[Candidate]:
    found = {m.code: m for m in await municipalities.by_codes(conn, list(codes))}
    return [
        Candidate(code=c, country=found[c].country, name=names(found[c].name.fr, found[c].name.de))
        for c in codes
        if c in found
    ]


def emergency_text(locale: str, country: str | None) -> Localized:
    """Which numbers to call in an emergency, for the country a place lies in (both when unknown)."""
    message = EMERGENCY.get(country, EMERGENCY[None])
    return Localized(text=translate(locale, message), lang=locale, fallback=False)


async def place(
    conn: asyncpg.Connection, locale: str, lat: float, lon: float, service_code: str | None
) -> Placement:
    """Where a report at a place would go, and open reports of the same service within about 50 m."""
    routing = boundaries.route(lat, lon, await _centroids(conn))
    candidates = await _candidates(conn, routing.candidates)
    country = candidates[0].country if candidates else None
    nearby: list[Nearby] = []
    if service_code is not None:
        nearby = [
            Nearby(
                id=n.id,
                service_code=n.service_code,
                status=n.status,
                distance_m=round(n.distance_m),
                requested_at=n.requested_at,
                description=n.description,
                followers=n.followers,
            )
            for n in await queries.nearby_open(conn, service_code, lat, lon, DUPLICATE_RADIUS_M)
        ]
    return Placement(
        municipality_code=routing.code,
        routing=routing.method,
        ambiguous=routing.ambiguous,
        candidates=candidates,
        emergency=emergency_text(locale, country),
        nearby=nearby,
    )


async def _route(conn: asyncpg.Connection, lat: float, lon: float, chosen: str | None) -> tuple[str, str]:
    routing = boundaries.route(lat, lon, await _centroids(conn))
    if routing.code is None:
        raise InvalidField("lat", REASON_OUTSIDE_REGION)
    if chosen is not None:
        if chosen not in routing.candidates:
            raise InvalidField("municipality_code", REASON_NOT_A_CANDIDATE)
        return chosen, "chosen"
    if routing.ambiguous:
        candidates = await _candidates(conn, routing.candidates)
        raise ChooseMunicipality(
            names=", ".join(f"{c.name.fr} / {c.name.de} ({c.code})" for c in candidates),
            extra={
                "candidates": [
                    {"code": c.code, "country": c.country, "name": {"fr": c.name.fr, "de": c.name.de}}
                    for c in candidates
                ]
            },
        )
    return routing.code, routing.method


async def _from_address(conn: asyncpg.Connection, address: str) -> Municipality | None:
    """The municipality an address names (by its name in either language), when exactly one matches."""
    for part in reversed(address.split(",")):
        name = re.sub(r"[0-9]+", " ", part).strip()
        if len(name) < 2:
            continue
        page = await municipalities.search(conn, country=None, q=name, limit=50, cursor=None)
        exact = [m for m in page.items if fold(name) in (fold(m.name.fr), fold(m.name.de))]
        if len(exact) == 1:
            return exact[0]
    return None


async def authenticate_key(conn: asyncpg.Connection, api_key: str | None) -> uuid.UUID | None:
    """The id of a valid Open311 application key (None when absent or unknown)."""
    if not api_key:
        return None
    return await queries.api_key_id(conn, hash_key(api_key.strip()))


async def submit(
    conn: asyncpg.Connection,
    *,
    user: CurrentUser | None,
    api_key: str | None,
    locale: str,
    service_code: str,
    lat: float | None,
    lon: float | None,
    description: str,
    address_string: str | None,
    municipality_code: str | None,
    uploads: list[bytes],
) -> Open311Created:
    """A new report, routed to the municipality it lies in, photos cleaned; staff (or care providers) told."""
    key_id = await authenticate_key(conn, api_key)
    if user is None and key_id is None:
        raise ApiKeyRequired()
    text = description.strip()
    if not text or len(text) > MAX_DESCRIPTION:
        raise InvalidField("description", REASON_DESCRIPTION, max=MAX_DESCRIPTION)
    if len(uploads) > photos.MAX_PHOTOS:
        raise InvalidField("media", REASON_PHOTO_COUNT, max=photos.MAX_PHOTOS)
    cleaned = []
    for data in uploads:
        try:
            # Decoding and encoding take a CPU for a moment per photo: off the event loop.
            cleaned.append(await asyncio.to_thread(photos.reencode, data))
        except photos.PhotoRejected as exc:
            if exc.reason == "too_large":
                raise InvalidField("media", REASON_PHOTO_SIZE, max=photos.MAX_BYTES // (1024 * 1024)) from exc
            raise InvalidField("media", REASON_PHOTO_FORMAT) from exc
    if lat is None or lon is None:
        town = await _from_address(conn, address_string or "")
        if town is None or town.lat is None or town.lon is None:
            raise InvalidField("address_string", REASON_ADDRESS)
        code, routing, lat, lon = town.code, "address", town.lat, town.lon
    else:
        code, routing = await _route(conn, lat, lon, municipality_code)
    service = await queries.service(conn, service_code)
    if service is None or not service.active or service.municipality_code not in (None, code):
        raise InvalidField("service_code", REASON_UNKNOWN_SERVICE)
    request_id = await queries.insert_request(
        conn,
        {
            "service_code": service_code,
            "municipality_code": code,
            "routing": routing,
            "reporter_id": user.id if user else None,
            "api_key_id": key_id,
            "locale": locale if locale in ("fr", "de", "en") else "fr",
            "description": text,
            "lat": lat,
            "lon": lon,
            "address_string": (address_string or "").strip()[:500] or None,
        },
    )
    for position, photo in enumerate(cleaned):
        await queries.insert_photo(conn, request_id, position, photo.content, photo.width, photo.height)
    priority: Priority
    if service.audience == "care":
        recipients = await care.staff_serving(conn, code)
        title, body = CARE_REPORT_TITLE, CARE_REPORT_BODY
        priority = "important"
    else:
        recipients = [s.user_id for s in await queries.staff_of(conn, code)]
        title, body = NEW_REPORT_TITLE, NEW_REPORT_BODY
        priority = "info"
    if recipients:
        await messaging.notify(
            conn,
            kind="feedback.new",
            audience=Audience(user_ids=tuple(recipients)),
            title=Message(title),
            body=Message(body),
            deep_link=f"/feedback/requests/{request_id}",
            priority=priority,
            source_id=request_id,
            channels=("push", "email"),
        )
    logger.info("feedback report %s routed to %s (%s)", request_id, code, routing)
    return Open311Created(
        service_request_id=str(request_id),
        service_notice=translate(
            locale, EMERGENCY.get(await municipalities.country_of(conn, code), EMERGENCY[None])
        ),
        municipality_code=code,
    )


# -- views -----------------------------------------------------------------------------------------------------


def _update(row: queries.UpdateRow, locale: str) -> Update:
    notes = (
        names(row.note_fr or "", row.note_de or "")
        if row.note_fr is not None or row.note_de is not None
        else None
    )
    note = pick(Bilingual(fr=row.note_fr, de=row.note_de), locale) if notes is not None else None
    return Update(
        kind=row.kind,
        status=row.status,
        resolution=row.resolution,
        note=note,
        notes=notes,
        from_municipality=row.from_municipality,
        to_municipality=row.to_municipality,
        created_at=row.created_at,
    )


def photo_url(photo_id: uuid.UUID) -> str:
    return f"/v1/feedback/photos/{photo_id}.jpg"


async def _items(
    conn: asyncpg.Connection,
    rows: list[queries.RequestRow],
    locale: str,
    viewer: CurrentUser,
    *,
    full: set[uuid.UUID],
) -> list[FeedbackItem]:
    """Views of reports; ``full`` are those whose unreleased text and photos the viewer may see."""
    ids = [r.id for r in rows]
    updates: dict[uuid.UUID, list[Update]] = {}
    for u in await queries.updates_of(conn, ids):
        updates.setdefault(u.request_id, []).append(_update(u, locale))
    pictures: dict[uuid.UUID, list[PhotoInfo]] = {}
    for p in await queries.photos_of(conn, ids):
        if p.request_id in full or p.released_at is not None:
            pictures.setdefault(p.request_id, []).append(
                PhotoInfo(id=p.id, released=p.released_at is not None, url=photo_url(p.id))
            )
    following = await queries.followed_by(conn, viewer.id, ids)
    services = await queries.services_by_codes(conn, {r.service_code for r in rows})
    items = []
    for r in rows:
        svc = services[r.service_code]
        items.append(
            FeedbackItem(
                id=r.id,
                service_code=r.service_code,
                service_name=pick(Bilingual(fr=svc.name_fr, de=svc.name_de), locale),
                municipality_code=r.municipality_code,
                routing=r.routing,
                status=r.status,
                resolution=r.resolution,
                duplicate_of=r.duplicate_of,
                forwarded_to=r.forwarded_to,
                description=r.description if (r.id in full or r.released_at is not None) else "",
                lat=r.lat,
                lon=r.lon,
                address=r.address_string if r.id in full else None,
                requested_at=r.requested_at,
                updated_at=r.updated_at,
                released=r.released_at is not None,
                hidden=r.hidden_at is not None,
                review_requested=r.review_requested,
                satisfied=r.satisfied,
                following=r.id in following,
                photos=pictures.get(r.id, []),
                updates=updates.get(r.id, []),
            )
        )
    return items


async def get_item(
    conn: asyncpg.Connection, user: CurrentUser, locale: str, request_id: uuid.UUID
) -> FeedbackItem:
    row = await access_request(conn, user, request_id)
    full = {row.id} if (row.reporter_id == user.id or await may_manage(conn, user, row)) else set()
    [item] = await _items(conn, [row], locale, user, full=full)
    return item


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    stamp, ident = decode_cursor(_CURSOR_KEY, cursor, tuple[datetime, uuid.UUID])
    return stamp, ident


def _next(rows: list[queries.RequestRow], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(_CURSOR_KEY, (last.requested_at, last.id))


async def my_feedback(
    conn: asyncpg.Connection, user: CurrentUser, locale: str, cursor: str | None, limit: int
) -> FeedbackPage:
    """The reports I made and those I follow, newest first."""
    rows = await queries.requests_of_reporter(conn, user.id, _after(cursor), limit + 1)
    page = rows[:limit]
    full = {r.id for r in page if r.reporter_id == user.id}
    return FeedbackPage(
        items=await _items(conn, page, locale, user, full=full), next_cursor=_next(rows, limit)
    )


async def staff_list(
    conn: asyncpg.Connection,
    user: CurrentUser,
    locale: str,
    municipality_code: str,
    audience: str,
    cursor: str | None,
    limit: int,
) -> FeedbackPage:
    """A municipality's reports for its staff (or, for people in difficulty, the care providers serving it)."""
    if audience == "care":
        if not (user.is_admin or user.id in await care.staff_serving(conn, municipality_code)):
            raise NotFound()
    else:
        await require_staff(conn, user, municipality_code)
    rows = await queries.requests_for_staff(conn, municipality_code, audience, _after(cursor), limit + 1)
    page = rows[:limit]
    items = await _items(conn, page, locale, user, full={r.id for r in page})
    return FeedbackPage(items=items, next_cursor=_next(rows, limit))


# -- staff actions ---------------------------------------------------------------------------------------------

_ORDER = {"open": 0, "acknowledged": 1, "in_progress": 2, "closed": 3}


async def _tell(
    conn: asyncpg.Connection,
    row: queries.RequestRow,
    actor: CurrentUser,
    title: str,
    note: Bilingual,
    *,
    ask_satisfaction: bool = False,
) -> None:
    """The reporter and the followers hear of a change, each in their own language."""
    people = [*([row.reporter_id] if row.reporter_id else []), *await queries.followers(conn, row.id)]
    recipients = tuple(dict.fromkeys(p for p in people if p != actor.id))
    if not recipients:
        return
    await messaging.notify(
        conn,
        kind="feedback.update",
        audience=Audience(user_ids=recipients),
        title=Message(title),
        body=note,
        deep_link=f"/feedback/requests/{row.id}",
        source_id=row.id,
    )
    if ask_satisfaction and row.reporter_id and row.reporter_id != actor.id:
        await messaging.notify(
            conn,
            kind="feedback.satisfaction",
            audience=Audience(user_ids=(row.reporter_id,)),
            title=Message(SATISFACTION_TITLE),
            body=Message(SATISFACTION_BODY),
            deep_link=f"/feedback/requests/{row.id}/satisfaction",
            source_id=row.id,
            channels=("push",),
        )


async def change_status(
    conn: asyncpg.Connection, user: CurrentUser, locale: str, request_id: uuid.UUID, data: StatusIn
) -> FeedbackItem:
    """Staff move a report on, with a public note in both languages; closing says how."""
    row = await access_request(conn, user, request_id, manage=True, lock=True)
    if row.status == "closed" or _ORDER[data.status] < _ORDER[row.status]:
        raise InvalidTransition()
    if data.status == "closed" and data.resolution is None:
        raise InvalidField("resolution", REASON_RESOLUTION_REQUIRED)
    if data.status != "closed" and (data.resolution or data.duplicate_of or data.forwarded_to):
        raise InvalidField("resolution", REASON_RESOLUTION_ONLY_WHEN_CLOSED)
    duplicate_of = None
    if data.resolution == "duplicate":
        if data.duplicate_of is None or data.duplicate_of == row.id:
            raise InvalidField("duplicate_of", REASON_DUPLICATE_OF)
        other = await queries.request(conn, data.duplicate_of)
        if other is None or not await may_manage(conn, user, other):
            raise InvalidField("duplicate_of", REASON_DUPLICATE_OF)
        duplicate_of = other.id
        if row.reporter_id is not None:
            await queries.follow(conn, other.id, row.reporter_id)
    forwarded_to = None
    if data.resolution == "forwarded":
        if not data.forwarded_to or not data.forwarded_to.strip():
            raise InvalidField("forwarded_to", REASON_FORWARDED_TO)
        forwarded_to = data.forwarded_to.strip()
    note = Bilingual(fr=data.note.fr.strip(), de=data.note.de.strip())
    await queries.set_status(
        conn,
        row.id,
        status=data.status,
        resolution=data.resolution if data.status == "closed" else None,
        duplicate_of=duplicate_of,
        forwarded_to=forwarded_to,
        review_requested=False if data.status == "closed" else row.review_requested,
        satisfied=None,
    )
    await queries.insert_update(
        conn,
        {
            "request_id": row.id,
            "kind": "status",
            "status": data.status,
            "resolution": data.resolution if data.status == "closed" else None,
            "note_fr": note.fr,
            "note_de": note.de,
            "author_id": user.id,
        },
    )
    await _tell(conn, row, user, STATUS_TITLES[data.status], note, ask_satisfaction=data.status == "closed")
    return await get_item(conn, user, locale, row.id)


async def forward(
    conn: asyncpg.Connection, user: CurrentUser, locale: str, request_id: uuid.UUID, data: ForwardIn
) -> FeedbackItem:
    """Staff pass a report to the competent municipality, on either side of the border; it starts over there."""
    row = await access_request(conn, user, request_id, manage=True, lock=True)
    if data.municipality_code == row.municipality_code:
        raise InvalidField("municipality_code", REASON_SAME_MUNICIPALITY)
    await municipalities.check_known(conn, [data.municipality_code], field="municipality_code")
    await queries.move_request(conn, row.id, data.municipality_code)
    note = Bilingual(fr=data.note.fr.strip(), de=data.note.de.strip())
    await queries.insert_update(
        conn,
        {
            "request_id": row.id,
            "kind": "forwarded",
            "status": "open",
            "note_fr": note.fr,
            "note_de": note.de,
            "from_municipality": row.municipality_code,
            "to_municipality": data.municipality_code,
            "author_id": user.id,
        },
    )
    await _tell(conn, row, user, STATUS_TITLES["forwarded"], note)
    recipients = [s.user_id for s in await queries.staff_of(conn, data.municipality_code)]
    if recipients and row.audience == "municipality":
        await messaging.notify(
            conn,
            kind="feedback.new",
            audience=Audience(user_ids=tuple(recipients)),
            title=Message(NEW_REPORT_TITLE),
            body=Message(NEW_REPORT_BODY),
            deep_link=f"/feedback/requests/{row.id}",
            source_id=row.id,
        )
    moved = await queries.request(conn, row.id)
    assert moved is not None
    full = {row.id} if await may_manage(conn, user, moved) else set()
    [item] = await _items(conn, [moved], locale, user, full=full)
    return item


async def release(
    conn: asyncpg.Connection, user: CurrentUser, locale: str, request_id: uuid.UUID, data: ReleaseIn
) -> FeedbackItem:
    """Staff make a report public, with the photos they chose (the reporter is never shown); a report
    hidden after abuse reports is shown again."""
    row = await access_request(conn, user, request_id, manage=True)
    if row.audience == "care":
        raise NotFound()  # reports about a person in difficulty are never public
    if data.photo_ids:
        released = await queries.release_photos(conn, row.id, list(set(data.photo_ids)), user.id)
        if released != len(set(data.photo_ids)):
            raise InvalidField("photo_ids", REASON_PHOTO_NOT_OF_REPORT)
    await queries.release_request(conn, row.id, user.id)
    return await get_item(conn, user, locale, row.id)


async def satisfaction(
    conn: asyncpg.Connection, user: CurrentUser, locale: str, request_id: uuid.UUID, data: SatisfactionIn
) -> FeedbackItem:
    """The reporter says whether the closure satisfies them; a "no" reopens the report for review."""
    row = await queries.request(conn, request_id, lock=True)
    if row is None or row.reporter_id != user.id:
        raise NotFound()
    if row.status != "closed":
        raise NotClosed()
    if data.satisfied:
        await queries.set_status(
            conn,
            row.id,
            status=row.status,
            resolution=row.resolution,
            duplicate_of=row.duplicate_of,
            forwarded_to=row.forwarded_to,
            review_requested=False,
            satisfied=True,
        )
    else:
        await queries.set_status(
            conn,
            row.id,
            status="open",
            resolution=None,
            duplicate_of=None,
            forwarded_to=None,
            review_requested=True,
            satisfied=False,
        )
        await queries.insert_update(
            conn, {"request_id": row.id, "kind": "reopened", "status": "open", "author_id": user.id}
        )
        recipients = [s.user_id for s in await queries.staff_of(conn, row.municipality_code)]
        if row.audience == "care":
            recipients = await care.staff_serving(conn, row.municipality_code)
        if recipients:
            await messaging.notify(
                conn,
                kind="feedback.reopened",
                audience=Audience(user_ids=tuple(recipients)),
                title=Message(STATUS_TITLES["reopened"]),
                body=Message(REOPENED_NOTE),
                deep_link=f"/feedback/requests/{row.id}",
                source_id=row.id,
            )
    return await get_item(conn, user, locale, row.id)


# -- followers and abuse ---------------------------------------------------------------------------------------


async def follow(conn: asyncpg.Connection, user: CurrentUser, request_id: uuid.UUID) -> None:
    """Follow an open report (one offered as a nearby duplicate, or a released one) instead of repeating it."""
    row = await queries.request(conn, request_id)
    if row is None or row.audience == "care" or row.hidden_at is not None:
        raise NotFound()
    await queries.follow(conn, row.id, user.id)


async def unfollow(conn: asyncpg.Connection, user: CurrentUser, request_id: uuid.UUID) -> None:
    await queries.unfollow(conn, request_id, user.id)


async def report_abuse(
    conn: asyncpg.Connection, user: CurrentUser, request_id: uuid.UUID, data: AbuseIn
) -> None:
    """Flag a public report; after a few people did, it is hidden until staff release it again."""
    row = await queries.request(conn, request_id)
    if row is None or row.released_at is None or row.hidden_at is not None or row.audience == "care":
        raise NotFound()
    if await queries.report_abuse(conn, row.id, user.id, data.reason.strip()) >= ABUSE_THRESHOLD:
        await queries.hide_request(conn, row.id)
        logger.info("feedback report %s hidden after abuse reports", row.id)


# -- GDPR ------------------------------------------------------------------------------------------------------


async def export_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    return await queries.export_rows(conn, user_id)


async def erase_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await queries.erase_user(conn, user_id)


USER_DATA = UserData("feedback", export_user, erase_user)
