"""Dates, times and numbers formatted by Babel for the reader's locale and time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import dates, numbers

from i18n import TIME_ZONES, babel_locale


def reader_zone(locale: str) -> ZoneInfo:
    """The time zone a reader of this language is shown times in."""
    return ZoneInfo(TIME_ZONES.get(locale, "Europe/Paris"))


def format_datetime(value: datetime, locale: str, fmt: str = "medium") -> str:
    """A moment in the reader's local time, e.g. '21 nov. 2026, 15:30' / '21.11.2026, 15:30'."""
    return dates.format_datetime(value, fmt, tzinfo=reader_zone(locale), locale=babel_locale(locale))


def format_date(value: date | datetime, locale: str, fmt: str = "long") -> str:
    """A date for the reader, e.g. '21 novembre 2026' / '21. November 2026'."""
    if isinstance(value, datetime):
        value = value.astimezone(reader_zone(locale)).date()
    return dates.format_date(value, fmt, locale=babel_locale(locale))


def format_time(value: datetime, locale: str, fmt: str = "short") -> str:
    """A time of day in the reader's zone, e.g. '15:30'."""
    return dates.format_time(value, fmt, tzinfo=reader_zone(locale), locale=babel_locale(locale))


def format_number(value: float, locale: str) -> str:
    """A number with the reader's separators ('1 234,5' / '1.234,5')."""
    return str(numbers.format_decimal(value, locale=babel_locale(locale)))


def format_percent(value: float, locale: str) -> str:
    """A ratio as a percentage for the reader."""
    return numbers.format_percent(value, locale=babel_locale(locale))
