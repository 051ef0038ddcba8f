"""What every job finds in its context: the database pool and the delivery channels, opened once per lane."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from hub.db import create_pool
from hub.queue import lane_queue
from hub.settings import Settings
from messaging.pipeline import Channels
from messaging.push import PushSender
from messaging.quota import Quota
from messaging.smtp import Mailer


async def open_context(
    settings: Settings,
    database_url: str,
    redis: Redis | None = None,
    *,
    pool_size: int = 16,
    push_concurrency: int | None = None,
) -> dict[str, Any]:
    """The pool and senders of one worker lane; with ``redis``, pushes keep to the quota all workers share."""
    pool = await create_pool(
        database_url, min_size=2, max_size=pool_size, statement_cache_size=settings.statement_cache_size
    )
    push = None
    if settings.fcm_credentials_file is not None:
        quota = None
        if redis is not None:
            key = f"{lane_queue(settings.queue_name, False)}:fcm-quota"
            quota = Quota(redis, key, settings.fcm_quota_per_minute)
        push = PushSender(
            settings.fcm_credentials_file,
            settings.fcm_endpoint,
            concurrency=push_concurrency or settings.push_concurrency,
            quota=quota,
        )
        await push.start()
    mailer = None
    if settings.smtp_host:
        mailer = Mailer(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            mail_from=settings.mail_from,
            pool_size=4,
        )
        await mailer.start()
    channels = Channels(
        push=push, mailer=mailer, public_url=settings.public_url, mail_from=settings.mail_from
    )
    return {"pool": pool, "channels": channels}


async def close_context(ctx: dict[str, Any]) -> None:
    """Close what open_context opened; a second call finds nothing left to close."""
    channels: Channels | None = ctx.pop("channels", None)
    if channels is not None:
        if channels.push is not None:
            await channels.push.close()
        if channels.mailer is not None:
            await channels.mailer.close()
    pool = ctx.pop("pool", None)
    if pool is not None:
        await pool.close()
