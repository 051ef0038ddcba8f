"""The care domain as the hub mounts it: directory, alerts, circles, check-ins and the escalation ladder."""

from __future__ import annotations

from pathlib import Path

from care import jobs
from care.routes import ROUTES
from care.service import user_data
from hub.domain import Cron, Domain, Retention

DOMAIN = Domain(
    name="care",
    routes=ROUTES,
    crons=(
        Cron(jobs.advance_checkins, frozenset({15, 45})),
        Cron(jobs.remind_care_alerts, frozenset({40})),
    ),
    migrations=Path(__file__).parent / "migrations",
    catalog="care",
    user_data=(user_data,),
    retention=(Retention("care_access_log", "care_access_log", "at < $1", access_log=True),),
)
