"""The messaging domain as the hub mounts it: devices, preferences, inbox, delivery jobs and sweeps."""

from __future__ import annotations

from pathlib import Path

from hub.domain import Cron, Domain
from messaging.metrics import scrape_lag
from messaging.routes import ROUTES
from messaging.service import USER_DATA
from workers import tasks

DOMAIN = Domain(
    name="messaging",
    routes=ROUTES,
    jobs=(tasks.plan_notification, tasks.dispatch_push, tasks.dispatch_email, tasks.dispatch_direct_email),
    crons=(
        Cron(tasks.relay_outbox, frozenset(range(0, 60, 5))),
        Cron(tasks.sweep_deliveries, frozenset(range(2, 60, 5))),
        Cron(tasks.send_digests, frozenset({30})),
    ),
    migrations=Path(__file__).parent / "migrations",
    catalog="messaging",
    user_data=(USER_DATA,),
    metrics=(scrape_lag,),
)
