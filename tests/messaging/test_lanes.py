"""Urgent work has a queue and worker capacity of its own: a care alert never waits behind a bulk fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from arq.connections import ArqRedis

from devtools.fcm_local import FcmLocal
from hub.db import transaction
from hub.queue import lane_queue, queue_pool, urgent_queue
from hub.settings import Settings
from i18n.content import Bilingual
from messaging.models import Audience
from messaging.planning import urgent_lane
from messaging.service import notify
from tests.conftest import Servers
from workers.main import build_worker, run_burst, run_worker

MEMBERS = 400


@pytest.fixture(scope="module")
async def arq(servers: Servers, settings: Settings) -> AsyncIterator[ArqRedis]:
    queue = await queue_pool(servers.redis_url, settings.queue_name)
    try:
        yield queue
    finally:
        await queue.aclose()


@pytest.mark.parametrize(
    ("priority", "kind", "urgent"),
    [
        ("urgent", "care.checkin_missed", True),  # a step of the care ladder
        ("important", "care.provider_alert", True),  # a provider's alert, whatever its priority
        ("urgent", "warning", True),  # a severe official warning
        ("urgent", "sensor_alert", True),  # a sensor's red level
        ("important", "warning", False),  # a moderate warning: bulk
        ("urgent", "post", False),  # a community's post, even urgent: bulk, however big
        ("urgent", "event_cancelled", False),
        ("info", "feedback.status", False),
    ],
)
def test_urgent_lane_takes_care_and_urgent_alerts_never_community_posts(
    priority: str, kind: str, urgent: bool
) -> None:
    assert urgent_lane(priority, kind) is urgent


def test_each_lane_names_the_other_from_either_queue() -> None:
    assert urgent_queue("hub:queue") == "hub:queue:urgent"
    assert lane_queue("hub:queue:urgent", urgent=False) == "hub:queue"
    assert lane_queue("hub:queue:urgent", urgent=True) == "hub:queue:urgent"
    assert lane_queue("hub:queue", urgent=True) == "hub:queue:urgent"


async def _community(db: asyncpg.Pool, members: int, tag: str) -> uuid.UUID:
    community = uuid.uuid4()
    async with db.acquire() as conn:
        await conn.execute(
            "INSERT INTO users (id, email, password_hash, display_name, locale, time_zone) "
            "SELECT gen_random_uuid(), $2 || i || '@lanes.test', 'x', 'Member ' || i, "
            "CASE WHEN i % 2 = 0 THEN 'fr' ELSE 'de' END, 'Europe/Paris' FROM generate_series(1, $1) AS i",
            members,
            tag,
        )
        await conn.execute(
            "INSERT INTO communities (id, name_fr, name_de, kind, visibility, join_policy, search_key) "
            "VALUES ($1, 'Chorale', 'Chor', 'association', 'public', 'open', '')",
            community,
        )
        await conn.execute(
            "INSERT INTO memberships (community_id, user_id, status) "
            "SELECT $1, id, 'active' FROM users WHERE email LIKE $2 || '%@lanes.test'",
            community,
            tag,
        )
        await conn.execute(
            "INSERT INTO devices (user_id, token, platform) "
            "SELECT id, 'lanes-' || id, 'android' FROM users WHERE email LIKE $1 || '%@lanes.test'",
            tag,
        )
    return community


async def test_care_alert_is_sent_while_a_big_post_is_still_pending_on_the_bulk_queue(
    db: asyncpg.Pool, arq: ArqRedis, settings: Settings, servers: Servers, fcm: FcmLocal
) -> None:
    tag = uuid.uuid4().hex[:8]
    community = await _community(db, MEMBERS, tag)
    daughter = await db.fetchval(
        "INSERT INTO users (id, email, password_hash, display_name, locale, time_zone) "
        "VALUES (gen_random_uuid(), $1, 'x', 'Tochter', 'de', 'Europe/Berlin') RETURNING id",
        f"daughter-{tag}@lanes.test",
    )
    daughter_token = f"daughter-{tag}"
    await db.execute(
        "INSERT INTO devices (user_id, token, platform) VALUES ($1, $2, 'android')", daughter, daughter_token
    )
    bulk_before = await arq.zcard(settings.queue_name)
    async with transaction(db, arq) as conn:
        post = await notify(
            conn,
            kind="post",
            audience=Audience(community_id=community),
            title=Bilingual(fr="Concert samedi", de="Konzert am Samstag"),
            body=Bilingual(fr="Venez nombreux.", de="Kommen Sie zahlreich."),
            priority="urgent",
            deep_link="/posts/1",
        )
    async with transaction(db, arq) as conn:
        alert = await notify(
            conn,
            kind="care.checkin_missed",
            audience=Audience(user_ids=(daughter,)),
            title=Bilingual(fr="Pas de nouvelles", de="Keine Rückmeldung"),
            body=Bilingual(fr="Appelez votre mère.", de="Rufen Sie Ihre Mutter an."),
            priority="urgent",
            deep_link="/care",
            respect_preferences=False,
            channels=("push",),
        )
    assert await arq.zcard(settings.queue_name) == bulk_before + 1  # the post's planning
    assert await arq.zcard(urgent_queue(settings.queue_name)) == 1  # the alert's

    # Only the urgent queue's worker runs, as when every bulk job slot is busy with the fan-out.
    worker = build_worker(
        settings,
        database_url=servers.database_url,
        redis_url=servers.redis_url,
        burst=True,
        handle_signals=False,
        urgent=True,
    )
    try:
        await worker.main()
    finally:
        await worker.close()

    [pushed] = fcm.messages(daughter_token)
    assert pushed.title == "Keine Rückmeldung"
    assert pushed.data["notification_id"] == str(alert)
    assert pushed.android is not None and pushed.android.priority == "high"
    members = [r["token"] for r in await db.fetch("SELECT token FROM devices WHERE token LIKE 'lanes-%'")]
    assert sum(len(fcm.messages(token)) for token in members[:50]) == 0
    assert await db.fetchval("SELECT planned_at FROM notifications WHERE id = $1", post) is None

    await run_burst(settings, database_url=servers.database_url, redis_url=servers.redis_url)
    sent = await db.fetchval(
        "SELECT count(*) FROM deliveries WHERE notification_id = $1 AND channel = 'push' AND status = 'sent'",
        post,
    )
    assert sent == MEMBERS
    assert len(fcm.messages(daughter_token)) == 1


async def test_a_worker_process_of_the_urgent_lane_alone_sends_the_alert_and_leaves_the_post(
    db: asyncpg.Pool, arq: ArqRedis, settings: Settings, servers: Servers, fcm: FcmLocal
) -> None:
    """``hub worker --lane urgent``: a process of its own for urgent work, which never takes bulk jobs."""
    tag = uuid.uuid4().hex[:8]
    community = await _community(db, 20, tag)
    son = await db.fetchval(
        "INSERT INTO users (id, email, password_hash, display_name, locale, time_zone) "
        "VALUES (gen_random_uuid(), $1, 'x', 'Fils', 'fr', 'Europe/Paris') RETURNING id",
        f"son-{tag}@lanes.test",
    )
    token = f"son-{tag}"
    await db.execute("INSERT INTO devices (user_id, token, platform) VALUES ($1, $2, 'android')", son, token)
    async with transaction(db, arq) as conn:
        post = await notify(
            conn,
            kind="post",
            audience=Audience(community_id=community),
            title=Bilingual(fr="Répétition", de="Probe"),
            body=Bilingual(fr="Mardi.", de="Dienstag."),
            deep_link="/posts/2",
        )
        await notify(
            conn,
            kind="care.checkin_missed",
            audience=Audience(user_ids=(son,)),
            title=Bilingual(fr="Pas de nouvelles", de="Keine Rückmeldung"),
            body=Bilingual(fr="Appelez votre père.", de="Rufen Sie Ihren Vater an."),
            priority="urgent",
            deep_link="/care",
            respect_preferences=False,
            channels=("push",),
        )
    process = asyncio.create_task(
        run_worker(
            settings,
            database_url=servers.database_url,
            redis_url=servers.redis_url,
            handle_signals=False,
            lanes=("urgent",),
        )
    )
    try:
        for _ in range(200):
            if fcm.messages(token):
                break
            await asyncio.sleep(0.05)
        [pushed] = fcm.messages(token)
        assert pushed.title == "Pas de nouvelles"
        await asyncio.sleep(0.5)  # time enough for it to take a bulk job, were it to
        assert await db.fetchval("SELECT planned_at FROM notifications WHERE id = $1", post) is None
    finally:
        process.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await process
    await run_burst(settings, database_url=servers.database_url, redis_url=servers.redis_url)
    assert await db.fetchval("SELECT planned_at FROM notifications WHERE id = $1", post) is not None
