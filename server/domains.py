"""The domains the hub is made of: the one place that lists them (a new domain is one line here)."""

from __future__ import annotations

from pathlib import Path

import accounts.domain
import care.domain
import communities.domain
import console.domain
import feedback.domain
import hub
import messaging.domain
import official_warnings.domain
import sensors.domain
import territory.domain
from hub import retention
from hub.domain import Cron, Domain

#: the kernel's own migrations (idempotency keys) and periodic job (the retention purge)
KERNEL = Domain(
    name="kernel",
    crons=(Cron(retention.purge_expired, frozenset({55})),),
    migrations=Path(hub.__file__).parent / "migrations",
)

DOMAINS: tuple[Domain, ...] = (
    KERNEL,
    accounts.domain.DOMAIN,
    territory.domain.DOMAIN,
    messaging.domain.DOMAIN,
    communities.domain.DOMAIN,
    care.domain.DOMAIN,
    official_warnings.domain.DOMAIN,
    sensors.domain.DOMAIN,
    feedback.domain.DOMAIN,
    console.domain.DOMAIN,
)

#: every domain's migrations, the kernel's included, applied together in timestamp order
MIGRATIONS: tuple[Path, ...] = tuple(domain.migrations for domain in DOMAINS if domain.migrations is not None)
