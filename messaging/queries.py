"""SQL of the messaging package; every function takes the connection first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg


async def insert_notification(conn: asyncpg.Connection, values: dict[str, Any]) -> uuid.UUID:
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await conn.fetchval(  # type: ignore[no-any-return]
        f"INSERT INTO notifications ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id",
        *values.values(),
    )


async def mark_enqueued(conn: asyncpg.Connection, notification_ids: list[uuid.UUID]) -> None:
    await conn.execute(
        "UPDATE notifications SET enqueued_at = now() WHERE id = ANY($1::uuid[])", notification_ids
    )


async def due_unplanned(
    conn: asyncpg.Connection, now: datetime, stale_after_s: float, limit: int
) -> list[uuid.UUID]:
    """Notifications due for planning that no job has picked up (or whose job was lost), locked."""
    rows = await conn.fetch(
        """
        SELECT id FROM notifications
        WHERE planned_at IS NULL
          AND coalesce(not_before, created_at) <= $1
          AND (enqueued_at IS NULL OR enqueued_at < $1 - make_interval(secs => $2))
        ORDER BY created_at
        LIMIT $3
        FOR UPDATE SKIP LOCKED
        """,
        now,
        stale_after_s,
        limit,
    )
    return [r["id"] for r in rows]
