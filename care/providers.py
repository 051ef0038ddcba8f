"""Care providers and their alerts: the directory, staff seats, clients, alerts, acknowledgements, reminders."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from care.common import ALERT_REMINDER_BODY, access_provider, current_time, messages, scoped_position
from care.errors import AlreadyStaff, LastStaff, ProviderNotVerified
from care.models import (
    Acknowledged,
    AlertCreated,
    AlertIn,
    AlertReport,
    AlertSummary,
    ClientList,
    ClientRegistration,
    ConsentIn,
    Provider,
    ProviderIn,
    Service,
    ServicePage,
    StaffIn,
)
from care.queries import common
from care.queries import providers as queries
from hub.auth import CurrentUser
from hub.errors import Forbidden, NotFound, checked_text
from hub.pagination import encode_cursor
from i18n.content import Bilingual, pick
from messaging import service as messaging
from messaging.models import Audience, Message
from messaging.service import notify
from territory import service as municipalities

# -- providers and the directory -------------------------------------------------------------------------------

_SERVICES_CURSOR = "care-services"


async def register_provider(conn: asyncpg.Connection, user: CurrentUser, data: ProviderIn) -> Provider:
    description = checked_text("description", data.description)
    codes = list(dict.fromkeys(data.municipality_codes))
    await municipalities.check_known(conn, codes)
    provider_id = await queries.insert_provider(
        conn,
        kind=data.kind,
        name=data.name.strip(),
        description=description,
        languages=list(dict.fromkeys(data.languages)),
        codes=codes,
        contact=data.contact,
        created_by=user.id,
    )
    return await access_provider(conn, user, provider_id)


async def verify_provider(conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID) -> Provider:
    if not user.is_admin:
        raise Forbidden()
    if not await queries.verify_provider(conn, provider_id, user.id):
        raise NotFound()
    return await access_provider(conn, user, provider_id)


async def staff_serving(conn: asyncpg.Connection, municipality_code: str) -> list[uuid.UUID]:
    """The people who act for verified care providers serving a municipality: other domains hand them what
    puts seniors there at risk (heat) or a report about a person in difficulty."""
    return await queries.staff_serving(conn, municipality_code)


async def providers_to_verify(conn: asyncpg.Connection, user: CurrentUser) -> list[Provider]:
    """Providers waiting for a hub admin's verification, oldest first."""
    if not user.is_admin:
        raise Forbidden()
    return await queries.unverified_providers(conn)


async def add_staff(
    conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID, data: StaffIn
) -> Provider:
    """Offer a staff seat to the account that proved an address; it counts once they accept. The answer is
    the same whether or not the address has such an account."""
    provider = await access_provider(conn, user, provider_id)
    person = await common.user_by_email(conn, data.email.strip())
    if person is None:
        return provider
    if not await queries.invite_staff(conn, provider_id, person.id, user.id):
        if await common.is_staff(conn, provider_id, person.id):
            raise AlreadyStaff()
        return provider
    title, body = messages("staff_invitation", provider=provider.name)
    await notify(
        conn,
        kind="care.staff_invitation",
        audience=Audience(user_ids=(person.id,)),
        title=title,
        body=body,
        deep_link=f"/care/providers/{provider_id}/staff/me",
        priority="important",
        source_id=provider_id,
        sender_id=user.id,
    )
    return provider


async def accept_staff(conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID) -> Provider:
    """Accept a staff seat offered to me."""
    if not await queries.accept_staff(conn, provider_id, user.id):
        raise NotFound()
    return await access_provider(conn, user, provider_id)


async def leave_staff(conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID) -> None:
    """Leave a provider's staff (or turn down the offer); the last member of a provider cannot leave it."""
    if (
        await common.is_staff(conn, provider_id, user.id)
        and await queries.staff_count(conn, provider_id) <= 1
    ):
        raise LastStaff()
    if not await queries.leave_staff(conn, provider_id, user.id):
        raise NotFound()


