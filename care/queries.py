"""SQL of the care package; every function takes the connection first."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

import asyncpg
import msgspec

from care.models import (
    AlertSummary,
    CircleConsent,
    CircleEvent,
    CircleMember,
    ClientOut,
    ClientRegistration,
    Contact,
    Invitation,
    PauseIn,
    PendingCircle,
    Person,
    Plan,
    Provider,
    Rate,
    SetupRequest,
)
from i18n.content import Bilingual


class UserInfo(msgspec.Struct, frozen=True):
    id: uuid.UUID
    email: str
    display_name: str
    locale: str
    municipality_code: str | None
    time_zone: str


class CircleRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    senior_id: uuid.UUID
    senior_name: str
    created_at: datetime
    closed_at: datetime | None
    #: None while a circle set up on the senior's behalf waits for their yes
    confirmed_at: datetime | None = None
    requested_by: uuid.UUID | None = None
    confirm_expires_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.confirmed_at is None and self.closed_at is None


class MemberRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    circle_id: uuid.UUID
    invited_email: str
    user_id: uuid.UUID | None
    provider_id: uuid.UUID | None
    role: str
    state: str
    proxy: bool


class AlertRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    provider_id: uuid.UUID
    priority: str
    ack_requested: bool
    created_at: datetime
    reminded_at: datetime | None
    title: Bilingual


class PlanRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    senior_id: uuid.UUID
    senior_name: str
    circle_id: uuid.UUID
    days: list[int]
    window_start: time
    window_end: time
    zone: str
    grace_minutes: int
    caregiver_ack_minutes: int
    active_from: datetime
    circle_closed: bool


class EscalationRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    plan_id: uuid.UUID
    circle_id: uuid.UUID
    local_date: date
    state: str
    reminded_at: datetime
    circle_alerted_at: datetime | None
    claimed_by: uuid.UUID | None
    claimed_by_name: str | None
    claimed_at: datetime | None


def _row(kind: type[Any], record: asyncpg.Record | None) -> Any:
    return None if record is None else kind(**dict(record))


# -- people ------------------------------------------------------------------------------------------------

_USER = "SELECT id, email, display_name, locale, municipality_code, time_zone FROM users"


async def user(conn: asyncpg.Connection, user_id: uuid.UUID) -> UserInfo | None:
    return _row(UserInfo, await conn.fetchrow(f"{_USER} WHERE id = $1", user_id))  # type: ignore[no-any-return]


async def user_by_email(conn: asyncpg.Connection, email: str) -> UserInfo | None:
    """The account that proved an address; an address nobody proved matches no account."""
    record = await conn.fetchrow(
        f"{_USER} WHERE lower(email) = lower($1) AND email_verified_at IS NOT NULL", email
    )
    return _row(UserInfo, record)  # type: ignore[no-any-return]


# -- providers ---------------------------------------------------------------------------------------------

_PROVIDER = """
    SELECT id, kind, name, description_fr, description_de, languages, municipality_codes, phone, email,
           website, verified_at, created_at
    FROM care_providers
"""


def _provider(r: asyncpg.Record) -> Provider:
    return Provider(
        id=r["id"],
        kind=r["kind"],
        name=r["name"],
        description=Bilingual(fr=r["description_fr"], de=r["description_de"]),
        languages=list(r["languages"]),
        municipality_codes=list(r["municipality_codes"]),
        contact=Contact(phone=r["phone"], email=r["email"], website=r["website"]),
        verified=r["verified_at"] is not None,
        created_at=r["created_at"],
    )


async def insert_provider(
    conn: asyncpg.Connection,
    *,
    kind: str,
    name: str,
    description: Bilingual,
    languages: list[str],
    codes: list[str],
    contact: Contact,
    created_by: uuid.UUID,
) -> uuid.UUID:
    provider_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO care_providers (kind, name, description_fr, description_de, languages, municipality_codes,
                                    phone, email, website, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id
        """,
        kind,
        name,
        description.fr,
        description.de,
        languages,
        codes,
        contact.phone,
        contact.email,
        contact.website,
        created_by,
    )
    await conn.execute(
        "INSERT INTO care_provider_staff (provider_id, user_id, accepted_at) VALUES ($1, $2, now())",
        provider_id,
        created_by,
    )
    return provider_id


async def provider(conn: asyncpg.Connection, provider_id: uuid.UUID) -> Provider | None:
    record = await conn.fetchrow(f"{_PROVIDER} WHERE id = $1", provider_id)
    return None if record is None else _provider(record)


async def verify_provider(conn: asyncpg.Connection, provider_id: uuid.UUID, admin_id: uuid.UUID) -> bool:
    found = await conn.fetchval(
        """
        UPDATE care_providers SET verified_at = coalesce(verified_at, now()),
                                  verified_by = coalesce(verified_by, $2)
        WHERE id = $1 RETURNING id
        """,
        provider_id,
        admin_id,
    )
    return found is not None


async def is_staff(conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM care_provider_staff WHERE provider_id = $1 AND user_id = $2 "
            "AND accepted_at IS NOT NULL",
            provider_id,
            user_id,
        )
    )


async def services(
    conn: asyncpg.Connection,
    *,
    municipality: str | None,
    kind: str | None,
    language: str | None,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> list[Provider]:
    rows = await conn.fetch(
        f"""
        {_PROVIDER}
        WHERE verified_at IS NOT NULL
          AND ($1::text IS NULL OR municipality_codes @> ARRAY[$1::text])
          AND ($2::text IS NULL OR kind = $2)
          AND ($3::text IS NULL OR languages @> ARRAY[$3::text])
          AND ($4::text IS NULL OR (lower(name), id) > (lower($4::text), $5::uuid))
        ORDER BY lower(name), id
        LIMIT $6
        """,
        municipality,
        kind,
        language,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_provider(r) for r in rows]


async def upsert_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID, text_version: str, locale: str
) -> ClientRegistration:
    record = await conn.fetchrow(
        """
        INSERT INTO care_provider_clients (provider_id, user_id, text_version, consent_locale, consented_at)
        VALUES ($1, $2, $3, $4, now())
        ON CONFLICT (provider_id, user_id) DO UPDATE
            SET text_version = $3, consent_locale = $4, consented_at = now(), withdrawn_at = NULL
        RETURNING provider_id, consented_at, withdrawn_at
        """,
        provider_id,
        user_id,
        text_version,
        locale,
    )
    return ClientRegistration(**dict(record))  # type: ignore[arg-type]


async def withdraw_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID
) -> ClientRegistration | None:
    record = await conn.fetchrow(
        """
        UPDATE care_provider_clients SET withdrawn_at = coalesce(withdrawn_at, now())
        WHERE provider_id = $1 AND user_id = $2
        RETURNING provider_id, consented_at, withdrawn_at, status
        """,
        provider_id,
        user_id,
    )
    return _row(ClientRegistration, record)  # type: ignore[no-any-return]


