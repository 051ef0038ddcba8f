"""The FCM quota shared by all workers: a token bucket in Redis, and a pause for everyone after a 429."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from devtools.fcm_local import FcmLocal
from hub.settings import SettingsError, load_settings
from messaging.push import PushMessage, PushSender
from messaging.quota import Quota
from tests.conftest import Servers


@pytest.fixture
async def redis(servers: Servers) -> AsyncIterator[Redis]:
    client = Redis.from_url(servers.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def message(token: str) -> PushMessage:
    return PushMessage(token=token, title="Hitzewarnung", body="Trinken Sie Wasser.", data={}, urgent=False)


async def test_two_workers_together_keep_to_the_quota_per_minute(redis: Redis) -> None:
    key = f"quota-test-{uuid.uuid4().hex}"
    # 600 a minute: 10 a second, and a bucket of one second's worth.
    first, second = Quota(redis, key, 600), Quota(redis, key, 600)
    start = time.monotonic()
    await asyncio.gather(first.take(15), second.take(15))
    elapsed = time.monotonic() - start
    # 10 at once, the other 20 at 10 a second: about 2 s, whichever worker asked.
    assert 1.7 <= elapsed < 6


async def test_a_lone_worker_under_its_quota_does_not_wait(redis: Redis) -> None:
    quota = Quota(redis, f"quota-test-{uuid.uuid4().hex}", 600_000)
    assert await quota.take(50) == 0.0
    assert await quota.take(50) == 0.0


async def test_quota_exceeded_with_retry_after_slows_every_worker_down(redis: Redis, fcm: FcmLocal) -> None:
    key = f"quota-test-{uuid.uuid4().hex}"
    one = PushSender(fcm.credentials_file, fcm.base_url, quota=Quota(redis, key, 600_000))
    other = PushSender(fcm.credentials_file, fcm.base_url, quota=Quota(redis, key, 600_000))
    await one.start()
    await other.start()
    try:
        fcm.fail_next(1, 429, retry_after="2")
        [refused] = await one.send_many([message(f"quota-a-{key}")])
        assert refused.status == "retry"
        assert refused.quota_exceeded
        assert refused.retry_after == 2.0
        assert refused.error is not None and "429" in refused.error
        # The other worker did not see the 429, and still waits for the pause before it sends.
        start = time.monotonic()
        [sent] = await other.send_many([message(f"quota-b-{key}")])
        elapsed = time.monotonic() - start
        assert sent.status == "sent"
        assert 1.5 <= elapsed < 5
        [received] = fcm.messages(f"quota-b-{key}")
        assert received.received_at >= time.time() - elapsed
    finally:
        await one.close()
        await other.close()


def test_push_capacity_and_quota_are_configured_and_checked(tmp_path: Path) -> None:
    base = {"HUB_SECRET_KEY": "x" * 40, "HUB_DATA_DIR": str(tmp_path), "HUB_LANG": "de"}
    defaults = load_settings(base)
    assert (defaults.push_concurrency, defaults.fcm_quota_per_minute, defaults.urgent_jobs) == (
        256,
        600_000,
        8,
    )
    assert defaults.statement_cache_size == 100
    settings = load_settings(
        {
            **base,
            "HUB_PUSH_CONCURRENCY": "512",
            "HUB_FCM_QUOTA_PER_MINUTE": "300000",
            "HUB_URGENT_JOBS": "4",
            "HUB_DATABASE_STATEMENT_CACHE": "0",
        }
    )
    assert (settings.push_concurrency, settings.fcm_quota_per_minute, settings.urgent_jobs) == (
        512,
        300_000,
        4,
    )
    assert settings.statement_cache_size == 0
    with pytest.raises(SettingsError) as error:
        load_settings({**base, "HUB_FCM_QUOTA_PER_MINUTE": "0"})
    assert error.value.variable == "HUB_FCM_QUOTA_PER_MINUTE"
    assert error.value.message == "erwartet wird eine Zahl von 1 bis 100000000"
