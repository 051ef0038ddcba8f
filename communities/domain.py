"""The communities domain as the hub mounts it: communities, posts and feeds, events and partners."""

from __future__ import annotations

from pathlib import Path

from communities import demo, jobs
from communities.events import jobs as event_jobs
from communities.events.routes import ROUTES as EVENT_ROUTES
from communities.events.service import USER_DATA as EVENT_USER_DATA
from communities.partners.routes import ROUTES as PARTNER_ROUTES
from communities.routes import ROUTES
from communities.service import USER_DATA
from hub.domain import Cron, Domain, Retention

DOMAIN = Domain(
    name="communities",
    routes=(*ROUTES, *EVENT_ROUTES, *PARTNER_ROUTES),
    crons=(
        Cron(jobs.publish_due_posts, frozenset(range(1, 60, 5))),
        Cron(event_jobs.send_event_reminders, frozenset({20, 50})),
    ),
    migrations=Path(__file__).parent / "migrations",
    catalog="communities",
    user_data=(USER_DATA, EVENT_USER_DATA),
    retention=(Retention("partner_audit", "partner_audit", "created_at < $1", access_log=True),),
    demo=demo.seed,
)
