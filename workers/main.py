"""The ARQ worker: one registry of jobs and crons, msgpack payloads, supervised across Redis restarts."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
from typing import Any

from arq import cron
from arq.cron import CronJob
from arq.worker import Function, Worker, func
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.queue import deserialize, redis_settings, serialize
from hub.settings import Settings
from workers.context import close_context

logger = logging.getLogger("workers")

#: "module:function" of every job; a job takes (ctx, *ids) and calls a service. Jobs may run twice.
JOBS: tuple[str, ...] = (
    "workers.tasks:plan_notification",
    "workers.tasks:dispatch_push",
    "workers.tasks:dispatch_email",
    "workers.tasks:dispatch_direct_email",
)

#: ("module:function", seconds) of periodic jobs: they run on every worker's schedule, and ARQ gives each
#: tick a unique job id, so with several workers each tick runs once.
CRONS: tuple[tuple[str, frozenset[int]], ...] = (
    ("workers.tasks:relay_outbox", frozenset(range(0, 60, 5))),
    ("workers.tasks:sweep_deliveries", frozenset(range(2, 60, 5))),
    ("workers.tasks:send_digests", frozenset({30})),
    ("communities.jobs:publish_due_posts", frozenset(range(1, 60, 5))),
    ("care.jobs:advance_checkins", frozenset({15, 45})),
    ("care.jobs:remind_care_alerts", frozenset({40})),
    ("communities.events.jobs:send_event_reminders", frozenset({20, 50})),
    ("hub.retention:purge_expired", frozenset({55})),
)


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def job_functions(job_timeout: float = 300) -> list[Function]:
    return [func(_load(path), name=path.partition(":")[2], timeout=job_timeout) for path in JOBS]


def cron_jobs() -> list[CronJob]:
    jobs = []
    for path, seconds in CRONS:
        name = path.partition(":")[2]
        jobs.append(
            cron(
                _load(path),
                name=f"cron:{name}",
                second=set(seconds),
                run_at_startup=False,
                unique=True,
                timeout=120,
            )
        )
    return jobs


def build_worker(
    settings: Settings,
    *,
    database_url: str,
    redis_url: str,
    burst: bool = False,
    handle_signals: bool = True,
    max_jobs: int = 8,
    with_crons: bool = True,
) -> Worker:
    """An ARQ worker whose context holds the database pool and the delivery channels."""

    async def startup(ctx: dict[str, Any]) -> None:
        from workers.context import open_context

        ctx.update(await open_context(settings, database_url))

    async def shutdown(ctx: dict[str, Any]) -> None:
        from workers.context import close_context

        await close_context(ctx)

    return Worker(
        functions=job_functions(),
        cron_jobs=cron_jobs() if with_crons else [],
        redis_settings=redis_settings(redis_url),
        queue_name=settings.queue_name,
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        handle_signals=handle_signals,
        max_jobs=max_jobs,
        job_serializer=serialize,
        job_deserializer=deserialize,
        health_check_interval=10,
        keep_result=60,
        max_tries=5,
        ctx={"settings": settings},
        poll_delay=0.2,
    )


async def run_worker(
    settings: Settings, *, database_url: str, redis_url: str, handle_signals: bool = True
) -> None:
    """Run the worker until cancelled or signalled, restarting it when Redis goes away and comes back.

    On SIGTERM/SIGINT the running jobs are cancelled; each job releases the deliveries it had claimed
    (they go back to pending), so nothing stays stuck and nothing is sent twice beyond the batch in flight.
    """
    stop = asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    delay = 0.5
    while not stop.is_set():
        worker = build_worker(settings, database_url=database_url, redis_url=redis_url, handle_signals=False)
        task = asyncio.create_task(worker.async_run())
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # a burst run ended, or the worker failed: re-raised here
                return
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            logger.warning("worker lost Redis (%s); restarting in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Closing talks to Redis (it removes the health-check key); with Redis gone that fails before
            # the worker's own shutdown ran, so its connections are closed here as well.
            with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                await worker.close()
            await close_context(worker.ctx)
            if worker._pool is not None:
                with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                    await worker._pool.aclose()
