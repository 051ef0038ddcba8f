"""Care worker jobs: advance the check-in ladders and send the one reminder of provider alerts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from care import checkins, providers
from hub.db import transaction


def _now(ctx: dict[str, Any]) -> datetime:
    """The worker's time: the real clock, unless the worker was given one (tests move it)."""
    clock: Callable[[], datetime] | None = ctx.get("clock")
    return clock() if clock is not None else datetime.now(UTC)


async def advance_checkins(ctx: dict[str, Any], batch: int = checkins.PLAN_BATCH) -> int:
    """Every plan, one transaction per batch: a large run holds few locks at a time, and what one batch
    sends goes out as soon as it commits. All batches judge what is due at the same instant."""
    now = _now(ctx)
    steps, after = 0, None
    while True:
        async with transaction(ctx["pool"], ctx["redis"]) as conn:
            taken, after = await checkins.advance_checkin_batch(conn, now, after=after, limit=batch)
        steps += taken
        if after is None:
            return steps


async def remind_care_alerts(ctx: dict[str, Any]) -> int:
    async with transaction(ctx["pool"], ctx["redis"]) as conn:
        return await providers.remind_unacknowledged_alerts(conn, _now(ctx))
