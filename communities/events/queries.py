"""SQL of events, RSVPs, reminders and feed tokens; every function takes the connection first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from communities.events.models import EventRow, OpenEventRow, StoredRsvp
from i18n.content import Bilingual

_EVENT_COLUMNS = """
    e.id, e.community_id, e.created_by, e.partner_id, e.title_fr, e.title_de, e.description_fr,
    e.description_de, e.starts_at, e.ends_at, e.time_zone, e.location, e.municipality_code, e.capacity,
    e.attending, e.status, e.sequence, e.created_at, e.updated_at,
    (SELECT count(*) FROM event_rsvps w WHERE w.event_id = e.id AND w.status = 'waiting') AS waiting,
    (SELECT r.status FROM event_rsvps r WHERE r.event_id = e.id AND r.user_id = $1) AS my_rsvp
"""


def _event(row: asyncpg.Record) -> EventRow:
    return EventRow(
        id=row["id"],
        community_id=row["community_id"],
        created_by=row["created_by"],
        partner_id=row["partner_id"],
        title=Bilingual(fr=row["title_fr"], de=row["title_de"]),
        description=Bilingual(fr=row["description_fr"], de=row["description_de"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        time_zone=row["time_zone"],
        location=row["location"],
        municipality_code=row["municipality_code"],
        capacity=row["capacity"],
        attending=row["attending"],
        waiting=row["waiting"],
        status=row["status"],
        sequence=row["sequence"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        my_rsvp=row["my_rsvp"],
    )


async def insert_event(conn: asyncpg.Connection, values: dict[str, Any]) -> uuid.UUID:
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    event_id: uuid.UUID = await conn.fetchval(
        f"INSERT INTO events ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id",
        *values.values(),
    )
    return event_id


async def event_by_id(
    conn: asyncpg.Connection, event_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> EventRow | None:
    row = await conn.fetchrow(f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.id = $2", user_id, event_id)
    return _event(row) if row else None


async def lock_event(conn: asyncpg.Connection, event_id: uuid.UUID) -> asyncpg.Record | None:
    """Lock the event's row: RSVPs, cancellations and capacity changes of one event run one at a time."""
    return await conn.fetchrow(
        "SELECT id, status, capacity, attending FROM events WHERE id = $1 FOR UPDATE", event_id
    )


async def update_event(conn: asyncpg.Connection, event_id: uuid.UUID, changes: dict[str, Any]) -> None:
    """Apply changes, count a new iCalendar SEQUENCE and touch updated_at."""
    columns = list(changes)
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
    sets = f"{sets}, " if sets else ""
    await conn.execute(
        f"UPDATE events SET {sets}sequence = sequence + 1, updated_at = clock_timestamp() WHERE id = $1",
        event_id,
        *changes.values(),
    )


async def community_events(
    conn: asyncpg.Connection,
    community_id: uuid.UUID,
    user_id: uuid.UUID | None,
    *,
    since: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[EventRow]:
    rows = await conn.fetch(
        f"""
        SELECT {_EVENT_COLUMNS} FROM events e
        WHERE e.community_id = $2 AND e.ends_at >= $3
          AND ($4::timestamptz IS NULL OR (e.starts_at, e.id) > ($4, $5))
        ORDER BY e.starts_at, e.id
        LIMIT $6
        """,
        user_id,
        community_id,
        since,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_event(r) for r in rows]


# -- RSVPs -----------------------------------------------------------------------------------------------


async def insert_rsvp(conn: asyncpg.Connection, event_id: uuid.UUID, user_id: uuid.UUID, status: str) -> None:
    await conn.execute(
        "INSERT INTO event_rsvps (event_id, user_id, status) VALUES ($1, $2, $3)", event_id, user_id, status
    )
    if status == "attending":
        await conn.execute("UPDATE events SET attending = attending + 1 WHERE id = $1", event_id)


async def delete_rsvp(conn: asyncpg.Connection, event_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
    """Remove an answer; the status it had, or None if there was none."""
    status: str | None = await conn.fetchval(
        "DELETE FROM event_rsvps WHERE event_id = $1 AND user_id = $2 RETURNING status", event_id, user_id
    )
    if status == "attending":
        await conn.execute("UPDATE events SET attending = attending - 1 WHERE id = $1", event_id)
    return status


async def waiting_position(conn: asyncpg.Connection, event_id: uuid.UUID, user_id: uuid.UUID) -> int:
    position: int = await conn.fetchval(
        """
        SELECT count(*) FROM event_rsvps w, event_rsvps me
        WHERE me.event_id = $1 AND me.user_id = $2 AND w.event_id = $1 AND w.status = 'waiting'
          AND (w.created_at, w.user_id) <= (me.created_at, me.user_id)
        """,
        event_id,
        user_id,
    )
    return position


async def promote(conn: asyncpg.Connection, event_id: uuid.UUID, places: int) -> list[uuid.UUID]:
    """Move the first ``places`` people of the waiting list to attending (the caller holds the lock)."""
    if places <= 0:
        return []
    rows = await conn.fetch(
        """
        UPDATE event_rsvps SET status = 'attending'
        WHERE (event_id, user_id) IN (
            SELECT event_id, user_id FROM event_rsvps WHERE event_id = $1 AND status = 'waiting'
            ORDER BY created_at, user_id LIMIT $2)
        RETURNING user_id
        """,
        event_id,
        places,
    )
    if rows:
        await conn.execute("UPDATE events SET attending = attending + $2 WHERE id = $1", event_id, len(rows))
    return [r["user_id"] for r in rows]


async def participants(conn: asyncpg.Connection, event_id: uuid.UUID, statuses: list[str]) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT user_id FROM event_rsvps WHERE event_id = $1 AND status = ANY($2::text[]) ORDER BY user_id",
        event_id,
        statuses,
    )
    return [r["user_id"] for r in rows]


async def claim_due_reminders(
    conn: asyncpg.Connection, now: datetime, until: datetime, limit: int
) -> list[uuid.UUID]:
    """Mark due reminders as sent and return their events; a concurrent caller never gets the same ones.

    A second transaction updating the same row waits for the first and then finds reminder_sent_at set.
    """
    rows = await conn.fetch(
        """
        UPDATE events SET reminder_sent_at = $1
        WHERE id IN (
            SELECT id FROM events
            WHERE reminder_sent_at IS NULL AND status = 'scheduled' AND starts_at > $1 AND starts_at <= $2
            ORDER BY starts_at LIMIT $3 FOR UPDATE SKIP LOCKED)
          AND reminder_sent_at IS NULL
        RETURNING id
        """,
        now,
        until,
        limit,
    )
    return [r["id"] for r in rows]


# -- feeds -----------------------------------------------------------------------------------------------


async def feed_events(conn: asyncpg.Connection, community_id: uuid.UUID, since: datetime) -> list[EventRow]:
    rows = await conn.fetch(
        f"""
        SELECT {_EVENT_COLUMNS} FROM events e
        WHERE e.community_id = $2 AND e.ends_at >= $3
        ORDER BY e.starts_at, e.id
        """,
        None,
        community_id,
        since,
    )
    return [_event(r) for r in rows]


async def feed_version(
    conn: asyncpg.Connection, community_ids: list[uuid.UUID] | None, since: datetime
) -> asyncpg.Record:
    """Count, newest change and sequence sum of the events a feed shows (None: all public communities)."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS n, max(e.updated_at) AS changed, coalesce(sum(e.sequence), 0) AS sequences
        FROM events e JOIN communities c ON c.id = e.community_id
        WHERE e.ends_at >= $2
          AND (CASE WHEN $1::uuid[] IS NULL THEN c.visibility = 'public' ELSE e.community_id = ANY($1) END)
        """,
        community_ids,
        since,
    )
    assert row is not None  # an aggregate always answers one row
    return row


