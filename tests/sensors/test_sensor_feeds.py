"""The same flood through every other way in: partner batches, MQTT (a real broker), Pegelonline and Hub'Eau
(loopback servers answering with their documents, conditional requests, backoff); heat reaches care providers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import asyncpg
import pytest
from aiohttp import web
from litestar import Litestar
from litestar.testing import AsyncTestClient

from devtools.mqtt_broker import LocalBroker
from hub.db import transaction
from hub.settings import Settings, SettingsError, load_settings
from sensors import gauges, jobs, mqtt
from sensors.demo import seed
from tests.conftest import UserFactory
from tests.sensors.test_sensors import (
    FIXTURES,
    HYDROGRAPH,
    alerts_of,
    chirpstack,
    eui,
    hub_admin,
    new_rule,
    new_sensor,
    tts,
)

Client = AsyncTestClient[Litestar]
FLOOD_TITLES = [
    "Blies à Sarreguemines : niveau jaune",
    "Blies à Sarreguemines : niveau orange",
    "Blies à Sarreguemines : niveau rouge",
    "Blies à Sarreguemines : retour à la normale",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def titles(db: asyncpg.Pool, rule: dict[str, Any]) -> list[str]:
    return [a["title_fr"] for a in await alerts_of(db, rule["id"])]


async def test_partner_batch_replays_the_flood_in_time_order(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await hub_admin(make_user, db)
    sensor = await new_sensor(client, admin, None)
    rule = await new_rule(client, admin, sensor["id"])
    start = datetime.now(UTC) - timedelta(hours=6)
    readings = [
        {"value": v, "observed_at": (start + timedelta(minutes=m)).isoformat()} for m, v in HYDROGRAPH
    ]
    r = await client.post(
        f"/v1/sensors/{sensor['id']}/observations", json=list(reversed(readings)), headers=admin.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["accepted"] == len(HYDROGRAPH)
    assert await titles(db, rule) == FLOOD_TITLES


@pytest.fixture
async def broker() -> AsyncIterator[str]:
    """A real MQTT broker (amqtt, embedded, the one `hub dev` starts) on a free loopback port."""
    server = LocalBroker()
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()


async def test_mqtt_uplinks_of_tts_and_chirpstack_replay_the_flood(
    client: Client, db: asyncpg.Pool, make_user: UserFactory, broker: str
) -> None:
    admin = await hub_admin(make_user, db)
    tts_device, cs_device = eui(), eui()
    tts_sensor = await new_sensor(client, admin, tts_device)
    cs_sensor = await new_sensor(client, admin, cs_device)
    tts_rule = await new_rule(client, admin, tts_sensor["id"])
    cs_rule = await new_rule(client, admin, cs_sensor["id"])
    ready = asyncio.Event()
    listener = asyncio.create_task(mqtt.listen(broker, db, None, ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        start = datetime.now(UTC) - timedelta(hours=6)
        port = int(broker.rsplit(":", 1)[1])
        async with aiomqtt.Client("127.0.0.1", port) as publisher:
            for minute, level in HYDROGRAPH:
                at = start + timedelta(minutes=minute)
                doc = tts(tts_device, minute, at, level)
                topic = "v3/hub-pegel-blies@ttn/devices/blies-pegel-sarreguemines/up"
                await publisher.publish(topic, json.dumps(doc).encode(), qos=1)
                # a broker redelivery is taken once
                await publisher.publish(topic, json.dumps(doc).encode(), qos=1)
                up = chirpstack("up", cs_device, at, object={"water_level": level})
                await publisher.publish(
                    f"application/7e4f/device/{cs_device.lower()}/event/up", json.dumps(up).encode(), qos=1
                )
            await publisher.publish("v3/app/devices/x/up", b"garbage", qos=1)
        for _ in range(200):
            counts = [
                await db.fetchval(
                    "SELECT count(*) FROM sensor_observations WHERE sensor_id = $1", uuid.UUID(s["id"])
                )
                for s in (tts_sensor, cs_sensor)
            ]
            if counts == [len(HYDROGRAPH)] * 2:
                break
            await asyncio.sleep(0.05)
        assert counts == [len(HYDROGRAPH)] * 2
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    assert await titles(db, tts_rule) == FLOOD_TITLES
    assert await titles(db, cs_rule) == FLOOD_TITLES


class GaugeServer:
    """Pegelonline and Hub'Eau on loopback: their JSON documents, ETags, and failures on demand."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.requests: list[tuple[str, str | None]] = []
        #: the next request for this station fails once
        self.failing: str | None = None
        self.runner: web.AppRunner | None = None
        self.base = ""

    def _pegel(self) -> bytes:
        template = json.loads((FIXTURES / "pegelonline_measurements.json").read_text())
        assert set(template[0]) == {"timestamp", "value"}
        return json.dumps(
            [
                {"timestamp": (self.start + timedelta(minutes=m)).isoformat(), "value": v}
                for m, v in HYDROGRAPH
            ]
        ).encode()

    def _hubeau(self) -> bytes:
        page = json.loads((FIXTURES / "hubeau_observations_tr.json").read_text())
        row = page["data"][0]
        page["data"] = [
            {
                **row,
                "date_obs": (self.start + timedelta(minutes=m)).isoformat().replace("+00:00", "Z"),
                "resultat_obs": v * 10,
            }
            for m, v in HYDROGRAPH
        ]
        page["count"] = len(page["data"])
        return json.dumps(page).encode()

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path_qs, request.headers.get("If-None-Match")))
        if self.failing and self.failing in request.path_qs:
            self.failing = None
            return web.Response(status=503)
        body = self._pegel() if "/stations/" in request.path else self._hubeau()
        etag = f'"{len(body)}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/json", headers={"ETag": etag})

    async def __aenter__(self) -> GaugeServer:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.mark.parametrize("poller", ["pegelonline", "hubeau"])
