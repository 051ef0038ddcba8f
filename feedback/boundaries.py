"""Approximate municipal cells for routing: nearest centroid on the right side of an approximate border."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import msgspec

Country = Literal["FR", "DE"]

#: The Franco-German border across the pilot region, west to east, as (lon, lat). APPROXIMATE: drawn
#: by hand through a handful of points along the Saar, the Blies and the Moselle/Palatinate line so that
#: every verified centroid of the pilot region lies on its own side; it is not a surveyed line. Within
#: ``BORDER_MARGIN_KM`` of it a place counts as ambiguous and the reporter chooses.
BORDER: tuple[tuple[float, float], ...] = (
    (6.70, 49.250),
    (6.85, 49.215),
    (6.95, 49.205),
    (7.02, 49.170),
    (7.05, 49.120),
    (7.08, 49.115),
    (7.12, 49.125),
    (7.19, 49.125),
    (7.25, 49.130),
    (7.30, 49.145),
    (7.36, 49.175),
    (7.42, 49.185),
    (7.46, 49.175),
    (7.51, 49.140),
    (7.55, 49.120),
    (7.62, 49.080),
    (7.70, 49.050),
    (7.95, 49.050),
)
BORDER_MARGIN_KM = 0.5
#: a cell reaches no further than this from its centroid; beyond, the nearest municipality is a fallback
CELL_RADIUS_KM = 8.0
#: beyond this from every centroid a place is outside the region
REGION_RADIUS_KM = 25.0
#: near a centroid a place is never ambiguous (the village itself)
CORE_KM = 1.5
#: a second municipality at most this much further than the nearest makes the place ambiguous
AMBIGUITY_RATIO = 1.25

EARTH_RADIUS_KM = 6371.0088


class Centroid(msgspec.Struct, frozen=True):
    code: str
    country: Country
    lat: float
    lon: float


class Routing(msgspec.Struct, frozen=True):
    """Where a place belongs: ``code`` (None when outside the region), how it was found, and the
    municipalities a reporter should choose between when the place is ambiguous (nearest first)."""

    code: str | None
    method: Literal["cell", "nearest", "outside"]
    candidates: tuple[str, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def border_lat(lon: float) -> float | None:
    """The border's latitude at ``lon`` (None outside the line's extent)."""
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(BORDER):
        if lon1 <= lon <= lon2:
            return lat1 + (lat2 - lat1) * (lon - lon1) / (lon2 - lon1)
    return None


def side_of_border(lat: float, lon: float) -> tuple[Country | None, float]:
    """The country a place lies in by the approximate border, and its distance to the line in km
    (``None`` and infinity outside the line's extent)."""
    line = border_lat(lon)
    if line is None:
        return None, math.inf
    nearest = min(_segment_distance_km(lat, lon, a, b) for a, b in itertools.pairwise(BORDER))
    return ("DE" if lat > line else "FR"), nearest


def _segment_distance_km(lat: float, lon: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    # Local equirectangular projection: plenty for a few kilometres around the line.
    kx = math.cos(math.radians(lat)) * math.pi * EARTH_RADIUS_KM / 180
    ky = math.pi * EARTH_RADIUS_KM / 180
    ax, ay = (a[0] - lon) * kx, (a[1] - lat) * ky
    bx, by = (b[0] - lon) * kx, (b[1] - lat) * ky
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length))
    return math.hypot(ax + t * dx, ay + t * dy)


def route(lat: float, lon: float, centroids: Sequence[Centroid]) -> Routing:
    """The municipality whose approximate cell holds the place.

    A cell is the set of places nearer to its centroid than to any other centroid of the same country,
    on that country's side of the border, within ``CELL_RADIUS_KM``. Outside every cell the nearest
    municipality (either country) is the fallback, up to ``REGION_RADIUS_KM``. A place near a cell's edge
    (a second municipality almost as near) or near the border is ambiguous: the candidates are returned.
    """
    ranked = sorted(centroids, key=lambda c: distance_km(lat, lon, c.lat, c.lon))
    if not ranked:
        return Routing(code=None, method="outside")
    country, to_border = side_of_border(lat, lon)
    own = [c for c in ranked if country is None or c.country == country]
    if own and distance_km(lat, lon, own[0].lat, own[0].lon) <= CELL_RADIUS_KM:
        nearest = own[0]
        d1 = distance_km(lat, lon, nearest.lat, nearest.lon)
        candidates = [nearest.code]
        if d1 > CORE_KM:
            candidates += [
                c.code for c in own[1:] if distance_km(lat, lon, c.lat, c.lon) <= d1 * AMBIGUITY_RATIO
            ]
        if to_border <= BORDER_MARGIN_KM:
            across = next((c for c in ranked if c.country != nearest.country), None)
            if across is not None:
                candidates.append(across.code)
        return Routing(code=nearest.code, method="cell", candidates=tuple(candidates))
    first = ranked[0]
    if distance_km(lat, lon, first.lat, first.lon) > REGION_RADIUS_KM:
        return Routing(code=None, method="outside")
    return Routing(code=first.code, method="nearest", candidates=(first.code,))