async def open_events(conn: asyncpg.Connection, since: datetime, limit: int) -> list[OpenEventRow]:
    rows = await conn.fetch(
        """
        SELECT e.id, e.community_id, c.name_fr, c.name_de, e.title_fr, e.title_de, e.description_fr,
               e.description_de, e.starts_at, e.ends_at, e.time_zone, e.location, e.municipality_code,
               e.status, e.sequence, e.updated_at
        FROM events e JOIN communities c ON c.id = e.community_id
        WHERE c.visibility = 'public' AND e.ends_at >= $1
        ORDER BY e.starts_at, e.id
        LIMIT $2
        """,
        since,
        limit,
    )
    return [
        OpenEventRow(
            id=r["id"],
            community_id=r["community_id"],
            community_name=Bilingual(fr=r["name_fr"], de=r["name_de"]),
            title=Bilingual(fr=r["title_fr"], de=r["title_de"]),
            description=Bilingual(fr=r["description_fr"], de=r["description_de"]),
            starts_at=r["starts_at"],
            ends_at=r["ends_at"],
            time_zone=r["time_zone"],
            location=r["location"],
            municipality_code=r["municipality_code"],
            status=r["status"],
            sequence=r["sequence"],
            updated_at=r["updated_at"],
        )
        for r in rows
    ]


async def replace_feed_token(
    conn: asyncpg.Connection, user_id: uuid.UUID, community_id: uuid.UUID, token_hash: bytes
) -> None:
    await conn.execute(
        """
        INSERT INTO event_feed_tokens (token_hash, user_id, community_id) VALUES ($1, $2, $3)
        ON CONFLICT (user_id, community_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = now()
        """,
        token_hash,
        user_id,
        community_id,
    )


async def delete_feed_token(conn: asyncpg.Connection, user_id: uuid.UUID, community_id: uuid.UUID) -> bool:
    result: str = await conn.execute(
        "DELETE FROM event_feed_tokens WHERE user_id = $1 AND community_id = $2", user_id, community_id
    )
    return result != "DELETE 0"


async def feed_token_user(
    conn: asyncpg.Connection, token_hash: bytes, community_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT u.id, u.email, u.display_name, u.locale, u.is_admin
        FROM event_feed_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.token_hash = $1 AND t.community_id = $2
        """,
        token_hash,
        community_id,
    )


# -- GDPR ------------------------------------------------------------------------------------------------


async def rsvps_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[StoredRsvp]:
    rows = await conn.fetch(
        "SELECT event_id, status, created_at FROM event_rsvps WHERE user_id = $1 ORDER BY created_at", user_id
    )
    return [StoredRsvp(r["event_id"], r["status"], r["created_at"]) for r in rows]


async def feed_token_communities(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT community_id FROM event_feed_tokens WHERE user_id = $1 ORDER BY community_id", user_id
    )
    return [r["community_id"] for r in rows]


async def delete_feed_tokens_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM event_feed_tokens WHERE user_id = $1", user_id)
