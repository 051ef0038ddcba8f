"""Warnings worker jobs: poll the configured feeds that are due, and end incidents whose time is over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from hub.db import transaction
from official_warnings import poller, service
from official_warnings.models import PollReport


def _now(ctx: dict[str, Any]) -> datetime:
    clock: Callable[[], datetime] | None = ctx.get("clock")
    return clock() if clock is not None else datetime.now(UTC)


async def poll_warning_feeds(ctx: dict[str, Any]) -> list[PollReport]:
    """Each configured feed that is due (its poll interval passed, or its backoff after failures)."""
    settings = ctx["settings"]
    now = _now(ctx)
    reports: list[PollReport] = []

    def tx(pool: Any) -> Any:
        return transaction(pool, ctx.get("redis"))

    async with aiohttp.ClientSession(timeout=poller.TIMEOUT) as session:
        for kind, url in settings.warning_feeds:  # none configured: no session is used
            report = await poller.poll_feed(
                ctx["pool"],
                session,
                kind,
                url,
                now=now,
                poll_seconds=settings.warning_poll_seconds,
                transaction=tx,
            )
            if report is not None:
                reports.append(report)
    async with transaction(ctx["pool"], ctx.get("redis")) as conn:
        await service.expire(conn, now)
    return reports
