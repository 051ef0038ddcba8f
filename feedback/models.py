"""Feedback requests and responses: the Open311 GeoReport v2 shapes and the app's own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from i18n.content import Localized

Status = Literal["open", "acknowledged", "in_progress", "closed"]
Resolution = Literal["solved", "not_solved", "duplicate", "forwarded", "rejected"]
Keyword = Literal["problem", "idea", "tip"]
Audience = Literal["municipality", "care"]
Routing = Literal["cell", "nearest", "chosen", "address"]

MunicipalityCode = Annotated[str, msgspec.Meta(pattern=r"^(([0-9]{2}|2A|2B)[0-9]{3}|[0-9]{8})$")]
ServiceCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class BothLanguages(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Text an administrator writes in French and in German, both required."""

    fr: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    de: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


# -- Open311 GeoReport v2 --------------------------------------------------------------------------------------


class Open311Service(msgspec.Struct, frozen=True):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class Open311Created(msgspec.Struct, frozen=True):
    service_request_id: str
    service_notice: str | None
    account_id: str | None = None
    #: extension: where the report was routed
    municipality_code: str | None = None


class Open311Request(msgspec.Struct, frozen=True):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float
    long: float
    media_url: str | None
    #: extensions: the app's finer status, how it was closed, and the municipality it is routed to
    detailed_status: Status
    resolution: Resolution | None
    municipality_code: str


class Open311Error(msgspec.Struct, frozen=True):
    code: int
    description: str


# -- the catalogue ---------------------------------------------------------------------------------------------


class ServiceIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: ServiceCode
    name: BothLanguages
    description: BothLanguages
    group: BothLanguages
    keywords: Annotated[list[Keyword], msgspec.Meta(min_length=1, max_length=3)]
    #: None: a service for the whole region (hub administrators only)
    municipality_code: MunicipalityCode | None = None
    audience: Audience = "municipality"
    position: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 100


class ServicePatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: BothLanguages | None = None
    description: BothLanguages | None = None
    group: BothLanguages | None = None
    keywords: Annotated[list[Keyword], msgspec.Meta(min_length=1, max_length=3)] | None = None
    position: Annotated[int, msgspec.Meta(ge=0, le=10_000)] | None = None
    active: bool | None = None


class ServiceTexts(msgspec.Struct, frozen=True):
    """A service's name, description or group, in both languages."""

    fr: str
    de: str


class ServiceOut(msgspec.Struct, frozen=True):
    code: str
    municipality_code: str | None
    name: ServiceTexts
    description: ServiceTexts
    group: ServiceTexts
    keywords: list[str]
    audience: str
    position: int
    active: bool


# -- staff and keys ----------------------------------------------------------------------------------------------


class MunicipalStaffIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
    municipality_code: MunicipalityCode


class StaffMember(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    display_name: str
    municipality_code: str
    granted_at: datetime


class ApiKeyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class ApiKeyCreated(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str
    #: shown once; Open311 clients send it as ``api_key``
    api_key: str


# -- placing a report, duplicates ------------------------------------------------------------------------------


class Candidate(msgspec.Struct, frozen=True):
    code: str
    country: str
    name: ServiceTexts


class Nearby(msgspec.Struct, frozen=True):
    """An open report of the same service close by, to follow instead of reporting it again."""

    id: uuid.UUID
    service_code: str
    status: Status
    distance_m: int
    requested_at: datetime
    #: the text only once staff released the report
    description: str | None
    followers: int


class Placement(msgspec.Struct, frozen=True):
    """Where a report at a place would go, what to call in an emergency, and similar open reports."""

    municipality_code: str | None
    routing: Literal["cell", "nearest", "outside"]
    ambiguous: bool
    candidates: list[Candidate]
    emergency: Localized
    nearby: list[Nearby]


# -- staff actions ---------------------------------------------------------------------------------------------


class StatusIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    status: Literal["acknowledged", "in_progress", "closed"]
    note: BothLanguages
    resolution: Resolution | None = None
    duplicate_of: uuid.UUID | None = None
    #: the authority outside the hub it went to, when closed as forwarded
    forwarded_to: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | None = None


class ForwardIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    municipality_code: MunicipalityCode
    note: BothLanguages


class SatisfactionIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    satisfied: bool


class AbuseIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class ReleaseIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: photos released with the report (others stay private)
    photo_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=10)] = []


# -- views -----------------------------------------------------------------------------------------------------


class Update(msgspec.Struct, frozen=True):
    kind: str
    status: Status
    resolution: Resolution | None
    #: the note in the reader's language, and both versions as written
    note: Localized | None
    notes: ServiceTexts | None
    from_municipality: str | None
    to_municipality: str | None
    created_at: datetime


class PhotoInfo(msgspec.Struct, frozen=True):
    id: uuid.UUID
    released: bool
    url: str


class FeedbackItem(msgspec.Struct, frozen=True):
    id: uuid.UUID
    service_code: str
    service_name: Localized
    municipality_code: str
    routing: Routing
    status: Status
    resolution: Resolution | None
    duplicate_of: uuid.UUID | None
    forwarded_to: str | None
    description: str
    lat: float
    lon: float
    address: str | None
    requested_at: datetime
    updated_at: datetime
    released: bool
    #: hidden from the public after several abuse reports, until staff release it again
    hidden: bool
    review_requested: bool
    satisfied: bool | None
    following: bool
    photos: list[PhotoInfo]
    updates: list[Update]


class FeedbackPage(msgspec.Struct, frozen=True):
    items: list[FeedbackItem]
    next_cursor: str | None = None


# -- open data -------------------------------------------------------------------------------------------------


class PointGeometry(msgspec.Struct, frozen=True):
    coordinates: tuple[float, float]
    type: Literal["Point"] = "Point"


class FeatureProperties(msgspec.Struct, frozen=True):
    id: str
    service_code: str
    service_name: ServiceTexts
    municipality_code: str
    status: Status
    resolution: Resolution | None
    description: str
    requested_at: datetime
    updated_at: datetime
    photo_urls: list[str]


class Feature(msgspec.Struct, frozen=True):
    geometry: PointGeometry
    properties: FeatureProperties
    type: Literal["Feature"] = "Feature"


class FeatureCollection(msgspec.Struct, frozen=True):
    features: list[Feature]
    type: Literal["FeatureCollection"] = "FeatureCollection"


class PublicList(msgspec.Struct, frozen=True):
    """A municipality's public list of released reports, in one reader's language."""

    code: str
    name: str
    emergency: str
    items: list[Open311Request]
