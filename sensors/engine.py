"""The rule engine as a pure function: (state, observation or tick, now) → (new state, actions)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

Status = Literal["normal", "pending", "firing", "recovering", "no_data"]
ActionKind = Literal["fire", "escalate", "all_clear", "no_data", "data_back", "stuck", "rise"]

#: a value that moves less than this is "the same" for the stuck-sensor check
STUCK_EPSILON = 1e-9


@dataclass(frozen=True)
class Level:
    """One level of a rule: reached at ``value``, left only past ``clear_at`` (hysteresis)."""

    name: str
    direction: Literal["above", "below"]
    value: float
    clear_at: float
    for_s: int = 0

    def reached(self, value: float) -> bool:
        return value >= self.value if self.direction == "above" else value <= self.value

    def cleared(self, value: float) -> bool:
        return value < self.clear_at if self.direction == "above" else value > self.clear_at


@dataclass(frozen=True)
class RuleSpec:
    """What a rule checks; ``levels`` go from the mildest to the most severe."""

    levels: tuple[Level, ...]
    no_data_after_s: int | None = None
    rise_per_hour: float | None = None
    stuck_after_s: int | None = None


@dataclass(frozen=True)
class State:
    """A rule's state as stored in its row (locked while it changes)."""

    status: Status = "normal"
    #: the level told to people (-1: none)
    level: int = -1
    #: a higher level waiting for its minimum duration, and since when
    candidate: int = -1
    candidate_since: datetime | None = None
    recovering_since: datetime | None = None
    incident_started_at: datetime | None = None
    #: the status to return to when data comes back after a silence
    before_no_data: Status = "normal"
    last_seen: datetime | None = None
    last_value: float | None = None
    value_since: datetime | None = None
    stuck: bool = False
    rising: bool = False


@dataclass(frozen=True)
class Observation:
    value: float
    at: datetime
    doubtful: bool = False
    #: change over the last hour (units per hour), when enough history exists
    rate_per_hour: float | None = None


@dataclass(frozen=True)
class Tick:
    """The timer: no data arrived, but time passed."""


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    level: int = -1
    value: float | None = None
    at: datetime | None = None
    #: for an all-clear, how long the incident lasted
    duration_s: int | None = None


def effective_level(spec: RuleSpec, held: int, value: float) -> int:
    """The level a value stands at, given the level already held: a held level stays until its clear
    threshold is passed, so noise around a limit does not flap."""
    reached = max((i for i, lvl in enumerate(spec.levels) if lvl.reached(value)), default=-1)
    kept = max((i for i in range(held + 1) if not spec.levels[i].cleared(value)), default=-1)
    return max(reached, kept)


def _for(spec: RuleSpec, level: int) -> timedelta:
    return timedelta(seconds=spec.levels[level].for_s)


def step(
    spec: RuleSpec, state: State, event: Observation | Tick, now: datetime
) -> tuple[State, list[Action]]:
    """Apply one observation or timer tick. Doubtful and out-of-order observations change nothing."""
    if isinstance(event, Tick):
        return _tick(spec, state, now)
    if event.doubtful or (state.last_seen is not None and event.at <= state.last_seen):
        return state, []
    actions: list[Action] = []
    if state.status == "no_data":
        state = replace(state, status=state.before_no_data)
        actions.append(Action("data_back", state.level, event.value, event.at))
    state, found = _observe(spec, state, event)
    actions.extend(found)
    return state, actions


def _tick(spec: RuleSpec, state: State, now: datetime) -> tuple[State, list[Action]]:
    if (
        spec.no_data_after_s is None
        or state.status == "no_data"
        or state.last_seen is None
        or now - state.last_seen < timedelta(seconds=spec.no_data_after_s)
    ):
        return state, []
    silent = replace(state, status="no_data", before_no_data=state.status)
    return silent, [Action("no_data", state.level, state.last_value, now)]


def _observe(spec: RuleSpec, state: State, obs: Observation) -> tuple[State, list[Action]]:
    actions: list[Action] = []
    value, at = obs.value, obs.at
    # Stuck sensor: the same value for too long.
    if state.last_value is None or abs(value - state.last_value) > STUCK_EPSILON:
        state = replace(state, value_since=at, stuck=False)
    elif (
        spec.stuck_after_s is not None
        and not state.stuck
        and state.value_since is not None
        and at - state.value_since >= timedelta(seconds=spec.stuck_after_s)
    ):
        state = replace(state, stuck=True)
        actions.append(Action("stuck", state.level, value, at))
    # Fast rise, told once until the rise slows to half the limit.
    if spec.rise_per_hour is not None and obs.rate_per_hour is not None:
        if not state.rising and obs.rate_per_hour >= spec.rise_per_hour:
            state = replace(state, rising=True)
            actions.append(Action("rise", state.level, value, at))
        elif state.rising and obs.rate_per_hour < spec.rise_per_hour / 2:
            state = replace(state, rising=False)
    state = replace(state, last_seen=at, last_value=value)
    if not spec.levels:
        return state, actions

    if state.status in ("normal", "pending"):
        held = state.candidate if state.status == "pending" else -1
        target = effective_level(spec, held, value)
        if target < 0:
            return replace(state, status="normal", candidate=-1, candidate_since=None), actions
        since = state.candidate_since if state.status == "pending" and state.candidate_since else at
        if at - since >= _for(spec, target):
            state = replace(
                state,
                status="firing",
                level=target,
                candidate=-1,
                candidate_since=None,
                incident_started_at=since,
            )
            actions.append(Action("fire", target, value, at))
        else:
            state = replace(state, status="pending", candidate=target, candidate_since=since)
        return state, actions

    # firing or recovering: a level is held
    target = effective_level(spec, state.level, value)
    if target < 0:
        if state.status == "firing":
            state = replace(state, status="recovering", recovering_since=at, candidate=-1)
        assert state.recovering_since is not None
        clear_for = timedelta(seconds=spec.levels[0].for_s)
        if at - state.recovering_since >= clear_for:
            started = state.incident_started_at or state.recovering_since
            actions.append(Action("all_clear", state.level, value, at, int((at - started).total_seconds())))
            state = replace(
                state,
                status="normal",
                level=-1,
                candidate=-1,
                candidate_since=None,
                recovering_since=None,
                incident_started_at=None,
            )
        return state, actions
    state = replace(state, status="firing", recovering_since=None)
    if target > state.level:
        since = state.candidate_since if state.candidate == target and state.candidate_since else at
        if at - since >= _for(spec, target):
            state = replace(state, level=target, candidate=-1, candidate_since=None)
            actions.append(Action("escalate", target, value, at))
        else:
            state = replace(state, candidate=target, candidate_since=since)
    else:
        # A lower level (or the same): people were told of the higher one, nothing new to say.
        state = replace(state, level=target, candidate=-1, candidate_since=None)
    return state, actions
