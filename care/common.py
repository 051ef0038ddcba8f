"""What care's sections share: the texts sent to people, access to a circle or a provider, cursors, the clock."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec

from care import setup
from care.models import Provider
from care.queries import common as queries
from hub.auth import CurrentUser
from hub.errors import REASON_BAD_CURSOR, InvalidField, NotFound
from hub.pagination import decode_cursor
from i18n import N_
from messaging.models import Message

# -- texts sent to people (names and actions only, never health details) -----------------------------------

INVITATION_TITLE = N_("Invitation to a care circle")
INVITATION_BODY = N_("{senior} invites you to their care circle.")
REMINDER_TITLE = N_("Your daily check-in")
REMINDER_BODY = N_("You have not checked in yet today. Tap “I'm fine” to let your circle know.")
MISSED_TITLE = N_("{name} has not checked in")
MISSED_BODY = N_("{name} has not checked in as planned today. Can you check on them?")
PROVIDER_BODY = N_("{name} has not checked in today and nobody in the circle has answered yet.")
CLAIMED_TITLE = N_("{caregiver} is checking on {name}")
CLAIMED_BODY = N_("{caregiver} is checking on {name}. You do not need to do anything.")
RESOLVED_TITLE = N_("{name} has checked in")
RESOLVED_BODY = N_("{name} has checked in after all. You do not need to do anything.")
ALERT_REMINDER_BODY = N_("Please confirm that you have read this message from {provider}.")
#: the subject names nobody: a display name is text its owner wrote, and a stranger's inbox gets none of it
INVITATION_EMAIL_TITLE = N_("An invitation to a circle of caregivers")
INVITATION_EMAIL_BODY = N_(
    "{senior} invites you to join their circle of caregivers in the app. To accept, create an account "
    "in the app with this email address: the invitation will be waiting for you there."
)

STAFF_INVITATION_TITLE = N_("Join the team of {provider}")
STAFF_INVITATION_BODY = N_(
    "You are invited to join the team of {provider} in the app. Accept there to work with it; you can "
    "leave at any time."
)
CLIENT_INVITATION_TITLE = N_("{provider} offers to serve you")
CLIENT_INVITATION_BODY = N_(
    "{provider} invites you to become one of its clients in the app, so that you receive its messages. "
    "Accept there if you agree."
)

PLAN_CHANGED_TITLE = N_("{proxy} has changed your daily check-in")
PLAN_CHANGED_BODY = N_(
    "{proxy} has changed the days or the time of your daily check-in. You can see the new plan in the app "
    "and change it yourself at any time."
)

#: the catalog texts (title, body) of every care notification and email; their parameters are names only
TEXTS: dict[str, tuple[str, str]] = {
    "invitation": (INVITATION_TITLE, INVITATION_BODY),
    "invitation_email": (INVITATION_EMAIL_TITLE, INVITATION_EMAIL_BODY),
    **setup.TEXTS,
    "plan_changed": (PLAN_CHANGED_TITLE, PLAN_CHANGED_BODY),
    "staff_invitation": (STAFF_INVITATION_TITLE, STAFF_INVITATION_BODY),
    "client_invitation": (CLIENT_INVITATION_TITLE, CLIENT_INVITATION_BODY),
    "checkin_reminder": (REMINDER_TITLE, REMINDER_BODY),
    "checkin_missed": (MISSED_TITLE, MISSED_BODY),
    "checkin_missed_provider": (MISSED_TITLE, PROVIDER_BODY),
    "escalation_claimed": (CLAIMED_TITLE, CLAIMED_BODY),
    "checkin_resolved": (RESOLVED_TITLE, RESOLVED_BODY),
}


def messages(which: str, /, **params: str | datetime) -> tuple[Message, Message]:
    title, body = TEXTS[which]
    return Message(title, params), Message(body, params)


# -- listing cursors and the clock ---------------------------------------------------------------------------


def scoped_position(secret: str, cursor: str, scope: list[str], kind: type[Any]) -> Any:
    """The position of a cursor signed with the hub's secret key for exactly this listing (its kind, the
    circle or the filters); a cursor of another listing is refused like a tampered one."""
    found_scope, position = decode_cursor(secret, cursor, tuple[list[str], Any])
    if found_scope != scope:
        raise InvalidField("cursor", REASON_BAD_CURSOR)
    try:
        return msgspec.convert(position, kind)
    except msgspec.ValidationError:
        raise InvalidField("cursor", REASON_BAD_CURSOR) from None


def current_time() -> datetime:
    return datetime.now().astimezone()


# -- access ----------------------------------------------------------------------------------------------------


class CircleAccess(msgspec.Struct, frozen=True):
    circle: queries.CircleRow
    role: Literal["senior", "member"]
    #: a member who set the circle up for the senior (and so may also set their check-in plan)
    proxy: bool = False


async def access_circle(conn: asyncpg.Connection, user_id: uuid.UUID, circle_id: uuid.UUID) -> CircleAccess:
    """The senior, or an accepted member of an open circle; everyone else gets 404.

    The senior keeps access to their circle at all times, closed or not. The person who set the circle up
    for the senior is a member like the others (``proxy`` True): their extra right (the check-in plan)
    ends with their membership, and the senior can remove them like anyone else.
    """
    circle = await queries.circle(conn, circle_id)
    if circle is None:
        raise NotFound()
    if circle.senior_id == user_id:
        return CircleAccess(circle=circle, role="senior")
    if circle.closed_at is None and circle.confirmed_at is not None:
        member = await queries.accepted_member(conn, circle_id, user_id)
        if member is not None:
            return CircleAccess(circle=circle, role="member", proxy=member.proxy)
    raise NotFound()


async def access_provider(conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID) -> Provider:
    """A provider as its staff (or a hub admin) reaches it; everyone else gets 404."""
    provider = await queries.provider(conn, provider_id)
    if provider is None or not (user.is_admin or await queries.is_staff(conn, provider_id, user.id)):
        raise NotFound()
    return provider
