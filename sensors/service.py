"""Sensor use cases: sensors, ingestion, rules applied under a row lock, alerts handed to messaging."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from accounts.places import service as places
from communities.partners.models import PartnerKey
from hub.auth import CurrentUser
from hub.errors import (
    Forbidden,
    InvalidField,
    NotFound,
    checked_text,
)
from i18n.content import localize
from messaging.models import Audience, Priority
from messaging.service import notify
from official_warnings import service as official_warnings
from sensors import engine, ingest, queries, texts
from sensors.errors import (
    REASON_RANGE_ORDER,
    InvalidIngestKey,
    InvalidPayload,
    TooManyReadings,
    UnknownDevice,
)
from sensors.models import (
    IngestKey,
    IngestKeyIn,
    IngestResult,
    Latest,
    Location,
    ObservationIn,
    Sensor,
    SensorIn,
    SensorList,
)
from territory import service as territory

logger = logging.getLogger("sensors")

SCOPE = "sensors:write"
INGEST_KEY_PREFIX = "hubs_"
MAX_READINGS = 1000
NOTIFICATION_KIND = "sensor_alert"
#: how far back the rate of rise and the trend look
RATE_WINDOW = timedelta(hours=1)

Actor = CurrentUser | PartnerKey


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


# -- audiences: extension points --------------------------------------------------------------------------------


async def recipients_for_places(
    conn: asyncpg.Connection, municipality_codes: Sequence[str]
) -> list[uuid.UUID]:
    """The people to alert for these municipalities: those whose home is there, and those who follow one."""
    return await places.people_in_municipalities(conn, list(municipality_codes))


async def warnings_in_force(conn: asyncpg.Connection, municipality_code: str, locale: str) -> list[Any]:
    """Official warnings in force for a municipality, shown on its dashboard in the reader's language."""
    page = await official_warnings.warnings_in_force(conn, municipality=municipality_code, locale=locale)
    return list(page.items)


async def heat_recipients(conn: asyncpg.Connection, municipality_code: str) -> list[uuid.UUID]:
    """The staff of verified care providers serving seniors in a municipality (told once of heat)."""
    from care import service as care

    return await care.staff_serving(conn, municipality_code)


# -- sensors ---------------------------------------------------------------------------------------------------


def _may_write(actor: Actor) -> None:
    if isinstance(actor, CurrentUser):
        if not actor.is_admin:
            raise Forbidden()
    elif SCOPE not in actor.scopes:
        raise Forbidden()


def _owns(actor: Actor, sensor: queries.SensorRow) -> bool:
    if isinstance(actor, CurrentUser):
        return actor.is_admin
    return SCOPE in actor.scopes and sensor.owner_partner_id == actor.partner_id


async def _sensor_for_writer(
    conn: asyncpg.Connection, actor: Actor, sensor_id: uuid.UUID
) -> queries.SensorRow:
    """A sensor the caller may feed and configure; anything else is 404, as for what is not one's own."""
    sensor = await queries.sensor(conn, sensor_id)
    if sensor is None or not _owns(actor, sensor):
        raise NotFound()
    return sensor


def _view(row: queries.SensorRow, locale: str, latest: queries.LatestRow | None) -> Sensor:
    return Sensor(
        id=row.id,
        name=localize(locale, row.name_fr, row.name_de),
        kind=row.kind,
        unit=row.unit,
        municipality_code=row.municipality_code,
        location=Location(lat=row.lat, lon=row.lon),
        expected_interval_s=row.expected_interval_s,
        owner="partner" if row.owner_partner_id else "hub",
        owner_partner_id=row.owner_partner_id,
        source=row.source,
        licence=row.licence,
        river=row.river,
        device_eui=row.device_eui,
        station_id=row.station_id,
        poller=row.poller,
        battery=row.battery,
        latest=None
        if latest is None
        else Latest(
            value=latest.value,
            observed_at=latest.observed_at,
            quality="doubtful" if latest.quality else "good",
        ),
        created_at=row.created_at,
    )


