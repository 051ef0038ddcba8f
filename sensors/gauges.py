"""Official gauges polled over HTTP: Pegelonline (German federal waterways) and Hub'Eau hydrometry (France)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

import aiohttp
import asyncpg
import msgspec

from sensors import queries, service

logger = logging.getLogger("sensors.gauges")

PEGELONLINE = "https://www.pegelonline.wsv.de/webservices/rest-api/v2"
HUBEAU = "https://hubeau.eaufrance.fr/api/v2/hydrometrie"
#: how often a gauge is asked when it answers; failures back off from one minute to an hour
POLL_EVERY = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
MAX_BODY = 2 * 1024 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=20)


@dataclass(frozen=True)
class Endpoints:
    pegelonline: str = PEGELONLINE
    hubeau: str = HUBEAU


class _PegelMeasurement(msgspec.Struct, frozen=True):
    timestamp: datetime
    value: float


class _HubeauObservation(msgspec.Struct, frozen=True):
    date_obs: datetime
    resultat_obs: float | None = None
    grandeur_hydro: str = "H"


class _HubeauPage(msgspec.Struct, frozen=True):
    data: list[_HubeauObservation]


def pegelonline_points(body: bytes) -> list[queries.Point]:
    """Pegelonline measurements of W (water level), already in centimetres."""
    items = msgspec.json.decode(body, type=list[_PegelMeasurement])
    return [queries.Point(m.timestamp, m.value, 0) for m in items]


def hubeau_points(body: bytes) -> list[queries.Point]:
    """Hub'Eau real-time heights (``grandeur_hydro`` H) in millimetres, turned into centimetres."""
    page = msgspec.json.decode(body, type=_HubeauPage)
    return [
        queries.Point(o.date_obs, o.resultat_obs / 10, 0)
        for o in page.data
        if o.grandeur_hydro == "H" and o.resultat_obs is not None
    ]


def url_for(sensor: queries.SensorRow, endpoints: Endpoints) -> str:
    assert sensor.station_id is not None
    if sensor.poller == "pegelonline":
        return f"{endpoints.pegelonline}/stations/{quote(sensor.station_id)}/W/measurements.json?start=P1D"
    query = urlencode({"code_entite": sensor.station_id, "grandeur_hydro": "H", "size": 1000})
    return f"{endpoints.hubeau}/observations_tr?{query}"


async def poll(
    conn: asyncpg.Connection,
    http: aiohttp.ClientSession,
    sensor: queries.SensorRow,
    now: datetime,
    endpoints: Endpoints = Endpoints(),
) -> int:
    """Ask one gauge for its new readings (conditional request); returns how many were new."""
    url = url_for(sensor, endpoints)
    state = await queries.poll_state(conn, url)
    if state is not None and state.next_at > now:
        return 0
    headers = {"Accept": "application/json"}
    if state is not None and state.etag:
        headers["If-None-Match"] = state.etag
    if state is not None and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    failures = state.failures if state is not None else 0
    try:
        async with http.get(url, headers=headers, timeout=TIMEOUT) as response:
            if response.status == 304:
                await _done(
                    conn, url, state, now, response.headers.get("ETag"), response.headers.get("Last-Modified")
                )
                return 0
            if response.status not in (200, 206):
                raise aiohttp.ClientResponseError(
                    response.request_info,
                    response.history,
                    status=response.status,
                    message="unexpected status",
                )
            body = await response.content.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise ValueError("answer too large")
            points = pegelonline_points(body) if sensor.poller == "pegelonline" else hubeau_points(body)
            etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
    except (aiohttp.ClientError, TimeoutError, ValueError, msgspec.DecodeError) as exc:
        failures += 1
        delay = min(timedelta(minutes=2 ** (failures - 1)), MAX_BACKOFF)
        logger.warning("gauge %s failed (%s); next try in %s", sensor.id, type(exc).__name__, delay)
        await queries.save_poll(
            conn,
            url,
            etag=state.etag if state else None,
            last_modified=state.last_modified if state else None,
            failures=failures,
            next_at=now + delay,
        )
        return 0
    result = await service.ingest_points(conn, sensor, points, now)
    await _done(conn, url, state, now, etag, modified)
    return result.accepted


async def _done(
    conn: asyncpg.Connection,
    url: str,
    state: queries.PollRow | None,
    now: datetime,
    etag: str | None,
    modified: str | None,
) -> None:
    await queries.save_poll(
        conn,
        url,
        etag=etag or (state.etag if state else None),
        last_modified=modified or (state.last_modified if state else None),
        failures=0,
        next_at=now + POLL_EVERY,
    )
