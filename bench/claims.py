"""Planning and dispatch claims at a million recipients on the weekly-partitioned deliveries, and retention.

python -m bench.claims [--recipients 1000000]

Seeds a community as bench.fanout does, plans a notification to it last week and one now (the one statement
that writes an inbox row and a push and email delivery per recipient), then times dispatch claims of 500
push deliveries at the start of the fan-out and when 90 % of it is sent, the claim of a small notification
planned beside it, and retention: last week's rows deleted row by row (the baseline, rolled back) against
the drop of last week's partition; the claims are timed on an unpartitioned copy of the same rows too
(the claim as it was before partitioning: the baseline). Sizes of the table and its indexes are reported too. The last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from bench.fanout import log, seed
from devtools.embedded import EmbeddedPostgres
from hub import partitions
from hub.db import migrate, transaction
from i18n.content import Bilingual
from messaging import pipeline, queries
from messaging.models import Audience
from messaging.planning import BATCH_SIZE
from messaging.service import notify
from server.domains import DOMAINS, MIGRATIONS

CLAIMS = 20


#: the baseline table: deliveries as they were before partitioning (the same keys and indexes), same rows
FLAT_TABLE = """
CREATE TABLE deliveries_flat (LIKE deliveries INCLUDING DEFAULTS);
INSERT INTO deliveries_flat SELECT * FROM deliveries;
ALTER TABLE deliveries_flat ADD PRIMARY KEY (id), ADD UNIQUE (notification_id, user_id, channel);
CREATE INDEX ON deliveries_flat (due_at) WHERE status = 'pending';
CREATE INDEX ON deliveries_flat (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX ON deliveries_flat (user_id) WHERE status = 'held';
CREATE INDEX ON deliveries_flat (user_id);
CREATE INDEX ON deliveries_flat (user_id, sent_at DESC, notification_id DESC) WHERE channel = 'inbox';
CREATE INDEX ON deliveries_flat (notification_id, channel, id) WHERE status = 'pending';
CREATE INDEX ON deliveries_flat (retry_until) WHERE status = 'pending';
CREATE INDEX ON deliveries_flat (channel, notification_id) WHERE status = 'pending' AND waiting_provider;
ANALYZE deliveries_flat
"""

#: the baseline: the claim as it was before partitioning, on an unpartitioned copy of the same rows
FLAT_CLAIM = """
UPDATE deliveries_flat d
SET status = 'sending', attempts = d.attempts + 1, lease_until = $3::timestamptz + interval '120 seconds',
    updated_at = $3
WHERE d.id IN (
    SELECT id FROM deliveries_flat
    WHERE notification_id = $1 AND channel = $2 AND status = 'pending' AND due_at <= $3
    ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED
)
RETURNING d.id, d.user_id, d.locale, d.attempts, d.quiet_override, d.retry_until
"""


async def _claim_once(
    pool: asyncpg.Pool, notification_id: uuid.UUID, channel: str, *, flat: bool
) -> float | None:
    """Milliseconds of one claim of BATCH_SIZE (None when nothing was left), the claimed batch then marked
    sent as a worker would; on the unpartitioned copy when ``flat``."""
    table = "deliveries_flat" if flat else "deliveries"
    async with transaction(pool) as conn:
        start = time.perf_counter()
        if flat:
            claimed = await conn.fetch(FLAT_CLAIM, notification_id, channel, pipeline.utcnow(), BATCH_SIZE)
            ids = [r["id"] for r in claimed]
        else:
            rows = await queries.claim(conn, notification_id, channel, pipeline.utcnow(), BATCH_SIZE)
            ids = [r.id for r in rows]
        elapsed = (time.perf_counter() - start) * 1000
    if not ids:
        return None
    await pool.execute(
        f"UPDATE {table} SET status = 'sent', sent_at = now() WHERE id = ANY($1::bigint[])", ids
    )
    return elapsed


async def _claims(
    pool: asyncpg.Pool, notification_id: uuid.UUID, channel: str, *, baseline: bool = False
) -> tuple[list[float], list[float]]:
    """Up to CLAIMS claims on the partitioned table and, when ``baseline``, as many on the unpartitioned
    copy, alternated so that both see the same moments of the machine's load."""
    times: list[float] = []
    flat_times: list[float] = []
    for _ in range(CLAIMS):
        elapsed = await _claim_once(pool, notification_id, channel, flat=False)
        if elapsed is None:
            break
        times.append(elapsed)
        if baseline:
            flat = await _claim_once(pool, notification_id, channel, flat=True)
            if flat is not None:
                flat_times.append(flat)
    return times, flat_times


async def _advance(pool: asyncpg.Pool, table: str, notification_id: uuid.UUID, rows: int) -> None:
    """Mark the next ``rows`` pending push deliveries sent, as the fan-out would have."""
    await pool.execute(
        f"UPDATE {table} SET status = 'sent', sent_at = now() WHERE id IN (SELECT id FROM {table} "
        "WHERE notification_id = $1 AND channel = 'push' AND status = 'pending' ORDER BY id LIMIT $2)",
        notification_id,
        rows,
    )


def _summary(times: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}


async def _notify(pool: asyncpg.Pool, audience: Audience, link: str) -> uuid.UUID:
    async with transaction(pool) as conn:
        return await notify(
            conn,
            kind="post",
            audience=audience,
            title=Bilingual(fr="Alerte", de="Warnung"),
            body=Bilingual(fr="Texte", de="Text"),
            priority="urgent",
            deep_link=link,
        )


async def run(recipients: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-", dir="/tmp"))
    os.chmod(workdir, 0o755)
    pg: EmbeddedPostgres | None = None
    try:
        database_url = os.environ.get("HUB_DATABASE_URL")
        if database_url:
            name = f"hub_bench_{secrets.token_hex(4)}"
            admin = await asyncpg.connect(database_url)
            await admin.execute(f'CREATE DATABASE "{name}"')
            await admin.close()
            database_url = database_url.rsplit("/", 1)[0] + f"/{name}"
        else:
            pg = EmbeddedPostgres(workdir)
            database_url = pg.start()
        migrate(database_url, MIGRATIONS)
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        load = [round(os.getloadavg()[0], 1)]
        log(f"seeding {recipients} members…")
        async with pool.acquire() as conn:
            community = await seed(conn, recipients)
        old = await _notify(pool, Audience(community_id=community), "/old")
        big = await _notify(pool, Audience(community_id=community), "/big")
        log("planning twice (last week's notification, then the one measured)…")
        rule = next(p for d in DOMAINS for p in d.partitions if p.table == "deliveries")
        now = pipeline.utcnow()
        async with pool.acquire() as conn:
            await partitions.ensure(conn, rule, now - partitions.PERIOD)
        for notification_id, at in ((old, now - partitions.PERIOD), (big, now)):
            async with transaction(pool) as conn:
                start = time.perf_counter()
                await pipeline.plan_notification(conn, notification_id, at)
                plan_s = time.perf_counter() - start
        await pool.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = now() WHERE notification_id = $1", old
        )
        # last week's fan-out is long vacuumed by the time it is past retention: so it is here
        await pool.execute("VACUUM ANALYZE deliveries")
        rows = await pool.fetchval("SELECT count(*) FROM deliveries")
        log("an unpartitioned copy for the baseline…")
        await pool.execute(FLAT_TABLE)
        log("claims at the start of the fan-out…")
        first, first_flat = await _claims(pool, big, "push", baseline=True)
        advance = int(recipients * 0.9) - CLAIMS * BATCH_SIZE
        await _advance(pool, "deliveries_flat", big, advance)
        await _advance(pool, "deliveries", big, advance)
        log("claims at 90 %…")
        late, late_flat = await _claims(pool, big, "push", baseline=True)
        await pool.execute("DROP TABLE deliveries_flat")
        members = await pool.fetch("SELECT id FROM users WHERE email LIKE '%@bench.test' LIMIT 2000")
        small = await _notify(pool, Audience(user_ids=tuple(r["id"] for r in members)), "/small")
        async with transaction(pool) as conn:
            await pipeline.plan_notification(conn, small, pipeline.utcnow())
        beside, _ = await _claims(pool, small, "push")
        sizes = await pool.fetchrow(
            "SELECT sum(pg_table_size(relid)) AS heap, sum(pg_indexes_size(relid)) AS indexes "
            "FROM pg_partition_tree('deliveries') WHERE isleaf"
        )
        log("retention: last week's rows deleted (rolled back), then its partition dropped…")
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            start = time.perf_counter()
            deleted = await conn.execute("DELETE FROM deliveries WHERE notification_id = $1", old)
            delete_s = time.perf_counter() - start
            await tx.rollback()
            start = time.perf_counter()
            dropped = await partitions.drop_expired(conn, rule, partitions.week_start(now))
            drop_s = time.perf_counter() - start
        load.append(round(os.getloadavg()[0], 1))
        await pool.close()
        return {
            "recipients": recipients,
            "delivery_rows": rows,
            "plan_s": round(plan_s, 2),
            "claim_start": _summary(first),
            "claim_start_unpartitioned": _summary(first_flat),
            "claim_at_90pct": _summary(late),
            "claim_at_90pct_unpartitioned": _summary(late_flat),
            "claim_small_beside": _summary(beside),
            "table_mb": round(sizes["heap"] / 2**20),
            "indexes_mb": round(sizes["indexes"] / 2**20),
            "retention_delete_rows": int(deleted.split()[-1]),
            "retention_delete_s": round(delete_s, 2),
            "retention_partitions_dropped": dropped,
            "retention_partition_drop_s": round(drop_s, 3),
            "load_avg_1m": load,
        }
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.recipients))))


if __name__ == "__main__":
    main()
