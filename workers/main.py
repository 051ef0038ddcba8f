"""The ARQ worker: the domains' jobs and crons, msgpack payloads, supervised across Redis restarts."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from arq import cron
from arq.constants import health_check_key_suffix
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Function, Retry, Worker, func
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.domain import Domain
from hub.logs import bound, get_logger
from hub.metrics import timed_job
from hub.queue import deserialize, lane_queue, redis_settings, serialize
from hub.settings import Settings
from server.domains import DOMAINS
from workers.context import close_context

logger = logging.getLogger("workers")
log = get_logger("workers")


HEALTH_CHECK_INTERVAL = 10  # seconds; the health key expires a second later
#: new jobs a bulk worker starts each time it polls (every 0.2 s): a fan-out's dispatch jobs, enqueued
#: together, are shared by the worker processes instead of all going to the first one that polls
BULK_JOBS_PER_POLL = 4


class SpreadingWorker(Worker):
    """An ARQ worker that starts at most ``jobs_per_poll`` new jobs each time it polls (None: as many as
    it has room for, ARQ's own behaviour).

    ARQ hands a poller every due job it has room for: with sixteen slots, the first of two workers to poll
    took all eight of a 100,000-recipient post's push jobs and sent them at 0.67 of a core while the other
    one idled at 0.08 (bench/README.md).
    """

    def __init__(self, *args: Any, jobs_per_poll: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jobs_per_poll = jobs_per_poll

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        if self.jobs_per_poll is None:
            await super().start_jobs(job_ids)
            return
        started = 0
        for job_id in job_ids:
            if started >= self.jobs_per_poll:
                return
            # the ids include jobs running here or elsewhere: only one this call starts counts
            key = job_id.decode()
            before = self.tasks.get(key)
            await super().start_jobs([job_id])
            if self.tasks.get(key) is not before:
                started += 1


def observed(function: Callable[..., Awaitable[Any]]) -> WorkerCoroutine:
    """A job or cron as the worker runs it: its log lines carry the job's name and id and the id of the
    request it was enqueued for (an optional ``request_id`` argument, never passed to the function), and
    its run is counted and timed by function and outcome."""
    name = function.__name__

    @functools.wraps(function)
    async def run(ctx: dict[str, Any], *args: Any, request_id: str | None = None, **kwargs: Any) -> Any:
        with (
            bound(request_id=request_id, job=name, job_id=ctx.get("job_id"), job_try=ctx.get("job_try")),
            timed_job(name),
        ):
            try:
                return await function(ctx, *args, **kwargs)
            except Retry:
                raise
            except Exception as exc:
                # arq logs the traceback; this line ties the failure to its request
                log.warning("job failed", error=type(exc).__name__)
                raise

    return cast(WorkerCoroutine, run)


def job_functions(domains: Sequence[Domain], job_timeout: float = 300) -> list[Function]:
    """Every domain's jobs, by function name; a job takes (ctx, *ids) and calls a service. Jobs may run twice."""
    return [
        func(observed(function), name=function.__name__, timeout=job_timeout)
        for domain in domains
        for function in domain.jobs
    ]


def cron_jobs(domains: Sequence[Domain]) -> list[CronJob]:
    """Every domain's periodic jobs: they run on every worker's schedule, and ARQ gives each tick a unique
    job id, so with several workers each tick runs once."""
    return [
        cron(
            observed(job.function),
            name=f"cron:{job.function.__name__}",
            second=set(job.seconds),
            run_at_startup=False,
            unique=True,
            timeout=job.timeout,
        )
        for domain in domains
        for job in domain.crons
    ]


def build_worker(
    settings: Settings,
    *,
    database_url: str,
    redis_url: str,
    burst: bool = False,
    handle_signals: bool = True,
    max_jobs: int = 16,
    with_crons: bool = True,
    domains: Sequence[Domain] = DOMAINS,
    urgent: bool = False,
) -> Worker:
    """An ARQ worker for the jobs and crons of ``domains``; its context holds the database pool and the
    delivery channels.

    ``urgent`` builds the worker of the urgent queue instead: the same jobs, no crons, ``urgent_jobs`` at
    once, with a pool and push connections of its own, so care alerts never wait behind a bulk fan-out.
    """
    if urgent:
        with_crons = False
        max_jobs = settings.urgent_jobs

    async def startup(ctx: dict[str, Any]) -> None:
        from workers.context import open_context

        ctx.update(
            await open_context(
                settings,
                database_url,
                ctx.get("redis"),
                pool_size=max(4, max_jobs),
                push_concurrency=max(32, settings.push_concurrency // 4) if urgent else None,
            )
        )
        # Domains' own services (the MQTT subscription) run once per process, in the bulk worker.
        for domain in () if urgent else domains:
            if domain.worker_startup is not None:
                await domain.worker_startup(ctx)
        # What is loaded now (the domains' modules, the pools, the senders) lives as long as the process:
        # the collector leaves it alone from here on instead of walking it again at every full collection,
        # which cost about a quarter of a worker's CPU per push (300 -> 230 us, bench/README.md).
        gc.collect()
        gc.freeze()

    async def shutdown(ctx: dict[str, Any]) -> None:
        await stop_domains(ctx, () if urgent else domains)
        await close_context(ctx)

    return SpreadingWorker(
        functions=job_functions(domains),
        cron_jobs=cron_jobs(domains) if with_crons else [],
        redis_settings=redis_settings(redis_url),
        queue_name=lane_queue(settings.queue_name, urgent),
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        handle_signals=handle_signals,
        max_jobs=max_jobs,
        job_serializer=serialize,
        job_deserializer=deserialize,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        keep_result=60,
        max_tries=5,
        ctx={"settings": settings, "domains": domains},
        # The urgent queue is looked at more often: a care alert takes two jobs (plan, then dispatch).
        poll_delay=0.05 if urgent else 0.2,
        # an urgent job starts at once; bulk jobs are shared out (a burst worker runs alone)
        jobs_per_poll=None if urgent or burst else BULK_JOBS_PER_POLL,
    )


async def run_burst(
    settings: Settings,
    *,
    database_url: str,
    redis_url: str,
    prepare: Callable[[Worker], None] | None = None,
) -> None:
    """Run both queues' workers in burst mode until neither has a job left (bulk jobs may enqueue urgent
    work and the other way round); ``prepare`` adjusts each worker before it runs (tests add a clock)."""
    while True:
        ran = False
        for urgent in (False, True):
            worker = build_worker(
                settings,
                database_url=database_url,
                redis_url=redis_url,
                burst=True,
                handle_signals=False,
                with_crons=False,
                urgent=urgent,
            )
            if prepare is not None:
                prepare(worker)
            try:
                await worker.main()
                ran = ran or worker.jobs_complete + worker.jobs_failed + worker.jobs_retried > 0
            finally:
                await worker.close()
        if not ran:
            return


async def stop_domains(ctx: dict[str, Any], domains: Sequence[Domain] = DOMAINS) -> None:
    """Each domain's worker shutdown, in reverse order; each may run twice (a worker that lost Redis never ran
    its own shutdown, so the supervisor runs it again)."""
    for domain in reversed(domains):
        if domain.worker_shutdown is not None:
            await domain.worker_shutdown(ctx)


#: the queues a worker process serves: the bulk queue (fan-outs, digests, crons, domain listeners) and the
#: urgent queue (care ladder steps, provider alerts, severe warnings, red sensor levels)
LANES: tuple[str, ...] = ("bulk", "urgent")


async def run_worker(
    settings: Settings,
    *,
    database_url: str,
    redis_url: str,
    handle_signals: bool = True,
    lanes: Sequence[str] = LANES,
) -> None:
    """Run the worker until cancelled or signalled, restarting it when Redis goes away and comes back.

    By default one process serves both queues, each with its own job slots, pool and connections; in
    production the urgent queue can have processes of its own (``hub worker --lane urgent``), so that no
    CPU a fan-out takes is missing from a care alert, and the others run ``--lane bulk``.

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
        # One worker per lane in this process (by default two: the bulk queue's and the urgent queue's).
        urgencies = [lane == "urgent" for lane in LANES if lane in lanes]
        workers = [
            build_worker(
                settings, database_url=database_url, redis_url=redis_url, handle_signals=False, urgent=urgent
            )
            for urgent in urgencies
        ]
        tasks = [asyncio.create_task(worker.async_run()) for worker in workers]
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({*tasks, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done():
                    task.result()  # a burst run ended, or the worker failed: re-raised here
                    return
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            logger.warning("worker lost Redis (%s); restarting in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        finally:
            stopper.cancel()
            for task in tasks:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            for urgent, worker in zip(urgencies, workers, strict=True):
                # Closing talks to Redis (it removes the health-check key); with Redis gone that fails
                # before the worker's own shutdown ran, so its connections are closed here as well.
                with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                    await worker.close()
                if not urgent:
                    await stop_domains(worker.ctx)
                await close_context(worker.ctx)
                if worker._pool is not None:
                    with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                        await worker._pool.aclose()


async def worker_healthy(redis_url: str, queue_name: str) -> bool:
    """True when a worker of ``queue_name`` reported health within the last health-check interval (each
    worker refreshes one key that expires a second after the interval)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        return bool(await redis.exists(f"{queue_name}{health_check_key_suffix}"))
    finally:
        await redis.aclose()
