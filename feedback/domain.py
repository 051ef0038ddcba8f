"""The feedback domain's descriptor: Open311 and app routes, the public list page, migrations, catalog, data."""

from __future__ import annotations

from pathlib import Path

from feedback.demo import seed
from feedback.open311 import OPEN311
from feedback.pages import PAGES
from feedback.routes import ROUTES
from feedback.service import USER_DATA
from hub.domain import Domain
from hub.domain import UserData as DomainUserData

DOMAIN = Domain(
    name="feedback",
    routes=ROUTES,
    pages=[OPEN311, *PAGES],
    migrations=Path(__file__).parent / "migrations",
    catalog="feedback",
    user_data=[DomainUserData(USER_DATA.name, USER_DATA.export, USER_DATA.erase)],
    demo=seed,
)
