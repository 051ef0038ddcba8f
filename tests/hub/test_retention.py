"""Retention: expired sessions and keys, old deliveries, inbox items and emails, and old access logs are purged."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import msgspec
import pytest

from hub import retention
from hub.settings import Settings
from server.domains import DOMAINS
from tests.conftest import UserFactory


async def _notification(conn: asyncpg.Connection) -> uuid.UUID:
    nid: uuid.UUID = await conn.fetchval(
        "INSERT INTO notifications (kind, priority, deep_link, content) VALUES ('post', 'info', '/', '{}') RETURNING id"
    )
    return nid


async def test_purge_removes_what_is_past_retention_and_keeps_the_rest(
    db: asyncpg.Pool, make_user: UserFactory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_user, recent_user = await make_user(), await make_user()
    old_id, recent_id = uuid.UUID(old_user.id), uuid.UUID(recent_user.id)
    async with db.acquire() as conn:
        await conn.execute(
            "UPDATE sessions SET expires_at = now() - interval '1 day' WHERE user_id = $1", old_id
        )
        await conn.execute(
            "INSERT INTO idempotency_keys (caller, key, user_id, fingerprint, status, body, locked_until, expires_at)"
            " VALUES ($1, 'old', $2, '', 201, '', now(), now() - interval '1 hour'),"
            " ($1, 'new', $2, '', 201, '', now(), now() + interval '1 hour')",
            old_id.bytes,
            old_id,
        )
        nid = await _notification(conn)
        for user, age in ((old_id, timedelta(days=200)), (recent_id, timedelta(days=10))):
            for channel, status in (("inbox", "sent"), ("push", "sent"), ("email", "failed")):
                await conn.execute(
                    "INSERT INTO deliveries (notification_id, user_id, channel, locale, status, sent_at, updated_at)"
                    " VALUES ($1, $2, $3, 'fr', $4, now() - $5::interval, now() - $5::interval)",
                    nid,
                    user,
                    channel,
                    status,
                    age,
                )
        # a pending delivery is never purged, however old
        pending_nid = await _notification(conn)
        await conn.execute(
            "INSERT INTO deliveries (notification_id, user_id, channel, locale, status, updated_at)"
            " VALUES ($1, $2, 'push', 'fr', 'pending', now() - interval '400 days')",
            pending_nid,
            old_id,
        )
        pid = await conn.fetchval(
            "INSERT INTO partners (name, kind, language) VALUES ('Audit', 'association', 'fr') RETURNING id"
        )
        await conn.execute(
            "INSERT INTO partner_audit (partner_id, action, created_at) VALUES"
            " ($1, 'old', now() - interval '400 days'), ($1, 'kept', now() - interval '200 days')",
            pid,
        )
        circle = await conn.fetchval(
            "INSERT INTO care_circles (senior_id) VALUES ($1) RETURNING id", recent_id
        )
        await conn.execute(
            "INSERT INTO care_access_log (circle_id, what, at) VALUES"
            " ($1, 'old', now() - interval '400 days'), ($1, 'kept', now() - interval '30 days')",
            circle,
        )

    monkeypatch.setattr(retention, "BATCH", 2)  # several batches per table, as with a large backlog
    purged = await retention.purge(db, settings, DOMAINS)
    assert purged["sessions"] >= 1
    assert purged["idempotency_keys"] >= 1
    assert purged["deliveries"] >= 2 and purged["inbox"] >= 1
    assert purged["partner_audit"] >= 1 and purged["care_access_log"] >= 1

    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM sessions WHERE user_id = $1", old_id) == 0
        assert await conn.fetchval("SELECT count(*) FROM sessions WHERE user_id = $1", recent_id) == 1
        keys = await conn.fetch("SELECT key FROM idempotency_keys WHERE user_id = $1", old_id)
        assert [k["key"] for k in keys] == ["new"]
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE notification_id = $1 AND user_id = $2", nid, old_id
            )
            == 0
        )
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE notification_id = $1 AND user_id = $2", nid, recent_id
            )
            == 3
        )
        assert (
            await conn.fetchval("SELECT count(*) FROM deliveries WHERE notification_id = $1", pending_nid)
            == 1
        )
        assert [
            r["action"]
            for r in await conn.fetch("SELECT action FROM partner_audit WHERE partner_id = $1", pid)
        ] == ["kept"]
        assert [
            r["what"]
            for r in await conn.fetch("SELECT what FROM care_access_log WHERE circle_id = $1", circle)
        ] == ["kept"]


async def test_retention_ages_are_settings(
    db: asyncpg.Pool, make_user: UserFactory, settings: Settings
) -> None:
    user = uuid.UUID((await make_user()).id)
    async with db.acquire() as conn:
        nid = await _notification(conn)
        await conn.execute(
            "INSERT INTO deliveries (notification_id, user_id, channel, locale, status, sent_at, updated_at)"
            " VALUES ($1, $2, 'inbox', 'fr', 'sent', now() - interval '40 days', now() - interval '40 days')",
            nid,
            user,
        )
    await retention.purge(db, settings, DOMAINS)
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE notification_id = $1", nid) == 1
    await retention.purge(db, msgspec.structs.replace(settings, retention_days=30), DOMAINS)
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE notification_id = $1", nid) == 0


def test_the_purge_is_a_registered_cron() -> None:
    from workers.main import cron_jobs

    assert "cron:purge_expired" in {job.name for job in cron_jobs(DOMAINS)}
