"""Thin ARQ tasks: take ids, open a transaction, call a service. Every task may run twice."""

from __future__ import annotations

import uuid
from typing import Any

from hub.db import transaction
from messaging import pipeline


async def plan_notification(ctx: dict[str, Any], notification_id: str) -> int | None:
    async with transaction(ctx["pool"], ctx["redis"]) as conn:
        return await pipeline.plan_notification(conn, uuid.UUID(notification_id), pipeline.utcnow())


async def dispatch_push(ctx: dict[str, Any], notification_id: str) -> int:
    return await pipeline.dispatch(
        ctx["pool"], ctx["channels"], uuid.UUID(notification_id), "push", queue=ctx["redis"]
    )


async def dispatch_email(ctx: dict[str, Any], notification_id: str) -> int:
    return await pipeline.dispatch(
        ctx["pool"], ctx["channels"], uuid.UUID(notification_id), "email", queue=ctx["redis"]
    )


async def relay_outbox(ctx: dict[str, Any]) -> int:
    async with transaction(ctx["pool"], ctx["redis"]) as conn:
        return await pipeline.relay_outbox(conn, pipeline.utcnow())


async def sweep_deliveries(ctx: dict[str, Any]) -> int:
    async with transaction(ctx["pool"], ctx["redis"]) as conn:
        return await pipeline.sweep_deliveries(conn, pipeline.utcnow())


async def send_digests(ctx: dict[str, Any]) -> int:
    return await pipeline.send_digests(ctx["pool"], ctx["channels"], pipeline.utcnow())


async def dispatch_direct_email(ctx: dict[str, Any], email_id: str) -> str | None:
    return await pipeline.send_direct_email(ctx["pool"], ctx["channels"], uuid.UUID(email_id))
