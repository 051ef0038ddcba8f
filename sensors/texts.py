"""Alert texts of sensor rules, rendered in French and German with Babel numbers, times and durations."""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from typing import Any

from babel import dates

from i18n import N_, babel_locale, gettext_for, translate
from i18n.content import Bilingual
from i18n.formatting import format_datetime, format_number

#: the languages alert texts are written in (readers of other languages get French, marked as such)
TEXT_LANGUAGES = ("fr", "de")
PLACEHOLDERS = frozenset({"value", "unit", "place", "level", "trend", "sensor"})

LEVEL_NAMES = {"yellow": N_("yellow"), "orange": N_("orange"), "red": N_("red")}
TRENDS = {"rising": N_("rising"), "falling": N_("falling"), "steady": N_("steady")}
KIND_NAMES = {
    "water_level": N_("Water level"),
    "temperature": N_("Temperature"),
    "humidity": N_("Humidity"),
    "rain": N_("Rain"),
    "fill_level": N_("Fill level"),
    "parking": N_("Parking"),
    "wind": N_("Wind"),
    "air_quality": N_("Air quality"),
    "other": N_("Measurement"),
}

ALERT_TITLE = N_("{sensor}: {level} level")
ALERT_BODY = N_("{value} {unit} at {place}, {trend}.")
ALL_CLEAR_TITLE = N_("{sensor}: back to normal")
ALL_CLEAR_BODY = N_("The reading is back to normal at {place} ({value} {unit}); the alert lasted {duration}.")
RISE_TITLE = N_("{sensor}: rising fast")
RISE_BODY = N_("{value} {unit} at {place}, rising by {rate} {unit} per hour.")
STUCK_TITLE = N_("{sensor}: the value no longer changes")
STUCK_BODY = N_("The sensor has sent {value} {unit} since {since}; it may be stuck.")
SILENT_TITLE = N_("Station silent: {station}")
SILENT_BODY_ONE = N_("{count} sensor has sent nothing since {since}: {names}.")
SILENT_BODY_MANY = N_("{count} sensors have sent nothing since {since}: {names}.")
HEAT_TITLE = N_("Heat in {place}")
HEAT_BODY = N_("{sensor} reads {value} {unit} ({level} level). Check on the seniors you serve.")


def level_label(name: str, locale: str) -> str:
    """A level's name for a reader: the vigilance colours are translated, a gauge's own marks are kept."""
    known = LEVEL_NAMES.get(name.strip().lower())
    return gettext_for(locale)(known) if known else name


def trend_label(trend: str, locale: str) -> str:
    return gettext_for(locale)(TRENDS.get(trend, TRENDS["steady"]))


def number(value: float | None, locale: str) -> str:
    if value is None:
        return "–"
    return format_number(round(value, 2), locale)


def duration(seconds: int, locale: str) -> str:
    return dates.format_timedelta(
        timedelta(seconds=seconds), threshold=1.1, format="long", locale=babel_locale(locale)
    )


def template_problem(template: str) -> str | None:
    """The first unknown or malformed placeholder of a user's template, None when it renders."""
    try:
        for _, field, spec, conversion in string.Formatter().parse(template):
            if field is None:
                continue
            if field not in PLACEHOLDERS or spec or conversion:
                return "{" + field + "}"
    except ValueError:
        return "{"
    return None


def fill(template: str, params: dict[str, str]) -> str:
    return template.format_map(params)


def bilingual(render: Any) -> Bilingual:
    """Render one text in each alert language: ``render(locale)`` returns it for that reader."""
    fr, de = (render(locale) for locale in TEXT_LANGUAGES)
    return Bilingual(fr=fr, de=de)


def sentence(locale: str, message: str, **params: object) -> str:
    return translate(locale, message, **params)


def by_count(locale: str, one: str, many: str, count: int, **params: object) -> str:
    """One sentence for a single item, another for several (both alert languages use the singular for 1)."""
    return translate(locale, one if count == 1 else many, count=count, **params)


def moment(value: datetime, locale: str) -> str:
    return format_datetime(value, locale, "short")
