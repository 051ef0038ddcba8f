"""The descriptor each domain package exports as ``DOMAIN`` in its ``domain.py``; the shell lists them once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from litestar.types import ControllerRouterHandler


@dataclass(frozen=True)
class UserData:
    """One domain's share of a person's data: what export shows and what erasure removes."""

    name: str
    export: Callable[[asyncpg.Connection, uuid.UUID], Awaitable[Any]]
    erase: Callable[[asyncpg.Connection, uuid.UUID], Awaitable[None]]


@dataclass(frozen=True)
class Cron:
    """A periodic job: ARQ gives each tick a unique id, so with several workers each tick runs once."""

    function: Callable[..., Awaitable[Any]]
    seconds: frozenset[int]
    timeout: float = 120


@dataclass(frozen=True)
class Retention:
    """One kind of row a domain keeps only for a while; ``condition`` may compare with ``$1``, the cutoff:
    ``HUB_RETENTION_DAYS`` ago, or ``HUB_ACCESS_LOG_RETENTION_DAYS`` ago when ``access_log`` is set."""

    name: str
    table: str
    condition: str
    access_log: bool = False


@dataclass(frozen=True)
class Partitioned:
    """A table partitioned by week on ``column`` (a timestamptz; see ``hub/partitions.py``): the kernel's job
    creates its partitions ahead and drops a whole week once it is past ``HUB_RETENTION_DAYS``; rows
    matching ``keep`` (an SQL condition) outlive retention: they move to the table's DEFAULT partition first."""

    table: str
    column: str
    keep: str


@dataclass(frozen=True)
class Domain:
    """Everything a domain plugs into the hub, in one place.

    ``routes`` are mounted under ``/v1``; ``pages`` at the root (public pages, ``/open311``, ``/console``),
    or a function building them anew for each app when they hold per-app state.
    ``jobs`` are ARQ functions taking ``(ctx, *ids)``; every job may run twice. ``migrations`` is the
    folder of plain-SQL migrations, applied with every other domain's in timestamp order. ``catalog`` is
    the gettext domain of its user-facing strings. ``user_data`` is its part of GDPR export and erasure
    (export in listing order, erasure in reverse). ``demo`` seeds demo data in ``hub dev`` (idempotent).
    ``worker_startup`` / ``worker_shutdown`` run in each worker with its context (long-lived listeners).
    ``retention`` lists the rows it keeps only for a while, purged in small batches by the kernel's job;
    ``partitions`` its tables partitioned by time, whose old weeks the same job drops whole.
    ``metrics`` set the domain's Prometheus gauges from PostgreSQL when /metrics is scraped.
    """

    name: str
    routes: Sequence[ControllerRouterHandler] = ()
    pages: Sequence[ControllerRouterHandler] | Callable[[], Sequence[ControllerRouterHandler]] = ()
    jobs: Sequence[Callable[..., Awaitable[Any]]] = ()
    crons: Sequence[Cron] = ()
    migrations: Path | None = None
    catalog: str | None = None
    user_data: Sequence[UserData] = ()
    demo: Callable[[asyncpg.Connection], Awaitable[None]] | None = None
    worker_startup: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    worker_shutdown: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    retention: Sequence[Retention] = ()
    partitions: Sequence[Partitioned] = ()
    #: gauges computed from PostgreSQL each time /metrics is scraped (the age of the oldest due work)
    metrics: Sequence[Callable[[asyncpg.Connection], Awaitable[None]]] = ()
    extra: dict[str, Any] = field(default_factory=dict)
