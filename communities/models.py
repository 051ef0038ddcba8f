"""Community, membership, post and report requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from i18n.content import Bilingual, Localized
from territory.models import MunicipalityCode

Kind = Literal[
    "association",
    "village",
    "seniors",
    "care_network",
    "events",
    "municipal_news",
    "choir",
    "sports",
    "other",
]
Visibility = Literal["public", "private"]
JoinPolicy = Literal["open", "approval"]
Role = Literal["member", "publisher", "moderator", "admin"]
Status = Literal["pending", "active", "banned"]
Priority = Literal["info", "important", "urgent"]
Codes = Annotated[list[MunicipalityCode], msgspec.Meta(min_length=1, max_length=100)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class CommunityIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: Bilingual
    description: Bilingual = Bilingual()
    municipality_codes: Codes
    visibility: Visibility = "public"
    join_policy: JoinPolicy = "open"
    kind: Kind = "other"


class CommunityPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Fields left out stay as they are."""

    name: Bilingual | msgspec.UnsetType = msgspec.UNSET
    description: Bilingual | msgspec.UnsetType = msgspec.UNSET
    municipality_codes: Codes | msgspec.UnsetType = msgspec.UNSET
    visibility: Visibility | msgspec.UnsetType = msgspec.UNSET
    join_policy: JoinPolicy | msgspec.UnsetType = msgspec.UNSET
    kind: Kind | msgspec.UnsetType = msgspec.UNSET


class CommunityRow(msgspec.Struct, frozen=True, kw_only=True):
    """A community as stored, with the caller's membership if any."""

    id: uuid.UUID
    name: Bilingual
    description: Bilingual
    kind: Kind
    visibility: Visibility
    join_policy: JoinPolicy
    municipality_codes: list[str]
    member_count: int
    created_at: datetime
    role: Role | None = None
    status: Status | None = None


class MyMembership(msgspec.Struct, frozen=True):
    role: Role
    status: Status


class Community(msgspec.Struct, frozen=True, kw_only=True):
    """A community in the reader's language (``fallback`` marks text shown in the other language)."""

    id: uuid.UUID
    name: Localized
    description: Localized | None
    kind: Kind
    visibility: Visibility
    join_policy: JoinPolicy
    municipality_codes: list[str]
    member_count: int
    created_at: datetime
    membership: MyMembership | None = None


class CommunityPage(msgspec.Struct, frozen=True):
    items: list[Community]
    next_cursor: str | None = None


class Membership(msgspec.Struct, frozen=True):
    community_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    status: Status
    joined_at: datetime


class Member(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    display_name: str
    role: Role
    status: Status
    joined_at: datetime


class MemberPage(msgspec.Struct, frozen=True):
    items: list[Member]
    next_cursor: str | None = None


class MemberUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``status``: ``active`` approves (or lifts a ban), ``banned`` bans, ``removed`` rejects or removes."""

    role: Role | msgspec.UnsetType = msgspec.UNSET
    status: Literal["active", "banned", "removed"] | msgspec.UnsetType = msgspec.UNSET


class PostIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Plain text; ``body`` may carry ``fr_simple``/``de_simple`` (FALC / Leichte Sprache) variants."""

    title: Bilingual
    body: Bilingual
    priority: Priority = "info"
    publish_at: AwareTime | None = None
    expires_at: AwareTime | None = None


class Composer(msgspec.Struct, frozen=True, kw_only=True):
    """A community someone may publish in: its name in both languages (a post's sender) and their rights."""

    community: Community
    name: Bilingual
    may_post_urgent: bool


class PostPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Fields left out stay as they are; ``expires_at: null`` removes the expiry."""

    title: Bilingual | msgspec.UnsetType = msgspec.UNSET
    body: Bilingual | msgspec.UnsetType = msgspec.UNSET
    priority: Priority | msgspec.UnsetType = msgspec.UNSET
    publish_at: AwareTime | msgspec.UnsetType = msgspec.UNSET
    expires_at: AwareTime | msgspec.UnsetType | None = msgspec.UNSET


class PostRow(msgspec.Struct, frozen=True, kw_only=True):
    """A post as stored, with its community's name and its author's display name."""

    id: uuid.UUID
    community_id: uuid.UUID
    community_name: Bilingual
    author_id: uuid.UUID | None
    author_name: str | None
    title: Bilingual
    body: Bilingual
    priority: Priority
    publish_at: datetime | None
    published_at: datetime | None
    expires_at: datetime | None
    hidden: bool
    created_at: datetime
    updated_at: datetime


class Post(msgspec.Struct, frozen=True, kw_only=True):
    """A post in the reader's language; ``published_at`` is null while it waits for ``publish_at``."""

    id: uuid.UUID
    community_id: uuid.UUID
    community_name: Localized
    author_id: uuid.UUID | None
    author_name: str | None
    title: Localized
    body: Localized
    priority: Priority
    publish_at: datetime | None
    published_at: datetime | None
    expires_at: datetime | None
    hidden: bool
    created_at: datetime
    updated_at: datetime


class PostPage(msgspec.Struct, frozen=True):
    items: list[Post]
    next_cursor: str | None = None


class ReportIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class Report(msgspec.Struct, frozen=True):
    id: uuid.UUID
    post_id: uuid.UUID
    reason: str
    created_at: datetime


class QueuedReport(msgspec.Struct, frozen=True, kw_only=True):
    """An open report in a community's moderation queue."""

    id: uuid.UUID
    post_id: uuid.UUID
    post_title: Localized
    post_hidden: bool
    reporter_id: uuid.UUID
    reason: str
    created_at: datetime


class ReportPage(msgspec.Struct, frozen=True):
    items: list[QueuedReport]
    next_cursor: str | None = None


class QueuedReportRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    post_id: uuid.UUID
    post_title: Bilingual
    post_hidden: bool
    reporter_id: uuid.UUID
    reason: str
    created_at: datetime


class StoredPost(msgspec.Struct, frozen=True, kw_only=True):
    """A person's own post as the GDPR export shows it: both languages, as written."""

    id: uuid.UUID
    community_id: uuid.UUID
    title: Bilingual
    body: Bilingual
    priority: Priority
    published_at: datetime | None
    created_at: datetime


class PersonData(msgspec.Struct, frozen=True):
    """A person's memberships, posts and reports (GDPR export)."""

    memberships: list[Membership]
    posts: list[StoredPost]
    reports: list[Report]


#: example bodies for the API documentation (each decodes as its Struct: tests check it)
COMMUNITY_EXAMPLE = {
    "name": {"fr": "Chorale transfrontalière", "de": "Grenzüberschreitender Chor"},
    "description": {"fr": "Nous chantons à Bitche le mardi.", "de": "Wir singen dienstags in Bitsch."},
    "municipality_codes": ["57089"],
    "visibility": "public",
    "join_policy": "open",
    "kind": "choir",
}
POST_EXAMPLE = {
    "title": {"fr": "Répétition déplacée", "de": "Probe verlegt"},
    "body": {
        "fr": "La répétition de mardi a lieu à la salle des fêtes.",
        "de": "Die Probe am Dienstag findet im Festsaal statt.",
    },
    "priority": "info",
}
