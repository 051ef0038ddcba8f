"""Sensor, observation and rule requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from i18n.content import Bilingual, Localized

Kind = Literal[
    "water_level", "temperature", "humidity", "rain", "fill_level", "parking", "wind", "air_quality", "other"
]
MunicipalityCode = Annotated[str, msgspec.Meta(pattern=r"^(([0-9]{2}|2A|2B)[0-9]{3}|[0-9]{8})$")]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
Status = Literal["normal", "pending", "firing", "recovering", "no_data"]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Location(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]


class SensorIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: Bilingual
    kind: Kind
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    municipality_code: MunicipalityCode
    location: Location
    expected_interval_s: Annotated[int, msgspec.Meta(ge=10, le=604800)]
    source: Short
    licence: Short
    river: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    device_eui: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Fa-f]{16}$")] | None = None
    station_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    #: an official gauge read over HTTP: Pegelonline (station UUID or number) or Hub'Eau (code_entite)
    poller: Literal["pegelonline", "hubeau"] | None = None
    payload_field: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")] = "value"
    valid_min: float | None = None
    valid_max: float | None = None


class Latest(msgspec.Struct, frozen=True):
    value: float
    observed_at: datetime
    quality: Literal["good", "doubtful"]


class Sensor(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: Localized
    kind: str
    unit: str
    municipality_code: str
    location: Location
    expected_interval_s: int
    owner: Literal["hub", "partner"]
    owner_partner_id: uuid.UUID | None
    source: str
    licence: str
    river: str | None
    device_eui: str | None
    station_id: str | None
    poller: str | None
    battery: float | None
    latest: Latest | None
    created_at: datetime


class SensorList(msgspec.Struct, frozen=True):
    items: list[Sensor]


class ObservationIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    value: float
    observed_at: AwareTime
    quality: Literal["good", "doubtful"] = "good"


class IngestResult(msgspec.Struct, frozen=True):
    """How many readings were new (a replay adds none) and how many were kept as doubtful."""

    accepted: int
    duplicates: int
    doubtful: int


class LevelIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One level: reached ``above`` or ``below`` ``value``, left only past ``clear_at``, after ``for_s``."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    above: float | None = None
    below: float | None = None
    clear_at: float
    for_s: Annotated[int, msgspec.Meta(ge=0, le=86400)] = 0
    #: defaults from the name: red → urgent (passes quiet hours), orange → important, else info
    priority: Literal["info", "important", "urgent"] | None = None


class Audience(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    municipality_codes: Annotated[list[MunicipalityCode], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    community_id: uuid.UUID | None = None


class RuleIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    levels: Annotated[list[LevelIn], msgspec.Meta(max_length=6)] = msgspec.field(default_factory=list)
    no_data_after_s: Annotated[int, msgspec.Meta(ge=60, le=2592000)] | None = None
    rise_per_hour: Annotated[float, msgspec.Meta(gt=0)] | None = None
    stuck_after_s: Annotated[int, msgspec.Meta(ge=60, le=2592000)] | None = None
    audience: Audience = msgspec.field(default_factory=Audience)
    #: bilingual message with {value} {unit} {place} {level} {trend}
    message: Bilingual = msgspec.field(default_factory=Bilingual)
    heat: bool = False
    enabled: bool = True


class Level(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    above: float | None
    below: float | None
    clear_at: float
    for_s: int
    priority: Literal["info", "important", "urgent"]


class RuleState(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    level: str | None
    since: datetime | None
    last_value: float | None
    last_seen: datetime | None
    stuck: bool


class RuleEvent(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    level: str | None
    value: float | None
    at: datetime
    duration_s: int | None = None


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    sensor_id: uuid.UUID
    levels: list[Level]
    no_data_after_s: int | None
    rise_per_hour: float | None
    stuck_after_s: int | None
    audience: Audience
    message: Bilingual
    heat: bool
    enabled: bool
    state: RuleState
    history: list[RuleEvent]
    created_at: datetime


class DryRun(msgspec.Struct, frozen=True, kw_only=True):
    """What a rule would have sent over the stored history (nothing is sent, nothing stored)."""

    observations: int
    events: list[RuleEvent]


class IngestKey(msgspec.Struct, frozen=True, kw_only=True):
    """An ingest key for a network-server integration; ``key`` is shown this once."""

    id: uuid.UUID
    label: str
    prefix: str
    key: str | None = None
    created_at: datetime


class IngestKeyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    label: Annotated[str, msgspec.Meta(max_length=100)] = ""
