"""Event use cases: agenda, RSVPs with a waiting list, reminders, notifications and calendar feeds."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime as http_date
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import icalendar
import msgspec

from communities import service as communities
from communities.errors import NotAllowed
from communities.events import queries
from communities.events.errors import (
    REASON_CAPACITY,
    REASON_CAPACITY_BELOW_ATTENDING,
    REASON_ENDS_BEFORE_STARTS,
    REASON_TOO_LONG_EVENT,
    REASON_UNKNOWN_ZONE,
    EventCancelled,
    EventOver,
    UnknownFeedToken,
)
from communities.events.models import (
    Event,
    EventIn,
    EventPage,
    EventPatch,
    EventRow,
    Feed,
    FeedToken,
    OpenData,
    OpenEvent,
    PersonEvents,
    Rsvp,
)
from hub.auth import CurrentUser
from hub.domain import UserData
from hub.errors import REASON_BAD_CURSOR, InvalidField, NotFound, checked_text
from hub.pagination import decode_cursor, encode_cursor
from i18n import N_
from i18n.content import Bilingual, pick
from messaging import service as messaging
from messaging.models import Audience, Message
from territory import service as municipalities
from territory.calendar import service as calendar

EventNeed = Literal["read", "rsvp", "manage"]

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
MAX_DAYS = 31
REMINDER_AHEAD = timedelta(hours=24)
REMINDER_BATCH = 200
OPEN_DATA_LIMIT = 500
#: events that ended more than this long ago leave the feeds
FEED_HISTORY = timedelta(days=30)

MSG_NEW = N_("New event on {start}.")
MSG_NEW_AT = N_("New event on {start} at {location}.")
MSG_MOVED = N_("This event has been moved. It now starts on {start}.")
MSG_CANCELLED = N_("This event has been cancelled. It was to start on {start}.")
MSG_PROMOTED = N_("A place has become free: you are now registered for this event on {start}.")
MSG_REMINDER = N_("Reminder: this event starts on {start}.")
MSG_REMINDER_AT = N_("Reminder: this event starts on {start} at {location}.")

_MODERATOR = 2  # Access.active_rank of moderators


# -- access ----------------------------------------------------------------------------------------------


async def access_event(
    conn: asyncpg.Connection, user: CurrentUser | None, event_id: uuid.UUID, need: EventNeed = "read"
) -> tuple[communities.Access, EventRow]:
    """The event if the caller may ``need`` it: read with the community, answer as an active member,
    manage as its creator (a publisher) or as a moderator or admin. NotFound when they may not read it."""
    event = await queries.event_by_id(conn, event_id, user.id if user else None)
    if event is None:
        raise NotFound()
    try:
        access = await communities.access_community(conn, user, event.community_id, "read")
    except NotAllowed:
        raise NotFound() from None
    if need == "read":
        return access, event
    if user is None:
        raise NotFound()
    if need == "rsvp":
        await communities.access_community(conn, user, event.community_id, "member")
        return access, event
    publisher = await communities.access_community(conn, user, event.community_id, "publish")
    if event.created_by == user.id or publisher.active_rank >= _MODERATOR:
        return access, event
    raise NotAllowed()


# -- checks ----------------------------------------------------------------------------------------------


def _plain(content: Bilingual) -> Bilingual:
    """Event titles and descriptions have no easy-to-read variants."""
    return Bilingual(fr=content.fr, de=content.de)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidField("time_zone", REASON_UNKNOWN_ZONE, zone=name) from None


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidField("ends_at", REASON_ENDS_BEFORE_STARTS)
    if ends_at - starts_at > timedelta(days=MAX_DAYS):
        raise InvalidField("ends_at", REASON_TOO_LONG_EVENT, days=MAX_DAYS)


def _check_capacity(capacity: int | None) -> None:
    if capacity is not None and capacity < 1:
        raise InvalidField("capacity", REASON_CAPACITY)


async def _check_code(conn: asyncpg.Connection, code: str | None) -> None:
    if code is not None:
        await municipalities.check_known(conn, [code], "municipality_code")


async def validated(conn: asyncpg.Connection, data: EventIn) -> dict[str, object]:
    """The columns of a new event, or the first field that is not acceptable."""
    title = checked_text("title", _plain(data.title), TITLE_MAX, required=True)
    description = checked_text("description", _plain(data.description), DESCRIPTION_MAX, required=False)
    _zone(data.time_zone)
    _check_times(data.starts_at, data.ends_at)
    _check_capacity(data.capacity)
    await _check_code(conn, data.municipality_code)
    return {
        "title_fr": title.fr,
        "title_de": title.de,
        "description_fr": description.fr,
        "description_de": description.de,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
        "time_zone": data.time_zone,
        "location": data.location.strip(),
        "municipality_code": data.municipality_code,
        "capacity": data.capacity,
    }


# -- output ----------------------------------------------------------------------------------------------


def local_days(event: EventRow) -> list[date]:
    """The calendar days an event touches, in its own time zone."""
    zone = ZoneInfo(event.time_zone)
    first = event.starts_at.astimezone(zone).date()
    last = (event.ends_at - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _event_out(event: EventRow, codes: list[str], lang: str) -> Event:
    covered = list(dict.fromkeys([*codes, *([event.municipality_code] if event.municipality_code else [])]))
    return Event(
        id=event.id,
        community_id=event.community_id,
        partner_id=event.partner_id,
        title=pick(event.title, lang),
        description=None if event.description.is_empty() else pick(event.description, lang),
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        time_zone=event.time_zone,
        location=event.location,
        municipality_code=event.municipality_code,
        capacity=event.capacity,
        attending=event.attending,
        waiting=event.waiting,
        status=event.status,
        sequence=event.sequence,
        created_at=event.created_at,
        updated_at=event.updated_at,
        my_rsvp=event.my_rsvp,
        holiday_conflicts=calendar.conflicts(covered, local_days(event), lang),
    )


# -- events ----------------------------------------------------------------------------------------------


async def publish_event(
    conn: asyncpg.Connection,
    community: communities.Access,
    data: EventIn,
    lang: str,
    *,
    created_by: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    sender_name: Bilingual | None = None,
) -> Event:
    """Store an event and announce it to the community's members (the caller has checked the right)."""
    values = await validated(conn, data)
    values.update(community_id=community.community.id, created_by=created_by, partner_id=partner_id)
    event_id = await queries.insert_event(conn, values)
    event = await queries.event_by_id(conn, event_id, created_by)
    assert event is not None
    params: dict[str, str | datetime] = {"start": event.starts_at}
    if event.location:
        params["location"] = event.location
    await messaging.notify(
        conn,
        kind="event",
        source_id=event.id,
        community_id=event.community_id,
        audience=Audience(
            community_id=event.community_id, exclude_user_ids=(created_by,) if created_by else ()
        ),
        title=event.title,
        body=Message(MSG_NEW_AT if event.location else MSG_NEW, params),
        sender_id=created_by,
        sender_name=sender_name or community.community.name,
        deep_link=f"/events/{event.id}",
    )
    return _event_out(event, community.community.municipality_codes, lang)


