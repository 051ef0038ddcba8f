"""Pure delivery decisions (no I/O): channels, quiet hours, retries, outcomes, digests, push text."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

MAX_ATTEMPTS = 6
BASE_DELAY_S = 5.0
MAX_DELAY_S = 15 * 60.0
LEASE_S = 120
BATCH_SIZE = 500

Status = Literal["sent", "retry", "failed", "skipped"]


class Recipient(msgspec.Struct, frozen=True, kw_only=True):
    """What planning knows of one person (the SQL planner applies the same rules set-wise)."""

    pref_push: bool | None
    pref_email: bool | None
    digest: str
    has_device: bool
    email_suppressed: bool


class ChannelPlan(msgspec.Struct, frozen=True):
    channel: str
    status: Literal["pending", "skipped", "held"]
    reason: str | None = None


def plan_channels(
    person: Recipient, *, priority: str, respect_preferences: bool, channels: Sequence[str]
) -> list[ChannelPlan]:
    """Which channels a person gets, and in which state the delivery starts.

    Push is on by default; email by default only for people without a device (otherwise they would get
    nothing). A chosen digest holds non-urgent email for the digest. Alerts that ignore preferences
    (care escalations) go on every channel.
    """
    plans: list[ChannelPlan] = []
    if "push" in channels:
        wants = (
            True if not respect_preferences else (person.pref_push if person.pref_push is not None else True)
        )
        if wants:
            plans.append(
                ChannelPlan("push", "pending")
                if person.has_device
                else ChannelPlan("push", "skipped", "no_device")
            )
    if "email" in channels:
        default_email = not person.has_device
        wants_email = (
            True
            if not respect_preferences
            else (person.pref_email if person.pref_email is not None else default_email)
        )
        digest = respect_preferences and person.digest != "off" and priority != "urgent"
        if wants_email or digest:
            if person.email_suppressed:
                plans.append(ChannelPlan("email", "skipped", "address_suppressed"))
            elif digest:
                plans.append(ChannelPlan("email", "held", "digest"))
            else:
                plans.append(ChannelPlan("email", "pending"))
    return plans


def quiet_hours_end(at: datetime, start: time | None, end: time | None, zone: str) -> datetime | None:
    """When the reader's quiet hours end, or None if ``at`` is outside them (mirrors the SQL function).

    ``start``/``end`` are local wall-clock times; the window may span midnight. On a daylight-saving day
    the end is the local wall-clock time of that day, whatever the offset.
    """
    if start is None or end is None or start == end:
        return None
    tz = ZoneInfo(zone)
    local = at.astimezone(tz)
    now_t = local.time().replace(tzinfo=None)
    day = local.date()
    if start < end:
        if start <= now_t < end:
            return _local(day, end, tz)
        return None
    if now_t >= start:
        return _local(day + timedelta(days=1), end, tz)
    if now_t < end:
        return _local(day, end, tz)
    return None


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    # A wall-clock time inside a spring-forward gap is read with the offset in force before the gap
    # (02:30 on the last Sunday of March in Paris is 03:30 summer time), as PostgreSQL does.
    return datetime.combine(day, at).replace(tzinfo=tz).astimezone(UTC)


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt: exponential backoff with jitter, never sooner than Retry-After."""
    rng = rng or random.Random()
    ceiling = min(MAX_DELAY_S, BASE_DELAY_S * (2 ** max(0, attempts - 1)))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class Outcome(msgspec.Struct, frozen=True):
    """What becomes of one delivery after an attempt."""

    status: Literal["sent", "pending", "failed", "skipped"]
    error: str | None = None
    skip_reason: str | None = None
    retry_in: float | None = None


def push_outcome(
    results: Sequence[tuple[str, float | None, str | None]], attempts: int, rng: random.Random | None = None
) -> Outcome:
    """Combine the results for one person's devices: ``(status, retry_after, error)`` per device.

    Reaching one device is enough; invalid tokens are not errors but a reason to skip; anything
    transient is retried until MAX_ATTEMPTS.
    """
    statuses = [status for status, _, _ in results]
    if not results:
        return Outcome("skipped", skip_reason="no_device")
    if "sent" in statuses:
        return Outcome("sent")
    errors = "; ".join(sorted({error for _, _, error in results if error}))[:500] or None
    if "retry" in statuses:
        if attempts >= MAX_ATTEMPTS:
            return Outcome("failed", error=errors or "gave up after retries")
        retry_after = max((ra for s, ra, _ in results if s == "retry" and ra is not None), default=None)
        return Outcome("pending", error=errors, retry_in=retry_delay(attempts, retry_after, rng))
    if all(status == "invalid_token" for status in statuses):
        return Outcome("skipped", skip_reason="no_valid_device")
    return Outcome("failed", error=errors)


def email_outcome(status: str, error: str | None, attempts: int, rng: random.Random | None = None) -> Outcome:
    """One email attempt: 4xx and connection trouble retry, 5xx is permanent."""
    if status == "sent":
        return Outcome("sent")
    if status == "retry":
        if attempts >= MAX_ATTEMPTS:
            return Outcome("failed", error=error or "gave up after retries")
        return Outcome("pending", error=error, retry_in=retry_delay(attempts, None, rng))
    return Outcome("failed", error=error)


#: a hard bounce this many times in a row suppresses the address
HARD_BOUNCE_LIMIT = 2

DIGEST_HOUR = 17  # local time in Europe/Paris: after the day's news, before the evening
WEEKLY_DIGEST_WEEKDAY = 5  # Saturday


def digest_periods_due(now: datetime) -> list[tuple[Literal["daily", "weekly"], date]]:
    """The digests due at ``now`` (Europe/Paris), each with the local date that names its run."""
    local = now.astimezone(ZoneInfo("Europe/Paris"))
    if local.hour < DIGEST_HOUR:
        return []
    due: list[tuple[Literal["daily", "weekly"], date]] = [("daily", local.date())]
    if local.weekday() == WEEKLY_DIGEST_WEEKDAY:
        due.append(("weekly", local.date()))
    return due
