"""Pure delivery decisions (no I/O): channels, quiet hours, retry deadlines, outcomes, circuit breakers, digests."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from hub.domain import Partitioned

#: first wait before retrying a transient failure; it doubles with each attempt, with jitter
BASE_DELAY_S = 5.0
#: the longest wait between two attempts (urgent and care alerts: never more than two minutes)
MAX_DELAY_S = 15 * 60.0
URGENT_MAX_DELAY_S = 120.0
#: how long a delivery keeps retrying transient failures before it ends ``failed``: urgent and care alerts
#: for hours (then the next channel or the next step of the care ladder takes over), anything else a day
URGENT_RETRY_WINDOW = timedelta(hours=3)
RETRY_WINDOW = timedelta(days=1)
#: a claimed delivery's lease; the sending job renews it every LEASE_S / 3 seconds (a heartbeat), so the
#: deliveries of a worker that died are pending again at most this long after its last heartbeat
LEASE_S = 10
#: a lease for work sent in one go without a heartbeat (a digest run, one direct email)
LONG_LEASE_S = 120
#: deliveries one claim takes; they are sent and recorded SLICE_SIZE at a time
BATCH_SIZE = 500
#: deliveries sent between two records of their outcomes: a worker killed at any moment sends at most
#: one slice per running dispatch job a second time
SLICE_SIZE = 50
#: a dispatch job takes no further slice after this long: it gives the rest of its claim back and hands
#: its notification's channel to a new job at the back of the queue, so other notifications' jobs get their
#: turn, and no job meets the worker's job timeout (300 s), which would cancel it in the middle of a slice
#: and send that slice again
DISPATCH_BUDGET_S = 120.0

#: deliveries and inbox rows live in weekly partitions by the time they were planned, dropped whole after
#: HUB_RETENTION_DAYS (a week with a delivery still to send or held for a digest keeps those rows); rows
#: written outside planning lie in the DEFAULT partition and are purged row by row
DELIVERIES = Partitioned(
    "deliveries",
    "planned_at",
    # one arm per partial index (pending, sending: those with a lease, held): finding them reads no whole week
    "status = 'pending' OR lease_until IS NOT NULL OR status = 'held'",
)

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


#: kinds a publisher sends to a whole community: bulk work whatever their priority, so that a post to
#: 100,000 members never holds up an alert about one person
PUBLISHED_KINDS = ("post", "event")


def urgent_lane(priority: str, kind: str) -> bool:
    """Whether a notification is planned and dispatched on the urgent queue: care alerts (the ladder's
    steps, providers' alerts, circle messages) and urgent alerts of authorities and sensors (severe
    official warnings, red levels), never a community's posts or events."""
    if kind.startswith(PUBLISHED_KINDS):
        return False
    return kind.startswith("care.") or priority == "urgent"


def retry_window(priority: str, kind: str) -> timedelta:
    """How long a delivery of this notification keeps retrying (the planner applies the same rule)."""
    return URGENT_RETRY_WINDOW if priority == "urgent" or kind.startswith("care.") else RETRY_WINDOW


def retry_delay(
    attempts: int, retry_after: float | None, rng: random.Random | None = None, cap: float = MAX_DELAY_S
) -> float:
    """Seconds before the next attempt: capped exponential backoff with jitter, never sooner than Retry-After."""
    rng = rng or random.Random()
    ceiling = min(cap, BASE_DELAY_S * (2 ** min(30, max(0, attempts - 1))))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class Outcome(msgspec.Struct, frozen=True):
    """What becomes of one delivery after an attempt; ``provider`` says a transient failure was the
    provider's (unreachable, throttling, 5xx), not this recipient's."""

    status: Literal["sent", "pending", "failed", "skipped"]
    error: str | None = None
    skip_reason: str | None = None
    retry_in: float | None = None
    provider: bool = False


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """When the delivery's attempt happened and until when it may be retried."""

    now: datetime
    retry_until: datetime
    urgent: bool = False


def _retry(
    policy: RetryPolicy,
    attempts: int,
    retry_after: float | None,
    error: str | None,
    rng: random.Random | None,
    *,
    provider: bool,
) -> Outcome:
    """Try again after a backoff, unless the deadline has passed; the last attempt is at the deadline."""
    left = (policy.retry_until - policy.now).total_seconds()
    if left <= 0:
        return Outcome("failed", error=f"gave up at the retry deadline: {error or 'transient failure'}"[:500])
    cap = URGENT_MAX_DELAY_S if policy.urgent else MAX_DELAY_S
    delay = min(retry_delay(attempts, retry_after, rng, cap), left)
    return Outcome("pending", error=error, retry_in=delay, provider=provider)


