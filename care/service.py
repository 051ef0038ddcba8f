"""Care use cases: directory, provider alerts, circles and consent, daily check-ins and their ladder."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from prometheus_client import Counter

from care import ladder, setup
from care.common import (
    INVITATION_EMAIL_TITLE,
    CircleAccess,
    access_circle,
    access_provider,
    current_time,
    messages,
    scoped_position,
)
from care.errors import (
    REASON_NOT_STAFF,
    REASON_PAUSE_ORDER,
    REASON_PROVIDER_REQUIRED,
    REASON_SELF,
    REASON_WINDOW_ORDER,
    AlreadyClaimed,
    AlreadyInvited,
    CircleClosed,
    CircleExists,
    CirclePending,
    EscalationOver,
    InvitationNotOpen,
    NoCircle,
    TooManyRequests,
)
from care.models import (
    AccessRead,
    AccessReadPage,
    Checkin,
    Circle,
    CircleEventPage,
    CircleIn,
    CodeAnswer,
    CodeAnswerIn,
    ConsentIn,
    Escalation,
    InvitationIn,
    InvitationList,
    Person,
    Plan,
    PlanIn,
    ProviderConsentIn,
    ProxyCircleIn,
    SetUpRequested,
)
from care.providers import (
    alert_audience,
    alert_notification,
    alert_report,
    provider_alerts,
    providers_to_verify,
    send_alert,
    staff_providers,
    staff_serving,
    verify_provider,
)
from care.queries import checkins as checkin_queries
from care.queries import circles as circle_queries
from care.queries import common as common_queries
from care.queries import providers as provider_queries
from hub.auth import CurrentUser
from hub.domain import UserData
from hub.errors import Forbidden, InvalidField, NotFound
from hub.logs import get_logger
from hub.pagination import encode_cursor
from i18n import N_, translate
from messaging import service as messaging
from messaging.models import Audience, Message, Priority
from messaging.service import notify

log = get_logger("care")
LADDER_STEPS = Counter("hub_care_ladder_steps_total", "Check-in ladder steps taken, by step", ["step"])

__all__ = [
    "EVENT_KINDS",
    "INVITATIONS_PER_DAY",
    "LADDER_STEPS",
    "PLAN_BATCH",
    "READ_KINDS",
    "accept_invitation",
    "access_provider",
    "advance_checkin_batch",
    "advance_checkins",
    "alert_audience",
    "alert_notification",
    "alert_report",
    "answer_with_code",
    "check_in",
    "circle_events",
    "circle_reads",
    "claim",
    "confirm_circle",
    "create_circle",
    "create_circle_for",
    "decline_invitation",
    "erase_user",
    "export_user",
    "get_circle",
    "get_circle_plan",
    "get_plan",
    "invite",
    "log",
    "my_invitations",
    "provider_alerts",
    "provider_staff",
    "providers_of_seniors",
    "providers_to_verify",
    "put_circle_plan",
    "put_plan",
    "record_provider_consent",
    "refuse_circle",
    "remove_member",
    "send_alert",
    "staff_providers",
    "staff_serving",
    "user_data",
    "verify_provider",
    "withdraw_circle_consent",
]


# -- what the circle's log shows -----------------------------------------------------------------------------

EVENT_KINDS = (
    "circle_created",
    "circle_requested",
    "circle_confirmed",
    "circle_refused",
    "member_invited",
    "member_joined",
    "member_declined",
    "member_removed",
    "member_withdrew",
    "consent_withdrawn",
    "plan_updated",
    "checked_in",
    "reminder_sent",
    "circle_alerted",
    "provider_alerted",
    "escalation_claimed",
    "resolved_by_checkin",
)

_EVENTS_CURSOR = "care-events"


# -- circles, invitations and consent ------------------------------------------------------------------------


async def _circle_view(conn: asyncpg.Connection, access: CircleAccess) -> Circle:
    c = access.circle
    return Circle(
        id=c.id,
        senior=Person(user_id=c.senior_id, display_name=c.senior_name),
        created_at=c.created_at,
        closed_at=c.closed_at,
        my_role=access.role,
        members=await circle_queries.members(conn, c.id, with_email=access.role == "senior"),
        proxy=await circle_queries.proxy_of(conn, c.id),
        consent=await circle_queries.circle_consent(conn, c.id)
        if access.role == "senior" or access.proxy
        else None,
        state="closed" if c.closed_at is not None else "pending" if c.pending else "active",
    )


async def create_circle(
    conn: asyncpg.Connection, user: CurrentUser, data: CircleIn, now: datetime | None = None
) -> Circle:
    """A senior opens their circle, recording the consent text they agreed to."""
    now = now or current_time()
    circle_id = await circle_queries.insert_circle(conn, user.id)
    if circle_id is None:
        raise CircleExists()
    await circle_queries.insert_consent(
        conn,
        circle_id=circle_id,
        user_id=user.id,
        member_id=None,
        purpose="senior_circle",
        text_version=data.consent.text_version,
        locale=data.consent.locale,
        now=now,
    )
    await common_queries.insert_event(conn, circle_id, "circle_created", at=now, actor_id=user.id)
    return await get_circle(conn, user, circle_id, log=False)


async def create_circle_for(
    conn: asyncpg.Connection, user: CurrentUser, data: ProxyCircleIn, now: datetime | None = None
) -> SetUpRequested:
    """Ask to set up a senior's circle on their behalf: see ``care.setup.request_circle``."""
    return await setup.request_circle(conn, user, data, now or current_time())


