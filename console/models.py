"""What the console's pages show: drafts, text warnings, previews with their audience, overviews."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from care.models import AlertReport, AlertSummary, Provider
from communities.models import Community, Member, Post, QueuedReport
from communities.partners.models import KeyInfo, Partner
from i18n.content import Bilingual, Localized
from messaging.models import AudiencePreview, Preview, Priority, Stats


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    """An alert as written in the compose form (blank variants dropped)."""

    title: Bilingual
    body: Bilingual
    priority: Priority = "important"
    ack_requested: bool = True
    remind_after_minutes: int = 120


class PostDraft(msgspec.Struct, frozen=True, kw_only=True):
    """A community post as written in the compose form; ``publish_at`` (UTC) is None for "now"."""

    title: Bilingual
    body: Bilingual
    priority: Priority = "info"
    publish_at: datetime | None = None
    #: the date and time as the writer typed them (their local time), shown back in the form
    publish_date: str = ""
    publish_time: str = ""


class TextWarning(msgspec.Struct, frozen=True):
    """Something the writer should look at before sending; ``lang`` is the side concerned."""

    field: Literal["title", "body", "body_simple"]
    lang: Literal["fr", "de"]
    kind: Literal["missing", "wrong_language"]
    #: the catalog sentence that explains it to the writer
    message: str


class Place(msgspec.Struct, frozen=True):
    code: str
    name: str


class Overview(msgspec.Struct, frozen=True):
    """What a signed-in person may operate."""

    providers: list[Provider]
    communities: list[Community]
    is_admin: bool
    #: communities where the person publishes without moderating
    publishing: list[Community] = []


class Check(msgspec.Struct, frozen=True):
    """A draft checked and rendered as it would go out, with who would get it now."""

    draft: Draft | PostDraft
    errors: list[str]
    warnings: list[TextWarning]
    previews: list[Preview]
    audience: AudiencePreview
    places: dict[str, str]
    needs_confirmation: bool
    #: the checked form's fields, carried by the send form so that what is sent is what was previewed
    carry: dict[str, str] = {}


class AlertView(msgspec.Struct, frozen=True):
    """An alert's follow-up: acknowledgements and delivery counts, with place names."""

    provider: Provider
    report: AlertReport
    stats: Stats | None
    places: dict[str, str]


class PostView(msgspec.Struct, frozen=True):
    """A post's follow-up: its notification's delivery counts (none while it is scheduled)."""

    community_id: uuid.UUID
    post: Post
    stats: Stats | None
    places: dict[str, str]


class Sent(msgspec.Struct, frozen=True):
    """What a compose form created (an alert or a post), and whether this submission was a repeat."""

    id: uuid.UUID
    replayed: bool


class ProviderView(msgspec.Struct, frozen=True):
    provider: Provider
    alerts: list[AlertSummary]
    clients: int


class PendingSubmission(msgspec.Struct, frozen=True):
    """A partner's event or post waiting for a moderator, titled in the reader's language."""

    id: uuid.UUID
    kind: str
    partner_name: str
    title: Localized
    created_at: datetime


class ModerationView(msgspec.Struct, frozen=True):
    community: Community
    reports: list[QueuedReport]
    submissions: list[PendingSubmission]
    join_requests: list[Member]


class MembersView(msgspec.Struct, frozen=True):
    """A community's members with their roles, for its administrators."""

    community: Community
    members: list[Member]
    next_cursor: str | None


class AdminView(msgspec.Struct, frozen=True):
    providers: list[Provider]
    partners: list[Partner]


class PartnerView(msgspec.Struct, frozen=True):
    partner: Partner
    keys: list[KeyInfo]
