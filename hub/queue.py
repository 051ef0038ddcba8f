"""The job queue: ARQ on Redis with msgpack payloads (never pickle), shared by the API and the worker."""

from __future__ import annotations

from typing import Any

import msgspec
from arq.connections import ArqRedis, RedisSettings, create_pool


def _fallback(obj: Any) -> str:
    # Job results and errors are kept only for logs: anything msgpack cannot hold is stored as text.
    return repr(obj)


_encoder = msgspec.msgpack.Encoder(enc_hook=_fallback)


def serialize(obj: dict[str, Any]) -> bytes:
    return _encoder.encode(obj)


def deserialize(data: bytes) -> dict[str, Any]:
    return msgspec.msgpack.decode(data)  # type: ignore[no-any-return]


URGENT_SUFFIX = ":urgent"


def urgent_queue(queue_name: str) -> str:
    """The queue of urgent work (care alerts, severe warnings), served by worker capacity of its own so that
    it never waits behind a bulk fan-out on ``queue_name``."""
    return queue_name if queue_name.endswith(URGENT_SUFFIX) else queue_name + URGENT_SUFFIX


def lane_queue(queue_name: str, urgent: bool) -> str:
    """The queue of one lane, from either lane's name (a job on the urgent queue may enqueue bulk work)."""
    base = queue_name.removesuffix(URGENT_SUFFIX)
    return urgent_queue(base) if urgent else base


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


async def queue_pool(url: str, queue_name: str) -> ArqRedis:
    """A connection pool that enqueues jobs the worker can read."""
    return await create_pool(
        redis_settings(url),
        default_queue_name=queue_name,
        job_serializer=serialize,
        job_deserializer=deserialize,
    )
