"""Messaging use cases other domains call: record a notification in the caller's transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec

from hub.auth import CurrentUser
from hub.db import enqueue_after_commit
from hub.domain import UserData
from hub.errors import NotFound
from hub.pagination import decode_cursor, encode_cursor
from i18n.content import Bilingual
from messaging import queries
from messaging.errors import NotAcknowledgeable, UnknownUnsubscribeLink
from messaging.models import (
    Audience,
    AudienceCount,
    AudiencePreview,
    CatalogTexts,
    ChannelStatusCount,
    Count,
    Device,
    DeviceIn,
    EmailPreview,
    InboxItem,
    InboxPage,
    Message,
    Preference,
    Preferences,
    PreferencesIn,
    Preview,
    Priority,
    PushPreview,
    RetryFailed,
    Stats,
    catalog_text,
    compose_content,
    encode_content,
)
from messaging.pipeline import request_dispatch
from messaging.planning import BATCH_SIZE, retry_window, urgent_lane
from messaging.texts import push_text, texts_for

logger = logging.getLogger("messaging")


async def notify(
    conn: asyncpg.Connection,
    *,
    kind: str,
    audience: Audience,
    title: Bilingual | Message,
    body: Bilingual | Message,
    deep_link: str,
    priority: Priority = "info",
    source_id: uuid.UUID | None = None,
    community_id: uuid.UUID | None = None,
    sender_id: uuid.UUID | None = None,
    sender_name: Bilingual | None = None,
    ack_requested: bool = False,
    respect_preferences: bool = True,
    channels: tuple[str, ...] = ("push", "email"),
    not_before: datetime | None = None,
) -> uuid.UUID:
    """Record a notification in the caller's transaction; it is delivered only if that transaction commits.

    ``title``/``body`` are either bilingual user content or catalog messages translated per reader.
    Push and email texts must never carry care or health details: name the person and the action only.
    ``community_id`` selects the preferences that apply (and groups statistics); ``respect_preferences``
    False is for alerts a person cannot opt out of (a missed check-in for their circle).
    """
    values: dict[str, Any] = {
        "kind": kind,
        "source_id": source_id,
        "community_id": community_id if community_id is not None else audience.community_id,
        "sender_id": sender_id,
        "priority": priority,
        "deep_link": deep_link,
        "ack_requested": ack_requested,
        "respect_preferences": respect_preferences,
        "channels": list(channels),
        "audience_community_id": audience.community_id,
        "audience_user_ids": list(audience.user_ids),
        "exclude_user_ids": list(audience.exclude_user_ids),
        "not_before": not_before,
    }
    values["content"] = encode_content(compose_content(title, body, sender_name))
    notification_id = await queries.insert_notification(conn, values)
    if not_before is None:
        enqueue_after_commit(
            conn,
            "plan_notification",
            str(notification_id),
            job_id=f"plan:{notification_id}",
            urgent=urgent_lane(priority, kind),
        )
    return notification_id


async def email_address(
    conn: asyncpg.Connection,
    *,
    kind: str,
    address: str,
    locale: str,
    title: Message,
    body: Message,
    deep_link: str,
    reason: Literal["invited", "account"] = "invited",
) -> uuid.UUID:
    """Email an address no proven account answers for: an invitation (``invited``), or the account's own
    welcome, verification or reset link (``account``), in the language chosen for its reader.

    Recorded in the caller's transaction and sent after commit; an address that opted out or bounced
    for good gets nothing. The texts are catalog messages: nothing a user wrote goes to a stranger.
    """
    message = encode_content(CatalogTexts(title=catalog_text(title), body=catalog_text(body)))
    email_id = await queries.insert_direct_email(
        conn,
        kind=kind,
        address=address.strip(),
        locale=locale,
        message=message,
        deep_link=deep_link,
        reason=reason,
    )
    enqueue_after_commit(conn, "dispatch_direct_email", str(email_id), job_id=f"direct-email:{email_id}")
    return email_id


# -- devices ---------------------------------------------------------------------------------------------------


#: devices per person; registering one more drops the one seen least recently
MAX_DEVICES = 20


async def register_device(conn: asyncpg.Connection, user_id: uuid.UUID, data: DeviceIn) -> Device:
    device = await queries.upsert_device(conn, user_id, data.token.strip(), data.platform)
    await queries.drop_oldest_devices(conn, user_id, MAX_DEVICES)
    return device


async def list_devices(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[Device]:
    return await queries.devices_of(conn, user_id)


async def remove_device(conn: asyncpg.Connection, user_id: uuid.UUID, device_id: uuid.UUID) -> None:
    if not await queries.delete_device(conn, user_id, device_id):
        raise NotFound()


# -- preferences ---------------------------------------------------------------------------------------------------


async def get_preferences(conn: asyncpg.Connection, user_id: uuid.UUID) -> Preferences:
    email_default = not await queries.has_device(conn, user_id)
    items = [
        Preference(
            community_id=r.community_id,
            push=r.push if r.push is not None else True,
            email=r.email if r.email is not None else email_default,
            digest=r.digest,
        )
        for r in await queries.preferences_of(conn, user_id)
    ]
    defaults = Preference(community_id=uuid.UUID(int=0), push=True, email=email_default, digest="off")
    return Preferences(items=items, defaults=defaults)


async def set_preferences(conn: asyncpg.Connection, user_id: uuid.UUID, data: PreferencesIn) -> Preferences:
    """Replace the given communities' choices (others keep theirs)."""
    await queries.upsert_preferences(
        conn, user_id, [(p.community_id, p.push, p.email, p.digest) for p in data.items]
    )
    return await get_preferences(conn, user_id)


