"""SQL of the sensors package; every function takes the connection first and returns Structs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

SENSOR_COLUMNS = """
    s.id, s.name_fr, s.name_de, s.kind, s.unit, s.municipality_code, s.lat, s.lon, s.expected_interval_s,
    s.owner_user_id, s.owner_partner_id, s.source, s.licence, s.river, s.device_eui, s.station_id, s.poller,
    s.payload_field, s.valid_min, s.valid_max, s.gateway_id, s.battery, s.created_at
"""


class SensorRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name_fr: str | None
    name_de: str | None
    kind: str
    unit: str
    municipality_code: str
    lat: float
    lon: float
    expected_interval_s: int
    owner_user_id: uuid.UUID | None
    owner_partner_id: uuid.UUID | None
    source: str
    licence: str
    river: str | None
    device_eui: str | None
    station_id: str | None
    poller: str | None
    payload_field: str
    valid_min: float | None
    valid_max: float | None
    gateway_id: str | None
    battery: float | None
    created_at: datetime


class LatestRow(msgspec.Struct, frozen=True):
    sensor_id: uuid.UUID
    observed_at: datetime
    value: float
    quality: int


class Point(msgspec.Struct, frozen=True, array_like=True):
    observed_at: datetime
    value: float
    quality: int


class RuleRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    sensor_id: uuid.UUID
    levels: list[dict[str, Any]]
    no_data_after_s: int | None
    rise_per_hour: float | None
    stuck_after_s: int | None
    audience_municipality_codes: list[str]
    audience_community_id: uuid.UUID | None
    template_fr: str | None
    template_de: str | None
    heat: bool
    enabled: bool
    created_by: uuid.UUID | None
    created_at: datetime
    status: str
    level: int
    candidate: int
    candidate_since: datetime | None
    recovering_since: datetime | None
    incident_started_at: datetime | None
    before_no_data: str
    last_seen: datetime | None
    last_value: float | None
    value_since: datetime | None
    stuck: bool
    rising: bool
    updated_at: datetime


class EventRow(msgspec.Struct, frozen=True):
    rule_id: uuid.UUID
    kind: str
    level: int
    value: float | None
    at: datetime
    duration_s: int | None
    notification_id: uuid.UUID | None


class InForce(msgspec.Struct, frozen=True):
    """A rule of a sensor that is firing (or recovering) now, with its levels to name the one held."""

    rule_id: uuid.UUID
    sensor_id: uuid.UUID
    levels: list[dict[str, Any]]
    status: str
    level: int
    incident_started_at: datetime | None
    last_value: float | None


class CsvRow(msgspec.Struct, frozen=True, array_like=True):
    sensor_id: uuid.UUID
    observed_at: datetime
    value: float
    quality: int


def _sensor(row: asyncpg.Record | None) -> SensorRow | None:
    return None if row is None else SensorRow(**dict(row))


def _rule(row: asyncpg.Record | None) -> RuleRow | None:
    if row is None:
        return None
    values = dict(row)
    values["levels"] = msgspec.json.decode(values["levels"])
    values["audience_municipality_codes"] = list(values["audience_municipality_codes"])
    return RuleRow(**values)


# -- sensors ---------------------------------------------------------------------------------------------------


async def insert_sensor(conn: asyncpg.Connection, values: dict[str, Any]) -> SensorRow:
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    row = await conn.fetchrow(
        f"INSERT INTO sensors AS s ({', '.join(columns)}) VALUES ({placeholders}) RETURNING {SENSOR_COLUMNS}",
        *values.values(),
    )
    sensor = _sensor(row)
    assert sensor is not None
    return sensor


async def sensor(conn: asyncpg.Connection, sensor_id: uuid.UUID) -> SensorRow | None:
    return _sensor(await conn.fetchrow(f"SELECT {SENSOR_COLUMNS} FROM sensors s WHERE s.id = $1", sensor_id))


async def sensor_by_eui(conn: asyncpg.Connection, eui: str) -> SensorRow | None:
    return _sensor(
        await conn.fetchrow(f"SELECT {SENSOR_COLUMNS} FROM sensors s WHERE s.device_eui = $1", eui.upper())
    )


async def polled_sensors(conn: asyncpg.Connection) -> list[SensorRow]:
    rows = await conn.fetch(
        f"SELECT {SENSOR_COLUMNS} FROM sensors s WHERE s.poller IS NOT NULL AND s.station_id IS NOT NULL ORDER BY s.id"
    )
    return [SensorRow(**dict(r)) for r in rows]


async def sensors_in(conn: asyncpg.Connection, municipality_code: str | None) -> list[SensorRow]:
    rows = await conn.fetch(
        f"""
        SELECT {SENSOR_COLUMNS} FROM sensors s
        WHERE $1::text IS NULL OR s.municipality_code = $1
        ORDER BY s.municipality_code, coalesce(s.name_fr, s.name_de), s.id
        """,
        municipality_code,
    )
    return [SensorRow(**dict(r)) for r in rows]


async def sensors_on_rivers(conn: asyncpg.Connection, rivers: Sequence[str]) -> list[SensorRow]:
    rows = await conn.fetch(
        f"SELECT {SENSOR_COLUMNS} FROM sensors s WHERE s.river = ANY($1::text[]) ORDER BY s.lon, s.id",
        list(rivers),
    )
    return [SensorRow(**dict(r)) for r in rows]


async def set_link_state(
    conn: asyncpg.Connection, sensor_id: uuid.UUID, *, gateway_id: str | None, battery: float | None
) -> None:
    await conn.execute(
        "UPDATE sensors SET gateway_id = coalesce($2, gateway_id), battery = coalesce($3, battery) WHERE id = $1",
        sensor_id,
        gateway_id,
        battery,
    )


async def municipality_names(conn: asyncpg.Connection, codes: Sequence[str]) -> dict[str, tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT code, name_fr, name_de FROM municipalities WHERE code = ANY($1::text[])", list(codes)
    )
    return {r["code"]: (r["name_fr"] or r["name_de"], r["name_de"] or r["name_fr"]) for r in rows}


async def insert_observations(
    conn: asyncpg.Connection, sensor_id: uuid.UUID, points: Sequence[Point]
) -> list[Point]:
    """Store readings; one already stored at the same instant is a replay and is left as it is."""
    rows = await conn.fetch(
        """
        INSERT INTO sensor_observations (sensor_id, observed_at, value, quality)
        SELECT $1, t.observed_at, t.value, t.quality
        FROM unnest($2::timestamptz[], $3::float8[], $4::int2[]) AS t (observed_at, value, quality)
        ORDER BY t.observed_at
        ON CONFLICT (sensor_id, observed_at) DO NOTHING
        RETURNING observed_at, value, quality
        """,
        sensor_id,
        [p.observed_at for p in points],
        [p.value for p in points],
        [p.quality for p in points],
    )
    return sorted(
        (Point(r["observed_at"], r["value"], r["quality"]) for r in rows), key=lambda p: p.observed_at
    )


async def claim_uplink(conn: asyncpg.Connection, key: str) -> bool:
    """True the first time an uplink is seen; a replay (same device and frame, same deduplication id) is False."""
    inserted = await conn.fetchval(
        "INSERT INTO sensor_uplinks (key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true", key
    )
    return bool(inserted)


async def forget_uplinks(conn: asyncpg.Connection, before: datetime) -> int:
    status: str = await conn.execute("DELETE FROM sensor_uplinks WHERE received_at < $1", before)
    return int(status.split()[-1])


async def value_at_or_before(
    conn: asyncpg.Connection, sensor_id: uuid.UUID, at: datetime
) -> tuple[datetime, float] | None:
    row = await conn.fetchrow(
        """
        SELECT observed_at, value FROM sensor_observations
        WHERE sensor_id = $1 AND observed_at <= $2 AND quality = 0
        ORDER BY observed_at DESC LIMIT 1
        """,
        sensor_id,
        at,
    )
    return None if row is None else (row["observed_at"], row["value"])


async def latest(conn: asyncpg.Connection, sensor_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LatestRow]:
    rows = await conn.fetch(
        """
        SELECT s.id AS sensor_id, o.observed_at, o.value, o.quality
        FROM unnest($1::uuid[]) AS s (id)
        CROSS JOIN LATERAL (
            SELECT observed_at, value, quality FROM sensor_observations
            WHERE sensor_id = s.id ORDER BY observed_at DESC LIMIT 1
        ) o
        """,
        list(sensor_ids),
    )
    return {r["sensor_id"]: LatestRow(**dict(r)) for r in rows}


async def series(
    conn: asyncpg.Connection, sensor_id: uuid.UUID, since: datetime, until: datetime | None = None
) -> list[Point]:
    rows = await conn.fetch(
        """
        SELECT observed_at, value, quality FROM sensor_observations
        WHERE sensor_id = $1 AND observed_at >= $2 AND ($3::timestamptz IS NULL OR observed_at < $3)
        ORDER BY observed_at
        """,
        sensor_id,
        since,
        until,
    )
    return [Point(r["observed_at"], r["value"], r["quality"]) for r in rows]


async def data_version(
    conn: asyncpg.Connection, sensor_id: uuid.UUID | None, since: datetime | None, until: datetime | None
) -> tuple[int, datetime | None]:
    """Count and newest instant of the readings a download covers: its ETag changes when they do."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS n, max(observed_at) AS newest FROM sensor_observations
        WHERE ($1::uuid IS NULL OR sensor_id = $1)
          AND ($2::timestamptz IS NULL OR observed_at >= $2)
          AND ($3::timestamptz IS NULL OR observed_at < $3)
        """,
        sensor_id,
        since,
        until,
    )
    assert row is not None
    return int(row["n"]), row["newest"]


async def stream_observations(
    conn: asyncpg.Connection,
    sensor_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    batch: int = 2000,
) -> AsyncIterator[list[CsvRow]]:
    """Readings in time order, in batches, from a server-side cursor (the caller holds a transaction)."""
    cursor = await conn.cursor(
        """
        SELECT sensor_id, observed_at, value, quality FROM sensor_observations
        WHERE ($1::uuid IS NULL OR sensor_id = $1)
          AND ($2::timestamptz IS NULL OR observed_at >= $2)
          AND ($3::timestamptz IS NULL OR observed_at < $3)
        ORDER BY observed_at, sensor_id
        """,
        sensor_id,
        since,
        until,
    )
    while True:
        rows = await cursor.fetch(batch)
        if not rows:
            return
        yield [CsvRow(r["sensor_id"], r["observed_at"], r["value"], r["quality"]) for r in rows]


async def sensors_version(conn: asyncpg.Connection) -> tuple[int, datetime | None]:
    row = await conn.fetchrow("SELECT count(*) AS n, max(created_at) AS newest FROM sensors")
    assert row is not None
    return int(row["n"]), row["newest"]


# -- ingest keys -----------------------------------------------------------------------------------------------


async def insert_ingest_key(
    conn: asyncpg.Connection, *, label: str, prefix: str, secret_hash: bytes, created_by: uuid.UUID
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO sensor_ingest_keys (label, prefix, secret_hash, created_by) VALUES ($1, $2, $3, $4)
        RETURNING id, label, prefix, created_at
        """,
        label,
        prefix,
        secret_hash,
        created_by,
    )
    assert row is not None
    return row


