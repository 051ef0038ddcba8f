"""The rule engine's transitions as a table of cases: (state, observation or tick, now) → (state, actions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sensors.engine import Level, Observation, RuleSpec, State, Tick, effective_level, step

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
VIGILANCE = RuleSpec(
    levels=(
        Level("yellow", "above", 200, 190, 600),
        Level("orange", "above", 250, 240, 600),
        Level("red", "above", 300, 290, 600),
    ),
    no_data_after_s=1800,
)
LOW_WATER = RuleSpec(levels=(Level("low", "below", 50, 60, 0),))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(
    spec: RuleSpec, readings: list[tuple[float, float]], state: State | None = None
) -> tuple[State, list[str]]:
    """Feed (minute, value) readings; returns the final state and 'kind:level' of every action."""
    state = state or State(last_seen=T0 - timedelta(minutes=1))
    told: list[str] = []
    for minute, value in readings:
        state, actions = step(spec, state, Observation(value, at(minute)), at(minute))
        told.extend(f"{a.kind}:{a.level}" for a in actions)
    return state, told


@pytest.mark.parametrize(
    ("held", "value", "expected"),
    [
        (-1, 150, -1),
        (-1, 200, 0),
        (-1, 255, 1),
        (-1, 320, 2),
        (1, 245, 1),  # below orange, above its clear level: orange is kept
        (1, 239, 0),  # past orange's clear level, yellow still holds
        (2, 295, 2),
        (2, 285, 1),
        (0, 189, -1),
    ],
)
def test_effective_level_keeps_a_held_level_until_its_clear_threshold(
    held: int, value: float, expected: int
) -> None:
    assert effective_level(VIGILANCE, held, value) == expected


@pytest.mark.parametrize(
    ("name", "spec", "readings", "status", "told"),
    [
        ("quiet water", VIGILANCE, [(0, 120), (10, 125), (20, 130)], "normal", []),
        ("short spike does not last its minimum duration", VIGILANCE, [(0, 210), (5, 180)], "normal", []),
        (
            "above a level for its minimum duration fires once",
            VIGILANCE,
            [(0, 210), (10, 212), (20, 215)],
            "firing",
            ["fire:0"],
        ),
        (
            "noise around the limit keeps pending, then fires",
            VIGILANCE,
            [(0, 201), (5, 198), (10, 202)],
            "firing",
            ["fire:0"],
        ),
        (
            "straight to red fires red only",
            VIGILANCE,
            [(0, 310), (10, 312)],
            "firing",
            ["fire:2"],
        ),
        (
            "escalation per level",
            VIGILANCE,
            [(0, 210), (10, 215), (20, 255), (30, 260), (40, 305), (50, 310)],
            "firing",
            ["fire:0", "escalate:1", "escalate:2"],
        ),
        (
            "plateau with noise around orange sends nothing more",
            VIGILANCE,
            [(0, 255), (10, 256), (20, 248), (30, 252), (40, 241), (50, 257), (60, 246)],
            "firing",
            ["fire:1"],
        ),
        (
            "falling below the clear level recovers, then one all-clear",
            VIGILANCE,
            [(0, 255), (10, 256), (20, 235), (30, 185), (40, 180), (50, 150)],
            "normal",
            ["fire:1", "all_clear:0"],  # orange was left silently for yellow on the way down
        ),
        (
            "a dip below the clear level that comes back is the same incident",
            VIGILANCE,
            [(0, 255), (10, 256), (20, 185), (25, 205), (35, 207)],
            "firing",
            ["fire:1"],
        ),
        (
            "below levels work the other way",
            LOW_WATER,
            [(0, 49), (10, 55), (20, 61)],
            "normal",
            ["fire:0", "all_clear:0"],
        ),
    ],
)
def test_transitions(
    name: str, spec: RuleSpec, readings: list[tuple[float, float]], status: str, told: list[str]
) -> None:
    state, actions = run(spec, readings)
    assert (state.status, actions) == (status, told), name


def test_all_clear_tells_the_incident_duration() -> None:
    state, _ = run(VIGILANCE, [(0, 255), (10, 256), (60, 180)])
    state, actions = step(VIGILANCE, state, Observation(175, at(70)), at(70))
    assert [a.kind for a in actions] == ["all_clear"]
    assert actions[0].duration_s == 70 * 60


def test_doubtful_and_out_of_order_readings_change_nothing() -> None:
    state, _ = run(VIGILANCE, [(0, 150), (10, 151)])
    assert step(VIGILANCE, state, Observation(900, at(20), doubtful=True), at(20)) == (state, [])
    assert step(VIGILANCE, state, Observation(260, at(5)), at(20)) == (state, [])


def test_silence_fires_no_data_once_without_readings_then_data_comes_back() -> None:
    state, _ = run(VIGILANCE, [(0, 150)])
    assert step(VIGILANCE, state, Tick(), at(29)) == (state, [])
    silent, actions = step(VIGILANCE, state, Tick(), at(30))
    assert silent.status == "no_data"
    assert [a.kind for a in actions] == ["no_data"]
    assert step(VIGILANCE, silent, Tick(), at(90)) == (silent, [])
    back, actions = step(VIGILANCE, silent, Observation(151, at(95)), at(95))
    assert back.status == "normal"
    assert [a.kind for a in actions] == ["data_back"]


def test_a_firing_rule_that_falls_silent_resumes_firing_without_a_new_alert() -> None:
    state, _ = run(VIGILANCE, [(0, 255), (10, 256)])
    silent, _ = step(VIGILANCE, state, Tick(), at(60))
    back, actions = step(VIGILANCE, silent, Observation(257, at(65)), at(65))
    assert (back.status, back.level) == ("firing", 1)
    assert [a.kind for a in actions] == ["data_back"]


def test_stuck_value_is_told_once_and_forgotten_when_it_moves() -> None:
    spec = RuleSpec(levels=(), stuck_after_s=3600)
    state, told = run(spec, [(m, 142.0) for m in range(0, 130, 10)])
    assert told == ["stuck:-1"]
    assert state.stuck
    state, told = run(spec, [(140, 143.0)], state)
    assert told == []
    assert not state.stuck


def test_fast_rise_is_told_once_until_it_slows() -> None:
    spec = RuleSpec(levels=(), rise_per_hour=20)
    state = State(last_seen=T0)
    told = []
    for minute, value, rate in [(10, 100, 5), (20, 110, 25), (30, 120, 30), (40, 122, 8), (50, 140, 24)]:
        state, actions = step(spec, state, Observation(value, at(minute), rate_per_hour=rate), at(minute))
        told += [a.kind for a in actions]
    assert told == ["rise", "rise"]