# -- provider alerts -----------------------------------------------------------------------------------------


async def insert_alert(
    conn: asyncpg.Connection,
    *,
    provider_id: uuid.UUID,
    author_id: uuid.UUID,
    title: Bilingual,
    body: Bilingual,
    priority: str,
    ack_requested: bool,
    remind_after_minutes: int,
    now: datetime,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """The alert and one recipient row per active client, with their language and municipality now."""
    alert_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO care_alerts (provider_id, author_id, title_fr, title_de, body_fr, body_de, priority,
                                 ack_requested, remind_after_minutes, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id
        """,
        provider_id,
        author_id,
        title.fr,
        title.de,
        body.fr,
        body.de,
        priority,
        ack_requested,
        remind_after_minutes,
        now,
    )
    rows = await conn.fetch(
        """
        INSERT INTO care_alert_recipients (alert_id, user_id, locale, municipality_code)
        SELECT $1, u.id, u.locale, u.municipality_code
        FROM care_provider_clients c JOIN users u ON u.id = c.user_id
        WHERE c.provider_id = $2 AND c.withdrawn_at IS NULL AND c.status = 'approved'
        RETURNING user_id
        """,
        alert_id,
        provider_id,
    )
    return alert_id, [r["user_id"] for r in rows]


async def set_alert_notification(
    conn: asyncpg.Connection, alert_id: uuid.UUID, notification_id: uuid.UUID
) -> None:
    await conn.execute("UPDATE care_alerts SET notification_id = $2 WHERE id = $1", alert_id, notification_id)


async def alert(conn: asyncpg.Connection, alert_id: uuid.UUID) -> AlertRow | None:
    r = await conn.fetchrow(
        """
        SELECT id, provider_id, priority, ack_requested, created_at, reminded_at, title_fr, title_de
        FROM care_alerts WHERE id = $1
        """,
        alert_id,
    )
    if r is None:
        return None
    return AlertRow(
        id=r["id"],
        provider_id=r["provider_id"],
        priority=r["priority"],
        ack_requested=r["ack_requested"],
        created_at=r["created_at"],
        reminded_at=r["reminded_at"],
        title=Bilingual(fr=r["title_fr"], de=r["title_de"]),
    )


async def acknowledge(
    conn: asyncpg.Connection, alert_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> datetime | None:
    """When the recipient acknowledged (the first time counts); None if they are not a recipient."""
    at: datetime | None = await conn.fetchval(
        """
        UPDATE care_alert_recipients SET acknowledged_at = coalesce(acknowledged_at, $3)
        WHERE alert_id = $1 AND user_id = $2 RETURNING acknowledged_at
        """,
        alert_id,
        user_id,
        now,
    )
    return at


async def alert_rates(conn: asyncpg.Connection, alert_id: uuid.UUID, column: str) -> list[Rate]:
    assert column in {"locale", "municipality_code"}
    rows = await conn.fetch(
        f"""
        SELECT coalesce({column}, '') AS key, count(*) AS recipients,
               count(acknowledged_at) AS acknowledged
        FROM care_alert_recipients WHERE alert_id = $1 GROUP BY 1 ORDER BY 1
        """,
        alert_id,
    )
    return [
        Rate(
            key=r["key"],
            recipients=r["recipients"],
            acknowledged=r["acknowledged"],
            rate=round(r["acknowledged"] / r["recipients"], 4) if r["recipients"] else 0.0,
        )
        for r in rows
    ]


async def not_acknowledged(conn: asyncpg.Connection, alert_id: uuid.UUID) -> list[Person]:
    rows = await conn.fetch(
        """
        SELECT u.id AS user_id, u.display_name FROM care_alert_recipients r JOIN users u ON u.id = r.user_id
        WHERE r.alert_id = $1 AND r.acknowledged_at IS NULL ORDER BY u.display_name, u.id
        """,
        alert_id,
    )
    return [Person(**dict(r)) for r in rows]


async def claim_due_reminders(conn: asyncpg.Connection, now: datetime, limit: int) -> list[AlertRow]:
    """Alerts whose reminder is due, marked as reminded in this transaction (each is claimed once)."""
    rows = await conn.fetch(
        """
        UPDATE care_alerts SET reminded_at = $1
        WHERE id IN (
            SELECT id FROM care_alerts
            WHERE ack_requested AND reminded_at IS NULL
              AND created_at + make_interval(mins => remind_after_minutes) <= $1
            ORDER BY created_at LIMIT $2
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id, provider_id, priority, ack_requested, created_at, reminded_at, title_fr, title_de
        """,
        now,
        limit,
    )
    return [
        AlertRow(
            id=r["id"],
            provider_id=r["provider_id"],
            priority=r["priority"],
            ack_requested=r["ack_requested"],
            created_at=r["created_at"],
            reminded_at=r["reminded_at"],
            title=Bilingual(fr=r["title_fr"], de=r["title_de"]),
        )
        for r in rows
    ]


async def mark_reminded(
    conn: asyncpg.Connection, alert_id: uuid.UUID, notification_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """Flag the recipients still silent as reminded; they are the reminder's audience."""
    rows = await conn.fetch(
        """
        UPDATE care_alert_recipients SET reminded = true
        WHERE alert_id = $1 AND acknowledged_at IS NULL AND NOT reminded RETURNING user_id
        """,
        alert_id,
    )
    return [r["user_id"] for r in rows]


async def set_reminder_notification(
    conn: asyncpg.Connection, alert_id: uuid.UUID, notification_id: uuid.UUID
) -> None:
    await conn.execute(
        "UPDATE care_alerts SET reminder_notification_id = $2 WHERE id = $1", alert_id, notification_id
    )


# -- circles, members, consent -----------------------------------------------------------------------------

_CIRCLE = """
    SELECT c.id, c.senior_id, u.display_name AS senior_name, c.created_at, c.closed_at, c.confirmed_at,
           c.requested_by, c.confirm_expires_at
    FROM care_circles c JOIN users u ON u.id = c.senior_id
"""


async def insert_circle(
    conn: asyncpg.Connection,
    senior_id: uuid.UUID,
    *,
    requested_by: uuid.UUID | None = None,
    code_hash: bytes | None = None,
    expires_at: datetime | None = None,
) -> uuid.UUID | None:
    """A new circle, or None when the senior already has one that is open (or a request still waiting).

    The senior's own circle is confirmed at once; one requested on their behalf (``requested_by``) waits
    for their yes until ``expires_at``. A lapsed request is closed here, so it no longer blocks.
    """
    await conn.execute(
        "UPDATE care_circles SET closed_at = confirm_expires_at, confirm_code_hash = NULL "
        "WHERE senior_id = $1 AND closed_at IS NULL AND confirmed_at IS NULL AND confirm_expires_at <= now()",
        senior_id,
    )
    exists = await conn.fetchval(
        "SELECT true FROM care_circles WHERE senior_id = $1 AND closed_at IS NULL FOR UPDATE", senior_id
    )
    if exists:
        return None
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        INSERT INTO care_circles (senior_id, confirmed_at, requested_by, confirm_code_hash, confirm_expires_at)
        VALUES ($1, CASE WHEN $2::uuid IS NULL THEN now() END, $2, $3, $4) RETURNING id
        """,
        senior_id,
        requested_by,
        code_hash,
        expires_at,
    )


async def circle(conn: asyncpg.Connection, circle_id: uuid.UUID) -> CircleRow | None:
    return _row(CircleRow, await conn.fetchrow(f"{_CIRCLE} WHERE c.id = $1", circle_id))  # type: ignore[no-any-return]


async def open_circle_of(conn: asyncpg.Connection, senior_id: uuid.UUID) -> CircleRow | None:
    """The senior's circle in force: open and confirmed (a request waiting for their yes is not one)."""
    record = await conn.fetchrow(
        f"{_CIRCLE} WHERE c.senior_id = $1 AND c.closed_at IS NULL AND c.confirmed_at IS NOT NULL", senior_id
    )
    return _row(CircleRow, record)  # type: ignore[no-any-return]


async def close_circle(conn: asyncpg.Connection, circle_id: uuid.UUID, now: datetime) -> bool:
    closed = await conn.fetchval(
        "UPDATE care_circles SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL RETURNING true",
        circle_id,
        now,
    )
    return bool(closed)


async def insert_consent(
    conn: asyncpg.Connection,
    *,
    circle_id: uuid.UUID,
    user_id: uuid.UUID,
    member_id: uuid.UUID | None,
    purpose: str,
    text_version: str,
    locale: str,
    now: datetime,
    method: str = "app",
    recorded_by: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
) -> None:
    """Record a consent; ``recorded_by`` is the person who obtained it (``method``), None when given in the
    app by the person themselves."""
    await conn.execute(
        """
        INSERT INTO care_consents (circle_id, user_id, member_id, purpose, text_version, locale, given_at,
                                   method, recorded_by, provider_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        circle_id,
        user_id,
        member_id,
        purpose,
        text_version,
        locale,
        now,
        method,
        recorded_by,
        provider_id,
    )


async def circle_consent(conn: asyncpg.Connection, circle_id: uuid.UUID) -> CircleConsent | None:
    """The senior's consent to the circle as recorded: how, by whom, which text, when, and its withdrawal."""
    record = await conn.fetchrow(
        """
        SELECT k.method, r.display_name AS recorded_by, k.text_version, k.locale, k.given_at, k.withdrawn_at
        FROM care_consents k LEFT JOIN users r ON r.id = k.recorded_by
        WHERE k.circle_id = $1 AND k.purpose = 'senior_circle'
        ORDER BY k.given_at DESC LIMIT 1
        """,
        circle_id,
    )
    return _row(CircleConsent, record)  # type: ignore[no-any-return]


async def ever_had_circle(conn: asyncpg.Connection, senior_id: uuid.UUID) -> bool:
    """Whether the senior ever had a circle in force (refused or lapsed requests do not count)."""
    return bool(
        await conn.fetchval(
            "SELECT true FROM care_circles WHERE senior_id = $1 AND confirmed_at IS NOT NULL LIMIT 1",
            senior_id,
        )
    )


async def withdraw_consents(
    conn: asyncpg.Connection, circle_id: uuid.UUID, *, user_id: uuid.UUID | None, now: datetime
) -> None:
    """Date the withdrawal of the circle's consents (of one person, or all of them)."""
    await conn.execute(
        """
        UPDATE care_consents SET withdrawn_at = $3
        WHERE circle_id = $1 AND ($2::uuid IS NULL OR user_id = $2) AND withdrawn_at IS NULL
        """,
        circle_id,
        user_id,
        now,
    )


async def withdraw_member_consent(conn: asyncpg.Connection, member_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE care_consents SET withdrawn_at = $2 WHERE member_id = $1 AND withdrawn_at IS NULL",
        member_id,
        now,
    )


async def insert_member(
    conn: asyncpg.Connection,
    *,
    circle_id: uuid.UUID,
    email: str,
    user_id: uuid.UUID | None,
    provider_id: uuid.UUID | None,
    role: str,
    invited_by: uuid.UUID,
) -> uuid.UUID | None:
    """A new invitation, or None when the address is already invited or a member."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        INSERT INTO care_circle_members (circle_id, invited_email, user_id, provider_id, role, invited_by)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (circle_id, lower(invited_email)) WHERE state IN ('invited', 'accepted') DO NOTHING
        RETURNING id
        """,
        circle_id,
        email,
        user_id,
        provider_id,
        role,
        invited_by,
    )


async def insert_proxy_member(
    conn: asyncpg.Connection,
    *,
    circle_id: uuid.UUID,
    email: str,
    user_id: uuid.UUID,
    role: str,
    now: datetime,
) -> uuid.UUID:
    """The person who set the circle up, a member from the start (no invitation to answer)."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        INSERT INTO care_circle_members (circle_id, invited_email, user_id, role, state, invited_by,
                                         invited_at, responded_at, proxy)
        VALUES ($1, $2, $3, $4, 'accepted', $3, $5, $5, true)
        RETURNING id
        """,
        circle_id,
        email,
        user_id,
        role,
        now,
    )


async def proxy_of(conn: asyncpg.Connection, circle_id: uuid.UUID) -> Person | None:
    """The person who set the circle up for the senior, while they are still a member."""
    record = await conn.fetchrow(
        """
        SELECT u.id AS user_id, u.display_name
        FROM care_circle_members m JOIN users u ON u.id = m.user_id
        WHERE m.circle_id = $1 AND m.proxy AND m.state = 'accepted'
        """,
        circle_id,
    )
    return _row(Person, record)  # type: ignore[no-any-return]


_MEMBER = (
    "SELECT id, circle_id, invited_email, user_id, provider_id, role, state, proxy FROM care_circle_members"
)


async def member(conn: asyncpg.Connection, member_id: uuid.UUID) -> MemberRow | None:
    return _row(MemberRow, await conn.fetchrow(f"{_MEMBER} WHERE id = $1", member_id))  # type: ignore[no-any-return]


async def accepted_member(
    conn: asyncpg.Connection, circle_id: uuid.UUID, user_id: uuid.UUID
) -> MemberRow | None:
    record = await conn.fetchrow(
        f"{_MEMBER} WHERE circle_id = $1 AND user_id = $2 AND state = 'accepted'", circle_id, user_id
    )
    return _row(MemberRow, record)  # type: ignore[no-any-return]


async def members(conn: asyncpg.Connection, circle_id: uuid.UUID, *, with_email: bool) -> list[CircleMember]:
    rows = await conn.fetch(
        """
        SELECT m.id, m.role, m.state, u.display_name, m.provider_id, m.invited_email, m.invited_at,
               m.responded_at, m.proxy
        FROM care_circle_members m LEFT JOIN users u ON u.id = m.user_id
        WHERE m.circle_id = $1 AND m.state IN ('invited', 'accepted')
        ORDER BY m.invited_at, m.id
        """,
        circle_id,
    )
    return [
        CircleMember(
            id=r["id"],
            role=r["role"],
            state=r["state"],
            # an invitation shows no name: it would tell whether the address has an account
            display_name=r["display_name"] if r["state"] == "accepted" else None,
            provider_id=r["provider_id"],
            invited_email=r["invited_email"] if with_email else None,
            invited_at=r["invited_at"],
            responded_at=r["responded_at"],
            proxy=r["proxy"],
        )
        for r in rows
    ]


async def set_member_state(
    conn: asyncpg.Connection,
    member_id: uuid.UUID,
    *,
    expected: tuple[str, ...],
    state: str,
    user_id: uuid.UUID | None,
    now: datetime,
) -> MemberRow | None:
    """Move a member row on only from an expected state (concurrent answers cannot both win)."""
    ended = state in {"removed", "withdrawn"}
    record = await conn.fetchrow(
        """
        UPDATE care_circle_members
        SET state = $3, user_id = coalesce($4, user_id),
            responded_at = CASE WHEN $5 THEN responded_at ELSE $6 END,
            ended_at = CASE WHEN $5 THEN $6 ELSE ended_at END
        WHERE id = $1 AND state = ANY($2::text[])
        RETURNING id, circle_id, invited_email, user_id, provider_id, role, state, proxy
        """,
        member_id,
        list(expected),
        state,
        user_id,
        ended,
        now,
    )
    return _row(MemberRow, record)  # type: ignore[no-any-return]


async def open_invitations_for(conn: asyncpg.Connection, user_id: uuid.UUID, email: str) -> list[Invitation]:
    rows = await conn.fetch(
        """
        SELECT m.id, m.circle_id, u.display_name AS senior_name, m.role, m.state, m.invited_at,
               m.user_id IS NOT NULL AS registered
        FROM care_circle_members m
        JOIN care_circles c ON c.id = m.circle_id AND c.closed_at IS NULL
        JOIN users u ON u.id = c.senior_id
        WHERE m.state = 'invited'
          AND (m.user_id = $1 OR lower(m.invited_email) = (
                SELECT lower(email) FROM users WHERE id = $1 AND lower(email) = lower($2)
                AND email_verified_at IS NOT NULL))
        ORDER BY m.invited_at DESC, m.id
        """,
        user_id,
        email,
    )
    return [Invitation(**dict(r)) for r in rows]


async def recipients(
    conn: asyncpg.Connection, circle_id: uuid.UUID, *, providers: bool | None
) -> list[uuid.UUID]:
    """Accepted members with an account: caregivers only (False), providers only (True), or all (None)."""
    rows = await conn.fetch(
        """
        SELECT user_id FROM care_circle_members
        WHERE circle_id = $1 AND state = 'accepted' AND user_id IS NOT NULL
          AND ($2::boolean IS NULL OR (role = 'provider') = $2)
        ORDER BY invited_at, id
        """,
        circle_id,
        providers,
    )
    return [r["user_id"] for r in rows]


# -- events and the access log -----------------------------------------------------------------------------


async def insert_event(
    conn: asyncpg.Connection,
    circle_id: uuid.UUID,
    kind: str,
    *,
    at: datetime,
    actor_id: uuid.UUID | None = None,
    subject_id: uuid.UUID | None = None,
    escalation_id: uuid.UUID | None = None,
    local_date: date | None = None,
) -> bool:
    """Record an event; a ladder step already recorded for its escalation is not recorded again."""
    inserted = await conn.fetchval(
        """
        INSERT INTO care_events (circle_id, kind, actor_id, subject_id, escalation_id, local_date, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (escalation_id, kind) WHERE escalation_id IS NOT NULL DO NOTHING
        RETURNING true
        """,
        circle_id,
        kind,
        actor_id,
        subject_id,
        escalation_id,
        local_date,
        at,
    )
    return bool(inserted)


async def events(
    conn: asyncpg.Connection, circle_id: uuid.UUID, *, before_id: int | None, limit: int
) -> list[CircleEvent]:
    rows = await conn.fetch(
        """
        SELECT e.id, e.kind, e.at, a.display_name AS actor, s.display_name AS subject, e.local_date,
               e.escalation_id
        FROM care_events e
        LEFT JOIN users a ON a.id = e.actor_id
        LEFT JOIN users s ON s.id = e.subject_id
        WHERE e.circle_id = $1 AND ($2::bigint IS NULL OR e.id < $2)
        ORDER BY e.id DESC LIMIT $3
        """,
        circle_id,
        before_id,
        limit,
    )
    return [CircleEvent(**dict(r)) for r in rows]


async def log_access(conn: asyncpg.Connection, circle_id: uuid.UUID, reader_id: uuid.UUID, what: str) -> None:
    await conn.execute(
        "INSERT INTO care_access_log (circle_id, reader_id, what) VALUES ($1, $2, $3)",
        circle_id,
        reader_id,
        what,
    )


# -- check-in plans ----------------------------------------------------------------------------------------

_PLAN = """
    SELECT p.id, p.senior_id, u.display_name AS senior_name, p.circle_id, p.days, p.window_start,
           p.window_end, p.zone, p.grace_minutes, p.caregiver_ack_minutes, p.active_from,
           c.closed_at IS NOT NULL AS circle_closed
    FROM care_checkin_plans p
    JOIN users u ON u.id = p.senior_id
    JOIN care_circles c ON c.id = p.circle_id
"""


def _plan_row(r: asyncpg.Record) -> PlanRow:
    values = dict(r)
    values["days"] = list(values["days"])
    return PlanRow(**values)


async def upsert_plan(
    conn: asyncpg.Connection,
    *,
    senior_id: uuid.UUID,
    circle_id: uuid.UUID,
    days: list[int],
    window_start: time,
    window_end: time,
    zone: str,
    grace_minutes: int,
    caregiver_ack_minutes: int,
    pauses: list[PauseIn],
    now: datetime,
) -> uuid.UUID:
    plan_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO care_checkin_plans (senior_id, circle_id, days, window_start, window_end, zone,
                                        grace_minutes, caregiver_ack_minutes, active_from, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
        ON CONFLICT (senior_id) DO UPDATE SET
            circle_id = $2, days = $3, window_start = $4, window_end = $5, zone = $6, grace_minutes = $7,
            caregiver_ack_minutes = $8, active_from = $9, updated_at = $9
        RETURNING id
        """,
        senior_id,
        circle_id,
        days,
        window_start,
        window_end,
        zone,
        grace_minutes,
        caregiver_ack_minutes,
        now,
    )
    await conn.execute("DELETE FROM care_checkin_pauses WHERE plan_id = $1", plan_id)
    await conn.executemany(
        "INSERT INTO care_checkin_pauses (plan_id, first_day, last_day) VALUES ($1, $2, $3)",
        [(plan_id, p.first_day, p.last_day) for p in pauses],
    )
    return plan_id


async def plan_of(conn: asyncpg.Connection, senior_id: uuid.UUID) -> Plan | None:
    r = await conn.fetchrow(f"{_PLAN} WHERE p.senior_id = $1", senior_id)
    if r is None:
        return None
    return Plan(
        id=r["id"],
        circle_id=r["circle_id"],
        days=list(r["days"]),
        window_start=r["window_start"],
        window_end=r["window_end"],
        zone=r["zone"],
        grace_minutes=r["grace_minutes"],
        caregiver_ack_minutes=r["caregiver_ack_minutes"],
        pauses=await pauses(conn, r["id"]),
        active_from=r["active_from"],
    )


async def pauses(conn: asyncpg.Connection, plan_id: uuid.UUID) -> list[PauseIn]:
    rows = await conn.fetch(
        "SELECT first_day, last_day FROM care_checkin_pauses WHERE plan_id = $1 ORDER BY first_day", plan_id
    )
    return [PauseIn(first_day=r["first_day"], last_day=r["last_day"]) for r in rows]


async def lock_plans(conn: asyncpg.Connection, limit: int, after: uuid.UUID | None = None) -> list[PlanRow]:
    """Up to ``limit`` plans of open circles after ``after`` in id order, locked for this run; plans
    another run holds are skipped, not waited for."""
    rows = await conn.fetch(
        f"""
        {_PLAN}
        WHERE c.closed_at IS NULL AND ($2::uuid IS NULL OR p.id > $2)
        ORDER BY p.id LIMIT $1
        FOR UPDATE OF p SKIP LOCKED
        """,
        limit,
        after,
    )
    return [_plan_row(r) for r in rows]


async def has_provider(conn: asyncpg.Connection, circle_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval(
            """
            SELECT true FROM care_circle_members
            WHERE circle_id = $1 AND role = 'provider' AND state = 'accepted' LIMIT 1
            """,
            circle_id,
        )
    )


async def insert_checkin(
    conn: asyncpg.Connection, senior_id: uuid.UUID, local_date: date, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO care_checkins (senior_id, local_date, at) VALUES ($1, $2, $3)", senior_id, local_date, at
    )


async def checked_in(conn: asyncpg.Connection, senior_id: uuid.UUID, local_date: date) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM care_checkins WHERE senior_id = $1 AND local_date = $2 LIMIT 1",
            senior_id,
            local_date,
        )
    )


# -- escalations -------------------------------------------------------------------------------------------

_ESCALATION = """
    SELECT e.id, e.plan_id, e.circle_id, e.local_date, e.state, e.reminded_at, e.circle_alerted_at,
           e.claimed_by, u.display_name AS claimed_by_name, e.claimed_at
    FROM care_escalations e LEFT JOIN users u ON u.id = e.claimed_by
"""


async def escalation_for(
    conn: asyncpg.Connection, plan_id: uuid.UUID, local_date: date
) -> EscalationRow | None:
    record = await conn.fetchrow(
        f"{_ESCALATION} WHERE e.plan_id = $1 AND e.local_date = $2", plan_id, local_date
    )
    return _row(EscalationRow, record)  # type: ignore[no-any-return]


async def escalation(conn: asyncpg.Connection, escalation_id: uuid.UUID) -> EscalationRow | None:
    return _row(EscalationRow, await conn.fetchrow(f"{_ESCALATION} WHERE e.id = $1", escalation_id))  # type: ignore[no-any-return]


async def start_escalation(
    conn: asyncpg.Connection, plan_id: uuid.UUID, circle_id: uuid.UUID, local_date: date, now: datetime
) -> uuid.UUID | None:
    """The first step of a ladder; None when another run already started it."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        INSERT INTO care_escalations (plan_id, circle_id, local_date, state, reminded_at)
        VALUES ($1, $2, $3, 'reminded', $4)
        ON CONFLICT (plan_id, local_date) DO NOTHING RETURNING id
        """,
        plan_id,
        circle_id,
        local_date,
        now,
    )


_STEP_COLUMN = {
    "circle_alerted": "circle_alerted_at",
    "provider_alerted": "provider_alerted_at",
    "resolved": "ended_at",
    "stopped": "ended_at",
}


async def advance_escalation(
    conn: asyncpg.Connection,
    escalation_id: uuid.UUID,
    *,
    expected: tuple[str, ...],
    state: str,
    now: datetime,
) -> bool:
    """Move a ladder on only from an expected state: of two concurrent runs, one wins."""
    column = _STEP_COLUMN[state]
    moved = await conn.fetchval(
        f"""
        UPDATE care_escalations SET state = $3, {column} = $4
        WHERE id = $1 AND state = ANY($2::text[]) RETURNING true
        """,
        escalation_id,
        list(expected),
        state,
        now,
    )
    return bool(moved)


async def claim_escalation(
    conn: asyncpg.Connection, escalation_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> bool:
    claimed = await conn.fetchval(
        """
        UPDATE care_escalations SET state = 'claimed', claimed_by = $2, claimed_at = $3, ended_at = $3
        WHERE id = $1 AND state IN ('reminded', 'circle_alerted', 'provider_alerted') RETURNING true
        """,
        escalation_id,
        user_id,
        now,
    )
    return bool(claimed)


async def stop_open_escalations(conn: asyncpg.Connection, circle_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE care_escalations SET state = 'stopped', ended_at = $2
        WHERE circle_id = $1 AND state IN ('reminded', 'circle_alerted', 'provider_alerted')
        """,
        circle_id,
        now,
    )


# -- export and erasure ------------------------------------------------------------------------------------


async def export_rows(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """Every care row about or by one person, as plain values."""
    queries = {
        "circles": "SELECT id, created_at, closed_at FROM care_circles WHERE senior_id = $1",
        "memberships": """SELECT id, circle_id, role, state, invited_at, responded_at, ended_at
                          FROM care_circle_members WHERE user_id = $1""",
        "consents": """SELECT k.circle_id, k.purpose, k.text_version, k.locale, k.given_at, k.withdrawn_at,
                              k.method, r.display_name AS recorded_by
                       FROM care_consents k LEFT JOIN users r ON r.id = k.recorded_by
                       WHERE k.user_id = $1 ORDER BY k.given_at""",
        "consents_recorded": """SELECT circle_id, purpose, text_version, locale, given_at, method
                                FROM care_consents WHERE recorded_by = $1 ORDER BY given_at""",
        "checkin_plan": """SELECT days, window_start, window_end, zone, grace_minutes, caregiver_ack_minutes,
                                  active_from FROM care_checkin_plans WHERE senior_id = $1""",
        "checkins": "SELECT local_date, at FROM care_checkins WHERE senior_id = $1 ORDER BY at",
        "escalations": """SELECT e.local_date, e.state, e.reminded_at, e.circle_alerted_at,
                                 e.provider_alerted_at, e.claimed_at
                          FROM care_escalations e JOIN care_circles c ON c.id = e.circle_id
                          WHERE c.senior_id = $1 ORDER BY e.local_date""",
        "events": """SELECT e.circle_id, e.kind, e.local_date, e.at FROM care_events e
                     JOIN care_circles c ON c.id = e.circle_id
                     WHERE c.senior_id = $1 OR e.actor_id = $1 ORDER BY e.id""",
        "circle_reads": "SELECT circle_id, what, at FROM care_access_log WHERE reader_id = $1 ORDER BY id",
        "setup_requests_about_me": """SELECT r.requested_at, u.display_name AS requested_by, r.outcome
                                      FROM care_setup_requests r JOIN users u ON u.id = r.requester_id
                                      WHERE r.senior_id = $1 ORDER BY r.requested_at""",
        "provider_staff": "SELECT provider_id, added_at FROM care_provider_staff WHERE user_id = $1",
        "provider_clients": """SELECT provider_id, status, text_version, consent_locale, consented_at,
                                      withdrawn_at FROM care_provider_clients WHERE user_id = $1""",
        "alerts_received": """SELECT alert_id, locale, municipality_code, acknowledged_at, reminded
                              FROM care_alert_recipients WHERE user_id = $1""",
    }
    result: dict[str, list[dict[str, Any]]] = {}
    for name, sql in queries.items():
        result[name] = [dict(r) for r in await conn.fetch(sql, user_id)]
    result["reads_of_my_care_data"] = await reads_about(conn, user_id)
    return result


async def erase_rows(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Remove a person's care data: their circles as a senior (with everything in them), their memberships,
    consents, plan, check-ins, client registrations, staff seats and alert receipts. Reads they made of
    others' logs keep their time but lose their name (the reader column is cleared)."""
    await conn.execute("DELETE FROM care_circles WHERE senior_id = $1", user_id)
    await conn.execute("DELETE FROM care_checkins WHERE senior_id = $1", user_id)
    await conn.execute("DELETE FROM care_consents WHERE user_id = $1", user_id)
    await conn.execute(
        """
        DELETE FROM care_circle_members
        WHERE user_id = $1 OR lower(invited_email) = (
            SELECT lower(email) FROM users WHERE id = $1 AND email_verified_at IS NOT NULL)
        """,
        user_id,
    )
    await conn.execute("UPDATE care_consents SET recorded_by = NULL WHERE recorded_by = $1", user_id)
    await conn.execute("UPDATE care_events SET actor_id = NULL WHERE actor_id = $1", user_id)
    await conn.execute("UPDATE care_escalations SET claimed_by = NULL WHERE claimed_by = $1", user_id)
    await conn.execute("UPDATE care_access_log SET reader_id = NULL WHERE reader_id = $1", user_id)
    await conn.execute("DELETE FROM care_provider_clients WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM care_alert_recipients WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM care_provider_staff WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM care_setup_requests WHERE requester_id = $1 OR senior_id = $1", user_id)


# -- circles set up on a senior's behalf: requests and the senior's yes ---------------------------------------


class SetupCounts(msgspec.Struct, frozen=True):
    by_requester: int
    for_address: int


async def setup_counts(
    conn: asyncpg.Connection,
    requester_id: uuid.UUID,
    address_hash: bytes,
    *,
    day_since: datetime,
    week_since: datetime,
) -> SetupCounts:
    """Requests a person made since ``day_since``, and those for one address since ``week_since``."""
    row = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE requested_at > $3) AS by_requester,
               count(*) FILTER (WHERE requested_at > $4 AND address_hash = $2) AS for_address
        FROM care_setup_requests WHERE requester_id = $1 AND requested_at > least($3, $4)
        """,
        requester_id,
        address_hash,
        day_since,
        week_since,
    )
    assert row is not None
    return SetupCounts(by_requester=row["by_requester"], for_address=row["for_address"])


async def insert_setup_request(
    conn: asyncpg.Connection,
    *,
    requester_id: uuid.UUID,
    address_hash: bytes,
    senior_id: uuid.UUID | None,
    circle_id: uuid.UUID | None,
    outcome: str,
    claimed_method: str | None,
    now: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO care_setup_requests (requester_id, address_hash, senior_id, circle_id, outcome,
                                         claimed_method, requested_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        requester_id,
        address_hash,
        senior_id,
        circle_id,
        outcome,
        claimed_method,
        now,
    )


async def setup_requests_about(conn: asyncpg.Connection, senior_id: uuid.UUID) -> list[SetupRequest]:
    """Every request to set up the senior's circle, newest first, with the state of the circle it opened."""
    rows = await conn.fetch(
        """
        SELECT r.id, r.requester_id, u.display_name AS requester_name, r.requested_at, r.outcome, r.circle_id,
               CASE WHEN c.id IS NULL THEN NULL
                    WHEN c.confirmed_at IS NOT NULL THEN CASE WHEN c.closed_at IS NULL THEN 'active' ELSE 'closed' END
                    WHEN c.closed_at IS NOT NULL THEN 'refused'
                    WHEN c.confirm_expires_at <= now() THEN 'lapsed'
                    ELSE 'pending' END AS circle_state
        FROM care_setup_requests r
        JOIN users u ON u.id = r.requester_id
        LEFT JOIN care_circles c ON c.id = r.circle_id
        WHERE r.senior_id = $1
        ORDER BY r.requested_at DESC, r.id
        """,
        senior_id,
    )
    return [
        SetupRequest(
            id=r["id"],
            requested_by=Person(user_id=r["requester_id"], display_name=r["requester_name"]),
            requested_at=r["requested_at"],
            outcome=r["outcome"],
            circle_id=r["circle_id"],
            circle_state=r["circle_state"],
        )
        for r in rows
    ]


async def confirm_circle(conn: asyncpg.Connection, circle_id: uuid.UUID, now: datetime) -> bool:
    """Put a waiting circle in force (once, before its request lapses)."""
    done = await conn.fetchval(
        """
        UPDATE care_circles SET confirmed_at = $2, confirm_code_hash = NULL
        WHERE id = $1 AND confirmed_at IS NULL AND closed_at IS NULL AND confirm_expires_at > $2
        RETURNING true
        """,
        circle_id,
        now,
    )
    return bool(done)


async def refuse_circle(conn: asyncpg.Connection, circle_id: uuid.UUID, now: datetime) -> bool:
    """Close a circle still waiting for the senior's yes."""
    done = await conn.fetchval(
        """
        UPDATE care_circles SET closed_at = $2, confirm_code_hash = NULL
        WHERE id = $1 AND confirmed_at IS NULL AND closed_at IS NULL RETURNING true
        """,
        circle_id,
        now,
    )
    return bool(done)


async def circle_by_code(conn: asyncpg.Connection, code_hash: bytes, now: datetime) -> CircleRow | None:
    record = await conn.fetchrow(
        f"{_CIRCLE} WHERE c.confirm_code_hash = $1 AND c.confirmed_at IS NULL AND c.closed_at IS NULL "
        "AND c.confirm_expires_at > $2",
        code_hash,
        now,
    )
    return _row(CircleRow, record)  # type: ignore[no-any-return]


async def is_approved_client(conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM care_provider_clients WHERE provider_id = $1 AND user_id = $2 "
            "AND status = 'approved' AND withdrawn_at IS NULL",
            provider_id,
            user_id,
        )
    )


async def pending_circles_of_clients(conn: asyncpg.Connection, provider_id: uuid.UUID) -> list[PendingCircle]:
    """Requests waiting for the yes of the provider's approved clients (the provider may record it)."""
    rows = await conn.fetch(
        """
        SELECT c.id AS circle_id, s.id AS senior_id, s.display_name AS senior_name,
               r.id AS requester_id, r.display_name AS requester_name, c.created_at AS requested_at,
               c.confirm_expires_at AS expires_at
        FROM care_circles c
        JOIN care_provider_clients k ON k.user_id = c.senior_id AND k.provider_id = $1
             AND k.status = 'approved' AND k.withdrawn_at IS NULL
        JOIN users s ON s.id = c.senior_id
        LEFT JOIN users r ON r.id = c.requested_by
        WHERE c.confirmed_at IS NULL AND c.closed_at IS NULL AND c.confirm_expires_at > now()
        ORDER BY c.created_at, c.id
        """,
        provider_id,
    )
    return [
        PendingCircle(
            circle_id=r["circle_id"],
            senior=Person(user_id=r["senior_id"], display_name=r["senior_name"]),
            requested_by=Person(user_id=r["requester_id"], display_name=r["requester_name"])
            if r["requester_id"]
            else None,
            requested_at=r["requested_at"],
            expires_at=r["expires_at"],
        )
        for r in rows
    ]


# -- who read the senior's care data ----------------------------------------------------------------------------


class ReadRow(msgspec.Struct, frozen=True):
    id: int
    reader_id: uuid.UUID | None
    reader_name: str | None
    what: str
    at: datetime


async def reads_of_circle(
    conn: asyncpg.Connection, circle_id: uuid.UUID, *, before_id: int | None, limit: int
) -> list[ReadRow]:
    rows = await conn.fetch(
        """
        SELECT a.id, a.reader_id, u.display_name AS reader_name, a.what, a.at
        FROM care_access_log a LEFT JOIN users u ON u.id = a.reader_id
        WHERE a.circle_id = $1 AND ($2::bigint IS NULL OR a.id < $2)
        ORDER BY a.id DESC LIMIT $3
        """,
        circle_id,
        before_id,
        limit,
    )
    return [ReadRow(**dict(r)) for r in rows]


async def reads_about(conn: asyncpg.Connection, senior_id: uuid.UUID) -> list[dict[str, Any]]:
    """For the senior's export: every recorded read of their circles' log and check-in plan."""
    rows = await conn.fetch(
        """
        SELECT a.circle_id, u.display_name AS reader, a.what, a.at
        FROM care_access_log a JOIN care_circles c ON c.id = a.circle_id
        LEFT JOIN users u ON u.id = a.reader_id
        WHERE c.senior_id = $1 ORDER BY a.id
        """,
        senior_id,
    )
    return [dict(r) for r in rows]


# -- clients approved by a provider, staff who accepted ---------------------------------------------------------


async def request_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID, text_version: str, locale: str
) -> ClientRegistration:
    """A person asks to be a client (with their consent): approved at once only when the provider's staff
    invited them or approved them before; otherwise the request waits for the staff."""
    record = await conn.fetchrow(
        """
        INSERT INTO care_provider_clients (provider_id, user_id, text_version, consent_locale, consented_at,
                                           status)
        VALUES ($1, $2, $3, $4, now(), 'requested')
        ON CONFLICT (provider_id, user_id) DO UPDATE
            SET text_version = $3, consent_locale = $4, consented_at = now(), withdrawn_at = NULL,
                status = CASE WHEN care_provider_clients.status IN ('invited', 'approved') THEN 'approved'
                              ELSE 'requested' END
        RETURNING provider_id, consented_at, withdrawn_at, status
        """,
        provider_id,
        user_id,
        text_version,
        locale,
    )
    return ClientRegistration(**dict(record))  # type: ignore[arg-type]


async def invite_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID, staff_id: uuid.UUID
) -> bool:
    """Staff invite a person (who then accepts by registering); an approved client stays approved."""
    done = await conn.fetchval(
        """
        INSERT INTO care_provider_clients (provider_id, user_id, text_version, consent_locale, consented_at,
                                           status, decided_by, decided_at)
        VALUES ($1, $2, '', '', now(), 'invited', $3, now())
        ON CONFLICT (provider_id, user_id) DO UPDATE
            SET status = CASE WHEN care_provider_clients.status = 'requested'
                                   AND care_provider_clients.withdrawn_at IS NULL THEN 'approved'
                              WHEN care_provider_clients.status = 'approved'
                                   AND care_provider_clients.withdrawn_at IS NULL THEN 'approved'
                              ELSE 'invited' END,
                decided_by = $3, decided_at = now()
        RETURNING true
        """,
        provider_id,
        user_id,
        staff_id,
    )
    return bool(done)


