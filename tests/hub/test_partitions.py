"""Tables partitioned by week: weeks created ahead, rows waiting in DEFAULT moved in, old weeks dropped whole."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from hub import partitions
from hub.domain import Partitioned
from i18n.content import Bilingual
from messaging import pipeline, queries
from messaging.models import Audience
from messaging.service import notify
from server.domains import DOMAINS
from tests.conftest import UserFactory, planned_push

PROBE = Partitioned("partition_probe", "at", "state = 'open'")


@pytest.fixture
async def probe(db: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A table of its own, partitioned as a domain's would be (the real tables stay untouched)."""
    async with db.acquire() as conn:
        await conn.execute(
            "CREATE TABLE partition_probe (id bigserial, at timestamptz NOT NULL DEFAULT '-infinity', "
            "state text NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);"
            "CREATE TABLE partition_probe_default PARTITION OF partition_probe DEFAULT;"
            "CREATE INDEX partition_probe_state_idx ON partition_probe (state)"
        )
    try:
        yield db
    finally:
        async with db.acquire() as conn:
            await conn.execute("DROP TABLE partition_probe")


async def _where(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(f"SELECT tableoid::regclass::text AS part FROM {table} ORDER BY id")
    return [r["part"] for r in rows]


def test_weeks_start_on_monday_utc() -> None:
    assert partitions.week_start(datetime(2026, 11, 29, 23, 30, tzinfo=UTC)) == datetime(
        2026, 11, 23, tzinfo=UTC
    )
    assert partitions.week_start(datetime(2026, 11, 30, 0, 0, tzinfo=UTC)) == datetime(
        2026, 11, 30, tzinfo=UTC
    )


async def test_weeks_are_created_ahead_and_rows_waiting_in_default_move_in(probe: asyncpg.Pool) -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    async with probe.acquire() as conn:
        # a row for a week no partition covers yet waits in DEFAULT
        await conn.execute(
            "INSERT INTO partition_probe (at, state) VALUES ($1, 'done'), ('-infinity', 'done')",
            now + timedelta(days=14),
        )
        assert await _where(conn, "partition_probe") == ["partition_probe_default"] * 2
        assert await partitions.ensure(conn, PROBE, now) == partitions.AHEAD + 1
        assert await partitions.ensure(conn, PROBE, now) == 0  # idempotent
        weeks = [name for name, _ in await partitions.partitions(conn, PROBE)]
        assert weeks == [
            "partition_probe_20261123",
            "partition_probe_20261130",
            "partition_probe_20261207",
            "partition_probe_20261214",
            "partition_probe_20261221",
        ]
        # the row moved into its week; the one without a time stays in DEFAULT
        assert await _where(conn, "partition_probe") == [
            "partition_probe_20261207",
            "partition_probe_default",
        ]
        # each week carries the parent's indexes
        indexed = await conn.fetchval(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'partition_probe_20261207'"
        )
        assert indexed == 2


async def _analyzed(conn: asyncpg.Connection, name: str) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = $1", name
    )
    return value


async def test_a_week_that_grew_by_a_large_share_at_once_is_analyzed_in_the_same_transaction(
    probe: asyncpg.Pool,
) -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    week = "partition_probe_20261123"
    async with probe.acquire() as conn:
        await partitions.ensure(conn, PROBE, now)
        await conn.execute(f"ANALYZE {week}")  # statistics of an empty week, as a new week has
        before = await _analyzed(conn, week)
        # a few rows never make it worth it
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO partition_probe (at, state) SELECT $1, 'open' FROM generate_series(1, 10)", now
            )
            assert not await partitions.analyze_if_grown(conn, PROBE, now, 10)
        # a large batch is analyzed before it commits: ANALYZE counts the transaction's own rows
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO partition_probe (at, state) SELECT $1, 'open' FROM generate_series(1, 12000)",
                now,
            )
            assert await partitions.analyze_if_grown(conn, PROBE, now, 12000)
        after = await _analyzed(conn, week)
        assert before is not None and after is not None and after > before
        assert await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = $1", week) == 12010
        # the same number again is a small share of what the week now holds: left to autovacuum
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO partition_probe (at, state) SELECT $1, 'open' FROM generate_series(1, 1000)", now
            )
            assert not await partitions.analyze_if_grown(conn, PROBE, now, 1000)
        # rows of a week no partition covers went to DEFAULT: that is the one analyzed
        later = now + timedelta(days=70)
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO partition_probe (at, state) SELECT $1, 'open' FROM generate_series(1, 2000)",
                later,
            )
            assert await partitions.analyze_if_grown(conn, PROBE, later, 2000)
        assert await _analyzed(conn, "partition_probe_default") is not None


