"""SQL of daily check-ins and their escalation ladder: plans, pauses, check-ins and escalations."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

import asyncpg
import msgspec

from care.models import PauseIn, Plan
from care.queries.common import CIRCLE_SELECT, CircleRow, row_as


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


# -- the senior's circle in force and who it alerts ----------------------------------------------------------


async def open_circle_of(conn: asyncpg.Connection, senior_id: uuid.UUID) -> CircleRow | None:
    """The senior's circle in force: open and confirmed (a request waiting for their yes is not one)."""
    record = await conn.fetchrow(
        f"{CIRCLE_SELECT} WHERE c.senior_id = $1 AND c.closed_at IS NULL AND c.confirmed_at IS NOT NULL",
        senior_id,
    )
    return row_as(CircleRow, record)  # type: ignore[no-any-return]


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
    return row_as(EscalationRow, record)  # type: ignore[no-any-return]


async def escalation(conn: asyncpg.Connection, escalation_id: uuid.UUID) -> EscalationRow | None:
    return row_as(EscalationRow, await conn.fetchrow(f"{_ESCALATION} WHERE e.id = $1", escalation_id))  # type: ignore[no-any-return]


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
