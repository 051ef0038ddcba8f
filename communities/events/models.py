"""Event, RSVP and feed requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from communities.models import AwareTime
from i18n.content import Bilingual, Localized
from territory.calendar.models import HolidayConflict
from territory.models import MunicipalityCode

EventStatus = Literal["scheduled", "cancelled"]
RsvpStatus = Literal["attending", "waiting"]
TimeZone = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, description="IANA zone, e.g. Europe/Paris")
]
Location = Annotated[str, msgspec.Meta(max_length=300)]
Capacity = Annotated[int, msgspec.Meta(description="places; null for no limit")]


class EventIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A new event; ``starts_at``/``ends_at`` are instants, ``time_zone`` the zone they are shown in."""

    title: Bilingual
    description: Bilingual = Bilingual()
    starts_at: AwareTime
    ends_at: AwareTime
    time_zone: TimeZone = "Europe/Paris"
    location: Location = ""
    municipality_code: MunicipalityCode | None = None
    capacity: Capacity | None = None


class EventPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Fields left out stay as they are; ``status: cancelled`` cancels (attendees are told)."""

    title: Bilingual | msgspec.UnsetType = msgspec.UNSET
    description: Bilingual | msgspec.UnsetType = msgspec.UNSET
    starts_at: AwareTime | msgspec.UnsetType = msgspec.UNSET
    ends_at: AwareTime | msgspec.UnsetType = msgspec.UNSET
    time_zone: TimeZone | msgspec.UnsetType = msgspec.UNSET
    location: Location | msgspec.UnsetType = msgspec.UNSET
    municipality_code: MunicipalityCode | msgspec.UnsetType | None = msgspec.UNSET
    capacity: Capacity | msgspec.UnsetType | None = msgspec.UNSET
    status: Literal["cancelled"] | msgspec.UnsetType = msgspec.UNSET


class EventRow(msgspec.Struct, frozen=True, kw_only=True):
    """An event as stored."""

    id: uuid.UUID
    community_id: uuid.UUID
    created_by: uuid.UUID | None
    partner_id: uuid.UUID | None
    title: Bilingual
    description: Bilingual
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    location: str
    municipality_code: str | None
    capacity: int | None
    attending: int
    waiting: int
    status: EventStatus
    sequence: int
    created_at: datetime
    updated_at: datetime
    my_rsvp: RsvpStatus | None = None


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """An event in the reader's language; ``holiday_conflicts`` lists public holidays on its dates in the
    municipalities its community covers."""

    id: uuid.UUID
    community_id: uuid.UUID
    partner_id: uuid.UUID | None
    title: Localized
    description: Localized | None
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    location: str
    municipality_code: str | None
    capacity: int | None
    attending: int
    waiting: int
    status: EventStatus
    sequence: int
    created_at: datetime
    updated_at: datetime
    my_rsvp: RsvpStatus | None = None
    holiday_conflicts: list[HolidayConflict] = []


class EventPage(msgspec.Struct, frozen=True):
    items: list[Event]
    next_cursor: str | None = None


class Rsvp(msgspec.Struct, frozen=True, kw_only=True):
    """My answer: ``attending``, or ``waiting`` with my place in the waiting list (1 is next)."""

    event_id: uuid.UUID
    status: RsvpStatus
    position: int | None = None


class FeedToken(msgspec.Struct, frozen=True, kw_only=True):
    """A personal calendar address; the token is shown once (creating a new one revokes the old)."""

    token: str
    url: str


class Feed(msgspec.Struct, frozen=True, kw_only=True):
    """A rendered feed with its validators; ``body`` is None when the caller's copy is current."""

    body: bytes | None
    etag: str
    last_modified: datetime
    media_type: str


class OpenEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A public event in the open-data feed."""

    id: uuid.UUID
    community_id: uuid.UUID
    community_name: Localized
    title: Localized
    description: Localized | None
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    location: str
    municipality_code: str | None
    status: EventStatus
    sequence: int
    updated_at: datetime


class OpenEventRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    community_id: uuid.UUID
    community_name: Bilingual
    title: Bilingual
    description: Bilingual
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    location: str
    municipality_code: str | None
    status: EventStatus
    sequence: int
    updated_at: datetime


class OpenData(msgspec.Struct, frozen=True, kw_only=True):
    """Upcoming public events of public communities (licence: the hub's open data terms)."""

    generated_for: str
    items: list[OpenEvent]


class StoredRsvp(msgspec.Struct, frozen=True):
    event_id: uuid.UUID
    status: RsvpStatus
    created_at: datetime


class PersonEvents(msgspec.Struct, frozen=True):
    """A person's RSVPs and feed tokens (GDPR export; tokens by community, never their secret)."""

    rsvps: list[StoredRsvp]
    feed_token_communities: list[uuid.UUID]


#: example body for the API documentation (decodes as EventIn: tests check it)
EVENT_EXAMPLE = {
    "title": {"fr": "Concert de Noël", "de": "Weihnachtskonzert"},
    "description": {"fr": "Entrée libre.", "de": "Eintritt frei."},
    "starts_at": "2026-12-19T18:00:00+01:00",
    "ends_at": "2026-12-19T20:00:00+01:00",
    "time_zone": "Europe/Paris",
    "location": "Église Saint-Jacques, Bitche",
    "municipality_code": "57089",
    "capacity": 120,
}
