"""The messaging domain as the hub mounts it: devices, preferences, inbox, delivery jobs and sweeps."""

from __future__ import annotations

from pathlib import Path

from hub.domain import Cron, Domain, Retention
from messaging.metrics import scrape_lag
from messaging.planning import DELIVERIES
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
    partitions=(DELIVERIES,),
    retention=(
        Retention(
            "deliveries",
            "deliveries_default",
            "channel <> 'inbox' AND status IN ('sent', 'failed', 'skipped') AND updated_at < $1",
        ),
        Retention("inbox", "deliveries_default", "channel = 'inbox' AND coalesce(sent_at, updated_at) < $1"),
        Retention(
            "direct_emails", "direct_emails", "status IN ('sent', 'failed', 'skipped') AND created_at < $1"
        ),
        Retention("unsubscribe_tokens", "unsubscribe_tokens", "expires_at < $1"),
        Retention("address_optout_tokens", "address_optout_tokens", "expires_at < $1"),
    ),
    metrics=(scrape_lag,),
)