def push_outcome(
    results: Sequence[tuple[str, float | None, str | None]],
    attempts: int,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> Outcome:
    """Combine the results for one person's devices: ``(status, retry_after, error)`` per device.

    Reaching one device is enough; invalid tokens are not errors but a reason to skip; anything
    transient (429, 5xx, no connection) is the provider's and retried until the deadline.
    """
    statuses = [status for status, _, _ in results]
    if not results:
        return Outcome("skipped", skip_reason="no_device")
    if "sent" in statuses:
        return Outcome("sent")
    errors = "; ".join(sorted({error for _, _, error in results if error}))[:500] or None
    if "retry" in statuses:
        retry_after = max((ra for s, ra, _ in results if s == "retry" and ra is not None), default=None)
        return _retry(policy, attempts, retry_after, errors, rng, provider=True)
    if all(status == "invalid_token" for status in statuses):
        return Outcome("skipped", skip_reason="no_valid_device")
    return Outcome("failed", error=errors)


def email_outcome(
    status: str,
    error: str | None,
    attempts: int,
    policy: RetryPolicy,
    rng: random.Random | None = None,
    *,
    provider: bool = False,
) -> Outcome:
    """One email attempt: 4xx and connection trouble retry until the deadline, 5xx is permanent.
    ``provider`` is true when the server could not be reached or used at all (not this recipient's 4xx)."""
    if status == "sent":
        return Outcome("sent")
    if status == "retry":
        return _retry(policy, attempts, None, error, rng, provider=provider)
    return Outcome("failed", error=error)


# -- the circuit breaker of a provider ------------------------------------------------------------------

#: provider failures in a row, with no success between, that open the circuit
CIRCUIT_THRESHOLD = 20
#: the first pause of an open circuit before a probe; it doubles with each failed probe, up to the maximum
CIRCUIT_BASE_S = 5.0
CIRCUIT_MAX_S = 60.0
#: how long a probe may take before another worker may probe again
PROBE_S = 30.0
#: deliveries a probe sends
PROBE_SIZE = 5

Gate = Literal["send", "probe", "wait"]


class Circuit(msgspec.Struct, frozen=True, kw_only=True):
    """A provider's circuit, shared by every worker: closed (``open_until`` None) or open until a time."""

    failures: int = 0
    trips: int = 0
    opened_at: datetime | None = None
    open_until: datetime | None = None
    probe_until: datetime | None = None
    last_error: str | None = None

    @property
    def is_open(self) -> bool:
        return self.open_until is not None


def gate(circuit: Circuit, now: datetime) -> Gate:
    """May a dispatcher send now: yes; only a probe (the pause is over, nobody probes); or not at all."""
    if circuit.open_until is None:
        return "send"
    if now < circuit.open_until:
        return "wait"
    if circuit.probe_until is not None and now < circuit.probe_until:
        return "wait"
    return "probe"


def circuit_after(
    circuit: Circuit,
    *,
    answered: int,
    provider_failures: int,
    retry_after: float | None,
    error: str | None,
    now: datetime,
    rng: random.Random | None = None,
) -> Circuit:
    """The circuit after a slice of sends: any answer of the provider (a success, or a refusal that is
    about one recipient) closes it; provider failures in a row open it (a failed probe opens it again for
    longer), for at least the provider's Retry-After."""
    if answered > 0:
        return Circuit()
    if provider_failures == 0:
        return circuit
    failures = circuit.failures + provider_failures
    if not circuit.is_open and failures < CIRCUIT_THRESHOLD:
        return msgspec.structs.replace(circuit, failures=failures, last_error=error)
    trips = circuit.trips + 1
    ceiling = min(CIRCUIT_MAX_S, CIRCUIT_BASE_S * (2 ** min(30, trips - 1)))
    pause = (rng or random.Random()).uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        pause = max(pause, retry_after)
    return Circuit(
        failures=failures,
        trips=trips,
        opened_at=circuit.opened_at or now,
        open_until=now + timedelta(seconds=pause),
        probe_until=None,
        last_error=error,
    )


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
