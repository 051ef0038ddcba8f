"""Circles set up on a senior's behalf: the request, the senior's yes or no, a provider's record of consent."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import asyncpg

from care.errors import (
    REASON_CONSENT_REQUIRED,
    REASON_NOT_CLIENT,
    REASON_OWN_ADDRESS,
    InvalidCode,
    NotPending,
    SetupLimited,
)
from care.models import (
    CodeAnswer,
    CodeAnswerIn,
    ConsentIn,
    PendingCircleList,
    ProviderConsentIn,
    ProxyCircleIn,
    SetUpRequested,
    SetupRequestList,
)
from care.queries import circles as queries
from care.queries import common
from hub.auth import CurrentUser
from hub.errors import InvalidField, NotFound
from i18n import N_
from messaging.models import Audience, Message
from messaging.service import notify

#: how long a request waits for the senior's answer
REQUEST_VALIDITY = timedelta(days=14)
#: requests one person may make per day, and for one address per week
REQUESTS_PER_DAY = 5
REQUESTS_PER_ADDRESS_PER_WEEK = 2
#: the short code in the senior's notice: 10 letters and digits that cannot be mistaken for each other
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10

REQUESTED_TITLE = N_("{proxy} asks to set up your care circle")
REQUESTED_BODY = N_(
    "{proxy} would like to set up your care circle and follow your daily check-ins. Nothing is shared "
    "and nothing is set up unless you agree. To agree, confirm in the app, or enter the code {code}. "
    "To refuse, refuse in the app, or do nothing: the request lapses after 14 days."
)
CONFIRMED_TITLE = N_("{senior} has agreed to their care circle")
CONFIRMED_BODY = N_(
    "{senior} has agreed to the care circle you asked to set up. You can now see it in the app."
)

#: the catalog texts of the notifications this module sends (checked against golden files)
TEXTS: dict[str, tuple[str, str]] = {
    "circle_requested": (REQUESTED_TITLE, REQUESTED_BODY),
    "circle_confirmed": (CONFIRMED_TITLE, CONFIRMED_BODY),
}


def _address_hash(address: str) -> bytes:
    return hashlib.sha256(address.strip().lower().encode()).digest()


def _code_hash(code: str) -> bytes:
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(b"care-circle-code:" + cleaned.encode()).digest()


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def request_circle(
    conn: asyncpg.Connection, user: CurrentUser, data: ProxyCircleIn, now: datetime
) -> SetUpRequested:
    """Someone (a daughter, a neighbour) asks to set up the circle of a senior named by their address.

    The answer is the same whatever the address: whether it has an account, has proven it, already has a
    circle, or nothing happens at all. When the address belongs to a senior who proved it and never had a
    circle, a circle is opened *pending*: the person asking joins it as a caregiver but sees and sets
    nothing until the senior confirms (in the app, or with the code of their notice) or a verified
    provider that serves the senior records the consent it obtained. The senior is told at once, in their
    language, who asked and how to refuse. Every request is recorded (the senior sees those about them)
    and limited per person and per address.
    """
    address = data.senior_email.strip()
    if address.lower() == user.email.lower():
        raise InvalidField("senior_email", REASON_OWN_ADDRESS)
    address_hash = _address_hash(address)
    counts = await queries.setup_counts(
        conn, user.id, address_hash, day_since=now - timedelta(days=1), week_since=now - timedelta(days=7)
    )
    senior = await common.user_by_email(conn, address)
    claimed = data.senior_consent.method if data.senior_consent else None
    if counts.by_requester >= REQUESTS_PER_DAY or counts.for_address >= REQUESTS_PER_ADDRESS_PER_WEEK:
        await queries.insert_setup_request(
            conn,
            requester_id=user.id,
            address_hash=address_hash,
            senior_id=senior.id if senior else None,
            circle_id=None,
            outcome="limited",
            claimed_method=claimed,
            now=now,
        )
        over_week = counts.for_address >= REQUESTS_PER_ADDRESS_PER_WEEK
        raise SetupLimited(timedelta(days=7) if over_week else timedelta(days=1))
    circle_id = None
    code = _new_code()
    if senior is not None and not await queries.ever_had_circle(conn, senior.id):
        circle_id = await queries.insert_circle(
            conn,
            senior.id,
            requested_by=user.id,
            code_hash=_code_hash(code),
            expires_at=now + REQUEST_VALIDITY,
        )
    await queries.insert_setup_request(
        conn,
        requester_id=user.id,
        address_hash=address_hash,
        senior_id=senior.id if senior else None,
        circle_id=circle_id,
        outcome="pending" if circle_id else "not_possible",
        claimed_method=claimed,
        now=now,
    )
    if senior is None or circle_id is None:
        return SetUpRequested(status="requested", requested_at=now)
    member_id = await queries.insert_proxy_member(
        conn, circle_id=circle_id, email=user.email, user_id=user.id, role=data.role, now=now
    )
    await queries.insert_consent(
        conn,
        circle_id=circle_id,
        user_id=user.id,
        member_id=member_id,
        purpose="caregiver_membership",
        text_version=data.my_consent.text_version,
        locale=data.my_consent.locale,
        now=now,
    )
    await common.insert_event(
        conn, circle_id, "circle_requested", at=now, actor_id=user.id, subject_id=senior.id
    )
    title, body = TEXTS["circle_requested"]
    params: dict[str, str | datetime] = {"proxy": user.display_name, "code": f"{code[:5]}-{code[5:]}"}
    await notify(
        conn,
        kind="care.circle_requested",
        audience=Audience(user_ids=(senior.id,)),
        title=Message(title, params),
        body=Message(body, params),
        deep_link=f"/care/circles/{circle_id}",
        priority="important",
        source_id=circle_id,
        sender_id=user.id,
        respect_preferences=False,
        channels=("push", "email"),
    )
    return SetUpRequested(status="requested", requested_at=now)


async def _put_in_force(
    conn: asyncpg.Connection,
    circle: common.CircleRow,
    consent: ConsentIn,
    now: datetime,
    *,
    method: str,
    recorded_by: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
) -> None:
    """The senior's consent recorded (as given), the circle in force, the person who asked told."""
    if not await queries.confirm_circle(conn, circle.id, now):
        raise NotPending()
    await queries.insert_consent(
        conn,
        circle_id=circle.id,
        user_id=circle.senior_id,
        member_id=None,
        purpose="senior_circle",
        text_version=consent.text_version,
        locale=consent.locale,
        now=now,
        method=method,
        recorded_by=recorded_by,
        provider_id=provider_id,
    )
    await common.insert_event(
        conn, circle.id, "circle_confirmed", at=now, actor_id=recorded_by or circle.senior_id
    )
    if circle.requested_by is not None:
        title, body = TEXTS["circle_confirmed"]
        params: dict[str, str | datetime] = {"senior": circle.senior_name}
        await notify(
            conn,
            kind="care.circle_confirmed",
            audience=Audience(user_ids=(circle.requested_by,)),
            title=Message(title, params),
            body=Message(body, params),
            deep_link=f"/care/circles/{circle.id}",
            priority="important",
            source_id=circle.id,
            respect_preferences=False,
            channels=("push", "email"),
        )


