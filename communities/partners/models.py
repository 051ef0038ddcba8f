"""Partner organisation, key, submission and audit requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from communities.events.models import Event, EventIn
from communities.models import AwareTime, Post
from i18n.content import Bilingual

PartnerKind = Literal["municipality", "association", "tourism_office", "care_provider"]
Scope = Literal["events:write", "posts:write", "sensors:write"]
SubmissionStatus = Literal["pending", "approved", "rejected"]


class PartnerIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: PartnerKind
    language: Literal["fr", "de"]


class Partner(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    kind: PartnerKind
    language: Literal["fr", "de"]
    created_at: datetime


class KeyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A key may do ``scopes`` in ``community_ids`` only, until ``expires_at`` (default: one year)."""

    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=3)]
    community_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=50)]
    expires_at: AwareTime | None = None
    label: Annotated[str, msgspec.Meta(max_length=100)] = ""


class KeyInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A key as listed later: its prefix identifies it, its secret is never shown again."""

    id: uuid.UUID
    partner_id: uuid.UUID
    label: str
    prefix: str
    scopes: list[str]
    community_ids: list[uuid.UUID]
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class IssuedKey(msgspec.Struct, frozen=True, kw_only=True):
    """A new key: ``key`` is shown this once (only its hash is kept)."""

    key: str
    info: KeyInfo


class PartnerKey(msgspec.Struct, frozen=True, kw_only=True):
    """The key a partner request authenticated with."""

    id: uuid.UUID
    partner_id: uuid.UUID
    partner_name: str
    partner_language: Literal["fr", "de"]
    scopes: list[str]
    community_ids: list[uuid.UUID]


class PartnerEventIn(EventIn, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An event for one of the communities the key may reach."""

    community_id: uuid.UUID


class PartnerPostIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A post for one of the communities the key may reach (urgent posts are reserved to moderators)."""

    community_id: uuid.UUID
    title: Bilingual
    body: Bilingual
    priority: Literal["info", "important"] = "info"
    publish_at: AwareTime | None = None
    expires_at: AwareTime | None = None


class PartnerEventResult(msgspec.Struct, frozen=True, kw_only=True):
    """``published`` with the event, or ``pending`` when the community approves partner content first."""

    status: Literal["published", "pending"]
    submission_id: uuid.UUID | None = None
    event: Event | None = None


class PartnerPostResult(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["published", "pending"]
    submission_id: uuid.UUID | None = None
    post: Post | None = None


class Submission(msgspec.Struct, frozen=True, kw_only=True):
    """A partner's event or post waiting for (or past) a moderator's decision; ``payload`` as submitted."""

    id: uuid.UUID
    partner_id: uuid.UUID
    partner_name: str
    community_id: uuid.UUID
    kind: Literal["event", "post"]
    status: SubmissionStatus
    payload: dict[str, Any]
    result_id: uuid.UUID | None
    created_at: datetime
    decided_at: datetime | None


class SubmissionPage(msgspec.Struct, frozen=True):
    items: list[Submission]


class PartnerSettingsIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    require_approval: bool


class PartnerSettings(msgspec.Struct, frozen=True):
    community_id: uuid.UUID
    require_approval: bool


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    partner_id: uuid.UUID
    key_id: uuid.UUID | None
    actor_user_id: uuid.UUID | None
    action: str
    community_id: uuid.UUID | None
    object_id: uuid.UUID | None
    detail: dict[str, Any]
    created_at: datetime
