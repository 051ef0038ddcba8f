"""The worker process: it outlives a Redis restart and keeps working afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from arq.worker import func
from litestar import Litestar
from litestar.testing import AsyncTestClient

from devtools.embedded import EmbeddedRedis
from devtools.fcm_local import FcmLocal
from hub.db import transaction
from hub.queue import deserialize, queue_pool, serialize
from hub.settings import Settings, load_settings
from i18n.content import Bilingual
from messaging.models import Audience
from messaging.service import notify
from tests.conftest import Servers, UserFactory
from workers.main import BULK_JOBS_PER_POLL, SpreadingWorker, run_worker


async def wait_for(predicate: Callable[[], Awaitable[bool]]) -> None:
    """Poll what the worker did (it runs elsewhere: nothing here can be awaited for it)."""
    async with asyncio.timeout(30):
        for _ in itertools.count():
            if await predicate():
                return
            await asyncio.sleep(0.2)


async def test_worker_survives_a_redis_restart(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    db: asyncpg.Pool,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
) -> None:
    folder = Path("/tmp") / f"hub-redis-{secrets.token_hex(4)}"
    folder.mkdir()
    redis = EmbeddedRedis(folder, persistent=False)
    redis_url = redis.start()
    own = load_settings(
        {
            "HUB_DATA_DIR": str(settings.data_dir),
            "HUB_SECRET_KEY": settings.secret_key,
            "HUB_QUEUE_NAME": f"hub-test-restart-{secrets.token_hex(4)}",
            "HUB_FCM_CREDENTIALS_FILE": str(settings.fcm_credentials_file),
            "HUB_FCM_ENDPOINT": settings.fcm_endpoint,
            "HUB_SMTP_HOST": str(settings.smtp_host),
            "HUB_SMTP_PORT": str(settings.smtp_port),
        }
    )
    user = await make_user(locale="de")
    token = f"restart-{uuid.uuid4().hex}"
    r = await client.post(
        "/v1/me/devices", json={"token": token, "platform": "android"}, headers=user.headers
    )
    assert r.status_code == 201
    worker = asyncio.create_task(
        run_worker(own, database_url=servers.database_url, redis_url=redis_url, handle_signals=False)
    )

    async def publish(title: str) -> None:
        queue = await queue_pool(redis_url, own.queue_name)
        try:
            async with transaction(db, queue) as conn:
                await notify(
                    conn,
                    kind="post",
                    audience=Audience(user_ids=(uuid.UUID(user.id),)),
                    title=Bilingual(de=title),
                    body=Bilingual(de="Text"),
                    deep_link="/w",
                    priority="urgent",
                )
        finally:
            await queue.aclose()

    async def received(title: str) -> bool:
        return any(m.title == title for m in fcm.messages(token))

    try:
        await publish("Vor dem Neustart")
        await wait_for(lambda: received("Vor dem Neustart"))
        port = redis.port
        redis.stop()
        await asyncio.sleep(1.0)  # the worker notices: its poll fails
        assert not worker.done()
        redis.start(port=port)
        await publish("Nach dem Neustart")
        await wait_for(lambda: received("Nach dem Neustart"))
        assert not worker.done()
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        redis.stop()


async def test_bulk_jobs_enqueued_together_are_shared_by_the_workers(servers: Servers) -> None:
    """A fan-out's dispatch jobs, enqueued together, go to every worker process: each poll of a bulk
    worker starts at most BULK_JOBS_PER_POLL new jobs, and those running elsewhere do not count."""
    queue_name = f"spread-{secrets.token_hex(4)}"
    redis = await queue_pool(servers.redis_url, queue_name)
    ran: list[tuple[str, int]] = []

    async def work(ctx: dict[str, Any], number: int) -> None:
        await asyncio.sleep(0.2)
        ran.append((ctx["name"], number))

    def worker(name: str) -> SpreadingWorker:
        return SpreadingWorker(
            functions=[func(work, name="work")],
            redis_pool=redis,
            queue_name=queue_name,
            max_jobs=16,
            handle_signals=False,
            job_serializer=serialize,
            job_deserializer=deserialize,
            ctx={"name": name},
            jobs_per_poll=BULK_JOBS_PER_POLL,
        )

    first, second = worker("first"), worker("second")
    try:
        for number in range(2 * BULK_JOBS_PER_POLL):
            await redis.enqueue_job("work", number)
        due = await redis.zrangebyscore(queue_name, min=float("-inf"), max=float("inf"))
        assert len(due) == 2 * BULK_JOBS_PER_POLL
        await first.start_jobs(due)  # the first to poll sees every job, takes its share
        assert len(first.tasks) == BULK_JOBS_PER_POLL
        await second.start_jobs(due)  # the jobs running in the first are skipped, not counted
        assert len(second.tasks) == BULK_JOBS_PER_POLL
        await asyncio.gather(*first.tasks.values(), *second.tasks.values())
        assert sorted(number for _, number in ran) == list(range(2 * BULK_JOBS_PER_POLL))
        assert Counter(name for name, _ in ran) == {"first": BULK_JOBS_PER_POLL, "second": BULK_JOBS_PER_POLL}
    finally:
        await redis.delete(queue_name)
        await redis.aclose()
