"""Liveness and readiness: the process answers; PostgreSQL and Redis are reachable."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Response, Router, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec


class Health(msgspec.Struct, frozen=True, omit_defaults=True):
    status: str
    database: str | None = None
    redis: str | None = None


@get("/live", opt={"public": True}, tags=["health"], operation_id="getLiveness")
async def live() -> Health:
    """The process answers (no dependency is checked)."""
    return Health(status="ok")


@get(
    "/ready",
    opt={"public": True},
    tags=["health"],
    responses={503: ResponseSpec(data_container=Health, description="PostgreSQL or Redis unreachable")},
    operation_id="getReadiness",
)
async def ready(state: State) -> Response[Health]:
    """PostgreSQL and Redis answer; 503 when one does not."""

    async def database() -> str:
        try:
            async with asyncio.timeout(2):
                await state.db_pool.fetchval("SELECT 1")
            return "ok"
        except Exception:
            return "unreachable"

    async def redis() -> str:
        try:
            async with asyncio.timeout(2):
                await state.arq.ping()
            return "ok"
        except Exception:
            return "unreachable"

    db_status, redis_status = await asyncio.gather(database(), redis())
    healthy = db_status == "ok" and redis_status == "ok"
    return Response(
        Health(status="ok" if healthy else "unavailable", database=db_status, redis=redis_status),
        status_code=200 if healthy else 503,
    )


health_router = Router(path="/health", route_handlers=[live, ready])
