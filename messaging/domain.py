"""The messaging domain as the hub mounts it: devices, preferences, inbox, delivery jobs and sweeps."""

from __future__ import annotations

from pathlib import Path

from hub.domain import Cron, Domain, Partitioned, Retention
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
    # Deliveries and inbox rows live in weekly partitions dropped whole after HUB_RETENTION_DAYS (a week
    # with a delivery still to send or held for a digest stays until it is done); rows written outside
    # planning lie in the DEFAULT partition and are purged row by row.
    partitions=(
        Partitioned(
            "deliveries",
            "planned_at",
            # one arm per partial index (pending, sending, held): finding them reads no whole week
            "status = 'pending' OR status = 'sending' OR status = 'held'",
        ),
    ),
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