async def confirm_circle(
    conn: asyncpg.Connection,
    user: CurrentUser,
    circle_id: uuid.UUID,
    consent: ConsentIn,
    now: datetime | None = None,
) -> Circle:
    """The senior agrees, in the app, to a circle set up on their behalf."""
    await setup.confirm(conn, user, circle_id, consent, now or current_time())
    return await get_circle(conn, user, circle_id, log=False)


async def refuse_circle(
    conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID, now: datetime | None = None
) -> Circle:
    """The senior refuses a circle set up on their behalf."""
    await setup.refuse(conn, user, circle_id, now or current_time())
    return await get_circle(conn, user, circle_id, log=False)


async def answer_with_code(
    conn: asyncpg.Connection, data: CodeAnswerIn, now: datetime | None = None
) -> CodeAnswer:
    return await setup.answer_with_code(conn, data, now or current_time())


async def record_provider_consent(
    conn: asyncpg.Connection,
    user: CurrentUser,
    circle_id: uuid.UUID,
    data: ProviderConsentIn,
    now: datetime | None = None,
) -> SetUpRequested:
    """A verified provider serving the senior records the consent it obtained; the circle starts."""
    now = now or current_time()
    await setup.provider_consent(conn, user, circle_id, data, now)
    return SetUpRequested(status="requested", requested_at=now)


async def get_circle(
    conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID, *, log: bool = True
) -> Circle:
    access = await access_circle(conn, user.id, circle_id)
    if log:
        await common_queries.log_access(conn, circle_id, user.id, "circle")
    return await _circle_view(conn, access)