async def directory(
    conn: asyncpg.Connection,
    *,
    secret: str,
    locale: str,
    municipality: str | None,
    kind: str | None,
    language: str | None,
    cursor: str | None,
    limit: int,
) -> ServicePage:
    """Verified providers serving a municipality, of a kind, speaking a language; in the reader's language."""
    if municipality:
        await municipalities.check_known(conn, [municipality], "municipality")
    scope = [_SERVICES_CURSOR, municipality or "", kind or "", language or ""]
    after = None
    if cursor:
        name, provider_id = scoped_position(secret, cursor, scope, tuple[str, uuid.UUID])
        after = (name, provider_id)
    rows = await queries.services(
        conn, municipality=municipality, kind=kind, language=language, after=after, limit=limit + 1
    )
    items = [
        Service(
            provider_id=p.id,
            kind=p.kind,
            name=p.name,
            description=pick(p.description, locale),
            languages=p.languages,
            municipality_codes=p.municipality_codes,
            contact=p.contact,
        )
        for p in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(secret, [scope, [last.name, str(last.id)]])
    return ServicePage(items=items, next_cursor=next_cursor)


async def register_client(
    conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID, consent: ConsentIn
) -> ClientRegistration:
    """A person agrees to be served by a verified provider, and so to receive its alerts."""
    provider = await common.provider(conn, provider_id)
    if provider is None or not provider.verified:
        raise NotFound()
    return await queries.request_client(conn, provider_id, user.id, consent.text_version, consent.locale)


async def client_list(
    conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID, status: str
) -> ClientList:
    """The provider's clients, or the requests waiting for approval, for its staff."""
    await _staff_of_verified(conn, user, provider_id)
    return ClientList(items=await queries.client_requests(conn, provider_id, status))


async def decide_client(
    conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID, client_id: uuid.UUID, approve: bool
) -> ClientRegistration:
    """Staff approve (or decline) a person's request to be a client; only approved clients get alerts."""
    await _staff_of_verified(conn, user, provider_id)
    decided = await queries.decide_client(conn, provider_id, client_id, user.id, approve)
    if decided is None:
        raise NotFound()
    return decided


async def invite_client(
    conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID, data: StaffIn
) -> Provider:
    """Staff invite a person (the account that proved the address) to be a client; they accept by
    registering with their consent. The answer is the same whether or not the address has an account."""
    provider = await _staff_of_verified(conn, user, provider_id)
    person = await common.user_by_email(conn, data.email.strip())
    if person is not None and await queries.invite_client(conn, provider_id, person.id, user.id):
        title, body = messages("client_invitation", provider=provider.name)
        await notify(
            conn,
            kind="care.client_invitation",
            audience=Audience(user_ids=(person.id,)),
            title=title,
            body=body,
            deep_link=f"/care/providers/{provider_id}/clients/me",
            priority="info",
            source_id=provider_id,
            sender_id=user.id,
        )
    return provider


async def _staff_of_verified(conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID) -> Provider:
    provider = await common.provider(conn, provider_id)
    if provider is None or not await common.is_staff(conn, provider_id, user.id):
        raise NotFound()
    if not provider.verified:
        raise ProviderNotVerified()
    return provider


async def withdraw_client(
    conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID
) -> ClientRegistration:
    registration = await queries.withdraw_client(conn, provider_id, user.id)
    if registration is None:
        raise NotFound()
    return registration


# -- provider alerts -----------------------------------------------------------------------------------------


async def send_alert(
    conn: asyncpg.Connection,
    user: CurrentUser,
    provider_id: uuid.UUID,
    data: AlertIn,
    now: datetime | None = None,
) -> AlertCreated:
    """A verified provider's staff alert the provider's consenting clients, each in their language."""
    now = now or current_time()
    if not await common.is_staff(conn, provider_id, user.id):
        raise NotFound()
    provider = await common.provider(conn, provider_id)
    if provider is None:
        raise NotFound()
    if not provider.verified:
        raise ProviderNotVerified()
    title, body = checked_text("title", data.title), checked_text("body", data.body)
    alert_id, recipients = await queries.insert_alert(
        conn,
        provider_id=provider_id,
        author_id=user.id,
        title=title,
        body=body,
        priority=data.priority,
        ack_requested=data.ack_requested,
        remind_after_minutes=data.remind_after_minutes,
        now=now,
    )
    if recipients:
        notification_id = await notify(
            conn,
            kind="care.provider_alert",
            audience=Audience(user_ids=tuple(recipients)),
            title=title,
            body=body,
            deep_link=f"/care/alerts/{alert_id}",
            priority=data.priority,
            source_id=alert_id,
            sender_id=user.id,
            sender_name=Bilingual(fr=provider.name, de=provider.name),
            ack_requested=data.ack_requested,
            respect_preferences=data.priority != "urgent",
        )
        await queries.set_alert_notification(conn, alert_id, notification_id)
    return AlertCreated(id=alert_id, recipients=len(recipients), created_at=now)


async def acknowledge_alert(
    conn: asyncpg.Connection, user: CurrentUser, alert_id: uuid.UUID, now: datetime | None = None
) -> Acknowledged:
    at = await queries.acknowledge(conn, alert_id, user.id, now or current_time())
    if at is None:
        raise NotFound()
    # the same acknowledgement shows in the person's inbox (alert and reminder alike)
    await messaging.acknowledge_source(conn, user.id, ALERT_KINDS, alert_id)
    return Acknowledged(alert_id=alert_id, acknowledged_at=at)


#: the notification kinds of a provider alert, whose inbox acknowledgement is the alert's
ALERT_KINDS = ("care.provider_alert", "care.provider_alert_reminder")


async def _inbox_acknowledged(
    conn: asyncpg.Connection, user_id: uuid.UUID, kind: str, source_id: uuid.UUID | None, at: datetime
) -> None:
    """An alert acknowledged from the inbox is acknowledged for its provider too (rates, no reminder)."""
    if kind in ALERT_KINDS and source_id is not None:
        await queries.acknowledge(conn, source_id, user_id, at)


messaging.on_acknowledged(_inbox_acknowledged)


async def alert_report(conn: asyncpg.Connection, user: CurrentUser, alert_id: uuid.UUID) -> AlertReport:
    """Acknowledgement rates by language and municipality and who has not answered, for the provider."""
    alert = await queries.alert(conn, alert_id)
    if alert is None or not await common.is_staff(conn, alert.provider_id, user.id):
        raise NotFound()
    by_language = await queries.alert_rates(conn, alert_id, "locale")
    return AlertReport(
        id=alert.id,
        provider_id=alert.provider_id,
        priority=alert.priority,
        ack_requested=alert.ack_requested,
        created_at=alert.created_at,
        reminded_at=alert.reminded_at,
        recipients=sum(r.recipients for r in by_language),
        acknowledged=sum(r.acknowledged for r in by_language),
        by_language=by_language,
        by_municipality=await queries.alert_rates(conn, alert_id, "municipality_code"),
        not_acknowledged=await queries.not_acknowledged(conn, alert_id),
    )


async def staff_providers(conn: asyncpg.Connection, user: CurrentUser) -> list[Provider]:
    """The providers whose staff the person is."""
    return await queries.staff_providers(conn, user.id)


async def provider_alerts(
    conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID, limit: int = 50
) -> list[AlertSummary]:
    """A provider's latest alerts with their acknowledgement counts, for its staff."""
    if not await common.is_staff(conn, provider_id, user.id):
        raise NotFound()
    return await queries.alerts_of(conn, provider_id, limit)


async def alert_audience(
    conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID
) -> list[uuid.UUID]:
    """Who an alert of the provider would reach now (its consenting clients), for its staff."""
    if not await common.is_staff(conn, provider_id, user.id):
        raise NotFound()
    return await queries.active_clients(conn, provider_id)


async def alert_notification(
    conn: asyncpg.Connection, user: CurrentUser, alert_id: uuid.UUID
) -> uuid.UUID | None:
    """The notification that carried an alert (for its delivery statistics), for the provider's staff."""
    alert = await queries.alert(conn, alert_id)
    if alert is None or not await common.is_staff(conn, alert.provider_id, user.id):
        raise NotFound()
    return await queries.alert_notification_id(conn, alert_id)


async def remind_unacknowledged_alerts(conn: asyncpg.Connection, now: datetime, limit: int = 100) -> int:
    """Send the one reminder of each alert whose time has come to those who have not acknowledged it."""
    sent = 0
    for alert in await queries.claim_due_reminders(conn, now, limit):
        silent = await queries.mark_reminded(conn, alert.id, None)
        if not silent:
            continue
        provider = await common.provider(conn, alert.provider_id)
        name = provider.name if provider else ""
        notification_id = await notify(
            conn,
            kind="care.provider_alert_reminder",
            audience=Audience(user_ids=tuple(silent)),
            title=alert.title,
            body=Message(ALERT_REMINDER_BODY, {"provider": name}),
            deep_link=f"/care/alerts/{alert.id}",
            priority=alert.priority,  # type: ignore[arg-type]
            source_id=alert.id,
            ack_requested=True,
            respect_preferences=alert.priority != "urgent",
        )
        await queries.set_reminder_notification(conn, alert.id, notification_id)
        sent += 1
    return sent
