"""The official-warnings domain as the hub sees it: routes, the polling cron, migrations, catalog, user data."""

from __future__ import annotations

from pathlib import Path

from hub.domain import Cron, Domain, UserData
from official_warnings import jobs, service
from official_warnings.routes import ROUTES

DOMAIN = Domain(
    name="warnings",
    routes=ROUTES,
    crons=(Cron(jobs.poll_warning_feeds, frozenset(range(3, 60, 5))),),
    migrations=Path(__file__).parent / "migrations",
    catalog="warnings",
    user_data=(UserData("warnings", service.export_user, service.erase_user),),
)
