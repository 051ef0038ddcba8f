"""The check-in ladder as pure functions of (plan, now, state) → the next action; no I/O, no clock."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

Action = Literal["none", "remind_senior", "alert_circle", "alert_provider", "resolve"]
State = Literal["reminded", "circle_alerted", "provider_alerted", "claimed", "resolved", "stopped"]
OPEN_STATES: frozenset[str] = frozenset({"reminded", "circle_alerted", "provider_alerted"})
#: a ladder not started this long after its window closed (workers were down) is left to the next day's;
#: a ladder already under way is always carried on
START_LIMIT = timedelta(hours=6)


class PlanView(msgspec.Struct, frozen=True, kw_only=True):
    """What the ladder needs of a plan: weekdays (ISO, 1 = Monday), a local window, a zone, delays."""

    days: frozenset[int]
    window_start: time
    window_end: time
    zone: str
    grace: timedelta
    ack_wait: timedelta
    active_from: datetime
    pauses: tuple[tuple[date, date], ...] = ()
    has_provider: bool = False


class LadderState(msgspec.Struct, frozen=True, kw_only=True):
    """Where the ladder of one local date stands: None before anything was done."""

    state: State | None = None
    reminded_at: datetime | None = None
    circle_alerted_at: datetime | None = None
    checked_in: bool = False


def local_instant(day: date, at: time, zone: str) -> datetime:
    """The instant a local wall-clock time occurs on a local date.

    A time inside the spring-forward gap (02:30 on the last Sunday of March) resolves with the offset in
    force before the change, i.e. one hour later on the new clock; an ambiguous autumn time takes its first
    occurrence. Either way every window has one well-defined start and end.
    """
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone))


def window(plan: PlanView, day: date) -> tuple[datetime, datetime]:
    return local_instant(day, plan.window_start, plan.zone), local_instant(day, plan.window_end, plan.zone)


def local_date(plan: PlanView, now: datetime) -> date:
    return now.astimezone(ZoneInfo(plan.zone)).date()


def expected_on(plan: PlanView, day: date) -> bool:
    """True when a check-in is expected on this local date (a plan day, not paused, plan already in force)."""
    if day.isoweekday() not in plan.days:
        return False
    if any(first <= day <= last for first, last in plan.pauses):
        return False
    return window(plan, day)[0] >= plan.active_from


def candidate_days(plan: PlanView, now: datetime) -> list[date]:
    """Local dates whose window has closed and whose ladder may still need a step (yesterday and today)."""
    today = local_date(plan, now)
    days = [today - timedelta(days=1), today]
    return [d for d in days if expected_on(plan, d) and window(plan, d)[1] <= now]


def next_action(plan: PlanView, day: date, now: datetime, state: LadderState) -> Action:
    """The one step due now for the ladder of ``day``, given what has been done so far."""
    if not expected_on(plan, day):
        return "none"
    if state.checked_in:
        return "resolve" if state.state in OPEN_STATES else "none"
    end = window(plan, day)[1]
    if state.state is None:
        return "remind_senior" if end <= now < end + START_LIMIT else "none"
    if state.state == "reminded":
        return "alert_circle" if now >= end + plan.grace else "none"
    if state.state == "circle_alerted":
        if not plan.has_provider or state.circle_alerted_at is None:
            return "none"
        return "alert_provider" if now >= state.circle_alerted_at + plan.ack_wait else "none"
    return "none"
