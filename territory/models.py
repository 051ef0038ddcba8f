"""Municipality codes and responses."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

#: an INSEE code (5 characters, Corsica's 2A/2B included) or a German AGS (8 digits)
MunicipalityCode = Annotated[str, msgspec.Meta(pattern=r"^(([0-9]{2}|2A|2B)[0-9]{3}|[0-9]{8})$")]


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
