"""Holiday responses."""

from __future__ import annotations

from datetime import date
from typing import Literal

import msgspec


class Holiday(msgspec.Struct, frozen=True, kw_only=True):
    """A public holiday; ``name`` is in ``lang``, the reader's language whenever a name is known in it."""

    date: date
    name: str
    lang: str


class HolidayCalendar(msgspec.Struct, frozen=True, kw_only=True):
    """The public holidays of one municipality in one year (``subdivision``: French department or Land)."""

    municipality_code: str
    country: Literal["FR", "DE"]
    subdivision: str | None
    year: int
    items: list[Holiday]


class HolidayConflict(msgspec.Struct, frozen=True, kw_only=True):
    """An event's date that is a public holiday in one of its community's municipalities."""

    municipality_code: str
    date: date
    name: str
    lang: str