async def test_official_gauges_are_polled_conditionally_with_backoff_and_replay_the_flood(
    client: Client, db: asyncpg.Pool, make_user: UserFactory, poller: str
) -> None:
    admin = await hub_admin(make_user, db)
    station = f"{poller[:3]}-{secrets.token_hex(4)}"
    sensor = await new_sensor(client, admin, None, poller=poller, station_id=station, source=poller)
    rule = await new_rule(client, admin, sensor["id"])
    start = datetime.now(UTC) - timedelta(hours=6)
    async with GaugeServer(start) as server:
        now = datetime.now(UTC)
        ctx: dict[str, Any] = {
            "pool": db,
            "gauge_endpoints": gauges.Endpoints(pegelonline=server.base, hubeau=server.base),
            "clock": lambda: now,
        }
        server.failing = station
        await jobs.poll_gauges(ctx)
        polls = await db.fetchrow(
            "SELECT failures, next_at FROM sensor_polls WHERE url LIKE $1", f"%{station}%"
        )
        assert polls["failures"] == 1
        assert polls["next_at"] == now + timedelta(minutes=1)
        await jobs.poll_gauges(ctx)  # still backing off: not asked
        assert len([r for r in server.requests if station in r[0]]) == 1
        now += timedelta(minutes=1)
        await jobs.poll_gauges(ctx)
        assert await titles(db, rule) == FLOOD_TITLES
        values = await db.fetch(
            "SELECT value FROM sensor_observations WHERE sensor_id = $1 ORDER BY observed_at",
            uuid.UUID(sensor["id"]),
        )
        assert [v["value"] for v in values] == [
            float(v) for _, v in HYDROGRAPH
        ]  # Hub'Eau millimetres are centimetres here
        now += timedelta(minutes=5)
        await jobs.poll_gauges(ctx)
        mine = [r for r in server.requests if station in r[0]]
        assert len(mine) == 3
        assert mine[-1][1] is not None  # asked with If-None-Match, answered 304
    assert await titles(db, rule) == FLOOD_TITLES


