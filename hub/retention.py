"""Retention: what the domains keep only for a while is purged by a scheduled job, in small batches that lock no hot table."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from hub import db, partitions
from hub.domain import Domain, Retention
from hub.settings import Settings

logger = logging.getLogger("hub.retention")

#: rows deleted per statement: each batch is its own short transaction
BATCH = 1000
#: batches per table and run, so one run stays short; the next run goes on where this one stopped
MAX_BATCHES = 50
#: the job is scheduled every minute and purges once an hour, at this minute
PURGE_MINUTE = 17


#: the kernel's own short-lived rows; each domain lists its own in its descriptor
KERNEL_RETENTION: tuple[Retention, ...] = (
    Retention("idempotency_keys", "idempotency_keys", "expires_at < now()"),
)


async def purge_batch(
    conn: asyncpg.Connection, rule: Retention, cutoff: datetime, access_cutoff: datetime
) -> int:
    """Delete at most ``BATCH`` rows matching ``rule``; rows another transaction holds are left for later."""
    # The table and condition come from the descriptors, never from input; the cutoffs are parameters.
    status = await conn.execute(
        f"DELETE FROM {rule.table} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {rule.table} WHERE {rule.condition} LIMIT {BATCH} FOR UPDATE SKIP LOCKED))",
        *([access_cutoff if rule.access_log else cutoff] if "$1" in rule.condition else []),
    )
    return int(status.rsplit(" ", 1)[-1])


async def purge(
    pool: asyncpg.Pool, settings: Settings, domains: Sequence[Domain], now: datetime | None = None
) -> dict[str, int]:
    """Purge every kind of expired row the kernel and ``domains`` name, batch by batch (each one committed
    by itself), and keep their partitioned tables' weeks (created ahead, old ones dropped); counts by rule."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.retention_days)
    access_cutoff = now - timedelta(days=settings.access_log_retention_days)
    purged: dict[str, int] = {}
    async with db.connection(pool) as conn:
        # weeks of partitioned tables first: created ahead, dropped whole once past retention
        purged |= await partitions.maintain(conn, [p for d in domains for p in d.partitions], now, cutoff)
        for rule in (*KERNEL_RETENTION, *(r for d in domains for r in d.retention)):
            total = 0
            for _ in range(MAX_BATCHES):
                deleted = await purge_batch(conn, rule, cutoff, access_cutoff)
                total += deleted
                if deleted < BATCH:
                    break
            purged[rule.name] = total
    if any(purged.values()):
        logger.info("retention purge: %s", ", ".join(f"{k}={v}" for k, v in purged.items() if v))
    return purged


async def purge_expired(ctx: dict[str, Any]) -> dict[str, int] | None:
    """Worker cron: once an hour (at ``PURGE_MINUTE``), purge what is past its retention."""
    if datetime.now(UTC).minute != PURGE_MINUTE:
        return None
    return await purge(ctx["pool"], ctx["settings"], ctx["domains"])