async def invite(
    conn: asyncpg.Connection,
    user: CurrentUser,
    circle_id: uuid.UUID,
    data: InvitationIn,
    now: datetime | None = None,
) -> Circle:
    """The senior invites a caregiver by email.

    A registered person is notified in their own language. An address without an account is sent one
    email, in the language chosen for the invitee (``data.locale``; the senior's own by default), that
    names the senior and says how to accept: create an account with that address. The invitation then
    shows in that account's list. The email is recorded in this transaction and sent after it commits.
    """
    now = now or current_time()
    access = await access_circle(conn, user.id, circle_id)
    if access.role != "senior":
        raise Forbidden()
    if access.circle.closed_at is not None:
        raise NotFound()
    if access.circle.pending:
        raise CirclePending()
    email = data.email.strip()
    if email.lower() == user.email.lower():
        raise InvalidField("email", REASON_SELF)
    if (
        await circle_queries.invitations_sent_since(conn, user.id, now - timedelta(days=1))
        >= INVITATIONS_PER_DAY
    ):
        raise TooManyRequests()
    if await circle_queries.declined_before(conn, circle_id, email):
        # whoever declined is not asked again (nor mailed): the answer is the circle as it is
        return await _circle_view(conn, access)
    invitee = await common_queries.user_by_email(conn, email)
    provider_id = None
    if data.role == "provider":
        if data.provider_id is None:
            raise InvalidField("provider_id", REASON_PROVIDER_REQUIRED)
        provider = await common_queries.provider(conn, data.provider_id)
        if (
            provider is None
            or not provider.verified
            or invitee is None
            or not await common_queries.is_staff(conn, provider.id, invitee.id)
        ):
            raise InvalidField("email", REASON_NOT_STAFF)
        provider_id = provider.id
    member_id = await circle_queries.insert_member(
        conn,
        circle_id=circle_id,
        email=email,
        user_id=invitee.id if invitee else None,
        provider_id=provider_id,
        role=data.role,
        invited_by=user.id,
    )
    if member_id is None:
        raise AlreadyInvited()
    await common_queries.insert_event(
        conn,
        circle_id,
        "member_invited",
        at=now,
        actor_id=user.id,
        subject_id=invitee.id if invitee else None,
    )
    if invitee is None:
        senior = await common_queries.user(conn, access.circle.senior_id)
        locale = data.locale or (senior.locale if senior else user.locale)
        _, body = messages("invitation_email", senior=access.circle.senior_name)
        title = Message(
            INVITATION_EMAIL_TITLE
        )  # nothing anyone wrote, not even a name, in a stranger's subject
        await messaging.email_address(
            conn,
            kind="care.invitation",
            address=email,
            locale=locale,
            title=title,
            body=body,
            deep_link="/care/invitations",
        )
    else:
        title, body = messages("invitation", senior=access.circle.senior_name)
        await notify(
            conn,
            kind="care.invitation",
            audience=Audience(user_ids=(invitee.id,)),
            title=title,
            body=body,
            deep_link=f"/care/invitations/{member_id}",
            priority="important",
            source_id=member_id,
            sender_id=user.id,
        )
    return await _circle_view(conn, access)


#: invitations one person may send per day (a circle is a handful of people, not a mailing list)
INVITATIONS_PER_DAY = 10


async def my_invitations(conn: asyncpg.Connection, user: CurrentUser) -> InvitationList:
    return InvitationList(items=await circle_queries.open_invitations_for(conn, user.id, user.email))


async def _open_invitation(
    conn: asyncpg.Connection, user: CurrentUser, member_id: uuid.UUID
) -> common_queries.MemberRow:
    row = await circle_queries.member(conn, member_id)
    # an invitation sent to an address is for the account that proved that address, and no other
    owner = (
        await common_queries.user_by_email(conn, row.invited_email) if row and row.user_id is None else None
    )
    mine = row is not None and (row.user_id == user.id or (owner is not None and owner.id == user.id))
    if row is None or not mine:
        raise NotFound()
    circle = await common_queries.circle(conn, row.circle_id)
    if circle is None or circle.closed_at is not None:
        raise NotFound()
    if row.state != "invited":
        raise InvitationNotOpen()
    return row


async def accept_invitation(
    conn: asyncpg.Connection,
    user: CurrentUser,
    member_id: uuid.UUID,
    consent: ConsentIn,
    now: datetime | None = None,
) -> Circle:
    now = now or current_time()
    row = await _open_invitation(conn, user, member_id)
    moved = await circle_queries.set_member_state(
        conn, member_id, expected=("invited",), state="accepted", user_id=user.id, now=now
    )
    if moved is None:
        raise InvitationNotOpen()
    await circle_queries.insert_consent(
        conn,
        circle_id=row.circle_id,
        user_id=user.id,
        member_id=member_id,
        purpose="caregiver_membership",
        text_version=consent.text_version,
        locale=consent.locale,
        now=now,
    )
    await common_queries.insert_event(conn, row.circle_id, "member_joined", at=now, actor_id=user.id)
    return await get_circle(conn, user, row.circle_id, log=False)