async def ingest_key_valid(conn: asyncpg.Connection, secret_hash: bytes) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM sensor_ingest_keys WHERE secret_hash = $1 AND revoked_at IS NULL", secret_hash
    )
    return bool(found)


# -- rules -----------------------------------------------------------------------------------------------------

RULE_COLUMNS = """
    id, sensor_id, levels, no_data_after_s, rise_per_hour, stuck_after_s, audience_municipality_codes,
    audience_community_id, template_fr, template_de, heat, enabled, created_by, created_at, status, level,
    candidate, candidate_since, recovering_since, incident_started_at, before_no_data, last_seen, last_value,
    value_since, stuck, rising, updated_at
"""


async def insert_rule(conn: asyncpg.Connection, values: dict[str, Any]) -> RuleRow:
    values = {**values, "levels": msgspec.json.encode(values["levels"]).decode()}
    columns = list(values)
    placeholders = ", ".join(
        f"${i}::jsonb" if c == "levels" else f"${i}" for i, c in enumerate(columns, start=1)
    )
    row = await conn.fetchrow(
        f"INSERT INTO sensor_rules ({', '.join(columns)}) VALUES ({placeholders}) RETURNING {RULE_COLUMNS}",
        *values.values(),
    )
    rule = _rule(row)
    assert rule is not None
    return rule