async def _pending_of_senior(
    conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID
) -> common.CircleRow:
    circle = await common.circle(conn, circle_id)
    if circle is None or circle.senior_id != user.id:
        raise NotFound()
    if not circle.pending:
        raise NotPending()
    return circle


async def confirm(
    conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID, consent: ConsentIn, now: datetime
) -> common.CircleRow:
    """The senior says yes in the app: their consent is recorded as given by them, and the circle starts."""
    circle = await _pending_of_senior(conn, user, circle_id)
    await _put_in_force(conn, circle, consent, now, method="app")
    return circle


async def refuse(conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID, now: datetime) -> None:
    """The senior says no: the request closes and the person who asked never sees anything of it."""
    circle = await _pending_of_senior(conn, user, circle_id)
    await _close(conn, circle, now)


async def _close(conn: asyncpg.Connection, circle: common.CircleRow, now: datetime) -> None:
    if not await queries.refuse_circle(conn, circle.id, now):
        raise NotPending()
    await queries.withdraw_consents(conn, circle.id, user_id=None, now=now)
    await common.insert_event(conn, circle.id, "circle_refused", at=now, actor_id=circle.senior_id)


async def answer_with_code(conn: asyncpg.Connection, data: CodeAnswerIn, now: datetime) -> CodeAnswer:
    """The senior answers with the code of their notice (or letter), without signing in."""
    circle = await queries.circle_by_code(conn, _code_hash(data.code), now)
    if circle is None:
        raise InvalidCode()
    if data.answer == "refuse":
        await _close(conn, circle, now)
        return CodeAnswer(answer="refuse", circle_state="refused")
    if data.consent is None:
        raise InvalidField("consent", REASON_CONSENT_REQUIRED)
    await _put_in_force(conn, circle, data.consent, now, method="code")
    return CodeAnswer(answer="confirm", circle_state="active")


async def provider_consent(
    conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID, data: ProviderConsentIn, now: datetime
) -> common.CircleRow:
    """Staff of a verified provider that serves the senior record the consent they obtained (who, how,
    which text); the circle starts. Anyone else gets 404."""
    provider = await common.provider(conn, data.provider_id)
    circle = await common.circle(conn, circle_id)
    if (
        provider is None
        or circle is None
        or not await common.is_staff(conn, provider.id, user.id)
        or not await queries.is_approved_client(conn, provider.id, circle.senior_id)
    ):
        raise NotFound()
    if not provider.verified:
        raise InvalidField("provider_id", REASON_NOT_CLIENT)
    if not circle.pending:
        raise NotPending()
    consent = ConsentIn(text_version=data.text_version, locale=data.locale)
    await _put_in_force(
        conn, circle, consent, now, method=data.method, recorded_by=user.id, provider_id=provider.id
    )
    return circle


async def requests_about_me(conn: asyncpg.Connection, user: CurrentUser) -> SetupRequestList:
    """Every request to set up my circle: who asked, when, and what came of it (only I see this)."""
    return SetupRequestList(items=await queries.setup_requests_about(conn, user.id))


async def pending_for_provider(
    conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID
) -> PendingCircleList:
    """Requests waiting for the yes of the provider's approved clients, for its staff."""
    provider = await common.provider(conn, provider_id)
    if provider is None or not provider.verified or not await common.is_staff(conn, provider_id, user.id):
        raise NotFound()
    return PendingCircleList(items=await queries.pending_circles_of_clients(conn, provider_id))