async def create_sensor(conn: asyncpg.Connection, actor: Actor, data: SensorIn, locale: str) -> Sensor:
    _may_write(actor)
    name = checked_text("name", data.name, 200)
    await territory.check_known(conn, [data.municipality_code], field="municipality_code")
    if data.valid_min is not None and data.valid_max is not None and data.valid_min >= data.valid_max:
        raise InvalidField("valid_min", REASON_RANGE_ORDER)
    row = await queries.insert_sensor(
        conn,
        {
            "name_fr": name.fr,
            "name_de": name.de,
            "kind": data.kind,
            "unit": data.unit.strip(),
            "municipality_code": data.municipality_code,
            "lat": data.location.lat,
            "lon": data.location.lon,
            "expected_interval_s": data.expected_interval_s,
            "owner_user_id": actor.id if isinstance(actor, CurrentUser) else None,
            "owner_partner_id": actor.partner_id if isinstance(actor, PartnerKey) else None,
            "source": data.source.strip(),
            "licence": data.licence.strip(),
            "river": data.river.strip() if data.river else None,
            "device_eui": data.device_eui.upper() if data.device_eui else None,
            "station_id": data.station_id,
            "poller": data.poller,
            "payload_field": data.payload_field,
            "valid_min": data.valid_min,
            "valid_max": data.valid_max,
        },
    )
    logger.info("sensor %s created (%s)", row.id, row.kind)
    return _view(row, locale, None)


async def get_sensor(conn: asyncpg.Connection, sensor_id: uuid.UUID, locale: str) -> Sensor:
    row = await queries.sensor(conn, sensor_id)
    if row is None:
        raise NotFound()
    return _view(row, locale, (await queries.latest(conn, [row.id])).get(row.id))


async def list_sensors(conn: asyncpg.Connection, municipality_code: str | None, locale: str) -> SensorList:
    rows = await queries.sensors_in(conn, municipality_code)
    latest = await queries.latest(conn, [r.id for r in rows])
    return SensorList(items=[_view(r, locale, latest.get(r.id)) for r in rows])


# -- ingest keys -----------------------------------------------------------------------------------------------


async def issue_ingest_key(conn: asyncpg.Connection, user: CurrentUser, data: IngestKeyIn) -> IngestKey:
    """A key for a network server's webhook (shown once, kept hashed); hub administrators only."""
    if not user.is_admin:
        raise Forbidden()
    secret = INGEST_KEY_PREFIX + secrets.token_urlsafe(32)
    row = await queries.insert_ingest_key(
        conn, label=data.label.strip(), prefix=secret[:12], secret_hash=_hash(secret), created_by=user.id
    )
    return IngestKey(
        id=row["id"], label=row["label"], prefix=row["prefix"], key=secret, created_at=row["created_at"]
    )


async def check_ingest_key(conn: asyncpg.Connection, header: str | None) -> None:
    secret = (header or "").strip()
    if not secret.startswith(INGEST_KEY_PREFIX) or len(secret) > 200:
        raise InvalidIngestKey()
    if not await queries.ingest_key_valid(conn, _hash(secret)):
        raise InvalidIngestKey()


# -- ingestion -------------------------------------------------------------------------------------------------


def _quality(sensor: queries.SensorRow, value: float, doubtful: bool) -> int:
    if doubtful:
        return 1
    if sensor.valid_min is not None and value < sensor.valid_min:
        return 1
    if sensor.valid_max is not None and value > sensor.valid_max:
        return 1
    return 0


async def add_observations(
    conn: asyncpg.Connection,
    actor: Actor | None,
    sensor_id: uuid.UUID,
    readings: Sequence[ObservationIn],
    now: datetime | None = None,
) -> IngestResult:
    """Readings from a partner system (its key) or an integration (``actor`` None: the ingest key was checked)."""
    if len(readings) > MAX_READINGS:
        raise TooManyReadings(max=MAX_READINGS)
    if actor is None:
        sensor = await queries.sensor(conn, sensor_id)
        if sensor is None:
            raise NotFound()
    else:
        sensor = await _sensor_for_writer(conn, actor, sensor_id)
    points = [
        queries.Point(r.observed_at, r.value, _quality(sensor, r.value, r.quality == "doubtful"))
        for r in readings
    ]
    return await ingest_points(conn, sensor, points, now or datetime.now(UTC))


async def ingest_points(
    conn: asyncpg.Connection, sensor: queries.SensorRow, points: Sequence[queries.Point], now: datetime
) -> IngestResult:
    """Store readings and apply the sensor's rules to the new ones, in this transaction."""
    unique = {p.observed_at: p for p in points}
    stored = await queries.insert_observations(conn, sensor.id, list(unique.values()))
    if stored:
        await _evaluate(conn, sensor, [p for p in stored if p.quality == 0], now)
    return IngestResult(
        accepted=len(stored),
        duplicates=len(points) - len(stored),
        doubtful=sum(1 for p in stored if p.quality),
    )


