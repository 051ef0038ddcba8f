"""A `hub worker` process killed (SIGKILL) at random points of a 2,000-recipient fan-out: nothing is lost,
at most one slice per running dispatch job is sent twice, and the rest resumes within seconds."""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from devtools.fcm_local import FcmLocal
from devtools.smtp_local import MailCatcher
from hub.db import transaction
from hub.queue import queue_pool
from hub.settings import Settings
from i18n.content import Bilingual
from messaging.models import Audience
from messaging.pipeline import DISPATCH_PARALLELISM
from messaging.planning import LEASE_S, SLICE_SIZE
from messaging.service import notify
from tests.conftest import Servers

RECIPIENTS = 2000
KILLS = 2
#: the stated bound: a killed worker sends again at most one slice per dispatch job it was running
BOUND_PER_KILL = DISPATCH_PARALLELISM * SLICE_SIZE
#: a new worker starts its first sweep within 5 s, and a dead worker's lease runs out LEASE_S after its
#: last heartbeat; with start-up and a loaded test machine, the urgent remainder resumes within this
RESUME_WITHIN_S = LEASE_S + 15


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    hub = shutil.which("hub") or str(Path(sys.executable).parent / "hub")
    return subprocess.Popen(  # noqa: S603
        [hub, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


async def until(done: Callable[[], Awaitable[bool]], within: float, step: float = 0.05) -> None:
    """Poll what the worker process did (it runs elsewhere: nothing here can be awaited for it)."""
    async with asyncio.timeout(within):
        for _ in itertools.count():
            if await done():
                return
            await asyncio.sleep(step)


async def test_sigkill_mid_fanout_loses_nothing_and_resends_at_most_one_slice_per_job(
    db: asyncpg.Pool, servers: Servers, settings: Settings, fcm: FcmLocal, smtp: MailCatcher
) -> None:
    seed = secrets.randbits(32)
    rng = random.Random(seed)
    tag = secrets.token_hex(4)
    rows = await db.fetch(
        """
        INSERT INTO users (email, password_hash, display_name, locale)
        SELECT 'crash-' || $2 || '-' || i || '@example.test', 'x', 'Person ' || i,
               CASE WHEN i % 2 = 0 THEN 'fr' ELSE 'de' END
        FROM generate_series(1, $1) AS i
        RETURNING id, email
        """,
        RECIPIENTS,
        tag,
    )
    ids = [r["id"] for r in rows]
    addresses = {r["email"] for r in rows}
    await db.execute(
        "INSERT INTO devices (user_id, token, platform) SELECT id, 'crash-' || id, 'android' "
        "FROM unnest($1::uuid[]) id",
        ids,
    )
    tokens = {f"crash-{i}" for i in ids}
    queue_name = f"hub-test-crash-{tag}"
    assert settings.fcm_credentials_file is not None
    env = {
        **os.environ,
        "HUB_DATABASE_URL": servers.database_url,
        "HUB_REDIS_URL": servers.redis_url,
        "HUB_SECRET_KEY": settings.secret_key,
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_QUEUE_NAME": queue_name,
        "HUB_FCM_CREDENTIALS_FILE": str(settings.fcm_credentials_file),
        "HUB_FCM_ENDPOINT": settings.fcm_endpoint,
        "HUB_SMTP_HOST": str(settings.smtp_host),
        "HUB_SMTP_PORT": str(settings.smtp_port),
        "HUB_LOG_LEVEL": "WARNING",
    }
    pushes_before, emails_before = fcm.stats().accepted, len(smtp.messages)

    def progress() -> int:
        return fcm.stats().accepted - pushes_before + len(smtp.messages) - emails_before

    async def sent_count() -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM deliveries WHERE notification_id = $1 AND channel <> 'inbox' "
                "AND status = 'sent'",
                notification_id,
            )
        )

    worker = start_worker(env)
    await asyncio.sleep(3)  # it connects and starts polling
    queue = await queue_pool(servers.redis_url, queue_name)
    try:
        async with transaction(db, queue) as conn:
            notification_id = await notify(
                conn,
                kind="care.test_alert",
                audience=Audience(user_ids=tuple(ids)),
                title=Bilingual(
                    fr="Alerte : vérifiez vos proches", de="Warnung: Sehen Sie nach Ihren Angehörigen"
                ),
                body=Bilingual(fr="Appelez-les aujourd'hui.", de="Rufen Sie sie heute an."),
                deep_link="/crash",
                priority="urgent",
                respect_preferences=False,
            )
    finally:
        await queue.aclose()

    resumed_after: list[float] = []
    try:
        low, high = 100, 2 * RECIPIENTS - 600
        for kill in range(KILLS):
            # each kill later than the one before, and all before the fan-out ends (whatever the seed)
            target = rng.randint(low, high)
            await until(functools.partial(_at_least, progress, target), 120, step=0.02)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            if worker.stderr is not None:
                worker.stderr.close()
            # Only a living worker records outcomes: the first one recorded after this is the new worker's.
            recorded = await sent_count()
            await asyncio.sleep(rng.uniform(0, 2))  # a new worker comes up a moment later
            worker = start_worker(env)
            restarted = time.monotonic()
            await until(functools.partial(_more_than, sent_count, recorded), 120)
            resumed_after.append(time.monotonic() - restarted)
            low = min(target + 200 * (kill + 1), high)

        async def all_final() -> bool:
            left = await db.fetchval(
                "SELECT count(*) FROM deliveries WHERE notification_id = $1 AND channel <> 'inbox' "
                "AND status NOT IN ('sent', 'failed', 'skipped')",
                notification_id,
            )
            return left == 0

        await until(all_final, 180, step=0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        stderr = ""
        if worker.stderr is not None:
            stderr = worker.stderr.read().decode(errors="replace")
            worker.stderr.close()

    final = await db.fetch(
        "SELECT channel, status, count(*) AS n FROM deliveries WHERE notification_id = $1 AND channel <> 'inbox' "
        "GROUP BY 1, 2",
        notification_id,
    )
    where = f"seed {seed}, resumed after {resumed_after}, worker said: {stderr[-2000:]}"
    assert {(r["channel"], r["status"]): r["n"] for r in final} == {
        ("push", "sent"): RECIPIENTS,
        ("email", "sent"): RECIPIENTS,
    }, where
    pushes = Counter(m.token for m in fcm.messages() if m.token in tokens)
    emails = Counter(a for m in smtp.messages for a in m.rcpt_tos if a in addresses)
    assert set(pushes) == tokens and set(emails) == addresses, where  # nothing lost
    push_twice = sum(n - 1 for n in pushes.values())
    email_twice = sum(n - 1 for n in emails.values())
    print(f"\n{where[:200]}; sent twice: {push_twice} pushes, {email_twice} emails")
    assert push_twice <= KILLS * BOUND_PER_KILL, where
    assert email_twice <= KILLS * BOUND_PER_KILL, where
    assert all(seconds <= RESUME_WITHIN_S for seconds in resumed_after), where
    # the same notification's pushes carry its id as collapse key: a copy replaces the first on the phone
    assert {m.android.collapse_key for m in fcm.messages() if m.token in tokens and m.android} == {
        str(notification_id)
    }


async def _at_least(count: Callable[[], int], target: int) -> bool:
    return count() >= target


async def _more_than(count: Callable[[], Awaitable[int]], than: int) -> bool:
    return await count() > than