# -- inbox and receipts ------------------------------------------------------------------------------------


async def inbox(
    conn: asyncpg.Connection, user_id: uuid.UUID, locale: str, secret: str, limit: int, cursor: str | None
) -> InboxPage:
    after = None
    if cursor:
        stamp, ident = decode_cursor(secret, cursor, tuple[datetime, uuid.UUID])
        after = (stamp, ident)
    rows = await queries.inbox_page(conn, user_id, after, limit + 1)
    items = []
    for row in rows[:limit]:
        texts = texts_for(row.content, locale)
        items.append(
            InboxItem(
                id=row.id,
                kind=row.kind,
                priority=row.priority,
                title=texts.title,
                body=texts.body,
                deep_link=row.deep_link,
                community_id=row.community_id,
                created_at=row.created_at,
                read=row.read_at is not None,
                acknowledged=row.acknowledged_at is not None,
                ack_requested=row.ack_requested,
            )
        )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(secret, (last.received_at, last.id))
    return InboxPage(items=items, next_cursor=next_cursor)


async def mark_read(conn: asyncpg.Connection, user_id: uuid.UUID, notification_id: uuid.UUID) -> None:
    if await queries.inbox_entry(conn, user_id, notification_id) is None:
        raise NotFound()
    await queries.mark_read(conn, user_id, notification_id)


#: what a domain does when someone acknowledges one of its notifications from the inbox
AckListener = Callable[[asyncpg.Connection, uuid.UUID, str, "uuid.UUID | None", datetime], Awaitable[None]]
_ack_listeners: list[AckListener] = []


def on_acknowledged(listener: AckListener) -> None:
    """Register a domain's listener: it gets (conn, user id, kind, source id, when) for every inbox
    acknowledgement, in the same transaction, so a domain's own state of the fact stays the same fact."""
    if listener not in _ack_listeners:
        _ack_listeners.append(listener)


async def acknowledge(conn: asyncpg.Connection, user_id: uuid.UUID, notification_id: uuid.UUID) -> None:
    entry = await queries.inbox_entry(conn, user_id, notification_id)
    if entry is None:
        raise NotFound()
    if not entry.ack_requested:
        raise NotAcknowledgeable()
    await queries.mark_acknowledged(conn, user_id, notification_id)
    source = await queries.notification_source(conn, notification_id)
    if source is not None:
        at = datetime.now().astimezone()
        for listener in _ack_listeners:
            await listener(conn, user_id, source.kind, source.source_id, at)


async def acknowledge_source(
    conn: asyncpg.Connection, user_id: uuid.UUID, kinds: tuple[str, ...], source_id: uuid.UUID
) -> None:
    """The sending domain recorded an acknowledgement itself: the person's inbox shows it too."""
    await queries.mark_acknowledged_by_source(conn, user_id, list(kinds), source_id)


