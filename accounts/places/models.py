"""Followed places: the request and the response of /v1/me/places."""

from __future__ import annotations

from typing import Annotated

import msgspec

from territory.models import MunicipalityCode

MAX_PLACES = 10


class PlacesIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole list of followed places, replacing the previous one (order kept, duplicates dropped)."""

    municipality_codes: Annotated[list[MunicipalityCode], msgspec.Meta(max_length=50)]


class Places(msgspec.Struct, frozen=True):
    municipality_codes: list[str]