async def test_old_weeks_are_dropped_whole_and_rows_to_keep_outlive_them(probe: asyncpg.Pool) -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    async with probe.acquire() as conn:
        await partitions.ensure(conn, PROBE, now)
        await conn.execute(
            "INSERT INTO partition_probe (at, state) SELECT $1, 'done' FROM generate_series(1, 5)", now
        )
        await conn.execute(
            "INSERT INTO partition_probe (at, state) VALUES ($1, 'done'), ($1, 'open')",
            now + timedelta(days=7),
        )
        # a cutoff inside the week keeps it
        assert await partitions.drop_expired(conn, PROBE, now) == 0
        assert len(await partitions.partitions(conn, PROBE)) == partitions.AHEAD + 1
        # past both weeks: both go whole; the open row moves to DEFAULT with its time and id
        later = now + timedelta(days=14)
        assert await partitions.drop_expired(conn, PROBE, later) == 2
        names = [name for name, _ in await partitions.partitions(conn, PROBE)]
        assert names[0] == "partition_probe_20261207"
        kept = await conn.fetch("SELECT tableoid::regclass::text AS part, at, state FROM partition_probe")
        assert [(r["part"], r["at"], r["state"]) for r in kept] == [
            ("partition_probe_default", now + timedelta(days=7), "open")
        ]
        # and it is still found (and updated) where pruning looks for its time
        assert (
            await conn.execute(
                "UPDATE partition_probe SET state = 'done' WHERE at = $1", now + timedelta(days=7)
            )
            == "UPDATE 1"
        )


async def test_deliveries_are_partitioned_by_week_and_a_claim_reads_one_week(
    db: asyncpg.Pool, make_user: UserFactory
) -> None:
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT relkind::text FROM pg_class WHERE relname = 'deliveries'") == "p"
        weeks = await partitions.partitions(conn, next(p for d in DOMAINS for p in d.partitions))
        this_week = partitions.week_start(datetime.now(UTC))
        assert {this_week + k * partitions.PERIOD for k in range(partitions.AHEAD + 1)} <= {
            w for _, w in weeks
        }

    users = [uuid.UUID((await make_user()).id) for _ in range(3)]
    now = datetime.now(UTC)
    async with db.acquire() as conn, conn.transaction():
        nid = await notify(
            conn,
            kind="post",
            audience=Audience(user_ids=users),
            title=Bilingual(fr="Titre", de="Titel"),
            body=Bilingual(fr="Texte", de="Text"),
            deep_link="/",
        )
        await pipeline.plan_notification(conn, nid, now)
    async with db.acquire() as conn:
        week = f"deliveries_{partitions.week_start(now):%Y%m%d}"
        rows = await conn.fetch(
            "SELECT DISTINCT tableoid::regclass::text AS part, planned_at FROM deliveries WHERE notification_id = $1",
            nid,
        )
        assert [(r["part"], r["planned_at"]) for r in rows] == [(week, now)]
        # the claim touches this week and DEFAULT only, whatever other weeks exist
        async with conn.transaction():
            plan = await conn.fetchval(
                "EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM deliveries WHERE notification_id = $1 "
                "AND channel = 'inbox' AND " + queries.weeks_of("$1"),
                nid,
            )
        scanned = set()

        def walk(node: dict[str, object]) -> None:
            relation = node.get("Relation Name")
            if (
                isinstance(relation, str)
                and relation.startswith("deliveries")
                and node.get("Actual Loops", 0)
            ):
                scanned.add(relation)
            for child in node.get("Plans", []):  # type: ignore[attr-defined]
                walk(child)

        walk(json.loads(plan)[0]["Plan"])
        assert scanned <= {week, "deliveries_default"} and week in scanned


async def test_planning_a_large_fan_out_refreshes_its_weeks_statistics_before_the_claims(
    db: asyncpg.Pool,
) -> None:
    """Planned on a week's old statistics, a claim of the next 500 sorted every pending row of the fan-out."""
    count = 2_000
    now = datetime.now(UTC)
    week = f"deliveries_{partitions.week_start(now):%Y%m%d}"
    async with db.acquire() as conn:
        await conn.execute(f'ANALYZE "{week}"')
        held = await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = $1", week)
        assert held * partitions.GROWN_SHARE <= count, "the suite's own rows outgrew this test's fan-out"
        nid, people = await planned_push(conn, count, now)
        planned = await conn.fetchval("SELECT count(*) FROM deliveries WHERE notification_id = $1", nid)
        assert planned >= count
        # the statistics the claims are planned on already count the fan-out's rows
        estimate = await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = $1", week)
        assert estimate >= held + planned * 0.9
        await conn.execute("DELETE FROM users WHERE email LIKE $1", people)