async def rule(conn: asyncpg.Connection, sensor_id: uuid.UUID, rule_id: uuid.UUID) -> RuleRow | None:
    return _rule(
        await conn.fetchrow(
            f"SELECT {RULE_COLUMNS} FROM sensor_rules WHERE id = $1 AND sensor_id = $2", rule_id, sensor_id
        )
    )


async def rules_of_sensor_locked(conn: asyncpg.Connection, sensor_id: uuid.UUID) -> list[RuleRow]:
    """The sensor's enabled rules, locked until the transaction ends: two workers never apply one twice."""
    rows = await conn.fetch(
        f"""
        SELECT {RULE_COLUMNS} FROM sensor_rules
        WHERE sensor_id = $1 AND enabled ORDER BY id FOR UPDATE
        """,
        sensor_id,
    )
    return [r for r in map(_rule, rows) if r is not None]


async def silent_rules_locked(conn: asyncpg.Connection, now: datetime, limit: int) -> list[RuleRow]:
    """Enabled rules whose sensor has been silent past their limit; rows another worker holds are skipped."""
    rows = await conn.fetch(
        f"""
        SELECT {RULE_COLUMNS} FROM sensor_rules
        WHERE enabled AND status <> 'no_data' AND no_data_after_s IS NOT NULL
          AND coalesce(last_seen, created_at) + make_interval(secs => no_data_after_s) <= $1
        ORDER BY sensor_id, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
        """,
        now,
        limit,
    )
    return [r for r in map(_rule, rows) if r is not None]


