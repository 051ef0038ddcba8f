"""What anyone may read: the public dashboard of a municipality and the open data (GeoJSON, CSV)."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import jinja2
import msgspec
from markupsafe import Markup

from hub.db import transaction
from hub.errors import InvalidField, NotFound
from i18n import N_, gettext_for, ngettext_for
from i18n.content import localize
from i18n.formatting import format_datetime, format_number, format_time, reader_zone
from sensors import charts, queries, texts
from sensors.errors import REASON_BAD_DATE, REASON_DATE_ORDER
from sensors.service import warnings_in_force

CHART_DAYS = 3
OPEN_DATA_DEFAULT_DAYS = 30
TEMPLATES = Path(__file__).parent / "templates"

PAGE_TITLE = N_("Sensors in {place}")
CROSS_BORDER_TITLE = N_("The {river} on both sides of the border (water level in cm)")
CHART_TITLE = N_("{sensor} over the last {days} days")
ALERT_LINE = N_("{sensor}: {level} level since {since} ({value} {unit})")


@dataclass
class SensorCard:
    id: uuid.UUID
    name: str
    kind: str
    unit: str
    latest: str | None
    latest_at: str | None
    doubtful: bool
    trend: str
    chart: Markup
    source: str
    licence: str
    battery: str | None


@dataclass
class Page:
    lang: str
    other_lang: str
    code: str
    place: str
    title: str
    alerts: list[str] = field(default_factory=list)
    warnings: list[Any] = field(default_factory=list)
    sensors: list[SensorCard] = field(default_factory=list)
    cross_border: list[tuple[str, Markup, list[str]]] = field(default_factory=list)
    attributions: list[tuple[str, str]] = field(default_factory=list)
    generated_at: str = ""


_environment: jinja2.Environment | None = None


def _env() -> jinja2.Environment:
    global _environment
    if _environment is None:
        _environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
            undefined=jinja2.StrictUndefined,
        )
    return _environment


def render(page: Page) -> str:
    """The page in the reader's language; every sentence comes from the catalogs."""
    env = _env().overlay()
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext_for(page.lang), ngettext_for(page.lang), newstyle=True
    )
    return env.get_template("dashboard.html.j2").render(page=page)


def _trend(points: list[queries.Point]) -> str:
    good = [p for p in points if not p.quality]
    if len(good) < 2:
        return "steady"
    last = good[-1]
    earlier = [p for p in good if p.observed_at <= last.observed_at - timedelta(minutes=30)]
    if not earlier:
        return "steady"
    ref = earlier[-1]
    hours = (last.observed_at - ref.observed_at).total_seconds() / 3600
    rate = (last.value - ref.value) / hours if hours else 0.0
    if abs(rate) < 0.5:
        return "steady"
    return "rising" if rate > 0 else "falling"


def _formatters(lang: str) -> tuple[Any, Any]:
    def value(v: float) -> str:
        return format_number(round(v, 1), lang)

    def moment(t: datetime) -> str:
        return format_datetime(t, lang, "short")

    return value, moment


async def dashboard(conn: asyncpg.Connection, code: str, lang: str, now: datetime | None = None) -> Page:
    now = now or datetime.now(UTC)
    lang = lang if lang in ("fr", "de") else "fr"
    _ = gettext_for(lang)
    names = (await queries.municipality_names(conn, [code])).get(code)
    if names is None:
        raise NotFound()
    place = names[0] if lang == "fr" else names[1]
    page = Page(
        lang=lang,
        other_lang="de" if lang == "fr" else "fr",
        code=code,
        place=place,
        title=_(PAGE_TITLE).format(place=place),
        generated_at=format_datetime(now, lang, "short"),
    )
    rows = await queries.sensors_in(conn, code)
    since = now - timedelta(days=CHART_DAYS)
    fmt_value, fmt_time = _formatters(lang)
    series: dict[uuid.UUID, list[queries.Point]] = {}
    for row in rows:
        points = await queries.series(conn, row.id, since)
        series[row.id] = points
        name = localize(lang, row.name_fr, row.name_de).text
        latest = points[-1] if points else None
        if latest is None:
            found = (await queries.latest(conn, [row.id])).get(row.id)
            latest = queries.Point(found.observed_at, found.value, found.quality) if found else None
        rules = await queries.in_force(conn, [row.id])
        marks = [
            charts.Mark(texts.level_label(lvl["name"], lang), lvl["value"])
            for rule in rules[:1]
            for lvl in rule.levels
        ]
        chart = charts.line_chart(
            f"chart-{row.id.hex[:8]}",
            _(CHART_TITLE).format(sensor=name, days=CHART_DAYS),
            [charts.Line(name, [(p.observed_at, p.value) for p in points if not p.quality])],
            marks,
            format_value=fmt_value,
            format_time=fmt_time,
            unit=row.unit,
        )
        page.sensors.append(
            SensorCard(
                id=row.id,
                name=name,
                kind=_(texts.KIND_NAMES.get(row.kind, texts.KIND_NAMES["other"])),
                unit=row.unit,
                latest=texts.number(latest.value, lang) if latest else None,
                latest_at=format_datetime(latest.observed_at, lang, "short") if latest else None,
                doubtful=bool(latest and latest.quality),
                trend=texts.trend_label(_trend(points), lang),
                chart=chart,
                source=row.source,
                licence=row.licence,
                battery=format_number(row.battery, lang) if row.battery is not None else None,
            )
        )
        for rule in rules:
            if rule.status == "no_data":
                continue
            level = rule.levels[rule.level] if 0 <= rule.level < len(rule.levels) else None
            if level is None:
                continue
            page.alerts.append(
                _(ALERT_LINE).format(
                    sensor=name,
                    level=texts.level_label(level["name"], lang),
                    since=format_datetime(rule.incident_started_at or now, lang, "short"),
                    value=texts.number(rule.last_value, lang),
                    unit=row.unit,
                )
            )
        if (row.source, row.licence) not in page.attributions:
            page.attributions.append((row.source, row.licence))
    page.warnings = await warnings_in_force(conn, code, lang)
    rivers = sorted({r.river for r in rows if r.river and r.kind == "water_level"})
    for river in rivers:
        gauges = [g for g in await queries.sensors_on_rivers(conn, [river]) if g.kind == "water_level"]
        lines, labels = [], []
        for gauge in gauges:
            known = series.get(gauge.id)
            points = known if known is not None else await queries.series(conn, gauge.id, since)
            converted = [
                (p.observed_at, cm)
                for p in points
                if not p.quality and (cm := charts.to_cm(p.value, gauge.unit)) is not None
            ]
            gauge_name = localize(lang, gauge.name_fr, gauge.name_de).text
            lines.append(charts.Line(gauge_name, converted))
            labels.append(gauge_name)
            if (gauge.source, gauge.licence) not in page.attributions:
                page.attributions.append((gauge.source, gauge.licence))
        if len(gauges) > 1:
            title = _(CROSS_BORDER_TITLE).format(river=river)
            chart = charts.line_chart(
                f"river-{len(page.cross_border)}",
                title,
                lines,
                [],
                format_value=fmt_value,
                format_time=fmt_time,
                unit="cm",
            )
            page.cross_border.append((title, chart, labels))
    return page


