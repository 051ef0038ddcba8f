"""The sensors domain as the hub sees it: routes, the dashboard page, jobs, crons, migrations, catalog, demo."""

from __future__ import annotations

from pathlib import Path

from hub.domain import Cron, Domain
from sensors import demo, jobs, mqtt
from sensors.routes import PAGES, ROUTES

DOMAIN = Domain(
    name="sensors",
    routes=ROUTES,
    pages=PAGES,
    crons=(
        Cron(jobs.watch_sensors, frozenset(range(7, 60, 15))),
        Cron(jobs.poll_gauges, frozenset({25})),
        Cron(jobs.forget_uplinks, frozenset({55})),
    ),
    migrations=Path(__file__).parent / "migrations",
    catalog="sensors",
    demo=demo.seed,
    worker_startup=mqtt.start,
    worker_shutdown=mqtt.stop,
)