async def create_event(
    conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID, data: EventIn, lang: str
) -> Event:
    """Publishers, moderators and admins add an event; members are told."""
    access = await communities.access_community(conn, user, community_id, "publish")
    return await publish_event(conn, access, data, lang, created_by=user.id)


async def get_event(
    conn: asyncpg.Connection, user: CurrentUser | None, event_id: uuid.UUID, lang: str
) -> Event:
    access, event = await access_event(conn, user, event_id, "read")
    return _event_out(event, access.community.municipality_codes, lang)


async def community_events(
    conn: asyncpg.Connection,
    user: CurrentUser | None,
    community_id: uuid.UUID,
    *,
    secret: str,
    since: datetime | None,
    limit: int,
    cursor: str | None,
    lang: str,
) -> EventPage:
    """Events not yet over (or ending after ``since``), soonest first, cancelled ones marked."""
    access = await communities.access_community(conn, user, community_id, "read")
    after = None
    if cursor:
        scope, at, ident = decode_cursor(secret, cursor, tuple[str, datetime, uuid.UUID])
        if scope != "events":
            raise InvalidField("cursor", REASON_BAD_CURSOR)
        after = (at, ident)
    rows = await queries.community_events(
        conn,
        community_id,
        user.id if user else None,
        since=since or datetime.now(UTC),
        after=after,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(secret, ["events", last.starts_at, last.id])
    codes = access.community.municipality_codes
    return EventPage(items=[_event_out(r, codes, lang) for r in rows[:limit]], next_cursor=next_cursor)


async def _tell(
    conn: asyncpg.Connection,
    event: EventRow,
    user_ids: list[uuid.UUID],
    *,
    kind: str,
    message: str,
    start: datetime,
    priority: Literal["info", "important"] = "info",
) -> None:
    if not user_ids:
        return
    await messaging.notify(
        conn,
        kind=kind,
        source_id=event.id,
        community_id=event.community_id,
        audience=Audience(user_ids=tuple(user_ids)),
        title=event.title,
        body=Message(message, {"start": start}),
        priority=priority,
        deep_link=f"/events/{event.id}",
    )


async def update_event(
    conn: asyncpg.Connection, user: CurrentUser, event_id: uuid.UUID, data: EventPatch, lang: str
) -> Event:
    """Correct, move or cancel an event; attendees and the waiting list are told of a move or a cancel."""
    _, event = await access_event(conn, user, event_id, "manage")
    if not isinstance(data.status, msgspec.UnsetType):
        return await cancel_event(conn, user, event_id, lang)
    if event.status == "cancelled":
        raise EventCancelled()
    await queries.lock_event(conn, event_id)
    locked = await queries.event_by_id(conn, event_id, user.id)
    assert locked is not None
    event = locked
    changes: dict[str, object] = {}
    if not isinstance(data.title, msgspec.UnsetType):
        title = checked_text("title", _plain(data.title), TITLE_MAX, required=True)
        changes.update(title_fr=title.fr, title_de=title.de)
    if not isinstance(data.description, msgspec.UnsetType):
        description = checked_text("description", _plain(data.description), DESCRIPTION_MAX, required=False)
        changes.update(description_fr=description.fr, description_de=description.de)
    if not isinstance(data.time_zone, msgspec.UnsetType):
        _zone(data.time_zone)
        changes["time_zone"] = data.time_zone
    if not isinstance(data.location, msgspec.UnsetType):
        changes["location"] = data.location.strip()
    if not isinstance(data.municipality_code, msgspec.UnsetType):
        await _check_code(conn, data.municipality_code)
        changes["municipality_code"] = data.municipality_code
    starts_at = event.starts_at if isinstance(data.starts_at, msgspec.UnsetType) else data.starts_at
    ends_at = event.ends_at if isinstance(data.ends_at, msgspec.UnsetType) else data.ends_at
    moved = starts_at != event.starts_at
    if moved or ends_at != event.ends_at:
        _check_times(starts_at, ends_at)
        changes.update(starts_at=starts_at, ends_at=ends_at)
    if moved:
        changes["reminder_sent_at"] = None  # the new time gets its own reminder
    promoted: list[uuid.UUID] = []
    if not isinstance(data.capacity, msgspec.UnsetType):
        _check_capacity(data.capacity)
        if data.capacity is not None and data.capacity < event.attending:
            raise InvalidField("capacity", REASON_CAPACITY_BELOW_ATTENDING, attending=event.attending)
        changes["capacity"] = data.capacity
    if changes:
        await queries.update_event(conn, event_id, changes)
        if "capacity" in changes:
            capacity = data.capacity if isinstance(data.capacity, int) else None
            free = event.waiting if capacity is None else capacity - event.attending
            promoted = await queries.promote(conn, event_id, free)
    if moved:
        people = await queries.participants(conn, event_id, ["attending", "waiting"])
        await _tell(
            conn, event, people, kind="event_update", message=MSG_MOVED, start=starts_at, priority="important"
        )
    await _tell(conn, event, promoted, kind="event_promoted", message=MSG_PROMOTED, start=starts_at)
    return await get_event(conn, user, event_id, lang)


async def cancel_event(conn: asyncpg.Connection, user: CurrentUser, event_id: uuid.UUID, lang: str) -> Event:
    """Cancel: it stays in feeds as cancelled (calendars remove it), and everyone who answered is told."""
    await access_event(conn, user, event_id, "manage")
    await queries.lock_event(conn, event_id)
    current = await queries.event_by_id(conn, event_id, user.id)
    assert current is not None
    if current.status != "cancelled":
        await queries.update_event(conn, event_id, {"status": "cancelled"})
        await messaging.cancel(conn, "event", event_id)
        await messaging.cancel(conn, "event_reminder", event_id)
        people = await queries.participants(conn, event_id, ["attending", "waiting"])
        await _tell(
            conn,
            current,
            people,
            kind="event_update",
            message=MSG_CANCELLED,
            start=current.starts_at,
            priority="important",
        )
    return await get_event(conn, user, event_id, lang)


# -- RSVPs -----------------------------------------------------------------------------------------------


async def rsvp(conn: asyncpg.Connection, user: CurrentUser, event_id: uuid.UUID) -> Rsvp:
    """Attend, or join the waiting list when the event is full; answering twice changes nothing.

    The event's row is locked first, so parallel answers are counted one after the other and never
    exceed the capacity.
    """
    await access_event(conn, user, event_id, "rsvp")
    locked = await queries.lock_event(conn, event_id)
    if locked is None:
        raise NotFound()
    event = await queries.event_by_id(conn, event_id, user.id)
    assert event is not None
    if event.status == "cancelled":
        raise EventCancelled()
    if event.ends_at <= datetime.now(UTC):
        raise EventOver()
    status = event.my_rsvp
    if status is None:
        full = event.capacity is not None and event.attending >= event.capacity
        status = "waiting" if full else "attending"
        await queries.insert_rsvp(conn, event_id, user.id, status)
    if status == "waiting":
        return Rsvp(
            event_id=event_id,
            status="waiting",
            position=await queries.waiting_position(conn, event_id, user.id),
        )
    return Rsvp(event_id=event_id, status="attending")


async def _withdraw(conn: asyncpg.Connection, event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Remove an answer under the event's lock; a freed place goes to the first person waiting."""
    locked = await queries.lock_event(conn, event_id)
    if locked is None:
        return False
    was = await queries.delete_rsvp(conn, event_id, user_id)
    if was is None:
        return False
    if was == "attending" and locked["status"] == "scheduled":
        promoted = await queries.promote(conn, event_id, 1)
        event = await queries.event_by_id(conn, event_id)
        assert event is not None
        await _tell(conn, event, promoted, kind="event_promoted", message=MSG_PROMOTED, start=event.starts_at)
    return True


async def withdraw_rsvp(conn: asyncpg.Connection, user: CurrentUser, event_id: uuid.UUID) -> None:
    """Stop attending or leave the waiting list; NotFound when I had not answered."""
    await access_event(conn, user, event_id, "read")
    if not await _withdraw(conn, event_id, user.id):
        raise NotFound()


# -- reminders -------------------------------------------------------------------------------------------


async def send_due_reminders(conn: asyncpg.Connection, now: datetime, limit: int = REMINDER_BATCH) -> int:
    """Remind attendees of events starting within 24 hours, each in their language; the events reminded.

    Each event is claimed by setting reminder_sent_at in the same transaction as its notification, so
    two workers running at once never remind twice.
    """
    claimed = await queries.claim_due_reminders(conn, now, now + REMINDER_AHEAD, limit)
    for event_id in claimed:
        event = await queries.event_by_id(conn, event_id)
        assert event is not None
        people = await queries.participants(conn, event_id, ["attending"])
        if not people:
            continue
        params: dict[str, str | datetime] = {"start": event.starts_at}
        if event.location:
            params["location"] = event.location
        await messaging.notify(
            conn,
            kind="event_reminder",
            source_id=event.id,
            community_id=event.community_id,
            audience=Audience(user_ids=tuple(people)),
            title=event.title,
            body=Message(MSG_REMINDER_AT if event.location else MSG_REMINDER, params),
            deep_link=f"/events/{event.id}",
        )
    return len(claimed)


# -- feeds -----------------------------------------------------------------------------------------------


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_feed_token(
    conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID, public_url: str
) -> FeedToken:
    """A personal feed address for a community I can read; a new one replaces (revokes) the previous."""
    await communities.access_community(conn, user, community_id, "read")
    token = "hubf_" + secrets.token_urlsafe(32)
    await queries.replace_feed_token(conn, user.id, community_id, _hash(token))
    url = f"{public_url.rstrip('/')}/v1/communities/{community_id}/events.ics?token={token}"
    return FeedToken(token=token, url=url)


async def revoke_feed_token(conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID) -> None:
    if not await queries.delete_feed_token(conn, user.id, community_id):
        raise NotFound()


async def _feed_reader(
    conn: asyncpg.Connection, community_id: uuid.UUID, token: str | None
) -> CurrentUser | None:
    """The person a feed token stands for (checked again against the community on every read)."""
    if token is None:
        return None
    row = await queries.feed_token_user(conn, _hash(token), community_id)
    if row is None:
        raise UnknownFeedToken()
    return CurrentUser(
        id=row["id"],
        session_id=uuid.UUID(int=0),  # a feed token is not a session
        email=row["email"],
        display_name=row["display_name"],
        locale=row["locale"],
        is_admin=row["is_admin"],
    )


def _validators(row: asyncpg.Record, *, scope: str, lang: str, fallback: datetime) -> tuple[str, datetime]:
    changed: datetime = row["changed"] or fallback
    raw = f"{scope}|{lang}|{row['n']}|{row['sequences']}|{changed.isoformat()}"
    etag = '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'
    return etag, changed.replace(microsecond=0)


def _fresh(
    etag: str, last_modified: datetime, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """True when the caller's copy is current (RFC 9110: If-None-Match wins over If-Modified-Since)."""
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if if_modified_since is not None:
        from email.utils import parsedate_to_datetime

        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return last_modified <= since
    return False


def http_datetime(value: datetime) -> str:
    return http_date(value.astimezone(UTC), usegmt=True)


async def ics_feed(
    conn: asyncpg.Connection,
    viewer: CurrentUser | None,
    community_id: uuid.UUID,
    *,
    token: str | None,
    lang: str,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> Feed:
    """A community's events as iCalendar (RFC 5545): public communities openly, private ones with a
    personal feed token. Stable UIDs, SEQUENCE counting changes, STATUS:CANCELLED, VTIMEZONEs."""
    reader = await _feed_reader(conn, community_id, token) or viewer
    try:
        access = await communities.access_community(conn, reader, community_id, "read")
    except NotAllowed:
        raise NotFound() from None
    community = access.community
    since = datetime.now(UTC) - FEED_HISTORY
    version = await queries.feed_version(conn, [community_id], since)
    etag, last_modified = _validators(
        version, scope=f"ics:{community_id}", lang=lang, fallback=community.created_at
    )
    if _fresh(etag, last_modified, if_none_match, if_modified_since):
        return Feed(body=None, etag=etag, last_modified=last_modified, media_type="text/calendar")
    events = await queries.feed_events(conn, community_id, since)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//hub//events//" + lang.upper())
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", pick(community.name, lang).text)
    for event in events:
        zone = ZoneInfo(event.time_zone)
        item = icalendar.Event()
        item.add("uid", f"{event.id}@hub")
        item.add("dtstamp", event.updated_at.astimezone(UTC))
        item.add("created", event.created_at.astimezone(UTC))
        item.add("last-modified", event.updated_at.astimezone(UTC))
        item.add("dtstart", event.starts_at.astimezone(zone))
        item.add("dtend", event.ends_at.astimezone(zone))
        item.add("sequence", event.sequence)
        item.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
        title = pick(event.title, lang)
        item.add("summary", title.text, parameters={"LANGUAGE": title.lang})
        if not event.description.is_empty():
            description = pick(event.description, lang)
            item.add("description", description.text, parameters={"LANGUAGE": description.lang})
        if event.location:
            item.add("location", event.location)
        cal.add_component(item)
    if events:
        first = min(e.starts_at for e in events).date()
        last = max(e.ends_at for e in events).date()
        cal.add_missing_timezones(
            first_date=first - timedelta(days=366), last_date=last + timedelta(days=366)
        )
    return Feed(body=cal.to_ical(), etag=etag, last_modified=last_modified, media_type="text/calendar")


async def open_data(
    conn: asyncpg.Connection, *, lang: str, if_none_match: str | None, if_modified_since: str | None
) -> Feed:
    """Upcoming events of public communities as JSON, with validators for conditional requests."""
    since = datetime.now(UTC)
    version = await queries.feed_version(conn, None, since)
    etag, last_modified = _validators(
        version, scope="open-data", lang=lang, fallback=datetime(2026, 1, 1, tzinfo=UTC)
    )
    if _fresh(etag, last_modified, if_none_match, if_modified_since):
        return Feed(body=None, etag=etag, last_modified=last_modified, media_type="application/json")
    rows = await queries.open_events(conn, since, OPEN_DATA_LIMIT)
    items = [
        OpenEvent(
            id=r.id,
            community_id=r.community_id,
            community_name=pick(r.community_name, lang),
            title=pick(r.title, lang),
            description=None if r.description.is_empty() else pick(r.description, lang),
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            time_zone=r.time_zone,
            location=r.location,
            municipality_code=r.municipality_code,
            status=r.status,
            sequence=r.sequence,
            updated_at=r.updated_at,
        )
        for r in rows
    ]
    body = msgspec.json.encode(OpenData(generated_for=lang, items=items))
    return Feed(body=body, etag=etag, last_modified=last_modified, media_type="application/json")


# -- GDPR ------------------------------------------------------------------------------------------------


async def export_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> PersonEvents:
    return PersonEvents(
        rsvps=await queries.rsvps_of(conn, user_id),
        feed_token_communities=await queries.feed_token_communities(conn, user_id),
    )


async def erase_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Withdraw the person's answers (freed places go to the waiting list) and drop their feed tokens."""
    for stored in await queries.rsvps_of(conn, user_id):
        await _withdraw(conn, stored.event_id, user_id)
    await queries.delete_feed_tokens_of(conn, user_id)


USER_DATA = UserData("events", export_person, erase_person)