# -- open data -------------------------------------------------------------------------------------------------


def etag_of(*parts: object) -> str:
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


async def sensors_geojson(conn: asyncpg.Connection) -> tuple[bytes, str]:
    """Every sensor as a GeoJSON Feature with its latest reading, source and licence; with its ETag."""
    rows = await queries.sensors_in(conn, None)
    latest = await queries.latest(conn, [r.id for r in rows])
    features = []
    for row in rows:
        last = latest.get(row.id)
        features.append(
            {
                "type": "Feature",
                "id": str(row.id),
                "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
                "properties": {
                    "name": {"fr": row.name_fr, "de": row.name_de},
                    "kind": row.kind,
                    "unit": row.unit,
                    "municipality_code": row.municipality_code,
                    "river": row.river,
                    "expected_interval_s": row.expected_interval_s,
                    "source": row.source,
                    "licence": row.licence,
                    "latest_value": last.value if last else None,
                    "latest_observed_at": last.observed_at.isoformat() if last else None,
                    "latest_quality": ("doubtful" if last.quality else "good") if last else None,
                },
            }
        )
    body = msgspec.json.encode(
        {
            "type": "FeatureCollection",
            "licence": sorted({r.licence for r in rows}),
            "attribution": sorted({r.source for r in rows}),
            "features": features,
        }
    )
    return body, etag_of(body)


def parse_bound(name: str, value: str | None, *, end: bool) -> datetime | None:
    """A date (the whole day, in Paris time) or an ISO 8601 time with offset; anything else is a 422."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, time(), tzinfo=reader_zone("fr")).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidField(name, REASON_BAD_DATE) from exc
    if moment.tzinfo is None:
        raise InvalidField(name, REASON_BAD_DATE)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class CsvDownload:
    etag: str
    filename: str
    sensor_id: uuid.UUID | None
    since: datetime
    until: datetime | None
    licences: list[str]


async def observations_csv(
    conn: asyncpg.Connection,
    sensor: uuid.UUID | None,
    start: str | None,
    end: str | None,
    now: datetime | None = None,
) -> CsvDownload:
    """What a CSV download covers and its ETag (it changes when a reading in the range is added)."""
    now = now or datetime.now(UTC)
    since = parse_bound("from", start, end=False)
    until = parse_bound("to", end, end=True)
    if since is None:
        since = (until or now) - timedelta(days=OPEN_DATA_DEFAULT_DAYS)
    if until is not None and until <= since:
        raise InvalidField("to", REASON_DATE_ORDER)
    rows = await queries.sensors_in(conn, None)
    if sensor is not None:
        rows = [r for r in rows if r.id == sensor]
        if not rows:
            raise NotFound()
    count, newest = await queries.data_version(conn, sensor, since, until)
    return CsvDownload(
        etag=etag_of("csv", sensor, since, until, count, newest),
        filename=f"observations-{since.date().isoformat()}.csv",
        sensor_id=sensor,
        since=since,
        until=until,
        licences=sorted({r.licence for r in rows}),
    )


CSV_HEADER = ("sensor_id", "sensor_name", "observed_at", "value", "unit", "quality", "source", "licence")


async def stream_csv(pool: asyncpg.Pool, download: CsvDownload) -> AsyncIterator[bytes]:
    """The rows of a download, streamed from a cursor in one read-only transaction of its own."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    yield buffer.getvalue().encode()
    async with transaction(pool) as conn:
        await conn.execute("SET TRANSACTION READ ONLY")
        sensors = {r.id: r for r in await queries.sensors_in(conn, None)}
        async for batch in queries.stream_observations(
            conn, download.sensor_id, download.since, download.until
        ):
            buffer.seek(0)
            buffer.truncate()
            for row in batch:
                s = sensors.get(row.sensor_id)
                if s is None:
                    continue
                writer.writerow(
                    (
                        row.sensor_id,
                        s.name_fr or s.name_de or "",
                        row.observed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                        repr(row.value),
                        s.unit,
                        "doubtful" if row.quality else "good",
                        s.source,
                        s.licence,
                    )
                )
            yield buffer.getvalue().encode()


def short_time(value: datetime, lang: str) -> str:
    return format_time(value, lang)