async def test_heat_rule_alerts_care_providers_serving_the_municipality_once(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await hub_admin(make_user, db)
    staff = await make_user(locale="de", municipality_code="57089")
    r = await client.post(
        "/v1/care/providers",
        json={
            "kind": "home_care",
            "name": "Aide à domicile Sarreguemines",
            "description": {"fr": "Aide à domicile", "de": "Häusliche Pflege"},
            "languages": ["fr", "de"],
            "municipality_codes": ["57631"],
        },
        headers=staff.headers,
    )
    assert r.status_code == 201, r.text
    provider = r.json()["id"]
    verified = await client.post(f"/v1/care/providers/{provider}/verify", headers=admin.headers)
    assert verified.status_code in (200, 204), verified.text
    sensor = await new_sensor(
        client, admin, None, kind="temperature", unit="°C", name={"fr": "Température place du marché"}
    )
    rule = await new_rule(
        client,
        admin,
        sensor["id"],
        heat=True,
        levels=[{"name": "orange", "above": 35, "clear_at": 32, "for_s": 0}],
    )
    start = datetime.now(UTC) - timedelta(hours=3)
    readings = [
        {"value": v, "observed_at": (start + timedelta(minutes=m)).isoformat()}
        for m, v in [(0, 31.0), (30, 35.5), (60, 36.2), (90, 35.1)]
    ]
    r = await client.post(f"/v1/sensors/{sensor['id']}/observations", json=readings, headers=admin.headers)
    assert r.status_code == 201, r.text
    heat = await db.fetch(
        "SELECT content -> 'title' ->> 'de' AS title_de, audience_user_ids FROM notifications "
        "WHERE kind = 'sensor_heat' AND source_id = $1",
        uuid.UUID(rule["id"]),
    )
    assert len(heat) == 1
    assert heat[0]["audience_user_ids"] == [uuid.UUID(staff.id)]
    assert heat[0]["title_de"] == "Hitze in Saargemünd"


async def test_demo_gauges_of_the_blies_are_seeded_once_and_shown(client: Client, db: asyncpg.Pool) -> None:
    async with transaction(db) as conn:
        await seed(conn)
    async with transaction(db) as conn:
        await seed(conn)
    demo = await db.fetch(
        "SELECT id, municipality_code FROM sensors WHERE device_eui = ANY($1::text[])",
        ["70B3D57ED0061A2B", "A84041000181C2D7"],
    )
    assert sorted(r["municipality_code"] for r in demo) == ["10045113", "57631"]
    for row in demo:
        assert (
            await db.fetchval("SELECT count(*) FROM sensor_observations WHERE sensor_id = $1", row["id"])
            > 250
        )
    page = await client.get("/dashboard/10045113", params={"lang": "de"})
    assert "Blies in Gersheim" in page.text
    assert "Die Blies auf beiden Seiten der Grenze" in page.text


async def test_worker_listens_to_mqtt_only_when_configured(
    client: Client, db: asyncpg.Pool, make_user: UserFactory, broker: str, settings: Settings
) -> None:
    with pytest.raises(SettingsError):
        load_settings({"HUB_SECRET_KEY": settings.secret_key, "HUB_MQTT_URL": "http://broker.example"})
    configured = load_settings({"HUB_SECRET_KEY": settings.secret_key, "HUB_MQTT_URL": broker})
    idle: dict[str, Any] = {"settings": settings, "pool": db}
    await mqtt.start(idle)
    assert "mqtt_task" not in idle

    admin = await hub_admin(make_user, db)
    device = eui()
    sensor = await new_sensor(client, admin, device)
    ctx: dict[str, Any] = {"settings": configured, "pool": db}
    await mqtt.start(ctx)
    try:
        port = int(broker.rsplit(":", 1)[1])
        async with aiomqtt.Client("127.0.0.1", port) as publisher:
            for attempt in range(100):
                # the worker subscribes in the background: publish until it has taken one in
                doc = tts(device, attempt, datetime.now(UTC) - timedelta(seconds=100 - attempt), 150)
                await publisher.publish("v3/hub@ttn/devices/pegel/up", json.dumps(doc).encode(), qos=1)
                await asyncio.sleep(0.1)
                stored = await db.fetchval(
                    "SELECT count(*) FROM sensor_observations WHERE sensor_id = $1", uuid.UUID(sensor["id"])
                )
                if stored:
                    break
        assert stored >= 1
    finally:
        await mqtt.stop(ctx)
    assert "mqtt_task" not in ctx
    await mqtt.stop(ctx)
