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
    ClientRegistration,
    Contact,
    Event,
    Invitation,
    Member,
    PauseIn,
    Person,
    Plan,
    Provider,
    Rate,
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
    record = await conn.fetchrow(f"{_USER} WHERE lower(email) = lower($1)", email)
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
        "INSERT INTO care_provider_staff (provider_id, user_id) VALUES ($1, $2)", provider_id, created_by
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
            "SELECT true FROM care_provider_staff WHERE provider_id = $1 AND user_id = $2",
            provider_id,
            user_id,
        )
    )


async def add_staff(conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    added = await conn.fetchval(
        """
        INSERT INTO care_provider_staff (provider_id, user_id) VALUES ($1, $2)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        provider_id,
        user_id,
    )
    return bool(added)


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
        RETURNING provider_id, consented_at, withdrawn_at
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
        WHERE c.provider_id = $2 AND c.withdrawn_at IS NULL
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
    SELECT c.id, c.senior_id, u.display_name AS senior_name, c.created_at, c.closed_at
    FROM care_circles c JOIN users u ON u.id = c.senior_id
"""


async def insert_circle(conn: asyncpg.Connection, senior_id: uuid.UUID) -> uuid.UUID | None:
    """A new open circle, or None when the senior already has one that is open."""
    exists = await conn.fetchval(
        "SELECT true FROM care_circles WHERE senior_id = $1 AND closed_at IS NULL FOR UPDATE", senior_id
    )
    if exists:
        return None
    return await conn.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO care_circles (senior_id) VALUES ($1) RETURNING id", senior_id
    )


async def circle(conn: asyncpg.Connection, circle_id: uuid.UUID) -> CircleRow | None:
    return _row(CircleRow, await conn.fetchrow(f"{_CIRCLE} WHERE c.id = $1", circle_id))  # type: ignore[no-any-return]


async def open_circle_of(conn: asyncpg.Connection, senior_id: uuid.UUID) -> CircleRow | None:
    record = await conn.fetchrow(f"{_CIRCLE} WHERE c.senior_id = $1 AND c.closed_at IS NULL", senior_id)
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
) -> None:
    """Record a consent; ``recorded_by`` is the person who obtained it (``method``), None when given in the
    app by the person themselves."""
    await conn.execute(
        """
        INSERT INTO care_consents (circle_id, user_id, member_id, purpose, text_version, locale, given_at,
                                   method, recorded_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
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
    return bool(await conn.fetchval("SELECT true FROM care_circles WHERE senior_id = $1 LIMIT 1", senior_id))


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


async def members(conn: asyncpg.Connection, circle_id: uuid.UUID, *, with_email: bool) -> list[Member]:
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
        Member(
            id=r["id"],
            role=r["role"],
            state=r["state"],
            display_name=r["display_name"] if r["state"] == "accepted" or with_email else None,
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
        WHERE m.state = 'invited' AND (m.user_id = $1 OR lower(m.invited_email) = lower($2))
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
) -> list[Event]:
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
    return [Event(**dict(r)) for r in rows]


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
        "provider_staff": "SELECT provider_id, added_at FROM care_provider_staff WHERE user_id = $1",
        "provider_clients": """SELECT provider_id, text_version, consent_locale, consented_at, withdrawn_at
                               FROM care_provider_clients WHERE user_id = $1""",
        "alerts_received": """SELECT alert_id, locale, municipality_code, acknowledged_at, reminded
                              FROM care_alert_recipients WHERE user_id = $1""",
    }
    result: dict[str, list[dict[str, Any]]] = {}
    for name, sql in queries.items():
        result[name] = [dict(r) for r in await conn.fetch(sql, user_id)]
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
        WHERE user_id = $1 OR lower(invited_email) = (SELECT lower(email) FROM users WHERE id = $1)
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


async def staff_providers(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[Provider]:
    rows = await conn.fetch(
        f"{_PROVIDER} WHERE id IN (SELECT provider_id FROM care_provider_staff WHERE user_id = $1) ORDER BY name",
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
        "SELECT user_id FROM care_provider_clients WHERE provider_id = $1 AND withdrawn_at IS NULL",
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
