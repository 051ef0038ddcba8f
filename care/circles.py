"""Care circles and consent: set-up on a senior's behalf, invitations, membership, the log and its reads."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from care import setup
from care.common import (
    INVITATION_EMAIL_TITLE,
    CircleAccess,
    access_circle,
    current_time,
    messages,
    scoped_position,
)
from care.errors import (
    REASON_NOT_STAFF,
    REASON_PROVIDER_REQUIRED,
    REASON_SELF,
    AlreadyInvited,
    CircleExists,
    CirclePending,
    InvitationNotOpen,
    TooManyRequests,
)
from care.models import (
    AccessRead,
    AccessReadPage,
    Circle,
    CircleEventPage,
    CircleIn,
    CodeAnswer,
    CodeAnswerIn,
    ConsentIn,
    InvitationIn,
    InvitationList,
    Person,
    ProviderConsentIn,
    ProxyCircleIn,
    SetUpRequested,
)
from care.queries import circles as queries
from care.queries import common
from hub.auth import CurrentUser
from hub.errors import Forbidden, InvalidField, NotFound
from hub.pagination import encode_cursor
from i18n import N_, translate
from messaging import service as messaging
from messaging.models import Audience, Message
from messaging.service import notify

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
        members=await queries.members(conn, c.id, with_email=access.role == "senior"),
        proxy=await queries.proxy_of(conn, c.id),
        consent=await queries.circle_consent(conn, c.id) if access.role == "senior" or access.proxy else None,
        state="closed" if c.closed_at is not None else "pending" if c.pending else "active",
    )


async def create_circle(
    conn: asyncpg.Connection, user: CurrentUser, data: CircleIn, now: datetime | None = None
) -> Circle:
    """A senior opens their circle, recording the consent text they agreed to."""
    now = now or current_time()
    circle_id = await queries.insert_circle(conn, user.id)
    if circle_id is None:
        raise CircleExists()
    await queries.insert_consent(
        conn,
        circle_id=circle_id,
        user_id=user.id,
        member_id=None,
        purpose="senior_circle",
        text_version=data.consent.text_version,
        locale=data.consent.locale,
        now=now,
    )
    await common.insert_event(conn, circle_id, "circle_created", at=now, actor_id=user.id)
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
        await common.log_access(conn, circle_id, user.id, "circle")
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
    if await queries.invitations_sent_since(conn, user.id, now - timedelta(days=1)) >= INVITATIONS_PER_DAY:
        raise TooManyRequests()
    if await queries.declined_before(conn, circle_id, email):
        # whoever declined is not asked again (nor mailed): the answer is the circle as it is
        return await _circle_view(conn, access)
    invitee = await common.user_by_email(conn, email)
    provider_id = None
    if data.role == "provider":
        if data.provider_id is None:
            raise InvalidField("provider_id", REASON_PROVIDER_REQUIRED)
        provider = await common.provider(conn, data.provider_id)
        if (
            provider is None
            or not provider.verified
            or invitee is None
            or not await common.is_staff(conn, provider.id, invitee.id)
        ):
            raise InvalidField("email", REASON_NOT_STAFF)
        provider_id = provider.id
    member_id = await queries.insert_member(
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
    await common.insert_event(
        conn,
        circle_id,
        "member_invited",
        at=now,
        actor_id=user.id,
        subject_id=invitee.id if invitee else None,
    )
    if invitee is None:
        senior = await common.user(conn, access.circle.senior_id)
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
    return InvitationList(items=await queries.open_invitations_for(conn, user.id, user.email))


async def _open_invitation(
    conn: asyncpg.Connection, user: CurrentUser, member_id: uuid.UUID
) -> common.MemberRow:
    row = await queries.member(conn, member_id)
    # an invitation sent to an address is for the account that proved that address, and no other
    owner = await common.user_by_email(conn, row.invited_email) if row and row.user_id is None else None
    mine = row is not None and (row.user_id == user.id or (owner is not None and owner.id == user.id))
    if row is None or not mine:
        raise NotFound()
    circle = await common.circle(conn, row.circle_id)
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
    moved = await queries.set_member_state(
        conn, member_id, expected=("invited",), state="accepted", user_id=user.id, now=now
    )
    if moved is None:
        raise InvitationNotOpen()
    await queries.insert_consent(
        conn,
        circle_id=row.circle_id,
        user_id=user.id,
        member_id=member_id,
        purpose="caregiver_membership",
        text_version=consent.text_version,
        locale=consent.locale,
        now=now,
    )
    await common.insert_event(conn, row.circle_id, "member_joined", at=now, actor_id=user.id)
    return await get_circle(conn, user, row.circle_id, log=False)


async def decline_invitation(
    conn: asyncpg.Connection, user: CurrentUser, member_id: uuid.UUID, now: datetime | None = None
) -> None:
    now = now or current_time()
    row = await _open_invitation(conn, user, member_id)
    if await queries.set_member_state(
        conn, member_id, expected=("invited",), state="declined", user_id=user.id, now=now
    ):
        await common.insert_event(conn, row.circle_id, "member_declined", at=now, actor_id=user.id)


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
    row = await queries.member(conn, member_id)
    if row is None or row.circle_id != circle_id or row.state not in {"invited", "accepted"}:
        raise NotFound()
    leaving = row.user_id == user.id and access.role == "member"
    if access.role != "senior" and not leaving:
        raise Forbidden()
    state = "withdrawn" if leaving else "removed"
    moved = await queries.set_member_state(
        conn, member_id, expected=("invited", "accepted"), state=state, user_id=None, now=now
    )
    if moved is None:
        raise NotFound()
    await queries.withdraw_member_consent(conn, member_id, now)
    if row.user_id is not None:
        # Nothing still on its way about this circle reaches someone who is no longer in it.
        await messaging.withdraw_recipient(conn, row.user_id, f"/care/circles/{circle_id}/")
    kind = "member_withdrew" if leaving else "member_removed"
    await common.insert_event(conn, circle_id, kind, at=now, actor_id=user.id, subject_id=row.user_id)


async def withdraw_circle_consent(
    conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID, now: datetime | None = None
) -> Circle:
    """The senior withdraws their consent: the circle closes, no ladder runs, members lose access."""
    now = now or current_time()
    access = await access_circle(conn, user.id, circle_id)
    if access.role != "senior":
        raise Forbidden()
    if await queries.close_circle(conn, circle_id, now):
        await queries.withdraw_consents(conn, circle_id, user_id=None, now=now)
        await queries.stop_open_escalations(conn, circle_id, now)
        await messaging.cancel_under(conn, f"/care/circles/{circle_id}/")
        await common.insert_event(conn, circle_id, "consent_withdrawn", at=now, actor_id=user.id)
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
    await common.log_access(conn, circle_id, user.id, "events")
    items = await queries.events(conn, circle_id, before_id=before, limit=limit + 1)
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
    rows = await queries.reads_of_circle(conn, circle_id, before_id=before, limit=limit + 1)
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