async def ingest_uplink(conn: asyncpg.Connection, uplink: ingest.Uplink, now: datetime) -> IngestResult:
    """One network-server uplink: its battery and gateway are noted, its reading stored once."""
    sensor = await queries.sensor_by_eui(conn, uplink.dev_eui)
    if sensor is None:
        raise UnknownDevice()
    if not await queries.claim_uplink(conn, uplink.dedup_key):
        return IngestResult(accepted=0, duplicates=1, doubtful=0)
    await queries.set_link_state(conn, sensor.id, gateway_id=uplink.gateway_id, battery=uplink.battery)
    try:
        value = ingest.reading(uplink.fields, sensor.payload_field)
    except ingest.Malformed as exc:
        raise InvalidPayload(reason=str(exc)) from exc
    if value is None:
        return IngestResult(accepted=0, duplicates=0, doubtful=0)
    point = queries.Point(uplink.observed_at, value, _quality(sensor, value, False))
    return await ingest_points(conn, sensor, [point], now)


async def ingest_tts(conn: asyncpg.Connection, body: bytes, now: datetime | None = None) -> IngestResult:
    try:
        uplink = ingest.tts_uplink(body)
    except ingest.Malformed as exc:
        raise InvalidPayload(reason=str(exc)) from exc
    return await ingest_uplink(conn, uplink, now or datetime.now(UTC))


async def ingest_chirpstack(
    conn: asyncpg.Connection, event: str, body: bytes, now: datetime | None = None
) -> IngestResult:
    try:
        uplink = ingest.chirpstack_event(body, event)
    except ingest.Malformed as exc:
        raise InvalidPayload(reason=str(exc)) from exc
    return await ingest_uplink(conn, uplink, now or datetime.now(UTC))


# -- rules: the state machine in PostgreSQL --------------------------------------------------------------------


def spec_of(rule: queries.RuleRow) -> engine.RuleSpec:
    return engine.RuleSpec(
        levels=tuple(
            engine.Level(
                name=lvl["name"],
                direction=lvl["direction"],
                value=lvl["value"],
                clear_at=lvl["clear_at"],
                for_s=lvl["for_s"],
            )
            for lvl in rule.levels
        ),
        no_data_after_s=rule.no_data_after_s,
        rise_per_hour=rule.rise_per_hour,
        stuck_after_s=rule.stuck_after_s,
    )


STATE_FIELDS = tuple(engine.State.__dataclass_fields__)


def state_of(rule: queries.RuleRow) -> engine.State:
    return engine.State(**{name: getattr(rule, name) for name in STATE_FIELDS})


async def _rate(conn: asyncpg.Connection, sensor_id: uuid.UUID, point: queries.Point) -> float | None:
    """Change per hour over the last hour (None without a reading at least half an hour older)."""
    before = await queries.value_at_or_before(conn, sensor_id, point.observed_at - RATE_WINDOW / 2)
    if before is None:
        return None
    hours = (point.observed_at - before[0]).total_seconds() / 3600
    if hours <= 0 or hours > 2 * RATE_WINDOW.total_seconds() / 3600:
        return None
    return (point.value - before[1]) / hours


def _trend(rate: float | None, unit_scale: float) -> str:
    if rate is None or abs(rate) < unit_scale:
        return "steady"
    return "rising" if rate > 0 else "falling"


async def _evaluate(
    conn: asyncpg.Connection, sensor: queries.SensorRow, points: Sequence[queries.Point], now: datetime
) -> None:
    if not points:
        return
    rules = await queries.rules_of_sensor_locked(conn, sensor.id)
    if not rules:
        return
    rates = [await _rate(conn, sensor.id, p) for p in points]
    for rule in rules:
        spec, state = spec_of(rule), state_of(rule)
        before = state
        told: list[tuple[engine.Action, float | None]] = []
        for point, rate in zip(points, rates, strict=True):
            observation = engine.Observation(point.value, point.observed_at, False, rate)
            state, actions = engine.step(spec, state, observation, now)
            told.extend((action, rate) for action in actions)
        if state != before:
            await queries.save_state(conn, rule.id, asdict(state))
        for action, rate in told:
            await _announce(conn, sensor, rule, action, rate)


