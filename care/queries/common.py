"""SQL that care's sections share: people, a provider's staff, a circle's members, the log, export and erasure."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg
import msgspec

from care.models import Contact, Provider
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


def row_as(kind: type[Any], record: asyncpg.Record | None) -> Any:
    return None if record is None else kind(**dict(record))


# -- people ------------------------------------------------------------------------------------------------

_USER = "SELECT id, email, display_name, locale, municipality_code, time_zone FROM users"


async def user(conn: asyncpg.Connection, user_id: uuid.UUID) -> UserInfo | None:
    return row_as(UserInfo, await conn.fetchrow(f"{_USER} WHERE id = $1", user_id))  # type: ignore[no-any-return]


async def user_by_email(conn: asyncpg.Connection, email: str) -> UserInfo | None:
    """The account that proved an address; an address nobody proved matches no account."""
    record = await conn.fetchrow(
        f"{_USER} WHERE lower(email) = lower($1) AND email_verified_at IS NOT NULL", email
    )
    return row_as(UserInfo, record)  # type: ignore[no-any-return]


# -- providers and their staff -------------------------------------------------------------------------------

PROVIDER_SELECT = """
    SELECT id, kind, name, description_fr, description_de, languages, municipality_codes, phone, email,
           website, verified_at, created_at
    FROM care_providers
"""


def provider_from(r: asyncpg.Record) -> Provider:
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


async def provider(conn: asyncpg.Connection, provider_id: uuid.UUID) -> Provider | None:
    record = await conn.fetchrow(f"{PROVIDER_SELECT} WHERE id = $1", provider_id)
    return None if record is None else provider_from(record)


async def is_staff(conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM care_provider_staff WHERE provider_id = $1 AND user_id = $2 "
            "AND accepted_at IS NOT NULL",
            provider_id,
            user_id,
        )
    )


# -- circles and their members -------------------------------------------------------------------------------

CIRCLE_SELECT = """
    SELECT c.id, c.senior_id, u.display_name AS senior_name, c.created_at, c.closed_at, c.confirmed_at,
           c.requested_by, c.confirm_expires_at
    FROM care_circles c JOIN users u ON u.id = c.senior_id
"""


async def circle(conn: asyncpg.Connection, circle_id: uuid.UUID) -> CircleRow | None:
    return row_as(CircleRow, await conn.fetchrow(f"{CIRCLE_SELECT} WHERE c.id = $1", circle_id))  # type: ignore[no-any-return]


MEMBER_SELECT = (
    "SELECT id, circle_id, invited_email, user_id, provider_id, role, state, proxy FROM care_circle_members"
)


async def accepted_member(
    conn: asyncpg.Connection, circle_id: uuid.UUID, user_id: uuid.UUID
) -> MemberRow | None:
    record = await conn.fetchrow(
        f"{MEMBER_SELECT} WHERE circle_id = $1 AND user_id = $2 AND state = 'accepted'", circle_id, user_id
    )
    return row_as(MemberRow, record)  # type: ignore[no-any-return]


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


async def log_access(conn: asyncpg.Connection, circle_id: uuid.UUID, reader_id: uuid.UUID, what: str) -> None:
    await conn.execute(
        "INSERT INTO care_access_log (circle_id, reader_id, what) VALUES ($1, $2, $3)",
        circle_id,
        reader_id,
        what,
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