async def decline_invitation(
    conn: asyncpg.Connection, user: CurrentUser, member_id: uuid.UUID, now: datetime | None = None
) -> None:
    now = now or current_time()
    row = await _open_invitation(conn, user, member_id)
    if await circle_queries.set_member_state(
        conn, member_id, expected=("invited",), state="declined", user_id=user.id, now=now
    ):
        await common_queries.insert_event(conn, row.circle_id, "member_declined", at=now, actor_id=user.id)


async def remove_member(
    conn: asyncpg.Connection,
    user: CurrentUser,
    circle_id: uuid.UUID,
    member_id: uuid.UUID,
    now: datetime | None = None,
) -> None:
    """The senior removes a member or cancels an invitation; a member leaves by removing themselves.

    Either way the member's consent is dated as withdrawn and they are told nothing more.
    """
    now = now or current_time()
    access = await access_circle(conn, user.id, circle_id)
    row = await circle_queries.member(conn, member_id)
    if row is None or row.circle_id != circle_id or row.state not in {"invited", "accepted"}:
        raise NotFound()
    leaving = row.user_id == user.id and access.role == "member"
    if access.role != "senior" and not leaving:
        raise Forbidden()
    state = "withdrawn" if leaving else "removed"
    moved = await circle_queries.set_member_state(
        conn, member_id, expected=("invited", "accepted"), state=state, user_id=None, now=now
    )
    if moved is None:
        raise NotFound()
    await circle_queries.withdraw_member_consent(conn, member_id, now)
    if row.user_id is not None:
        # Nothing still on its way about this circle reaches someone who is no longer in it.
        await messaging.withdraw_recipient(conn, row.user_id, f"/care/circles/{circle_id}/")
    kind = "member_withdrew" if leaving else "member_removed"
    await common_queries.insert_event(conn, circle_id, kind, at=now, actor_id=user.id, subject_id=row.user_id)


async def withdraw_circle_consent(
    conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID, now: datetime | None = None
) -> Circle:
    """The senior withdraws their consent: the circle closes, no ladder runs, members lose access."""
    now = now or current_time()
    access = await access_circle(conn, user.id, circle_id)
    if access.role != "senior":
        raise Forbidden()
    if await circle_queries.close_circle(conn, circle_id, now):
        await circle_queries.withdraw_consents(conn, circle_id, user_id=None, now=now)
        await circle_queries.stop_open_escalations(conn, circle_id, now)
        await messaging.cancel_under(conn, f"/care/circles/{circle_id}/")
        await common_queries.insert_event(conn, circle_id, "consent_withdrawn", at=now, actor_id=user.id)
    return await get_circle(conn, user, circle_id, log=False)


async def circle_events(
    conn: asyncpg.Connection,
    user: CurrentUser,
    circle_id: uuid.UUID,
    *,
    secret: str,
    cursor: str | None,
    limit: int,
) -> CircleEventPage:
    """The circle's log, newest first; every read is recorded in the access log."""
    await access_circle(conn, user.id, circle_id)
    scope = [_EVENTS_CURSOR, str(circle_id), str(user.id)]
    before = scoped_position(secret, cursor, scope, int) if cursor else None
    await common_queries.log_access(conn, circle_id, user.id, "events")
    items = await circle_queries.events(conn, circle_id, before_id=before, limit=limit + 1)
    next_cursor = encode_cursor(secret, [scope, items[limit - 1].id]) if len(items) > limit else None
    return CircleEventPage(items=items[:limit], next_cursor=next_cursor)


#: what a recorded read was of, as the senior reads it
READ_KINDS = {
    "circle": N_("your care circle"),
    "events": N_("your circle's log"),
    "checkin_plan": N_("your daily check-in plan"),
}
_READS_CURSOR = "care-reads"