class Acknowledgement(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    locale: str
    municipality_code: str | None
    read: bool
    acknowledged: bool


async def acknowledgements(conn: asyncpg.Connection, notification_id: uuid.UUID) -> list[Acknowledgement]:
    """Who received a notification and who acknowledged it (for the sending domain's own views)."""
    return [
        Acknowledgement(
            user_id=r.user_id,
            locale=r.locale,
            municipality_code=r.municipality_code,
            read=r.read_at is not None,
            acknowledged=r.acknowledged_at is not None,
        )
        for r in await queries.acknowledgement_rows(conn, notification_id)
    ]


async def cancel(conn: asyncpg.Connection, kind: str, source_id: uuid.UUID) -> None:
    """The source was withdrawn (a deleted or hidden post): whatever is not sent yet is skipped."""
    await queries.cancel_notifications(conn, kind, source_id)


async def withdraw_recipient(conn: asyncpg.Connection, user_id: uuid.UUID, link_prefix: str) -> None:
    """Someone may no longer be told about something (they left a care circle): whatever of the
    notifications under ``link_prefix`` is not yet sent to them is skipped, and they are left out of
    those not yet planned. Others still get theirs."""
    await queries.withdraw_recipient(conn, user_id, link_prefix)


async def cancel_under(conn: asyncpg.Connection, link_prefix: str) -> None:
    """Every notification under ``link_prefix`` is withdrawn for everyone (a closed care circle)."""
    await queries.cancel_by_link_prefix(conn, link_prefix)


# -- statistics ------------------------------------------------------------------------------------------------


async def stats(conn: asyncpg.Connection, user: CurrentUser, notification_id: uuid.UUID) -> Stats:
    """Counts for the sender (or a hub admin) by channel and status, language and municipality."""
    row = await queries.notification_sender(conn, notification_id)
    if row is None or (row.sender_id != user.id and not user.is_admin):
        raise NotFound()
    return await delivery_stats(conn, notification_id)


async def notification_of(conn: asyncpg.Connection, kind: str, source_id: uuid.UUID) -> uuid.UUID | None:
    """The notification that carried a source, for a domain that has checked who may follow it up."""
    return await queries.notification_of(conn, kind, source_id)


async def delivery_stats(conn: asyncpg.Connection, notification_id: uuid.UUID) -> Stats:
    """The same counts for a sending domain that has checked who may see them (a provider's staff)."""
    row = await queries.notification_sender(conn, notification_id)
    if row is None:
        raise NotFound()
    counts = await queries.delivery_counts(conn, notification_id)
    by_channel_status: list[ChannelStatusCount] = []
    quiet_overridden = deferred = 0
    for d in counts.deliveries:
        if d.channel is not None and d.status is not None:
            by_channel_status.append(ChannelStatusCount(channel=d.channel, status=d.status, count=d.n))
        elif d.quiet_override is True:
            quiet_overridden = d.n
        elif d.deferred_by_quiet_hours is True:
            deferred = d.n
    by_language: list[Count] = []
    by_municipality: list[Count] = []
    recipients = read = acknowledged = 0
    for receipt in counts.receipts:
        if receipt.locale is not None:
            by_language.append(Count(key=receipt.locale, count=receipt.recipients))
        elif receipt.municipality_code is not None:
            by_municipality.append(Count(key=receipt.municipality_code, count=receipt.recipients))
        else:
            recipients, read, acknowledged = receipt.recipients, receipt.read, receipt.acknowledged
    waiting = [Count(key=r.channel, count=r.n) for r in counts.waiting]
    return Stats(
        notification_id=notification_id,
        recipients=recipients,
        planned=row.planned_at is not None,
        by_channel_status=sorted(by_channel_status, key=lambda c: (c.channel, c.status)),
        by_language=sorted(by_language, key=lambda c: c.key),
        by_municipality=sorted(by_municipality, key=lambda c: c.key),
        read=read,
        acknowledged=acknowledged,
        quiet_hours_overridden=quiet_overridden,
        deferred_by_quiet_hours=deferred,
        waiting_for_provider=sorted(waiting, key=lambda c: c.key),
    )


async def retry_failed(
    conn: asyncpg.Connection, user: CurrentUser, notification_id: uuid.UUID, now: datetime
) -> RetryFailed:
    """The sender (or a hub admin) sends the failed push and email deliveries of a notification again,
    now, each with a new retry deadline; dispatch is asked for after commit."""
    row = await queries.notification_sender(conn, notification_id)
    if row is None or (row.sender_id != user.id and not user.is_admin):
        raise NotFound()
    counts = await queries.retry_failed(
        conn, notification_id, now, now + retry_window(row.priority, row.kind)
    )
    for channel, count in counts.items():
        request_dispatch(
            conn,
            notification_id,
            channel,
            now,
            shards=-(-count // BATCH_SIZE),
            urgent=urgent_lane(row.priority, row.kind),
        )
    if counts:
        logger.info("failed deliveries of notification %s sent again: %s", notification_id, counts)
    return RetryFailed(
        notification_id=notification_id,
        retried=sum(counts.values()),
        by_channel=[Count(key=k, count=v) for k, v in sorted(counts.items())],
    )


# -- before sending: audience and preview ----------------------------------------------------------------


async def audience_preview(
    conn: asyncpg.Connection, user_ids: Sequence[uuid.UUID], *, priority: Priority, now: datetime
) -> AudiencePreview:
    """How many of these people a notification would reach, by language and municipality, and how many
    of them only after their quiet hours (an urgent one passes them, as planning does)."""
    totals: dict[str, dict[str, list[int]]] = {"locale": {}, "municipality_code": {}}
    total = later = 0
    for row in await queries.audience_rows(conn, list(dict.fromkeys(user_ids)), now):
        deferred = bool(row.quiet) and priority != "urgent"
        n = int(row.n)
        total += n
        later += n if deferred else 0
        for column, key in (("locale", row.locale), ("municipality_code", row.municipality_code)):
            counts = totals[column].setdefault(key or "", [0, 0])
            counts[0] += n
            counts[1] += n if deferred else 0

    def listed(column: str) -> list[AudienceCount]:
        return [
            AudienceCount(key=key, total=t, now=t - d, later=d)
            for key, (t, d) in sorted(totals[column].items(), key=lambda item: (-item[1][0], item[0]))
        ]

    return AudiencePreview(
        total=total,
        now=total - later,
        later=later,
        by_language=listed("locale"),
        by_municipality=listed("municipality_code"),
    )


def preview(
    locale: str,
    *,
    title: Bilingual,
    body: Bilingual,
    sender_name: Bilingual | None,
    priority: Priority,
    deep_link: str,
    public_url: str,
    sent_at: datetime,
) -> Preview:
    """The push and the email a reader of ``locale`` would get, rendered by the code that sends them."""
    from messaging.email import EmailView, render_notification

    texts = texts_for(compose_content(title, body, sender_name), locale)
    push_title, push_body = push_text(texts, locale)
    rendered = render_notification(
        locale,
        EmailView(
            title=texts.title,
            body=texts.body,
            sender=texts.sender,
            sent_at=sent_at,
            link_url=f"{public_url}{deep_link}",
            priority=priority,
        ),
    )
    text, page = rendered.shown(f"{public_url}/v1/unsubscribe/…")
    return Preview(
        locale=locale,
        title=texts.title,
        body=texts.body,
        push=PushPreview(title=push_title, body=push_body),
        email=EmailPreview(subject=rendered.subject, text=text, html=page),
    )


# -- unsubscribe ---------------------------------------------------------------------------------------------------


async def unsubscribe_locale(conn: asyncpg.Connection, token: str, now: datetime) -> str | None:
    """The language of the person a valid token belongs to (None for an address without an account);
    a forged or expired token is a 404."""
    target = await queries.unsubscribe_target(conn, token, now)
    if target is not None:
        return str(target.locale)
    if await queries.optout_known(conn, token, now):
        return None
    raise UnknownUnsubscribeLink()


async def unsubscribe(conn: asyncpg.Connection, token: str, now: datetime) -> str | None:
    """One-click unsubscribe (RFC 8058), idempotent: no more email from that community, or, for an
    address without an account, no more email at all. Returns the person's language if known."""
    target = await queries.unsubscribe_target(conn, token, now)
    if target is not None:
        await queries.unsubscribe(conn, target.user_id, target.community_id)
        return str(target.locale)
    if await queries.optout_address(conn, token, now) is None:
        raise UnknownUnsubscribeLink()
    return None


# -- GDPR ------------------------------------------------------------------------------------------------------


async def export_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    export = await queries.export_rows(conn, user_id)
    return {
        name: [msgspec.structs.asdict(item) for item in items]
        for name, items in msgspec.structs.asdict(export).items()
    }


async def erase_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await queries.erase_user(conn, user_id)


USER_DATA = UserData("messaging", export_user, erase_user)