def priority_of(level: dict[str, Any]) -> Priority:
    explicit: Priority | None = level.get("priority")
    if explicit:
        return explicit
    name = str(level["name"]).lower()
    return "urgent" if name == "red" else "important" if name == "orange" else "info"


async def _place_names(conn: asyncpg.Connection, code: str) -> dict[str, str]:
    names = (await queries.municipality_names(conn, [code])).get(code, (code, code))
    return {"fr": names[0], "de": names[1]}


def _sensor_name(sensor: queries.SensorRow, locale: str) -> str:
    return localize(locale, sensor.name_fr, sensor.name_de).text


async def _audience(conn: asyncpg.Connection, sensor: queries.SensorRow, rule: queries.RuleRow) -> Audience:
    if rule.audience_community_id is not None:
        return Audience(community_id=rule.audience_community_id)
    codes = rule.audience_municipality_codes or [sensor.municipality_code]
    return Audience(user_ids=tuple(await recipients_for_places(conn, codes)))


async def _announce(
    conn: asyncpg.Connection,
    sensor: queries.SensorRow,
    rule: queries.RuleRow,
    action: engine.Action,
    rate: float | None,
) -> None:
    """Hand one transition to messaging (in this transaction) and keep it in the rule's history."""
    places = await _place_names(conn, sensor.municipality_code)
    level = rule.levels[action.level] if 0 <= action.level < len(rule.levels) else None
    trend = _trend(rate, 0.5 if sensor.unit in ("cm", "mm") else 0.1)

    def params(locale: str) -> dict[str, str]:
        return {
            "value": texts.number(action.value, locale),
            "unit": sensor.unit,
            "place": places.get(locale, places["fr"]),
            "level": texts.level_label(level["name"], locale) if level else "",
            "trend": texts.trend_label(trend, locale),
            "sensor": _sensor_name(sensor, locale),
        }

    notification_id: uuid.UUID | None = None
    deep_link = f"/sensors/{sensor.id}"
    if action.kind in ("fire", "escalate") and level is not None:
        templates = {"fr": rule.template_fr or rule.template_de, "de": rule.template_de or rule.template_fr}

        def body(locale: str) -> str:
            own = templates.get(locale)
            return (
                texts.fill(own, params(locale))
                if own
                else texts.sentence(locale, texts.ALERT_BODY, **params(locale))
            )

        notification_id = await notify(
            conn,
            kind=NOTIFICATION_KIND,
            audience=await _audience(conn, sensor, rule),
            title=texts.bilingual(lambda loc: texts.sentence(loc, texts.ALERT_TITLE, **params(loc))),
            body=texts.bilingual(body),
            deep_link=deep_link,
            priority=priority_of(level),
            source_id=rule.id,
        )
        if rule.heat and action.kind == "fire":
            staff = await heat_recipients(conn, sensor.municipality_code)
            if staff:
                await notify(
                    conn,
                    kind="sensor_heat",
                    audience=Audience(user_ids=tuple(staff)),
                    title=texts.bilingual(lambda loc: texts.sentence(loc, texts.HEAT_TITLE, **params(loc))),
                    body=texts.bilingual(lambda loc: texts.sentence(loc, texts.HEAT_BODY, **params(loc))),
                    deep_link=deep_link,
                    priority="important",
                    source_id=rule.id,
                    respect_preferences=False,
                )
    elif action.kind == "all_clear":
        seconds = action.duration_s or 0
        notification_id = await notify(
            conn,
            kind=NOTIFICATION_KIND,
            audience=await _audience(conn, sensor, rule),
            title=texts.bilingual(lambda loc: texts.sentence(loc, texts.ALL_CLEAR_TITLE, **params(loc))),
            body=texts.bilingual(
                lambda loc: texts.sentence(
                    loc, texts.ALL_CLEAR_BODY, duration=texts.duration(seconds, loc), **params(loc)
                )
            ),
            deep_link=deep_link,
            priority="info",
            source_id=rule.id,
        )
    elif action.kind == "rise":
        notification_id = await notify(
            conn,
            kind=NOTIFICATION_KIND,
            audience=await _audience(conn, sensor, rule),
            title=texts.bilingual(lambda loc: texts.sentence(loc, texts.RISE_TITLE, **params(loc))),
            body=texts.bilingual(
                lambda loc: texts.sentence(loc, texts.RISE_BODY, rate=texts.number(rate, loc), **params(loc))
            ),
            deep_link=deep_link,
            priority="important",
            source_id=rule.id,
        )
    elif action.kind == "stuck":
        keepers = await _keepers(conn, sensor, rule)
        if keepers:
            since = rule.value_since or action.at or datetime.now(UTC)
            notification_id = await notify(
                conn,
                kind="sensor_maintenance",
                audience=Audience(user_ids=tuple(keepers)),
                title=texts.bilingual(lambda loc: texts.sentence(loc, texts.STUCK_TITLE, **params(loc))),
                body=texts.bilingual(
                    lambda loc: texts.sentence(
                        loc, texts.STUCK_BODY, since=texts.moment(since, loc), **params(loc)
                    )
                ),
                deep_link=deep_link,
                priority="info",
                source_id=rule.id,
                respect_preferences=False,
            )
    assert action.at is not None
    await queries.insert_event(
        conn,
        rule.id,
        kind=action.kind,
        level=action.level,
        value=action.value,
        at=action.at,
        duration_s=action.duration_s,
        notification_id=notification_id,
    )