async def circle_reads(
    conn: asyncpg.Connection,
    user: CurrentUser,
    circle_id: uuid.UUID,
    *,
    locale: str,
    secret: str,
    cursor: str | None,
    limit: int,
) -> AccessReadPage:
    """Who read the senior's circle, its log and their check-in plan, and when; newest first. For the
    senior only: everyone else gets 404."""
    access = await access_circle(conn, user.id, circle_id)
    if access.role != "senior":
        raise NotFound()
    scope = [_READS_CURSOR, str(circle_id), str(user.id)]
    before = scoped_position(secret, cursor, scope, int) if cursor else None
    rows = await circle_queries.reads_of_circle(conn, circle_id, before_id=before, limit=limit + 1)
    items = [
        AccessRead(
            reader=Person(user_id=r.reader_id, display_name=r.reader_name or "") if r.reader_id else None,
            what=r.what,
            what_text=translate(locale, READ_KINDS.get(r.what, READ_KINDS["circle"])),
            at=r.at,
        )
        for r in rows[:limit]
    ]
    next_cursor = encode_cursor(secret, [scope, rows[limit - 1].id]) if len(rows) > limit else None
    return AccessReadPage(items=items, next_cursor=next_cursor)


# -- check-in plan and check-ins ---------------------------------------------------------------------------


async def put_plan(
    conn: asyncpg.Connection, user: CurrentUser, data: PlanIn, now: datetime | None = None
) -> Plan:
    """The senior sets their own plan; it applies from the next window that opens after now."""
    circle = await checkin_queries.open_circle_of(conn, user.id)
    if circle is None:
        raise NoCircle()
    return await _set_plan(conn, circle, user.id, data, now or current_time())


async def get_plan(conn: asyncpg.Connection, user: CurrentUser) -> Plan:
    plan = await checkin_queries.plan_of(conn, user.id)
    if plan is None:
        raise NotFound()
    return plan


async def _plan_access(conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID) -> CircleAccess:
    """The senior, or the member who set the circle up for them; other members get 403, others 404."""
    access = await access_circle(conn, user.id, circle_id)
    if access.role != "senior" and not access.proxy:
        raise Forbidden()
    return access


async def put_circle_plan(
    conn: asyncpg.Connection,
    user: CurrentUser,
    circle_id: uuid.UUID,
    data: PlanIn,
    now: datetime | None = None,
) -> Plan:
    """The plan of the circle's senior, set by the senior or by the person who set the circle up for them
    (while a member); the circle's log records who set it. A closed circle takes no plan."""
    access = await _plan_access(conn, user, circle_id)
    if access.circle.closed_at is not None:
        raise CircleClosed()
    if access.circle.pending:
        raise CirclePending()
    return await _set_plan(conn, access.circle, user.id, data, now or current_time())


async def get_circle_plan(conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID) -> Plan:
    """The senior's plan, for the senior or the person who set the circle up for them."""
    access = await _plan_access(conn, user, circle_id)
    plan = await checkin_queries.plan_of(conn, access.circle.senior_id)
    if plan is None or plan.circle_id != circle_id:
        raise NotFound()
    await common_queries.log_access(conn, circle_id, user.id, "checkin_plan")
    return plan


