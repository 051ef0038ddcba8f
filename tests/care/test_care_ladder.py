"""The check-in ladder as pure functions: a table of cases on a controllable clock, DST days included."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from care.ladder import Action, LadderState, PlanView, candidate_days, local_instant, next_action, window

EVERY_DAY = frozenset(range(1, 8))


def plan(**overrides: object) -> PlanView:
    values: dict[str, object] = {
        "days": EVERY_DAY,
        "window_start": time(8, 0),
        "window_end": time(10, 0),
        "zone": "Europe/Paris",
        "grace": timedelta(minutes=30),
        "ack_wait": timedelta(minutes=30),
        "active_from": datetime(2027, 1, 1, tzinfo=UTC),
        "has_provider": True,
    }
    values.update(overrides)
    return PlanView(**values)  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


WINTER = date(2027, 2, 10)
SPRING_FORWARD = date(2027, 3, 28)  # last Sunday of March: 02:00 → 03:00 in Europe/Paris
FALL_BACK = date(2027, 10, 31)  # last Sunday of October: 03:00 → 02:00
ALERTED = utc(2027, 2, 10, 9, 30)

CASES: list[tuple[str, PlanView, date, datetime, LadderState, Action]] = [
    ("window still open", plan(), WINTER, utc(2027, 2, 10, 8, 59), LadderState(), "none"),
    ("window closed: remind", plan(), WINTER, utc(2027, 2, 10, 9, 0), LadderState(), "remind_senior"),
    (
        "spring: 10:00 CEST is 08:00 UTC",
        plan(),
        SPRING_FORWARD,
        utc(2027, 3, 28, 8, 0),
        LadderState(),
        "remind_senior",
    ),
    ("spring: not an hour early", plan(), SPRING_FORWARD, utc(2027, 3, 28, 7, 59), LadderState(), "none"),
    (
        "autumn: 10:00 CET is 09:00 UTC",
        plan(),
        FALL_BACK,
        utc(2027, 10, 31, 9, 0),
        LadderState(),
        "remind_senior",
    ),
    ("autumn: not an hour early", plan(), FALL_BACK, utc(2027, 10, 31, 8, 30), LadderState(), "none"),
    (
        "Berlin zone alike",
        plan(zone="Europe/Berlin"),
        SPRING_FORWARD,
        utc(2027, 3, 28, 8, 0),
        LadderState(),
        "remind_senior",
    ),
    ("too late to start a ladder", plan(), WINTER, utc(2027, 2, 10, 15, 0), LadderState(), "none"),
    ("grace running", plan(), WINTER, utc(2027, 2, 10, 9, 29), LadderState(state="reminded"), "none"),
    (
        "grace over: alert circle",
        plan(),
        WINTER,
        utc(2027, 2, 10, 9, 30),
        LadderState(state="reminded"),
        "alert_circle",
    ),
    (
        "spring grace over",
        plan(),
        SPRING_FORWARD,
        utc(2027, 3, 28, 8, 30),
        LadderState(state="reminded"),
        "alert_circle",
    ),
    (
        "caregivers still have time",
        plan(),
        WINTER,
        ALERTED + timedelta(minutes=29),
        LadderState(state="circle_alerted", circle_alerted_at=ALERTED),
        "none",
    ),
    (
        "nobody answered: alert provider",
        plan(),
        WINTER,
        ALERTED + timedelta(minutes=30),
        LadderState(state="circle_alerted", circle_alerted_at=ALERTED),
        "alert_provider",
    ),
    (
        "no provider in the circle",
        plan(has_provider=False),
        WINTER,
        ALERTED + timedelta(hours=3),
        LadderState(state="circle_alerted", circle_alerted_at=ALERTED),
        "none",
    ),
    (
        "provider alerted: ladder ends",
        plan(),
        WINTER,
        utc(2027, 2, 10, 20, 0),
        LadderState(state="provider_alerted"),
        "none",
    ),
    (
        "claimed: ladder stopped",
        plan(),
        WINTER,
        utc(2027, 2, 10, 20, 0),
        LadderState(state="claimed"),
        "none",
    ),
    ("checked in on time", plan(), WINTER, utc(2027, 2, 10, 12, 0), LadderState(checked_in=True), "none"),
    (
        "late check-in resolves",
        plan(),
        WINTER,
        utc(2027, 2, 10, 9, 40),
        LadderState(state="circle_alerted", circle_alerted_at=ALERTED, checked_in=True),
        "resolve",
    ),
    (
        "paused (hospital stay)",
        plan(pauses=((date(2027, 2, 8), date(2027, 2, 12)),)),
        WINTER,
        utc(2027, 2, 10, 12, 0),
        LadderState(),
        "none",
    ),
    (
        "not a plan day (Wednesday off)",
        plan(days=frozenset({1, 2, 4, 5})),
        WINTER,
        utc(2027, 2, 10, 12, 0),
        LadderState(),
        "none",
    ),
    (
        "plan set after the window opened",
        plan(active_from=utc(2027, 2, 10, 7, 30)),
        WINTER,
        utc(2027, 2, 10, 12, 0),
        LadderState(),
        "none",
    ),
]


@pytest.mark.parametrize(
    ("plan_view", "day", "now", "state", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_ladder_next_action(
    plan_view: PlanView, day: date, now: datetime, state: LadderState, expected: Action
) -> None:
    assert next_action(plan_view, day, now, state) == expected


def test_window_on_dst_days_is_two_local_hours() -> None:
    for day in (SPRING_FORWARD, FALL_BACK, WINTER):
        start, end = window(plan(), day)
        assert end - start == timedelta(hours=2)
        assert start.astimezone(local_instant(day, time(8), "Europe/Paris").tzinfo).hour == 8


def test_window_end_in_spring_gap_resolves_to_one_instant() -> None:
    # 02:30 does not exist on that night: it is read with the winter offset, i.e. 03:30 summer time.
    assert local_instant(SPRING_FORWARD, time(2, 30), "Europe/Paris").astimezone(UTC) == utc(
        2027, 3, 28, 1, 30
    )


def test_late_evening_window_is_still_followed_after_midnight() -> None:
    evening = plan(window_start=time(21, 0), window_end=time(22, 0))
    # 00:10 in Paris on the 11th: the 10th's ladder is still a candidate
    assert candidate_days(evening, utc(2027, 2, 10, 23, 10)) == [date(2027, 2, 10)]
    assert candidate_days(evening, utc(2027, 2, 10, 20, 59)) == [date(2027, 2, 9)]


def test_no_candidate_before_the_window_closes() -> None:
    assert candidate_days(plan(), utc(2027, 2, 10, 8, 0)) == [date(2027, 2, 9)]
    assert candidate_days(plan(), utc(2027, 2, 10, 9, 0)) == [date(2027, 2, 9), WINTER]
