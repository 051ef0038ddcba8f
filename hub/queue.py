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