async def _set_plan(
    conn: asyncpg.Connection,
    circle: common_queries.CircleRow,
    actor_id: uuid.UUID,
    data: PlanIn,
    now: datetime,
) -> Plan:
    """Store the senior's plan (in their zone unless one is given) and log who set it."""
    if data.window_start >= data.window_end:
        raise InvalidField("window_end", REASON_WINDOW_ORDER)
    for pause in data.pauses:
        if pause.first_day > pause.last_day:
            raise InvalidField("pauses", REASON_PAUSE_ORDER)
    zone = data.zone
    if zone is None:
        person = await common_queries.user(conn, circle.senior_id)
        zone = "Europe/Berlin" if person and person.time_zone == "Europe/Berlin" else "Europe/Paris"
    await checkin_queries.upsert_plan(
        conn,
        senior_id=circle.senior_id,
        circle_id=circle.id,
        days=sorted(set(data.days)),
        window_start=data.window_start.replace(tzinfo=None),
        window_end=data.window_end.replace(tzinfo=None),
        zone=zone,
        grace_minutes=data.grace_minutes,
        caregiver_ack_minutes=data.caregiver_ack_minutes,
        pauses=data.pauses,
        now=now,
    )
    await common_queries.insert_event(
        conn, circle.id, "plan_updated", at=now, actor_id=actor_id, subject_id=circle.senior_id
    )
    if actor_id != circle.senior_id:
        # Someone else changed when the senior is expected to check in: the senior hears of it at once.
        actor = await common_queries.user(conn, actor_id)
        title, body = messages("plan_changed", proxy=actor.display_name if actor else "")
        await notify(
            conn,
            kind="care.plan_changed",
            audience=Audience(user_ids=(circle.senior_id,)),
            title=title,
            body=body,
            deep_link=f"/care/circles/{circle.id}",
            priority="important",
            source_id=circle.id,
            sender_id=actor_id,
            respect_preferences=False,
            channels=("push", "email"),
        )
    plan = await checkin_queries.plan_of(conn, circle.senior_id)
    assert plan is not None
    return plan


def _view(plan: checkin_queries.PlanRow, pauses: list[Any], has_provider: bool) -> ladder.PlanView:
    return ladder.PlanView(
        days=frozenset(plan.days),
        window_start=plan.window_start,
        window_end=plan.window_end,
        zone=plan.zone,
        grace=timedelta(minutes=plan.grace_minutes),
        ack_wait=timedelta(minutes=plan.caregiver_ack_minutes),
        active_from=plan.active_from,
        pauses=tuple((p.first_day, p.last_day) for p in pauses),
        has_provider=has_provider,
    )


async def check_in(conn: asyncpg.Connection, user: CurrentUser, now: datetime | None = None) -> Checkin:
    """ "I'm fine": recorded for the local date of the senior's plan; an open ladder for that date stops."""
    now = now or current_time()
    plan = await checkin_queries.plan_of(conn, user.id)
    zone = plan.zone if plan else "Europe/Paris"
    day = now.astimezone(ZoneInfo(zone)).date()
    await checkin_queries.insert_checkin(conn, user.id, day, now)
    circle = await checkin_queries.open_circle_of(conn, user.id)
    if circle is not None:
        await common_queries.insert_event(
            conn, circle.id, "checked_in", at=now, actor_id=user.id, local_date=day
        )
    if plan is not None and circle is not None:
        escalation = await checkin_queries.escalation_for(conn, plan.id, day)
        if escalation is not None and escalation.state in ladder.OPEN_STATES:
            await _resolve(conn, escalation, circle.senior_name, user.id, now)
    return Checkin(at=now, local_date=day)


# -- the ladder ------------------------------------------------------------------------------------------------


async def _tell(
    conn: asyncpg.Connection,
    kind: str,
    user_ids: list[uuid.UUID],
    title: Message,
    body: Message,
    *,
    deep_link: str,
    source_id: uuid.UUID,
    priority: Priority,
    ack_requested: bool = False,
) -> None:
    """A care notification that people in a circle cannot opt out of (they consented to the circle)."""
    if not user_ids:
        return
    await notify(
        conn,
        kind=kind,
        audience=Audience(user_ids=tuple(user_ids)),
        title=title,
        body=body,
        deep_link=deep_link,
        priority=priority,
        source_id=source_id,
        ack_requested=ack_requested,
        respect_preferences=False,
        channels=("push", "email"),
    )


async def _resolve(
    conn: asyncpg.Connection,
    escalation: checkin_queries.EscalationRow,
    senior_name: str,
    senior_id: uuid.UUID,
    now: datetime,
) -> None:
    if not await checkin_queries.advance_escalation(
        conn, escalation.id, expected=tuple(ladder.OPEN_STATES), state="resolved", now=now
    ):
        return
    await common_queries.insert_event(
        conn,
        escalation.circle_id,
        "resolved_by_checkin",
        at=now,
        subject_id=senior_id,
        escalation_id=escalation.id,
        local_date=escalation.local_date,
    )
    if escalation.state == "reminded":
        return  # nobody else was alerted yet
    told = await checkin_queries.recipients(
        conn, escalation.circle_id, providers=None if escalation.state == "provider_alerted" else False
    )
    await _tell(
        conn,
        "care.checkin_resolved",
        told,
        *messages("checkin_resolved", name=senior_name),
        deep_link=f"/care/circles/{escalation.circle_id}",
        source_id=escalation.id,
        priority="important",
    )