async def decide_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID, staff_id: uuid.UUID, approve: bool
) -> ClientRegistration | None:
    record = await conn.fetchrow(
        """
        UPDATE care_provider_clients SET status = $4, decided_by = $3, decided_at = now()
        WHERE provider_id = $1 AND user_id = $2 AND status IN ('requested', 'approved') AND withdrawn_at IS NULL
        RETURNING provider_id, consented_at, withdrawn_at, status
        """,
        provider_id,
        user_id,
        staff_id,
        "approved" if approve else "declined",
    )
    return _row(ClientRegistration, record)  # type: ignore[no-any-return]


async def client_requests(conn: asyncpg.Connection, provider_id: uuid.UUID, status: str) -> list[ClientOut]:
    rows = await conn.fetch(
        """
        SELECT k.user_id, u.display_name, k.status, k.consented_at, k.decided_at
        FROM care_provider_clients k JOIN users u ON u.id = k.user_id
        WHERE k.provider_id = $1 AND k.status = $2 AND k.withdrawn_at IS NULL
        ORDER BY k.consented_at, k.user_id
        """,
        provider_id,
        status,
    )
    return [ClientOut(**dict(r)) for r in rows]


async def invite_staff(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID, invited_by: uuid.UUID
) -> bool:
    """A staff seat offered to a person, waiting for their acceptance; False when they have one already."""
    added = await conn.fetchval(
        """
        INSERT INTO care_provider_staff (provider_id, user_id, invited_by, accepted_at) VALUES ($1, $2, $3, NULL)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        provider_id,
        user_id,
        invited_by,
    )
    return bool(added)


async def accept_staff(conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    done = await conn.fetchval(
        "UPDATE care_provider_staff SET accepted_at = coalesce(accepted_at, now()) "
        "WHERE provider_id = $1 AND user_id = $2 RETURNING true",
        provider_id,
        user_id,
    )
    return bool(done)


async def leave_staff(conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    done = await conn.fetchval(
        "DELETE FROM care_provider_staff WHERE provider_id = $1 AND user_id = $2 RETURNING true",
        provider_id,
        user_id,
    )
    return bool(done)


async def staff_count(conn: asyncpg.Connection, provider_id: uuid.UUID) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM care_provider_staff WHERE provider_id = $1 AND accepted_at IS NOT NULL",
            provider_id,
        )
    )


# -- invitations: limits --------------------------------------------------------------------------------------


async def invitations_sent_since(conn: asyncpg.Connection, inviter_id: uuid.UUID, since: datetime) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM care_circle_members WHERE invited_by = $1 AND invited_at > $2 AND NOT proxy",
            inviter_id,
            since,
        )
    )


async def declined_before(conn: asyncpg.Connection, circle_id: uuid.UUID, email: str) -> bool:
    """Whether this address declined an invitation to this circle (it is not invited again)."""
    return bool(
        await conn.fetchval(
            "SELECT true FROM care_circle_members WHERE circle_id = $1 AND lower(invited_email) = lower($2) "
            "AND state = 'declined' LIMIT 1",
            circle_id,
            email,
        )
    )


class ProviderConcern(msgspec.Struct, frozen=True):
    provider_id: uuid.UUID
    name: str
    staff_ids: list[uuid.UUID]
    clients: int


async def providers_of_seniors(conn: asyncpg.Connection, user_ids: list[uuid.UUID]) -> list[ProviderConcern]:
    """Verified providers with approved clients among ``user_ids`` who have a check-in plan, with the count
    and the staff who accepted their seat."""
    rows = await conn.fetch(
        """
        SELECT p.id AS provider_id, p.name, count(DISTINCT c.user_id)::int AS clients,
               ARRAY(SELECT s.user_id FROM care_provider_staff s
                     WHERE s.provider_id = p.id AND s.accepted_at IS NOT NULL ORDER BY s.user_id)
                   AS staff_ids
        FROM care_provider_clients c
        JOIN care_providers p ON p.id = c.provider_id AND p.verified_at IS NOT NULL
        JOIN care_checkin_plans plan ON plan.senior_id = c.user_id
        WHERE c.withdrawn_at IS NULL AND c.status = 'approved' AND c.user_id = ANY ($1::uuid[])
        GROUP BY p.id, p.name
        ORDER BY p.name, p.id
        """,
        user_ids,
    )
    return [ProviderConcern(**dict(r)) for r in rows]


async def all_staff(conn: asyncpg.Connection) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT DISTINCT user_id FROM care_provider_staff WHERE accepted_at IS NOT NULL ORDER BY user_id"
    )
    return [r["user_id"] for r in rows]


async def staff_serving(conn: asyncpg.Connection, municipality_code: str) -> list[uuid.UUID]:
    """Staff who accepted their seat at a verified provider whose area includes a municipality, each once."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT s.user_id FROM care_providers p
        JOIN care_provider_staff s ON s.provider_id = p.id AND s.accepted_at IS NOT NULL
        WHERE p.verified_at IS NOT NULL AND $1 = ANY (p.municipality_codes)
        ORDER BY s.user_id
        """,
        municipality_code,
    )
    return [r["user_id"] for r in rows]


async def staff_providers(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[Provider]:
    rows = await conn.fetch(
        f"{_PROVIDER} WHERE id IN (SELECT provider_id FROM care_provider_staff WHERE user_id = $1 "
        "AND accepted_at IS NOT NULL) ORDER BY name",
        user_id,
    )
    return [_provider(r) for r in rows]


async def alerts_of(conn: asyncpg.Connection, provider_id: uuid.UUID, limit: int) -> list[AlertSummary]:
    rows = await conn.fetch(
        """
        SELECT a.id, a.title_fr, a.title_de, a.priority, a.ack_requested, a.created_at,
               count(r.user_id) AS recipients, count(r.acknowledged_at) AS acknowledged
        FROM care_alerts a LEFT JOIN care_alert_recipients r ON r.alert_id = a.id
        WHERE a.provider_id = $1
        GROUP BY a.id ORDER BY a.created_at DESC, a.id LIMIT $2
        """,
        provider_id,
        limit,
    )
    return [
        AlertSummary(
            id=r["id"],
            title=Bilingual(fr=r["title_fr"], de=r["title_de"]),
            priority=r["priority"],
            ack_requested=r["ack_requested"],
            created_at=r["created_at"],
            recipients=r["recipients"],
            acknowledged=r["acknowledged"],
        )
        for r in rows
    ]


async def active_clients(conn: asyncpg.Connection, provider_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT user_id FROM care_provider_clients WHERE provider_id = $1 AND withdrawn_at IS NULL "
        "AND status = 'approved'",
        provider_id,
    )
    return [r["user_id"] for r in rows]


async def alert_notification_id(conn: asyncpg.Connection, alert_id: uuid.UUID) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT notification_id FROM care_alerts WHERE id = $1", alert_id
    )
    return found


async def unverified_providers(conn: asyncpg.Connection) -> list[Provider]:
    rows = await conn.fetch(f"{_PROVIDER} WHERE verified_at IS NULL ORDER BY created_at, id")
    return [_provider(r) for r in rows]