async def save_state(conn: asyncpg.Connection, rule_id: uuid.UUID, state: dict[str, Any]) -> None:
    columns = list(state)
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
    await conn.execute(
        f"UPDATE sensor_rules SET {assignments}, updated_at = now() WHERE id = $1", rule_id, *state.values()
    )


async def insert_event(
    conn: asyncpg.Connection,
    rule_id: uuid.UUID,
    *,
    kind: str,
    level: int,
    value: float | None,
    at: datetime,
    duration_s: int | None,
    notification_id: uuid.UUID | None,
) -> None:
    await conn.execute(
        """
        INSERT INTO sensor_rule_events (rule_id, kind, level, value, at, duration_s, notification_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        rule_id,
        kind,
        level,
        value,
        at,
        duration_s,
        notification_id,
    )


async def events_of(conn: asyncpg.Connection, rule_id: uuid.UUID, limit: int = 50) -> list[EventRow]:
    rows = await conn.fetch(
        """
        SELECT rule_id, kind, level, value, at, duration_s, notification_id FROM sensor_rule_events
        WHERE rule_id = $1 ORDER BY at DESC, id DESC LIMIT $2
        """,
        rule_id,
        limit,
    )
    return [EventRow(**dict(r)) for r in rows]


async def in_force(conn: asyncpg.Connection, sensor_ids: Sequence[uuid.UUID]) -> list[InForce]:
    rows = await conn.fetch(
        """
        SELECT id AS rule_id, sensor_id, levels, status, level, incident_started_at, last_value
        FROM sensor_rules
        WHERE sensor_id = ANY($1::uuid[]) AND enabled AND level >= 0
          AND status IN ('firing', 'recovering', 'no_data')
        ORDER BY incident_started_at DESC NULLS LAST
        """,
        list(sensor_ids),
    )
    return [InForce(**{**dict(r), "levels": msgspec.json.decode(r["levels"])}) for r in rows]


# -- audiences -------------------------------------------------------------------------------------------------


async def hub_admins(conn: asyncpg.Connection) -> list[uuid.UUID]:
    return [r["id"] for r in await conn.fetch("SELECT id FROM users WHERE is_admin ORDER BY id")]


# -- official gauges -------------------------------------------------------------------------------------------


class PollRow(msgspec.Struct, frozen=True):
    url: str
    etag: str | None
    last_modified: str | None
    failures: int
    next_at: datetime


async def poll_state(conn: asyncpg.Connection, url: str) -> PollRow | None:
    row = await conn.fetchrow(
        "SELECT url, etag, last_modified, failures, next_at FROM sensor_polls WHERE url = $1", url
    )
    return None if row is None else PollRow(**dict(row))


async def save_poll(
    conn: asyncpg.Connection,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    failures: int,
    next_at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO sensor_polls (url, etag, last_modified, failures, next_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (url) DO UPDATE SET etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified,
            failures = EXCLUDED.failures, next_at = EXCLUDED.next_at
        """,
        url,
        etag,
        last_modified,
        failures,
        next_at,
    )
