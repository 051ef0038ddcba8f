"""Tables partitioned by week: partitions are created ahead of time and dropped whole once past retention.

A domain declares such a table in its descriptor (``Partitioned``); its migration creates the partitioned
table, a DEFAULT partition and the first weeks with the SQL function ``hub_ensure_partition`` (kernel
migration), which this module calls too. Each partition covers a week from Monday 00:00 UTC and is named
after its first day (``deliveries_20261130``), which is how the job finds its bounds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg

from hub.domain import Partitioned

logger = logging.getLogger("hub.partitions")

PERIOD = timedelta(days=7)
#: weeks created ahead of the current one, so planning never waits for a partition
AHEAD = 4
#: rows added at once, as a share of what a partition held, after which its statistics are refreshed at once
GROWN_SHARE = 0.1
#: fewer rows than this never make the statistics misleading enough to matter
GROWN_MIN_ROWS = 1_000


def week_start(at: datetime) -> datetime:
    """Monday 00:00 UTC of the week ``at`` falls in."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _name(rule: Partitioned, start: datetime) -> str:
    return f"{rule.table}_{start:%Y%m%d}"


async def partitions(conn: asyncpg.Connection, rule: Partitioned) -> list[tuple[str, datetime]]:
    """The weekly partitions of ``rule.table`` and their first instant, oldest first (DEFAULT excluded)."""
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass($1) ORDER BY c.relname",
        rule.table,
    )
    pattern = re.compile(rf"^{re.escape(rule.table)}_(\d{{8}})$")
    found = []
    for row in rows:
        match = pattern.match(row["relname"])
        if match:
            found.append((row["relname"], datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC)))
    return found


async def ensure(conn: asyncpg.Connection, rule: Partitioned, now: datetime) -> int:
    """Create the partitions of this week and the ``AHEAD`` next ones that are missing; how many were."""
    created = 0
    start = week_start(now)
    for week in range(AHEAD + 1):
        lo = start + week * PERIOD
        async with conn.transaction():
            made = await conn.fetchval(
                "SELECT hub_ensure_partition($1, $2, $3, $4)", rule.table, rule.column, lo, lo + PERIOD
            )
        if made:
            created += 1
            logger.info("partition %s created", _name(rule, lo))
    return created


async def analyze_if_grown(conn: asyncpg.Connection, rule: Partitioned, at: datetime, added: int) -> bool:
    """Refresh the planner's statistics of the partition holding ``at`` when the ``added`` rows just written
    there (in this transaction, which ANALYZE sees) are a large share of it; whether it did.

    A week's statistics are those of when it was last analyzed, usually nearly empty. Planned on them, the
    statements that then work through a large batch of new rows take the wrong path: a claim of the next
    500 deliveries of a 100,000-recipient fan-out sorted every pending row (about 125 ms of the server's
    CPU each time, against 1 ms) and a slice's outcomes walked the lease index again for every row, until
    autovacuum analyzed the week a minute later, when the fan-out was mostly over.
    """
    if added < GROWN_MIN_ROWS:
        return False
    name = _name(rule, week_start(at))
    held = await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)", name)
    if held is None:  # no partition covers that week: the rows went to DEFAULT
        name = f"{rule.table}_default"
        held = await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)", name)
    if held is None or (held > 0 and added < held * GROWN_SHARE):
        return False
    # The name is built from a descriptor and a date, never from input.
    await conn.execute(f'ANALYZE "{name}"')
    logger.info("statistics of %s refreshed after %d new rows", name, added)
    return True


async def drop_expired(conn: asyncpg.Connection, rule: Partitioned, cutoff: datetime) -> int:
    """Drop the partitions whose whole week is older than ``cutoff``; how many were dropped.

    Rows of such a week matching ``rule.keep`` (a delivery still to be sent) are not lost: in the same
    transaction they move to the DEFAULT partition, which takes any time no partition covers any more.
    """
    removed = 0
    expired = [name for name, start in await partitions(conn, rule) if start + PERIOD <= cutoff]
    if not expired:
        return 0
    columns = ", ".join(f'"{c}"' for c in await _columns(conn, rule.table))
    for name in expired:
        # The names come from the catalog and the condition from a descriptor, never from input.
        async with conn.transaction():
            # Detaching locks the parent for an instant: wait a little for it, else try at the next run.
            await conn.execute("SET LOCAL lock_timeout = '5s'")
            await conn.execute(f'ALTER TABLE "{rule.table}" DETACH PARTITION "{name}"')
            status = await conn.execute(
                f'INSERT INTO "{rule.table}" ({columns}) SELECT {columns} FROM "{name}" WHERE {rule.keep}'
            )
            kept = int(status.rsplit(" ", 1)[-1])
            # the planner's estimate: counting would read the whole week, which dropping it avoids
            rows = await conn.fetchval(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)", name
            )
            await conn.execute(f'DROP TABLE "{name}"')
        removed += 1
        logger.info("partition %s past retention dropped (about %d rows, %d kept)", name, max(rows, 0), kept)
    return removed


async def _columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        table,
    )
    return [r["attname"] for r in rows]


async def maintain(
    conn: asyncpg.Connection, rules: Sequence[Partitioned], now: datetime, cutoff: datetime
) -> dict[str, int]:
    """Partitions ahead created and expired ones dropped, for every declared table: weeks dropped by table."""
    removed: dict[str, int] = {}
    for rule in rules:
        await ensure(conn, rule, now)
        try:
            removed[f"{rule.table}_partitions"] = await drop_expired(conn, rule, cutoff)
        except asyncpg.LockNotAvailableError:
            logger.warning("partitions of %s past retention wait for the next run (table busy)", rule.table)
            removed[f"{rule.table}_partitions"] = 0
    return removed
