"""Sensor uplinks over MQTT (aiomqtt): The Things Stack and ChirpStack topics, taken in like their webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import asyncpg

from hub.db import transaction
from hub.errors import HubError
from sensors import ingest, service

logger = logging.getLogger("sensors.mqtt")

#: topic patterns per integration: The Things Stack v3 uplinks, ChirpStack v4 up and status events
TOPICS = ("v3/+/devices/+/up", "application/+/device/+/event/up", "application/+/device/+/event/status")


def decode(topic: str, payload: bytes) -> ingest.Uplink:
    """The uplink a message carries, by its topic; anything else is ``ingest.Malformed``."""
    parts = topic.split("/")
    if parts[0] == "v3" and parts[-1] == "up":
        return ingest.tts_uplink(payload)
    if parts[0] == "application" and len(parts) == 6 and parts[4] == "event":
        return ingest.chirpstack_event(payload, parts[5])
    raise ingest.Malformed("unknown topic")


async def handle(pool: asyncpg.Pool, queue: Any, topic: str, payload: bytes) -> None:
    """One message, in one transaction (alerts are enqueued after it commits); bad ones are logged and dropped."""
    try:
        uplink = decode(topic, payload)
        async with transaction(pool, queue) as conn:
            await service.ingest_uplink(conn, uplink, datetime.now(UTC))
    except (ingest.Malformed, HubError) as exc:
        logger.warning("mqtt message on %s refused: %s", topic.split("/")[0], type(exc).__name__)


async def listen(url: str, pool: asyncpg.Pool, queue: Any, ready: asyncio.Event | None = None) -> None:
    """Subscribe and take messages in until cancelled, reconnecting with backoff when the broker goes away."""
    parts = urlsplit(url)
    delay = 1.0
    while True:
        try:
            async with aiomqtt.Client(
                hostname=parts.hostname or "127.0.0.1",
                port=parts.port or (8883 if parts.scheme == "mqtts" else 1883),
                username=unquote(parts.username) if parts.username else None,
                password=unquote(parts.password) if parts.password else None,
                tls_params=aiomqtt.TLSParameters() if parts.scheme == "mqtts" else None,
                identifier=None,
            ) as client:
                for topic in TOPICS:
                    await client.subscribe(topic, qos=1)
                delay = 1.0
                if ready is not None:
                    ready.set()
                async for message in client.messages:
                    payload = message.payload
                    if isinstance(payload, bytes | bytearray):
                        await handle(pool, queue, str(message.topic), bytes(payload))
        except aiomqtt.MqttError as exc:
            logger.warning("mqtt connection lost (%s); reconnecting in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)


async def start(ctx: dict[str, Any]) -> None:
    """Worker start-up: listen when ``HUB_MQTT_URL`` is set."""
    settings = ctx.get("settings")
    url = getattr(settings, "mqtt_url", None)
    if url and "mqtt_task" not in ctx:
        ctx["mqtt_task"] = asyncio.create_task(listen(url, ctx["pool"], ctx.get("redis")))


async def stop(ctx: dict[str, Any]) -> None:
    """Worker shutdown: stop listening (a second call finds nothing to stop)."""
    task: asyncio.Task[None] | None = ctx.pop("mqtt_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
