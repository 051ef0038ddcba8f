"""SQL of care circles and consent: set-up on a senior's behalf, members, invitations, the log and its reads."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from care.models import (
    CircleConsent,
    CircleEvent,
    CircleMember,
    Invitation,
    PendingCircle,
    Person,
    SetupRequest,
)
from care.queries.common import CIRCLE_SELECT, MEMBER_SELECT, CircleRow, MemberRow, row_as

# -- circles, members, consent -----------------------------------------------------------------------------


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
    return row_as(CircleConsent, record)  # type: ignore[no-any-return]


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
    return row_as(Person, record)  # type: ignore[no-any-return]


async def member(conn: asyncpg.Connection, member_id: uuid.UUID) -> MemberRow | None:
    return row_as(MemberRow, await conn.fetchrow(f"{MEMBER_SELECT} WHERE id = $1", member_id))  # type: ignore[no-any-return]


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
    return row_as(MemberRow, record)  # type: ignore[no-any-return]


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


async def stop_open_escalations(conn: asyncpg.Connection, circle_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE care_escalations SET state = 'stopped', ended_at = $2
        WHERE circle_id = $1 AND state IN ('reminded', 'circle_alerted', 'provider_alerted')
        """,
        circle_id,
        now,
    )


# -- the circle's log ----------------------------------------------------------------------------------------


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
        f"{CIRCLE_SELECT} WHERE c.confirm_code_hash = $1 AND c.confirmed_at IS NULL AND c.closed_at IS NULL "
        "AND c.confirm_expires_at > $2",
        code_hash,
        now,
    )
    return row_as(CircleRow, record)  # type: ignore[no-any-return]


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
