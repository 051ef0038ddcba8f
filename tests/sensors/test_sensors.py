"""Sensors end to end: a Blies gauge on a TTS webhook alerts its municipality once per level, in each reader's
language, with one all-clear; ChirpStack and partner readings; silence, stuck values, two workers; open data."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hub.db import transaction
from hub.settings import Settings
from sensors import service
from tests.conftest import Servers, SignedIn, UserFactory
from tests.messaging.test_delivery import drain

Client = AsyncTestClient[Litestar]
FIXTURES = Path(__file__).parent.parent / "fixtures" / "sensors"
SARREGUEMINES = "57631"
GERSHEIM = "10045113"

#: a flood wave on the Blies: rise through yellow, orange and red, a plateau with noise around the red
#: limit, then the fall below every clear level (minutes from the start, centimetres)
HYDROGRAPH: list[tuple[int, float]] = [
    (0, 150),
    (10, 152),
    (20, 160),
    (30, 185),
    (40, 204),
    (50, 212),
    (60, 226),  # yellow reached at 40, held 10 minutes at 50: fires
    (70, 244),
    (80, 251),
    (90, 258),  # orange reached at 80, confirmed at 90
    (100, 279),
    (110, 301),
    (120, 306),  # red at 110, confirmed at 120
    (130, 297),
    (140, 303),
    (150, 294),
    (160, 305),
    (170, 299),
    (180, 292),  # noise around 300, above 290
    (190, 270),
    (200, 246),
    (210, 233),
    (220, 212),
    (230, 196),  # falling, no all-clear while above 190
    (240, 186),
    (250, 181),
    (260, 170),
    (270, 160),  # under yellow's clear level at 240: recovering, all-clear at 250
]
VIGILANCE_LEVELS = [
    {"name": "yellow", "above": 200, "clear_at": 190, "for_s": 600},
    {"name": "orange", "above": 250, "clear_at": 240, "for_s": 600},
    {"name": "red", "above": 300, "clear_at": 290, "for_s": 600},
]


def eui() -> str:
    return secrets.token_hex(8).upper()


def tts(
    dev_eui: str, f_cnt: int, at: datetime, level: float, gateway: str = "gw-sarreguemines-mairie"
) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / "tts_uplink.json").read_text())
    stamp = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    doc["end_device_ids"]["dev_eui"] = dev_eui
    doc["received_at"] = stamp
    up = doc["uplink_message"]
    up["f_cnt"] = f_cnt
    up["received_at"] = stamp
    up["decoded_payload"]["water_level"] = level
    up["rx_metadata"][0]["gateway_ids"]["gateway_id"] = gateway
    return doc


def chirpstack(kind: str, dev_eui: str, at: datetime, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / f"chirpstack_{kind}.json").read_text())
    doc["deduplicationId"] = str(uuid.uuid4())
    doc["time"] = at.isoformat()
    doc["deviceInfo"]["devEui"] = dev_eui.lower()
    doc.update(changes)
    return doc


async def hub_admin(make_user: UserFactory, db: asyncpg.Pool) -> SignedIn:
    admin = await make_user()
    await db.execute("UPDATE users SET is_admin = true WHERE id = $1", uuid.UUID(admin.id))
    return admin


async def ingest_key(client: Client, admin: SignedIn) -> dict[str, str]:
    r = await client.post(
        "/v1/sensors/ingest-keys", json={"label": "TTS Sarreguemines"}, headers=admin.headers
    )
    assert r.status_code == 201, r.text
    return {"X-Hub-Ingest-Key": r.json()["key"]}


def sensor_body(device_eui: str | None, code: str = SARREGUEMINES, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": {"fr": "Blies à Sarreguemines", "de": "Blies in Saargemünd"},
        "kind": "water_level",
        "unit": "cm",
        "municipality_code": code,
        "location": {"lat": 49.1099, "lon": 7.0684},
        "expected_interval_s": 600,
        "source": "Ville de Sarreguemines",
        "licence": "Licence Ouverte 2.0",
        "river": "Blies",
        "payload_field": "water_level",
        "valid_min": 0,
        "valid_max": 900,
    }
    if device_eui:
        body["device_eui"] = device_eui
    body.update(changes)
    return body


async def new_sensor(
    client: Client, admin: SignedIn, device_eui: str | None, **changes: Any
) -> dict[str, Any]:
    r = await client.post("/v1/sensors", json=sensor_body(device_eui, **changes), headers=admin.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def new_rule(client: Client, admin: SignedIn, sensor_id: str, **rule: Any) -> dict[str, Any]:
    body = {"levels": VIGILANCE_LEVELS, "no_data_after_s": 1800, **rule}
    r = await client.post(f"/v1/sensors/{sensor_id}/rules", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def alerts_of(db: asyncpg.Pool, rule_id: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            """
            SELECT n.kind, n.priority, n.content -> 'title' ->> 'fr' AS title_fr,
                   n.content -> 'title' ->> 'de' AS title_de, n.content -> 'body' ->> 'fr' AS body_fr,
                   n.content -> 'body' ->> 'de' AS body_de, n.audience_user_ids
            FROM sensor_rule_events e JOIN notifications n ON n.id = e.notification_id
            WHERE e.rule_id = $1 ORDER BY e.id
            """,
            uuid.UUID(rule_id),
        )
    )


async def send_tts(
    client: Client, key: dict[str, str], dev_eui: str, readings: Sequence[tuple[int, float]], start: datetime
) -> None:
    for minute, level in readings:
        r = await client.post(
            "/v1/ingest/ttn", json=tts(dev_eui, minute, start + timedelta(minutes=minute), level), headers=key
        )
        assert r.status_code == 200, r.text


async def test_blies_flood_through_tts_alerts_each_level_once_and_one_all_clear_in_each_language(
    client: Client, db: asyncpg.Pool, make_user: UserFactory, settings: Settings, servers: Servers
) -> None:
    admin = await hub_admin(make_user, db)
    key = await ingest_key(client, admin)
    french = await make_user(locale="fr", municipality_code=SARREGUEMINES)
    german = await make_user(locale="de", municipality_code=SARREGUEMINES)
    elsewhere = await make_user(locale="fr", municipality_code="57089")
    device = eui()
    sensor = await new_sensor(client, admin, device)
    rule = await new_rule(
        client,
        admin,
        sensor["id"],
        message={
            "fr": "Crue de la Blies à {place} : {value} {unit}, niveau {level}, {trend}.",
            "de": "Hochwasser der Blies in {place}: {value} {unit}, Stufe {level}, {trend}.",
        },
    )
    start = datetime.now(UTC) - timedelta(hours=6)

    await send_tts(client, key, device, HYDROGRAPH[:13], start)
    state = (await client.get(f"/v1/sensors/{sensor['id']}/rules/{rule['id']}", headers=admin.headers)).json()
    assert state["state"]["status"] == "firing"
    assert state["state"]["level"] == "red"
    await send_tts(client, key, device, HYDROGRAPH[13:19], start)  # the noisy plateau
    assert len(await alerts_of(db, rule["id"])) == 3
    await send_tts(client, key, device, HYDROGRAPH[19:], start)
    # The network server retries: nothing is taken twice.
    await send_tts(client, key, device, HYDROGRAPH[-3:], start)

    alerts = await alerts_of(db, rule["id"])
    assert [(a["title_fr"], a["priority"]) for a in alerts] == [
        ("Blies à Sarreguemines : niveau jaune", "info"),
        ("Blies à Sarreguemines : niveau orange", "important"),
        ("Blies à Sarreguemines : niveau rouge", "urgent"),
        ("Blies à Sarreguemines : retour à la normale", "info"),
    ]
    assert alerts[1]["title_de"] == "Blies in Saargemünd: Stufe Orange"
    assert alerts[1]["body_fr"] == "Crue de la Blies à Sarreguemines : 258 cm, niveau orange, en hausse."
    assert alerts[1]["body_de"] == "Hochwasser der Blies in Saargemünd: 258 cm, Stufe Orange, steigend."
    assert alerts[3]["body_de"].startswith(
        "Der Messwert in Saargemünd ist wieder normal (181 cm); der Alarm dauerte"
    )
    people = set(alerts[0]["audience_user_ids"])
    assert {uuid.UUID(french.id), uuid.UUID(german.id)} <= people
    assert uuid.UUID(elsewhere.id) not in people
    stored = await db.fetchval(
        "SELECT count(*) FROM sensor_observations WHERE sensor_id = $1", uuid.UUID(sensor["id"])
    )
    assert stored == len(HYDROGRAPH)

    await drain(settings, servers)
    for reader, title in (
        (french, "Blies à Sarreguemines : niveau orange"),
        (german, "Blies in Saargemünd: Stufe Orange"),
    ):
        inbox = (await client.get("/v1/me/notifications", headers=reader.headers)).json()["items"]
        titles = [item["title"]["text"] for item in inbox if item["kind"] == "sensor_alert"]
        assert titles.count(title) == 1
        assert len(titles) == 4
    final = (await client.get(f"/v1/sensors/{sensor['id']}/rules/{rule['id']}", headers=admin.headers)).json()
    assert final["state"]["status"] == "normal"
    assert [e["kind"] for e in reversed(final["history"])] == ["fire", "escalate", "escalate", "all_clear"]


async def test_chirpstack_up_and_status_events_feed_a_gauge_and_its_battery(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await hub_admin(make_user, db)
    key = await ingest_key(client, admin)
    device = eui()
    sensor = await new_sensor(
        client, admin, device, municipality_code=GERSHEIM, name={"de": "Blies in Gersheim"}
    )
    rule = await new_rule(client, admin, sensor["id"], levels=VIGILANCE_LEVELS[1:2])
    start = datetime.now(UTC) - timedelta(hours=2)
    for minute, level in [(0, 230), (10, 252), (20, 255), (30, 247), (40, 236), (50, 230)]:
        body = chirpstack("up", device, start + timedelta(minutes=minute), object={"water_level": level})
        r = await client.post("/v1/ingest/chirpstack", params={"event": "up"}, json=body, headers=key)
        assert r.status_code == 200, r.text
        replay = await client.post("/v1/ingest/chirpstack", params={"event": "up"}, json=body, headers=key)
        assert replay.json() == {"accepted": 0, "duplicates": 1, "doubtful": 0}
    status = chirpstack("status", device, start + timedelta(minutes=55))
    r = await client.post("/v1/ingest/chirpstack", params={"event": "status"}, json=status, headers=key)
    assert r.status_code == 200, r.text
    r = await client.post("/v1/ingest/chirpstack", params={"event": "join"}, json=status, headers=key)
    assert r.json()["accepted"] == 0

    alerts = await alerts_of(db, rule["id"])
    assert [a["title_de"] for a in alerts] == [
        "Blies in Gersheim: Stufe Orange",
        "Blies in Gersheim: wieder normal",
    ]
    # French readers get the German name, marked as such by the messaging pipeline.
    assert alerts[0]["title_fr"] == "Blies in Gersheim : niveau orange"
    seen = (await client.get(f"/v1/sensors/{sensor['id']}", params={"lang": "de"})).json()
    assert seen["battery"] == 82.0
    assert seen["latest"]["value"] == 230.0
    assert seen["name"] == {"text": "Blies in Gersheim", "lang": "de", "fallback": False, "simple": None}
    listed = (await client.get("/v1/sensors", params={"municipality": GERSHEIM, "lang": "fr"})).json()[
        "items"
    ]
    mine = next(item for item in listed if item["id"] == sensor["id"])
    assert mine["name"]["fallback"] is True
    assert {item["municipality_code"] for item in listed} == {GERSHEIM}
    bad = await client.get("/v1/sensors", params={"municipality": "Gersheim"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")


async def test_partner_key_with_sensors_write_feeds_its_own_sensor_only(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await hub_admin(make_user, db)
    r = await client.post(
        "/v1/communities",
        json={
            "name": {"de": "Hochwasserhilfe Blies"},
            "municipality_codes": [GERSHEIM],
            "visibility": "public",
            "join_policy": "open",
            "kind": "association",
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    community = r.json()["id"]
    pid = (
        await client.post(
            "/v1/partners",
            json={"name": "Saarpfalz-Kreis", "kind": "municipality", "language": "de"},
            headers=admin.headers,
        )
    ).json()["id"]
    issued = await client.post(
        f"/v1/partners/{pid}/keys",
        json={"scopes": ["sensors:write"], "community_ids": [community]},
        headers=admin.headers,
    )
    assert issued.status_code == 201, issued.text
    partner = {"Authorization": f"Bearer {issued.json()['key']}"}
    events_only = await client.post(
        f"/v1/partners/{pid}/keys",
        json={"scopes": ["events:write"], "community_ids": [community]},
        headers=admin.headers,
    )
    other_partner = {"Authorization": f"Bearer {events_only.json()['key']}"}

    r = await client.post(
        "/v1/sensors", json=sensor_body(None, GERSHEIM, kind="rain", unit="mm"), headers=partner
    )
    assert r.status_code == 201, r.text
    assert r.json()["owner"] == "partner"
    own = r.json()["id"]
    assert (
        await client.post("/v1/sensors", json=sensor_body(None), headers=other_partner)
    ).status_code == 403
    hub_owned = await new_sensor(client, admin, None)

    now = datetime.now(UTC).replace(microsecond=0)
    readings = [
        {"value": 1.5, "observed_at": (now - timedelta(minutes=10)).isoformat()},
        {"value": 2000, "observed_at": now.isoformat()},
    ]
    r = await client.post(f"/v1/sensors/{own}/observations", json=readings, headers=partner)
    assert r.status_code == 201, r.text
    assert r.json() == {"accepted": 2, "duplicates": 0, "doubtful": 1}  # 2000 mm is outside the valid range
    again = await client.post(f"/v1/sensors/{own}/observations", json=readings, headers=partner)
    assert again.json() == {"accepted": 0, "duplicates": 2, "doubtful": 0}
    assert (
        await client.post(f"/v1/sensors/{hub_owned['id']}/observations", json=readings, headers=partner)
    ).status_code == 404
    assert (await client.post(f"/v1/sensors/{own}/observations", json=readings)).status_code == 401
    citizen = await make_user()
    assert (
        await client.post("/v1/sensors", json=sensor_body(None), headers=citizen.headers)
    ).status_code == 403
    assert (
        await client.post(
            f"/v1/sensors/{own}/rules", json={"levels": VIGILANCE_LEVELS}, headers=citizen.headers
        )
    ).status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "body", "status", "code"),
    [
        ("/v1/ingest/ttn", {}, b"not json", 422, "invalid_payload"),
        (
            "/v1/ingest/ttn",
            {},
            b'{"end_device_ids": {"device_id": "x"}, "received_at": "2026-11-20T09:00:00Z"}',
            422,
            "invalid_payload",
        ),
        ("/v1/ingest/chirpstack", {"event": "up"}, b"[]", 422, "invalid_payload"),
        ("/v1/ingest/chirpstack", {"event": "reboot"}, b"{}", 400, "unsupported_event"),
    ],
)
async def test_garbage_on_the_webhooks_is_a_problem_in_the_callers_language(
    client: Client,
    db: asyncpg.Pool,
    make_user: UserFactory,
    path: str,
    params: dict[str, str],
    body: bytes,
    status: int,
    code: str,
) -> None:
    admin = await hub_admin(make_user, db)
    key = await ingest_key(client, admin)
    r = await client.post(
        path,
        params={**params, "lang": "de"},
        content=body,
        headers={**key, "Content-Type": "application/json"},
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    unknown = tts(eui(), 1, datetime.now(UTC), 100)
    r = await client.post("/v1/ingest/ttn", json=unknown, headers=key)
    assert (r.status_code, r.json()["code"]) == (404, "unknown_device")
    r = await client.post(
        "/v1/ingest/ttn", json=unknown, headers={"X-Hub-Ingest-Key": "hubs_wrong", "Accept-Language": "de"}
    )
    assert (r.status_code, r.json()["title"]) == (401, "Einlieferungsschlüssel erforderlich")


async def test_rule_input_is_checked(client: Client, db: asyncpg.Pool, make_user: UserFactory) -> None:
    admin = await hub_admin(make_user, db)
    sensor = await new_sensor(client, admin, None)
    bad = [
        {"levels": [{"name": "orange", "above": 250, "below": 100, "clear_at": 240}]},
        {"levels": [{"name": "orange", "above": 250, "clear_at": 260}]},
        {"levels": [VIGILANCE_LEVELS[1], VIGILANCE_LEVELS[0]]},
        {"levels": []},
        {"levels": VIGILANCE_LEVELS, "message": {"fr": "Niveau {niveau}"}},
        {"levels": VIGILANCE_LEVELS, "audience": {"municipality_codes": ["99999"]}},
    ]
    for body in bad:
        r = await client.post(
            f"/v1/sensors/{sensor['id']}/rules", json=body, headers=admin.headers, params={"lang": "fr"}
        )
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] in ("invalid_field", "validation_error"), r.text


async def silent_pair(
    client: Client, admin: SignedIn, key: dict[str, str], gateway: str
) -> list[dict[str, Any]]:
    rules = []
    last = datetime.now(UTC) - timedelta(hours=2)
    for name in ("amont", "aval"):
        device = eui()
        sensor = await new_sensor(client, admin, device, name={"fr": f"Blies {name}"})
        rules.append(await new_rule(client, admin, sensor["id"]))
        r = await client.post("/v1/ingest/ttn", json=tts(device, 1, last, 150, gateway), headers=key)
        assert r.status_code == 200, r.text
    return rules


async def test_silent_station_fires_no_data_once_in_one_message_even_with_two_workers(
    client: Client, db: asyncpg.Pool, make_user: UserFactory, servers: Servers
) -> None:
    admin = await hub_admin(make_user, db)
    key = await ingest_key(client, admin)
    gateway = f"gw-{secrets.token_hex(4)}"
    rules = await silent_pair(client, admin, key, gateway)
    now = datetime.now(UTC)

    async def worker() -> int:
        async with transaction(db) as conn:
            return await service.watch_silence(conn, now)

    await asyncio.gather(worker(), worker())
    await worker()
    for rule in rules:
        events = await db.fetch(
            "SELECT kind FROM sensor_rule_events WHERE rule_id = $1", uuid.UUID(rule["id"])
        )
        assert [e["kind"] for e in events] == ["no_data"]
        assert (
            await client.get(f"/v1/sensors/{rule['sensor_id']}/rules/{rule['id']}", headers=admin.headers)
        ).json()["state"]["status"] == "no_data"
    told = await db.fetch(
        "SELECT content -> 'title' ->> 'fr' AS title_fr, content -> 'body' ->> 'fr' AS body_fr FROM notifications "
        "WHERE kind = 'sensor_maintenance' AND $1 = ANY(audience_user_ids)",
        uuid.UUID(admin.id),
    )
    assert len(told) == 1
    assert told[0]["title_fr"] == f"Station muette : {gateway}"
    assert told[0]["body_fr"].startswith("2 capteurs n’ont rien envoyé depuis le ")
    assert "Blies amont" in told[0]["body_fr"]
    assert "Blies aval" in told[0]["body_fr"]


async def test_a_sensor_that_never_reported_fires_no_data_from_the_timer(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await hub_admin(make_user, db)
    sensor = await new_sensor(client, admin, eui())
    rule = await new_rule(client, admin, sensor["id"])
    async with transaction(db) as conn:
        await service.watch_silence(conn, datetime.now(UTC) + timedelta(minutes=10))
    assert (
        await db.fetchval("SELECT status FROM sensor_rules WHERE id = $1", uuid.UUID(rule["id"]))
    ) == "normal"
    async with transaction(db) as conn:
        await service.watch_silence(conn, datetime.now(UTC) + timedelta(minutes=31))
    assert (
        await db.fetchval("SELECT status FROM sensor_rules WHERE id = $1", uuid.UUID(rule["id"]))
    ) == "no_data"


async def test_two_deliveries_of_one_uplink_at_once_store_and_alert_once(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await hub_admin(make_user, db)
    key = await ingest_key(client, admin)
    device = eui()
    sensor = await new_sensor(client, admin, device)
    rule = await new_rule(
        client, admin, sensor["id"], levels=[{"name": "red", "above": 300, "clear_at": 290}]
    )
    body = tts(device, 7, datetime.now(UTC) - timedelta(minutes=1), 320)
    answers = await asyncio.gather(*(client.post("/v1/ingest/ttn", json=body, headers=key) for _ in range(4)))
    assert sorted(a.json()["accepted"] for a in answers) == [0, 0, 0, 1]
    assert len(await alerts_of(db, rule["id"])) == 1


async def test_stuck_sensor_tells_whoever_set_the_rule(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await hub_admin(make_user, db)
    key = await ingest_key(client, admin)
    device = eui()
    sensor = await new_sensor(client, admin, device)
    rule = await new_rule(client, admin, sensor["id"], stuck_after_s=3600)
    start = datetime.now(UTC) - timedelta(hours=3)
    await send_tts(client, key, device, [(m, 142.0) for m in range(0, 100, 10)], start)
    told = await alerts_of(db, rule["id"])
    assert [(t["kind"], t["title_de"]) for t in told] == [
        ("sensor_maintenance", "Blies in Saargemünd: der Wert ändert sich nicht mehr")
    ]
    assert told[0]["audience_user_ids"] == [uuid.UUID(admin.id)]


async def test_dry_run_shows_what_a_rule_would_have_sent_over_the_history(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await hub_admin(make_user, db)
    key = await ingest_key(client, admin)
    device = eui()
    sensor = await new_sensor(client, admin, device)
    await send_tts(client, key, device, HYDROGRAPH, datetime.now(UTC) - timedelta(hours=6))
    r = await client.post(
        f"/v1/sensors/{sensor['id']}/rules/dry-run", json={"levels": VIGILANCE_LEVELS}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["observations"] == len(HYDROGRAPH)
    assert [(e["kind"], e["level"]) for e in r.json()["events"]] == [
        ("fire", "yellow"),
        ("escalate", "orange"),
        ("escalate", "red"),
        ("all_clear", "yellow"),
    ]
    assert (
        await db.fetchval("SELECT count(*) FROM sensor_rules WHERE sensor_id = $1", uuid.UUID(sensor["id"]))
        == 0
    )


async def test_open_data_geojson_and_streamed_csv_with_etags_and_licence(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await hub_admin(make_user, db)
    key = await ingest_key(client, admin)
    device = eui()
    sensor = await new_sensor(client, admin, device)
    start = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    await send_tts(client, key, device, HYDROGRAPH[:6], start)

    geo = await client.get("/v1/open-data/sensors.geojson")
    assert geo.status_code == 200
    assert geo.headers["content-type"].startswith("application/geo+json")
    feature = next(f for f in geo.json()["features"] if f["id"] == sensor["id"])
    assert feature["geometry"] == {"type": "Point", "coordinates": [7.0684, 49.1099]}
    assert feature["properties"]["licence"] == "Licence Ouverte 2.0"
    again = await client.get("/v1/open-data/sensors.geojson", headers={"If-None-Match": geo.headers["etag"]})
    assert again.status_code == 304

    params = {"sensor": sensor["id"], "from": "2026-11-20", "to": "2026-11-20"}
    r = await client.get("/v1/open-data/observations.csv", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-licence"] == "Licence Ouverte 2.0"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [float(row["value"]) for row in rows] == [v for _, v in HYDROGRAPH[:6]]
    assert rows[0]["observed_at"] == "2026-11-20T06:00:00Z"
    assert {row["licence"] for row in rows} == {"Licence Ouverte 2.0"}
    cached = await client.get(
        "/v1/open-data/observations.csv", params=params, headers={"If-None-Match": r.headers["etag"]}
    )
    assert cached.status_code == 304
    await send_tts(client, key, device, HYDROGRAPH[6:7], start)
    changed = await client.get(
        "/v1/open-data/observations.csv", params=params, headers={"If-None-Match": r.headers["etag"]}
    )
    assert changed.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(changed.text)))) == 7
    wrong = await client.get(
        "/v1/open-data/observations.csv", params={"from": "2026-11-21", "to": "2026-11-20", "lang": "de"}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "invalid_field")
    assert (
        await client.get("/v1/open-data/observations.csv", params={"from": "yesterday"})
    ).status_code == 422


async def test_dashboard_shows_latest_values_chart_alerts_and_sources_in_french_and_german(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await hub_admin(make_user, db)
    key = await ingest_key(client, admin)
    device, across = eui(), eui()
    sensor = await new_sensor(client, admin, device)
    await new_sensor(
        client,
        admin,
        across,
        municipality_code=GERSHEIM,
        name={"de": "Blies in Gersheim"},
        source="Saarpfalz-Kreis",
        licence="dl-de/by-2-0",
        unit="mm",
    )
    await new_rule(client, admin, sensor["id"])
    start = datetime.now(UTC) - timedelta(hours=5)
    await send_tts(client, key, device, HYDROGRAPH[:10], start)
    await send_tts(client, key, across, [(m, v * 10) for m, v in HYDROGRAPH[:10]], start)

    fr = await client.get(f"/dashboard/{SARREGUEMINES}", params={"lang": "fr"})
    assert fr.status_code == 200
    assert fr.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in fr.text
    assert "Capteurs à Sarreguemines" in fr.text
    assert "Blies à Sarreguemines : niveau orange depuis le" in fr.text
    assert "<svg" in fr.text
    assert "La Blies des deux côtés de la frontière (hauteur d’eau en cm)" in fr.text
    assert "dl-de/by-2-0" in fr.text
    assert "<script" not in fr.text
    de = await client.get(f"/dashboard/{SARREGUEMINES}", params={"lang": "de"})
    assert '<html lang="de">' in de.text
    assert "Messstellen in Saargemünd" in de.text
    assert "Blies in Saargemünd: Stufe Orange seit" in de.text
    assert (await client.get("/dashboard/99999")).status_code == 404
