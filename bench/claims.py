"""Planning and dispatch claims at a million recipients on today's (unpartitioned) tables, and retention.

python -m bench.claims [--recipients 1000000]

Seeds a community as bench.fanout does, plans one notification to it (the one statement that writes an inbox
row and a push and email delivery per recipient), then times dispatch claims of 500 push deliveries at the
start of the fan-out and when 90 % of it is sent, the claim of a small notification planned beside it, and
how long retention takes today: deleting a past notification's deliveries (what a partition drop would
replace). Sizes of the table and its indexes are reported too. The last line is one JSON object.
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
from hub.db import migrate, transaction
from i18n.content import Bilingual
from messaging import pipeline, queries
from messaging.models import Audience
from messaging.planning import BATCH_SIZE
from messaging.service import notify
from server.domains import MIGRATIONS

CLAIMS = 20


async def _claims(pool: asyncpg.Pool, notification_id: uuid.UUID, channel: str) -> list[float]:
    """Milliseconds per claim of BATCH_SIZE (up to CLAIMS of them, while there is something to claim), each
    claimed batch marked sent as a worker would."""
    times = []
    for _ in range(CLAIMS):
        async with transaction(pool) as conn:
            start = time.perf_counter()
            claimed = await queries.claim(conn, notification_id, channel, pipeline.utcnow(), BATCH_SIZE)
            elapsed = (time.perf_counter() - start) * 1000
        if not claimed:
            break
        times.append(elapsed)
        await pool.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = now() WHERE id = ANY($1::bigint[])",
            [r.id for r in claimed],
        )
    return times


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
        log("planning twice (a past notification, then the one measured)…")
        for notification_id in (old, big):
            async with transaction(pool) as conn:
                start = time.perf_counter()
                await pipeline.plan_notification(conn, notification_id, pipeline.utcnow())
                plan_s = time.perf_counter() - start
        await pool.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = now() WHERE notification_id = $1", old
        )
        await pool.execute("ANALYZE deliveries")
        rows = await pool.fetchval("SELECT count(*) FROM deliveries")
        log("claims at the start of the fan-out…")
        first = await _claims(pool, big, "push")
        await pool.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = now() WHERE id IN (SELECT id FROM deliveries "
            "WHERE notification_id = $1 AND channel = 'push' AND status = 'pending' ORDER BY id LIMIT $2)",
            big,
            int(recipients * 0.9) - CLAIMS * BATCH_SIZE,
        )
        log("claims at 90 %…")
        late = await _claims(pool, big, "push")
        members = await pool.fetch("SELECT id FROM users WHERE email LIKE '%@bench.test' LIMIT 2000")
        small = await _notify(pool, Audience(user_ids=tuple(r["id"] for r in members)), "/small")
        async with transaction(pool) as conn:
            await pipeline.plan_notification(conn, small, pipeline.utcnow())
        beside = await _claims(pool, small, "push")
        sizes = await pool.fetchrow(
            "SELECT pg_table_size('deliveries') AS heap, pg_indexes_size('deliveries') AS indexes"
        )
        log("retention today: deleting the past notification's deliveries…")
        start = time.perf_counter()
        deleted = await pool.execute("DELETE FROM deliveries WHERE notification_id = $1", old)
        delete_s = time.perf_counter() - start
        load.append(round(os.getloadavg()[0], 1))
        await pool.close()
        return {
            "recipients": recipients,
            "delivery_rows": rows,
            "plan_s": round(plan_s, 2),
            "claim_start": _summary(first),
            "claim_at_90pct": _summary(late),
            "claim_small_beside": _summary(beside),
            "table_mb": round(sizes["heap"] / 2**20),
            "indexes_mb": round(sizes["indexes"] / 2**20),
            "retention_delete_rows": int(deleted.split()[-1]),
            "retention_delete_s": round(delete_s, 2),
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