async def _keepers(
    conn: asyncpg.Connection, sensor: queries.SensorRow, rule: queries.RuleRow
) -> list[uuid.UUID]:
    """Who looks after a sensor: the rule's author, else its owner, else the hub administrators."""
    for person in (rule.created_by, sensor.owner_user_id):
        if person is not None:
            return [person]
    return await queries.hub_admins(conn)


async def watch_silence(conn: asyncpg.Connection, now: datetime, limit: int = 500) -> int:
    """The timer: rules whose sensor went silent move to no-data. The sensors of one station (gateway)
    that fell silent together are told in one message to whoever looks after them, not one per sensor."""
    rules = await queries.silent_rules_locked(conn, now, limit)
    groups: dict[tuple[str, tuple[uuid.UUID, ...]], list[tuple[queries.SensorRow, datetime]]] = defaultdict(
        list
    )
    for rule in rules:
        before = state_of(rule)
        # A rule that never saw a reading counts the silence from its creation (only for this check:
        # readings from before it was created are still taken in).
        probe = before if before.last_seen is not None else replace(before, last_seen=rule.created_at)
        state, actions = engine.step(spec_of(rule), probe, engine.Tick(), now)
        if before.last_seen is None:
            state = replace(state, last_seen=None)
        await queries.save_state(conn, rule.id, asdict(state))
        for action in actions:
            sensor = await queries.sensor(conn, rule.sensor_id)
            assert sensor is not None
            assert action.at is not None
            await queries.insert_event(
                conn,
                rule.id,
                kind=action.kind,
                level=action.level,
                value=action.value,
                at=action.at,
                duration_s=None,
                notification_id=None,
            )
            station = sensor.gateway_id or str(sensor.id)
            keepers = tuple(await _keepers(conn, sensor, rule))
            since = rule.last_seen or rule.created_at
            group = groups[(station, keepers)]
            if all(s.id != sensor.id for s, _ in group):
                group.append((sensor, since))
    for (station, keepers), members in groups.items():
        if not keepers:
            continue
        since = min(s for _, s in members)
        station_name = station if len(members) > 1 or members[0][0].gateway_id else None

        def title(loc: str, station_name: str | None = station_name, members: Any = members) -> str:
            return texts.sentence(
                loc, texts.SILENT_TITLE, station=station_name or _sensor_name(members[0][0], loc)
            )

        def body(loc: str, members: Any = members, since: datetime = since) -> str:
            names = ", ".join(_sensor_name(s, loc) for s, _ in members)
            return texts.by_count(
                loc,
                texts.SILENT_BODY_ONE,
                texts.SILENT_BODY_MANY,
                len(members),
                since=texts.moment(since, loc),
                names=names,
            )

        await notify(
            conn,
            kind="sensor_maintenance",
            audience=Audience(user_ids=keepers),
            title=texts.bilingual(title),
            body=texts.bilingual(body),
            deep_link=f"/sensors/{members[0][0].id}",
            priority="info",
            respect_preferences=False,
        )
        logger.info("station %s silent: %d sensors", station, len(members))
    return len(rules)
