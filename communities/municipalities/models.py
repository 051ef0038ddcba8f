"""Municipality responses."""

from __future__ import annotations

from typing import Literal

import msgspec


class Names(msgspec.Struct, frozen=True):
    fr: str
    de: str


class Municipality(msgspec.Struct, frozen=True):
    code: str
    country: Literal["FR", "DE"]
    name: Names
    #: languages whose name is the official one standing in for an unknown translation
    name_fallback: list[str]
    postal_code: str | None
    lat: float | None
    lon: float | None
    grouping: str | None


class MunicipalityPage(msgspec.Struct, frozen=True):
    items: list[Municipality]
    next_cursor: str | None = None
