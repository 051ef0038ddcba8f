"""Delivery metrics: outcomes by channel, FCM and SMTP latency and errors, and the lag of due work."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from messaging import queries

DELIVERIES = Counter(
    "hub_deliveries_total", "Delivery outcomes recorded, by channel and status", ["channel", "status"]
)
SEND_SECONDS = Histogram(
    "hub_channel_request_seconds",
    "One request to FCM (a push) or SMTP (a message), by channel",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SEND_ERRORS = Counter(
    "hub_channel_errors_total",
    "Requests to FCM or SMTP that did not succeed, by channel and kind (retry, failed, invalid_token, "
    "transient, permanent)",
    ["channel", "kind"],
)
OLDEST_DUE_DELIVERY = Gauge(
    "hub_oldest_due_delivery_age_seconds",
    "Age of the oldest delivery due and still pending, by channel (0: none)",
    ["channel"],
)
OLDEST_UNPLANNED = Gauge(
    "hub_oldest_unplanned_notification_age_seconds",
    "Age of the oldest notification due for planning and not yet planned (0: none)",
)

#: the channels whose due deliveries a worker sends (inbox rows need no sending)
SENT_CHANNELS = ("push", "email")


def observe_send(channel: str, seconds: float, status: str) -> None:
    """One request to FCM or SMTP: its latency, and its kind when it did not succeed."""
    SEND_SECONDS.labels(channel).observe(seconds)
    if status != "sent":
        SEND_ERRORS.labels(channel, status).inc()


def count_outcomes(channel: str, statuses: Iterable[str]) -> None:
    """Count the outcomes of one recorded batch (``sent``, ``retry``, ``failed``, ``skipped`` …)."""
    for status, n in Tally(statuses).items():
        DELIVERIES.labels(channel, status).inc(n)


async def scrape_lag(conn: asyncpg.Connection) -> None:
    """Set the lag gauges from PostgreSQL (at scrape time, so they are right whichever process sends)."""
    lag = await queries.lag(conn, SENT_CHANNELS)
    for channel in SENT_CHANNELS:
        OLDEST_DUE_DELIVERY.labels(channel).set(lag.oldest_due.get(channel, 0.0))
    OLDEST_UNPLANNED.set(lag.oldest_unplanned)
