"""Retention: what the hub no longer needs is purged by a scheduled job, in small batches that lock no hot table."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from hub import db
from hub.settings import Settings

logger = logging.getLogger("hub.retention")

#: rows deleted per statement: each batch is its own short transaction
BATCH = 1000
#: batches per table and run, so one run stays short; the next run goes on where this one stopped
MAX_BATCHES = 50
#: the job is scheduled every minute and purges once an hour, at this minute
PURGE_MINUTE = 17


@dataclass(frozen=True)
class Rule:
    """One kind of row past its retention; ``condition`` may compare with ``$1``, the cutoff: the general
    one, or the access logs' one when ``access_log`` is set."""

    name: str
    table: str
    condition: str
    access_log: bool = False


RULES: tuple[Rule, ...] = (
    Rule("sessions", "sessions", "expires_at < now() OR revoked_at < $1"),
    Rule("idempotency_keys", "idempotency_keys", "expires_at < now()"),
    Rule(
        "deliveries",
        "deliveries",
        "channel <> 'inbox' AND status IN ('sent', 'failed', 'skipped') AND updated_at < $1",
    ),
    Rule("inbox", "deliveries", "channel = 'inbox' AND coalesce(sent_at, updated_at) < $1"),
    Rule("direct_emails", "direct_emails", "status IN ('sent', 'failed', 'skipped') AND created_at < $1"),
    Rule("unsubscribe_tokens", "unsubscribe_tokens", "expires_at < $1"),
    Rule("address_optout_tokens", "address_optout_tokens", "expires_at < $1"),
    Rule("partner_audit", "partner_audit", "created_at < $1", access_log=True),
    Rule("care_access_log", "care_access_log", "at < $1", access_log=True),
)


async def purge_batch(conn: asyncpg.Connection, rule: Rule, cutoff: datetime, access_cutoff: datetime) -> int:
    """Delete at most ``BATCH`` rows matching ``rule``; rows another transaction holds are left for later."""
    # The table and condition come from RULES above, never from input; the cutoffs are parameters.
    status = await conn.execute(
        f"DELETE FROM {rule.table} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {rule.table} WHERE {rule.condition} LIMIT {BATCH} FOR UPDATE SKIP LOCKED))",
        *([access_cutoff if rule.access_log else cutoff] if "$1" in rule.condition else []),
    )
    return int(status.rsplit(" ", 1)[-1])


async def purge(pool: asyncpg.Pool, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Purge every kind of expired row, batch by batch (each one committed by itself); counts by rule."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.retention_days)
    access_cutoff = now - timedelta(days=settings.access_log_retention_days)
    purged: dict[str, int] = {}
    async with db.connection(pool) as conn:
        for rule in RULES:
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
    return await purge(ctx["pool"], ctx["settings"])
