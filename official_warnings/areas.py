"""Which municipalities a warning covers: codes first (DWD cells, NINA keys, EMMA ids, départements),
its geometry only when no code is known."""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Iterable
from pathlib import Path

import msgspec

from territory.models import Municipality

DATA = Path(__file__).parent / "data"


class Place(msgspec.Struct, frozen=True):
    code: str
    lat: float | None
    lon: float | None


@functools.cache
def emma_table() -> dict[str, tuple[str, str]]:
    """EMMA_ID → (kind, value) from the shipped table of the region."""
    with (DATA / "emma_ids.csv").open(encoding="utf-8", newline="") as handle:
        return {row["emma_id"]: (row["kind"], row["value"]) for row in csv.DictReader(handle)}


def _prefix_matches(prefix: str, places: Iterable[Place]) -> set[str]:
    return {p.code for p in places if p.code.startswith(prefix)}


def codes_from_geocodes(geocodes: Iterable[tuple[str, str]], places: list[Place]) -> set[str]:
    """Municipality codes named by geocodes of any of the three sources."""
    covered: set[str] = set()
    known = {p.code for p in places}
    for name, raw in geocodes:
        value = raw.strip()
        upper = name.strip().upper()
        if upper == "WARNCELLID" and len(value) == 9 and value.isdigit():
            kind, ags = value[0], value[1:]
            if kind == "8" and ags in known:
                covered.add(ags)
            elif kind in {"1", "9"}:
                # a district (or its part): every municipality of that Kreis key
                covered |= _prefix_matches(ags[:5], places)
        elif upper == "EMMA_ID":
            entry = emma_table().get(value)
            if entry is not None:
                kind, key = entry
                covered |= _prefix_matches(key, places)
        elif value.isdigit() and len(value) == 12:
            # an ARS (NINA): Land(2) Kreis(3) Verband(4) Gemeinde(3); a zero Gemeinde part names a district
            ags = value[:5] + value[9:]
            if value[9:] == "000" and ags not in known:
                covered |= _prefix_matches(value[:5], places)
            elif ags in known:
                covered.add(ags)
        elif value.isdigit() and len(value) == 8 and value in known:
            covered.add(value)
        elif upper in {"DEPARTEMENT", "DEPARTMENT", "INSEE_DEP"} and value.isdigit() and len(value) <= 3:
            covered |= _prefix_matches(value.lstrip("0").zfill(2), places)
    return covered


def _polygon(text: str) -> list[tuple[float, float]]:
    points = []
    for pair in text.split():
        lat, _, lon = pair.partition(",")
        try:
            points.append((float(lat), float(lon)))
        except ValueError:
            return []
    return points if len(points) >= 4 else []


def _inside(lat: float, lon: float, polygon: list[tuple[float, float]]) -> bool:
    inside = False
    for (lat1, lon1), (lat2, lon2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (lon1 > lon) != (lon2 > lon):
            crossing = lat1 + (lon - lon1) * (lat2 - lat1) / (lon2 - lon1)
            if lat < crossing:
                inside = not inside
    return inside


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def codes_from_geometry(polygons: Iterable[str], circles: Iterable[str], places: list[Place]) -> set[str]:
    """Municipalities whose centroid lies in a CAP polygon or circle (the fallback when no code is known)."""
    covered: set[str] = set()
    shapes = [shape for shape in (_polygon(p) for p in polygons) if shape]
    discs = []
    for circle in circles:
        centre, _, radius = circle.partition(" ")
        lat, _, lon = centre.partition(",")
        try:
            discs.append((float(lat), float(lon), float(radius)))
        except ValueError:
            continue
    for place in places:
        if place.lat is None or place.lon is None:
            continue
        if any(_inside(place.lat, place.lon, shape) for shape in shapes) or any(
            _distance_km(place.lat, place.lon, lat, lon) <= radius for lat, lon, radius in discs
        ):
            covered.add(place.code)
    return covered


def places_of(municipalities: list[Municipality]) -> list[Place]:
    return [Place(code=m.code, lat=m.lat, lon=m.lon) for m in municipalities]
