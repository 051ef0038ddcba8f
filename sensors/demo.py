"""Demo data for `hub dev`: two Blies gauges, in Sarreguemines and in Gersheim, with three days of readings."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import asyncpg

from sensors import queries, service

DEMO_EUI = ("70B3D57ED0061A2B", "A84041000181C2D7")
STEP = timedelta(minutes=15)
DAYS = 3


def _level(hours_ago: float, base: float, crest: float) -> float:
    """A flood wave cresting six hours ago, with a small daily ripple."""
    wave = crest * math.exp(-(((hours_ago - 6) / 14) ** 2))
    return round(base + wave + 3 * math.sin(hours_ago / 24 * 2 * math.pi), 1)


async def seed(conn: asyncpg.Connection, now: datetime | None = None) -> None:
    """Create the gauges, a vigilance rule and their readings, unless the first gauge exists already."""
    if await queries.sensor_by_eui(conn, DEMO_EUI[0]) is not None:
        return
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    gauges = [
        (
            DEMO_EUI[0],
            "57631",
            "Blies à Sarreguemines",
            "Blies in Saargemünd",
            (49.1099, 7.0684),
            "Ville de Sarreguemines",
            118.0,
            142.0,
        ),
        (
            DEMO_EUI[1],
            "10045113",
            "Blies à Gersheim",
            "Blies in Gersheim",
            (49.1491, 7.2043),
            "Saarpfalz-Kreis",
            104.0,
            131.0,
        ),
    ]
    for eui, code, name_fr, name_de, (lat, lon), source, base, crest in gauges:
        sensor = await queries.insert_sensor(
            conn,
            {
                "name_fr": name_fr,
                "name_de": name_de,
                "kind": "water_level",
                "unit": "cm",
                "municipality_code": code,
                "lat": lat,
                "lon": lon,
                "expected_interval_s": int(STEP.total_seconds()),
                "source": source,
                "licence": "Licence Ouverte 2.0" if code.isdigit() and len(code) == 5 else "dl-de/by-2-0",
                "river": "Blies",
                "device_eui": eui,
                "valid_min": 0.0,
                "valid_max": 900.0,
            },
        )
        await queries.insert_rule(
            conn,
            {
                "sensor_id": sensor.id,
                "levels": [
                    {"name": "yellow", "direction": "above", "value": 200.0, "clear_at": 190.0, "for_s": 900},
                    {"name": "orange", "direction": "above", "value": 240.0, "clear_at": 230.0, "for_s": 900},
                    {"name": "red", "direction": "above", "value": 300.0, "clear_at": 290.0, "for_s": 900},
                ],
                "no_data_after_s": 3 * int(STEP.total_seconds()),
                "audience_municipality_codes": [code],
            },
        )
        count = int(timedelta(days=DAYS) / STEP)
        points = [
            queries.Point(now - STEP * i, _level((STEP * i).total_seconds() / 3600, base, crest), 0)
            for i in range(count, -1, -1)
        ]
        await service.ingest_points(conn, sensor, points, now)
