"""Messaging requests and responses, and what other domains hand to the pipeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from i18n.content import Bilingual, Localized

Priority = Literal["info", "important", "urgent"]
Channel = Literal["push", "email"]
Digest = Literal["off", "daily", "weekly"]


class Message(msgspec.Struct, frozen=True):
    """A catalog sentence (msgid with ``{named}`` placeholders) translated for each reader at send time.

    Parameter values are strings, or datetimes that are formatted for the reader's locale and zone.
    """

    msgid: str
    params: dict[str, str | datetime] = {}


class Moment(msgspec.Struct, frozen=True):
    """A date and time in a stored catalog message, formatted for each reader (its one field has no
    default: a moment without its time means nothing)."""

    at: datetime = msgspec.field(name="datetime")


#: a stored parameter of a catalog message
Param = str | int | float | Moment


class WrittenText(msgspec.Struct, frozen=True, tag="written", tag_field="kind"):
    """A text a person wrote, in French and/or German."""

    fr: str | None = None
    de: str | None = None


class CatalogText(msgspec.Struct, frozen=True, tag="catalog", tag_field="kind"):
    """A catalog sentence as stored, translated for each reader at send time."""

    msgid: str = ""
    params: dict[str, Param] = {}


#: one stored text of a notification: what someone wrote, or a catalog sentence
StoredText = WrittenText | CatalogText


class NotificationContent(msgspec.Struct, frozen=True):
    """What a notification says, as stored in ``notifications.content`` (JSON): the title and the body,
    each written or from the catalog, and the sender's name when it is not the hub."""

    title: StoredText = msgspec.field(default_factory=WrittenText)
    body: StoredText = msgspec.field(default_factory=WrittenText)
    sender_name: WrittenText | None = None


class CatalogTexts(msgspec.Struct, frozen=True):
    """The title and body of an email to an address without an account, as stored (``direct_emails``)."""

    title: CatalogText = msgspec.field(default_factory=CatalogText)
    body: CatalogText = msgspec.field(default_factory=CatalogText)


def catalog_text(message: Message) -> CatalogText:
    """A catalog sentence as it is stored."""
    params: dict[str, Param] = {
        k: Moment(v) if isinstance(v, datetime) else v for k, v in message.params.items()
    }
    return CatalogText(msgid=message.msgid, params=params)


def stored_text(text: Bilingual | Message) -> StoredText:
    """A title or body as it is stored."""
    return catalog_text(text) if isinstance(text, Message) else WrittenText(fr=text.fr, de=text.de)


def compose_content(
    title: Bilingual | Message, body: Bilingual | Message, sender_name: Bilingual | None
) -> NotificationContent:
    """A notification's content as it is stored, from what a domain hands to ``notify``."""
    return NotificationContent(
        title=stored_text(title),
        body=stored_text(body),
        sender_name=WrittenText(fr=sender_name.fr, de=sender_name.de) if sender_name is not None else None,
    )


_content_decoder = msgspec.json.Decoder(NotificationContent)
_catalog_texts_decoder = msgspec.json.Decoder(CatalogTexts)


def encode_content(content: NotificationContent | CatalogTexts) -> str:
    """The JSON stored for a notification's content or a direct email's texts."""
    return msgspec.json.encode(content).decode()


def decode_content(stored: str | bytes) -> NotificationContent:
    return _content_decoder.decode(stored)


def decode_catalog_texts(stored: str | bytes) -> CatalogTexts:
    return _catalog_texts_decoder.decode(stored)


class Audience(msgspec.Struct, frozen=True):
    """Who receives a notification: a community's active members and/or named people."""

    community_id: uuid.UUID | None = None
    user_ids: tuple[uuid.UUID, ...] = ()
    exclude_user_ids: tuple[uuid.UUID, ...] = ()


class DeviceIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=8, max_length=4096)]
    platform: Literal["android", "ios", "web"]


class Device(msgspec.Struct, frozen=True):
    id: uuid.UUID
    platform: str
    created_at: datetime
    last_seen_at: datetime


class Preference(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    community_id: uuid.UUID
    push: bool = True
    email: bool = False
    digest: Digest = "off"


class PreferencesIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    items: Annotated[list[Preference], msgspec.Meta(max_length=500)]


class Preferences(msgspec.Struct, frozen=True):
    items: list[Preference]
    #: what applies to communities without an explicit choice
    defaults: Preference


class InboxItem(msgspec.Struct, frozen=True):
    id: uuid.UUID
    kind: str
    priority: Priority
    title: Localized
    body: Localized
    deep_link: str
    community_id: uuid.UUID | None
    created_at: datetime
    read: bool
    acknowledged: bool
    ack_requested: bool


class InboxPage(msgspec.Struct, frozen=True):
    items: list[InboxItem]
    next_cursor: str | None = None


class Count(msgspec.Struct, frozen=True):
    key: str
    count: int


class ChannelStatusCount(msgspec.Struct, frozen=True):
    channel: str
    status: str
    count: int


class Stats(msgspec.Struct, frozen=True):
    notification_id: uuid.UUID
    recipients: int
    planned: bool
    by_channel_status: list[ChannelStatusCount]
    by_language: list[Count]
    by_municipality: list[Count]
    read: int
    acknowledged: int
    quiet_hours_overridden: int
    deferred_by_quiet_hours: int
    #: pending deliveries by channel that wait for their provider (unreachable or throttling) to come back;
    #: they are still counted under their status ("pending") in ``by_channel_status``
    waiting_for_provider: list[Count] = []


class RetryFailed(msgspec.Struct, frozen=True):
    """Failed deliveries of a notification put back to be sent again, by channel."""

    notification_id: uuid.UUID
    retried: int
    by_channel: list[Count]


#: example body for the API documentation (decodes as DeviceIn: tests check it)
DEVICE_EXAMPLE = {"token": "fcm-registration-token-from-the-app", "platform": "android"}


class AudienceCount(msgspec.Struct, frozen=True):
    """Recipients sharing a language or a municipality: all of them, told now, told after quiet hours."""

    key: str
    total: int
    now: int
    later: int


class AudiencePreview(msgspec.Struct, frozen=True):
    """Who a notification would reach if it were sent now, before it is sent."""

    total: int
    now: int
    later: int
    by_language: list[AudienceCount]
    by_municipality: list[AudienceCount]


class PushPreview(msgspec.Struct, frozen=True):
    title: str
    body: str


class EmailPreview(msgspec.Struct, frozen=True):
    subject: str
    text: str
    html: str


class Preview(msgspec.Struct, frozen=True):
    """A notification as a reader of one language would get it, rendered by the sending code."""

    locale: str
    title: Localized
    body: Localized
    push: PushPreview
    email: EmailPreview
