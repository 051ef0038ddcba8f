"""Care worker jobs: advance the check-in ladders and send the one reminder of provider alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from care import service
from hub.db import transaction


async def advance_checkins(ctx: dict[str, Any]) -> int:
    async with transaction(ctx["pool"], ctx["redis"]) as conn:
        return await service.advance_checkins(conn, datetime.now(UTC))


async def remind_care_alerts(ctx: dict[str, Any]) -> int:
    async with transaction(ctx["pool"], ctx["redis"]) as conn:
        return await service.remind_unacknowledged_alerts(conn, datetime.now(UTC))
