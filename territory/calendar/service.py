"""Holiday use cases: both countries' public holidays by municipality, in the reader's language."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date

import asyncpg
from holidays.countries.france import France
from holidays.countries.germany import Germany

from i18n import N_, translate
from territory import service as municipalities
from territory.calendar.models import Holiday, HolidayCalendar, HolidayConflict

#: first two digits of a German municipality key (AGS) → Land code of the holidays package
LAENDER = {
    "01": "SH",
    "02": "HH",
    "03": "NI",
    "04": "HB",
    "05": "NW",
    "06": "HE",
    "07": "RP",
    "08": "BW",
    "09": "BY",
    "10": "SL",
    "11": "BE",
    "12": "BB",
    "13": "MV",
    "14": "SN",
    "15": "ST",
    "16": "TH",
}

#: English names of the holidays package, for readers whose language it has no names in
HOLIDAY_NAMES = (
    N_("All Saints' Day"),
    N_("Armistice Day"),
    N_("Ascension Day"),
    N_("Assumption Day"),
    N_("Christmas Day"),
    N_("Corpus Christi"),
    N_("Easter Monday"),
    N_("German Unity Day"),
    N_("Good Friday"),
    N_("Labor Day"),
    N_("National Day"),
    N_("New Year's Day"),
    N_("Pentecost Monday"),
    N_("Saint Stephen's Day"),
    N_("Second Day of Christmas"),
    N_("Victory Day"),
    N_("Whit Monday"),
    N_("Reformation Day"),
)
_KNOWN = frozenset(HOLIDAY_NAMES)


def region_of(code: str) -> tuple[str, str | None]:
    """Country and holiday subdivision of a municipality code: INSEE (5 characters) or AGS (8 digits).

    Moselle (57) keeps the local law of Alsace-Moselle: Good Friday and 26 December are holidays there,
    as in Bas-Rhin and Haut-Rhin (67, 68), but not elsewhere in France.
    """
    if len(code) == 8:
        return "DE", LAENDER.get(code[:2])
    if code.startswith("57"):
        return "FR", "57"
    if code.startswith(("67", "68")):
        return "FR", "6AE"
    return "FR", None


@functools.lru_cache(maxsize=512)
def _table(country: str, subdivision: str | None, year: int, lang: str) -> tuple[Holiday, ...]:
    """One year's holidays named for the reader: the package's own names in that language if it has them,
    else the catalog's translation of its English names."""
    cls: type[France] | type[Germany] = France if country == "FR" else Germany
    native = lang in cls.supported_languages
    table = cls(subdiv=subdivision, years=year, language=lang if native else "en_US")
    items: list[Holiday] = []
    for day in sorted(table):
        for name in table.get_list(day):
            if native:
                items.append(Holiday(date=day, name=name, lang=lang))
            elif name in _KNOWN:
                items.append(Holiday(date=day, name=translate(lang, name), lang=lang))
            else:
                items.append(Holiday(date=day, name=name, lang="en"))
    return tuple(items)


def holidays_of(code: str, year: int, lang: str) -> list[Holiday]:
    """Public holidays of a municipality (by code alone) in one year, for a reader of ``lang``."""
    country, subdivision = region_of(code)
    return list(_table(country, subdivision, year, lang))


def conflicts(codes: Iterable[str], days: Iterable[date], lang: str) -> list[HolidayConflict]:
    """The (municipality, day) pairs among ``codes`` × ``days`` that are public holidays."""
    wanted = sorted(set(days))
    found: list[HolidayConflict] = []
    for code in codes:
        for year in sorted({d.year for d in wanted}):
            by_day: dict[date, list[Holiday]] = {}
            for holiday in holidays_of(code, year, lang):
                by_day.setdefault(holiday.date, []).append(holiday)
            for day in wanted:
                for holiday in by_day.get(day, []) if day.year == year else []:
                    found.append(
                        HolidayConflict(
                            municipality_code=code, date=day, name=holiday.name, lang=holiday.lang
                        )
                    )
    return found


async def holiday_calendar(conn: asyncpg.Connection, code: str, year: int, lang: str) -> HolidayCalendar:
    """Holidays of a known municipality; an unknown code is refused naming the ``municipality`` field."""
    await municipalities.check_known(conn, [code], "municipality")
    country, subdivision = region_of(code)
    return HolidayCalendar(
        municipality_code=code,
        country="FR" if country == "FR" else "DE",
        subdivision=subdivision,
        year=year,
        items=holidays_of(code, year, lang),
    )