class _Alert(msgspec.Struct, frozen=True, kw_only=True):
    """A ladder step that alerts part of the circle: the state it moves from and to (also the event's
    kind), who is told, with which notification kind and texts."""

    expected: str
    state: str
    providers: bool
    kind: str
    texts: str


_ALERTS: dict[ladder.Action, _Alert] = {
    "alert_circle": _Alert(
        expected="reminded",
        state="circle_alerted",
        providers=False,
        kind="care.checkin_missed",
        texts="checkin_missed",
    ),
    "alert_provider": _Alert(
        expected="circle_alerted",
        state="provider_alerted",
        providers=True,
        kind="care.checkin_missed_provider",
        texts="checkin_missed_provider",
    ),
}


async def _step(
    conn: asyncpg.Connection,
    plan: checkin_queries.PlanRow,
    day: Any,
    escalation: checkin_queries.EscalationRow | None,
    action: ladder.Action,
    now: datetime,
) -> bool:
    """Carry out one ladder step; False when another run did it first (nothing is sent twice)."""
    circle_id = plan.circle_id
    if action == "remind_senior":
        escalation_id = await checkin_queries.start_escalation(conn, plan.id, circle_id, day, now)
        if escalation_id is None:
            return False
        await common_queries.insert_event(
            conn,
            circle_id,
            "reminder_sent",
            at=now,
            subject_id=plan.senior_id,
            escalation_id=escalation_id,
            local_date=day,
        )
        await _tell(
            conn,
            "care.checkin_reminder",
            [plan.senior_id],
            *messages("checkin_reminder"),
            deep_link="/care/checkin",
            source_id=escalation_id,
            priority="urgent",
        )
        return True
    assert escalation is not None
    alert = _ALERTS.get(action)
    if alert is not None:
        if not await checkin_queries.advance_escalation(
            conn, escalation.id, expected=(alert.expected,), state=alert.state, now=now
        ):
            return False
        await common_queries.insert_event(
            conn,
            circle_id,
            alert.state,
            at=now,
            subject_id=plan.senior_id,
            escalation_id=escalation.id,
            local_date=day,
        )
        title, body = messages(alert.texts, name=plan.senior_name)
        await _tell(
            conn,
            alert.kind,
            await checkin_queries.recipients(conn, circle_id, providers=alert.providers),
            title,
            body,
            deep_link=f"/care/circles/{circle_id}/escalations/{escalation.id}",
            source_id=escalation.id,
            priority="urgent",
            ack_requested=True,
        )
        return True
    if action == "resolve":
        await _resolve(conn, escalation, plan.senior_name, plan.senior_id, now)
        return True
    return False


#: plans handled per batch (and per transaction in the worker job)
PLAN_BATCH = 500


