"""Warnings as stored and as readers get them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec

from i18n.content import Localized

Severity = Literal["minor", "moderate", "severe", "extreme"]
State = Literal["active", "cancelled", "expired"]


class Texts(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the source wrote in one language."""

    event: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str | None = None


class Normalised(msgspec.Struct, frozen=True, kw_only=True):
    """One message of a source, normalised (before it is stored)."""

    source: str
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    refs: list[str]
    event_code: str | None
    hazard: str
    severity: Severity
    level: str
    urgency: str
    certainty: str
    onset: datetime | None
    effective: datetime | None
    expires: datetime | None
    texts: dict[str, Texts]
    area_desc: str
    area: dict[str, Any]
    municipality_codes: list[str]
    licence: str
    attribution: str


class WarningRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    source: str
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    refs: list[str]
    chain_id: uuid.UUID
    incident_id: uuid.UUID | None
    event_code: str | None
    hazard: str
    severity: Severity
    level: str
    urgency: str
    certainty: str
    onset: datetime | None
    effective: datetime | None
    expires: datetime | None
    texts: dict[str, Texts]
    area_desc: str
    municipality_codes: list[str]
    licence: str
    attribution: str
    received_at: datetime


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    hazard: str
    starts_at: datetime
    ends_at: datetime | None
    municipality_codes: list[str]
    sources: list[str]
    ended_at: datetime | None


class Original(msgspec.Struct, frozen=True):
    """The source's own text, attached when the reader's text was rendered by the hub."""

    lang: str
    headline: str
    description: str
    instruction: str | None = None


class WarningOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    source: str
    sources: list[str]
    sender: str
    status: State
    msg_type: str
    event_code: str | None
    hazard: str
    severity: Severity
    #: the colour of the source's own scale: yellow, orange, red, violet (DWD's extreme level)
    level: str
    urgency: str
    certainty: str
    headline: Localized
    description: Localized
    instruction: Localized | None
    #: the source's own text when ``headline``/``description`` were rendered by the hub
    original: Original | None
    #: true when the hub wrote the text from its catalogue of hazards and levels (not a translation)
    rendered: bool
    sent: datetime
    onset: datetime | None
    effective: datetime | None
    expires: datetime | None
    area_desc: str
    municipality_codes: list[str]
    licence: str
    attribution: str


class WarningPage(msgspec.Struct, frozen=True):
    items: list[WarningOut]


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    msg_type: str
    sent: datetime
    severity: Severity
    expires: datetime | None
    municipality_codes: list[str]


class WarningDetail(msgspec.Struct, frozen=True, kw_only=True):
    warning: WarningOut
    history: list[HistoryEntry]


class PollReport(msgspec.Struct, frozen=True):
    """What one poll of one feed did (also kept in warning_fetches)."""

    feed_key: str
    outcome: str
    http_status: int | None
    alerts: int
