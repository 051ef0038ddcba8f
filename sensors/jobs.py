"""Sensor worker jobs: the silence timer, official gauges, and forgetting old uplink ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from hub.db import transaction
from sensors import gauges, queries, service

#: uplink ids are kept long enough to recognise a network server's retries
UPLINK_MEMORY = timedelta(days=2)


def _now(ctx: dict[str, Any]) -> datetime:
    clock: Callable[[], datetime] | None = ctx.get("clock")
    return clock() if clock is not None else datetime.now(UTC)


async def watch_sensors(ctx: dict[str, Any]) -> int:
    """Move rules of silent sensors to no-data; rows locked by another worker are left to it."""
    async with transaction(ctx["pool"], ctx.get("redis")) as conn:
        return await service.watch_silence(conn, _now(ctx))


async def poll_gauges(ctx: dict[str, Any]) -> int:
    """Ask each configured official gauge for new readings (each in its own transaction)."""
    endpoints: gauges.Endpoints = ctx.get("gauge_endpoints") or gauges.Endpoints()
    async with transaction(ctx["pool"]) as conn:
        sensors = await queries.polled_sensors(conn)
    if not sensors:
        return 0
    total = 0
    async with aiohttp.ClientSession() as http:
        for sensor in sensors:
            async with transaction(ctx["pool"], ctx.get("redis")) as conn:
                total += await gauges.poll(conn, http, sensor, _now(ctx), endpoints)
    return total


async def forget_uplinks(ctx: dict[str, Any]) -> int:
    async with transaction(ctx["pool"]) as conn:
        return await queries.forget_uplinks(conn, _now(ctx) - UPLINK_MEMORY)