async def advance_checkin_batch(
    conn: asyncpg.Connection, now: datetime, *, after: uuid.UUID | None = None, limit: int = PLAN_BATCH
) -> tuple[int, uuid.UUID | None]:
    """Take every due ladder step at ``now`` for one batch of plans (those after ``after``, in id order).

    Returns the steps taken and where the next batch starts (None when this was the last one). Plans are
    locked with SKIP LOCKED, and every step moves its row only from the state it expects, so two runs at
    once (or a run repeated) take each step exactly once.
    """
    plans = await checkin_queries.lock_plans(conn, limit, after)
    steps = 0
    for plan in plans:
        view = _view(
            plan,
            await checkin_queries.pauses(conn, plan.id),
            await checkin_queries.has_provider(conn, plan.circle_id),
        )
        for day in ladder.candidate_days(view, now):
            escalation = await checkin_queries.escalation_for(conn, plan.id, day)
            state = ladder.LadderState(
                state=escalation.state if escalation else None,  # type: ignore[arg-type]
                reminded_at=escalation.reminded_at if escalation else None,
                circle_alerted_at=escalation.circle_alerted_at if escalation else None,
                checked_in=await checkin_queries.checked_in(conn, plan.senior_id, day),
            )
            action = ladder.next_action(view, day, now, state)
            if action != "none" and await _step(conn, plan, day, escalation, action, now):
                steps += 1
                LADDER_STEPS.labels(action).inc()
                # ids and the step only: never a name, a text or what the check-in said
                log.info("ladder step", step=action, plan_id=str(plan.id), circle_id=str(plan.circle_id))
    return steps, plans[-1].id if len(plans) == limit else None


async def advance_checkins(conn: asyncpg.Connection, now: datetime, *, batch: int = PLAN_BATCH) -> int:
    """Take every due ladder step at ``now`` for all plans, a batch at a time, in the caller's
    transaction; the number of steps taken."""
    steps, after = 0, None
    while True:
        taken, after = await advance_checkin_batch(conn, now, after=after, limit=batch)
        steps += taken
        if after is None:
            return steps


async def claim(
    conn: asyncpg.Connection,
    user: CurrentUser,
    circle_id: uuid.UUID,
    escalation_id: uuid.UUID,
    now: datetime | None = None,
) -> Escalation:
    """ "I'm checking": the first caregiver to answer stops the ladder; the rest of the circle is told."""
    now = now or current_time()
    access = await access_circle(conn, user.id, circle_id)
    escalation = await checkin_queries.escalation(conn, escalation_id)
    if escalation is None or escalation.circle_id != circle_id:
        raise NotFound()
    if access.role != "member":
        raise Forbidden()
    if not await checkin_queries.claim_escalation(conn, escalation_id, user.id, now):
        current = await checkin_queries.escalation(conn, escalation_id)
        if current is not None and current.state == "claimed":
            raise AlreadyClaimed(name=current.claimed_by_name or "")
        raise EscalationOver()
    await common_queries.insert_event(
        conn,
        circle_id,
        "escalation_claimed",
        at=now,
        actor_id=user.id,
        subject_id=access.circle.senior_id,
        escalation_id=escalation_id,
        local_date=escalation.local_date,
    )
    others = [u for u in await checkin_queries.recipients(conn, circle_id, providers=None) if u != user.id]
    await _tell(
        conn,
        "care.escalation_claimed",
        others,
        *messages("escalation_claimed", caregiver=user.display_name, name=access.circle.senior_name),
        deep_link=f"/care/circles/{circle_id}",
        source_id=escalation_id,
        priority="urgent",
    )
    done = await checkin_queries.escalation(conn, escalation_id)
    assert done is not None
    return Escalation(
        id=done.id,
        circle_id=done.circle_id,
        local_date=done.local_date,
        state=done.state,
        claimed_by=done.claimed_by_name,
        claimed_at=done.claimed_at,
    )


# -- export and erasure ------------------------------------------------------------------------------------


async def export_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any]:
    return msgspec.to_builtins(await common_queries.export_rows(conn, user_id))  # type: ignore[no-any-return]


async def erase_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await common_queries.erase_rows(conn, user_id)


user_data = UserData("care", export_user, erase_user)


# -- for other domains -----------------------------------------------------------------------------------------


async def providers_of_seniors(
    conn: asyncpg.Connection, user_ids: list[uuid.UUID]
) -> list[provider_queries.ProviderConcern]:
    """Verified providers whose consenting clients with a daily check-in are among ``user_ids``: each with
    its staff and how many of its clients are concerned (counts only, no names or care details)."""
    if not user_ids:
        return []
    return await provider_queries.providers_of_seniors(conn, user_ids)


async def provider_staff(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Everyone who accepted a staff seat at a care provider (the audience of end-to-end exercises)."""
    return await provider_queries.all_staff(conn)
