"""Prometheus metrics: requests by route template, jobs by function, and /metrics for allowed scrapers only."""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import asyncpg
from arq.worker import Retry
from litestar import Request, Response, get
from litestar._asgi.utils import wrap_in_exception_handler
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import ASGIApp
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

from hub.db import connection
from hub.errors import NotFound
from hub.settings import Settings, parse_networks

#: a domain's gauges computed from PostgreSQL when /metrics is scraped (the lag an on-call person watches)
Scrape = Callable[[asyncpg.Connection], Awaitable[None]]

JOBS = Counter("hub_jobs_total", "Jobs run, by function and outcome", ["function", "outcome"])
JOB_SECONDS = Histogram(
    "hub_job_duration_seconds",
    "How long jobs ran, by function",
    ["function"],
    buckets=(0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
SCRAPE_ERRORS = Counter("hub_metrics_scrape_errors_total", "Scrape-time gauges that could not be computed")

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class RequestMetrics(PrometheusMiddleware):
    """Litestar's request metrics, with what the middleware inside refused counted under its status.

    Litestar turns a route handler's exceptions into responses right around the handler, but an
    exception raised by a middleware (authentication refusing a token) only becomes a response outside
    every middleware, where no metric sees it. Answering it here, with the app's own exception handlers,
    counts a 401 as a 401 (the response is the same one the app would send)."""

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        super().__init__(wrap_in_exception_handler(app), config)


def prometheus_config() -> PrometheusConfig:
    """Request metrics by route template (``/v1/communities/{community_id}/posts``); the middleware goes
    outside authentication (see ``RequestMetrics``)."""
    return PrometheusConfig(
        app_name="hub", prefix="hub", group_path=True, exclude=["/metrics"], middleware_class=RequestMetrics
    )


@contextmanager
def timed_job(function: str) -> Iterator[None]:
    """Count a job's run under its outcome (``ok``, ``retry``, ``error``, ``cancelled``) and observe its
    duration."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    except Retry:
        outcome = "retry"
        raise
    except Exception:
        outcome = "error"
        raise
    except BaseException:
        outcome = "cancelled"
        raise
    finally:
        JOBS.labels(function, outcome).inc()
        JOB_SECONDS.labels(function).observe(time.perf_counter() - started)


def scraper_allowed(host: str | None, authorization: str | None, settings: Settings) -> bool:
    """A scraper may read /metrics with the configured bearer token, or from an allowed address
    (by default only loopback: the metrics are not public unless configured)."""
    if settings.metrics_token and authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), settings.metrics_token):
            return True
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    allowed = parse_networks(settings.metrics_allow) if settings.metrics_allow else LOOPBACK
    return any(address in network for network in allowed)


def metrics_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Anyone else finds nothing at /metrics."""
    settings: Settings = connection.app.state.settings
    host = connection.client.host if connection.client else None
    if not scraper_allowed(host, connection.headers.get("authorization"), settings):
        raise NotFound()


def metrics_handler(scrapes: Sequence[Scrape]) -> Any:
    """GET /metrics: the domains' scrape-time gauges are computed from PostgreSQL first."""

    @get(
        "/metrics",
        guards=[metrics_guard],
        include_in_schema=False,
        opt={"public": True},
    )
    async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        pool: asyncpg.Pool = request.app.state.db_pool
        for scrape in scrapes:
            try:
                async with connection(pool) as conn:
                    await scrape(conn)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                SCRAPE_ERRORS.inc()
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return metrics
