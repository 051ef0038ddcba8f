"""The territory domain as the hub mounts it: municipality search, holidays and the municipalities table."""

from __future__ import annotations

from pathlib import Path

from hub.domain import Domain
from territory.calendar.routes import ROUTES as CALENDAR_ROUTES
from territory.routes import MunicipalityController

DOMAIN = Domain(
    name="territory",
    routes=(MunicipalityController, *CALENDAR_ROUTES),
    migrations=Path(__file__).parent / "migrations",
    catalog="communities",
)
