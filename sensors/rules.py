"""Rule configuration: levels checked and stored, a rule with its state and history, and the dry run."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg

from hub.auth import CurrentUser
from hub.errors import REASON_TOO_LONG, InvalidField, NotFound
from i18n.content import Bilingual
from sensors import engine, queries, texts
from sensors.errors import (
    REASON_AUDIENCE,
    REASON_CLEAR_SIDE,
    REASON_LEVEL_DIRECTION,
    REASON_LEVEL_ORDER,
    REASON_NOTHING_TO_WATCH,
    REASON_TEMPLATE,
)
from sensors.models import Audience as RuleAudience
from sensors.models import DryRun, Level, LevelIn, Rule, RuleEvent, RuleIn, RuleState
from sensors.service import priority_of
from territory import service as territory

#: how far back a dry run replays the stored readings
DRY_RUN_DAYS = 30


def _levels(levels: Sequence[LevelIn]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, lvl in enumerate(levels):
        if (lvl.above is None) == (lvl.below is None):
            raise InvalidField(f"levels[{i}]", REASON_LEVEL_DIRECTION)
        direction: Literal["above", "below"] = "above" if lvl.above is not None else "below"
        value = lvl.above if lvl.above is not None else lvl.below
        assert value is not None
        if (direction == "above" and lvl.clear_at > value) or (direction == "below" and lvl.clear_at < value):
            raise InvalidField(f"levels[{i}].clear_at", REASON_CLEAR_SIDE)
        if out:
            previous = out[-1]
            worse = value > previous["value"] if direction == "above" else value < previous["value"]
            if previous["direction"] != direction or not worse:
                raise InvalidField(f"levels[{i}]", REASON_LEVEL_ORDER)
        out.append(
            {
                "name": lvl.name.strip(),
                "direction": direction,
                "value": value,
                "clear_at": lvl.clear_at,
                "for_s": lvl.for_s,
                "priority": lvl.priority,
            }
        )
    return out


async def _checked_rule(conn: asyncpg.Connection, data: RuleIn) -> dict[str, Any]:
    levels = _levels(data.levels)
    if (
        not levels
        and data.no_data_after_s is None
        and data.rise_per_hour is None
        and data.stuck_after_s is None
    ):
        raise InvalidField("levels", REASON_NOTHING_TO_WATCH)
    if data.audience.municipality_codes and data.audience.community_id is not None:
        raise InvalidField("audience", REASON_AUDIENCE)
    codes = list(dict.fromkeys(data.audience.municipality_codes))
    await territory.check_known(conn, codes, field="audience.municipality_codes")
    message = data.message.stripped()
    for lang, template in (("fr", message.fr), ("de", message.de)):
        if template is None:
            continue
        if len(template) > 500:
            raise InvalidField(f"message.{lang}", REASON_TOO_LONG, max=500)
        problem = texts.template_problem(template)
        if problem is not None:
            raise InvalidField(f"message.{lang}", REASON_TEMPLATE, placeholder=problem)
    return {
        "levels": levels,
        "no_data_after_s": data.no_data_after_s,
        "rise_per_hour": data.rise_per_hour,
        "stuck_after_s": data.stuck_after_s,
        "audience_municipality_codes": codes,
        "audience_community_id": data.audience.community_id,
        "template_fr": message.fr,
        "template_de": message.de,
        "heat": data.heat,
        "enabled": data.enabled,
    }


def _level_view(level: dict[str, Any], locale: str) -> Level:
    return Level(
        name=level["name"],
        label=texts.level_label(level["name"], locale),
        above=level["value"] if level["direction"] == "above" else None,
        below=level["value"] if level["direction"] == "below" else None,
        clear_at=level["clear_at"],
        for_s=level["for_s"],
        priority=priority_of(level),
    )


def _event_view(
    rule: queries.RuleRow, kind: str, level: int, value: float | None, at: datetime, duration_s: int | None
) -> RuleEvent:
    name = rule.levels[level]["name"] if 0 <= level < len(rule.levels) else None
    return RuleEvent(kind=kind, level=name, value=value, at=at, duration_s=duration_s)


async def _rule_view(conn: asyncpg.Connection, rule: queries.RuleRow, locale: str) -> Rule:
    held = rule.level if rule.level >= 0 else rule.candidate
    since = {
        "pending": rule.candidate_since,
        "firing": rule.incident_started_at,
        "recovering": rule.recovering_since,
        "no_data": rule.last_seen,
    }.get(rule.status)
    events = await queries.events_of(conn, rule.id)
    return Rule(
        id=rule.id,
        sensor_id=rule.sensor_id,
        levels=[_level_view(lvl, locale) for lvl in rule.levels],
        no_data_after_s=rule.no_data_after_s,
        rise_per_hour=rule.rise_per_hour,
        stuck_after_s=rule.stuck_after_s,
        audience=RuleAudience(
            municipality_codes=rule.audience_municipality_codes, community_id=rule.audience_community_id
        ),
        message=Bilingual(fr=rule.template_fr, de=rule.template_de),
        heat=rule.heat,
        enabled=rule.enabled,
        state=RuleState(
            status=rule.status,  # type: ignore[arg-type]
            level=rule.levels[held]["name"] if 0 <= held < len(rule.levels) else None,
            since=since,
            last_value=rule.last_value,
            last_seen=rule.last_seen,
            stuck=rule.stuck,
        ),
        history=[_event_view(rule, e.kind, e.level, e.value, e.at, e.duration_s) for e in events],
        created_at=rule.created_at,
    )


async def create_rule(
    conn: asyncpg.Connection, user: CurrentUser, sensor_id: uuid.UUID, data: RuleIn, locale: str
) -> Rule:
    """Hub administrators set rules (they decide who is alerted); the rule starts from the latest reading."""
    if not user.is_admin:
        raise NotFound()
    sensor = await queries.sensor(conn, sensor_id)
    if sensor is None:
        raise NotFound()
    values = await _checked_rule(conn, data)
    rule = await queries.insert_rule(conn, {"sensor_id": sensor.id, "created_by": user.id, **values})
    return await _rule_view(conn, rule, locale)


async def get_rule(
    conn: asyncpg.Connection, user: CurrentUser, sensor_id: uuid.UUID, rule_id: uuid.UUID, locale: str
) -> Rule:
    if not user.is_admin:
        raise NotFound()
    rule = await queries.rule(conn, sensor_id, rule_id)
    if rule is None:
        raise NotFound()
    return await _rule_view(conn, rule, locale)


def replay(
    spec: engine.RuleSpec, points: Sequence[queries.Point]
) -> list[tuple[engine.Action, engine.State]]:
    """Run a rule over readings as if it had been on from the first: silences become timer ticks."""
    state = engine.State()
    out: list[tuple[engine.Action, engine.State]] = []
    for point in points:
        if point.quality:
            continue
        if spec.no_data_after_s is not None and state.last_seen is not None:
            silent_at = state.last_seen + timedelta(seconds=spec.no_data_after_s)
            if silent_at <= point.observed_at:
                state, actions = engine.step(spec, state, engine.Tick(), silent_at)
                out.extend((a, state) for a in actions)
        state, actions = engine.step(
            spec, state, engine.Observation(point.value, point.observed_at), point.observed_at
        )
        out.extend((a, state) for a in actions)
    return out


async def dry_run(
    conn: asyncpg.Connection,
    user: CurrentUser,
    sensor_id: uuid.UUID,
    data: RuleIn,
    now: datetime | None = None,
) -> DryRun:
    """What a rule would have sent over the stored history of its sensor (the last 30 days)."""
    if not user.is_admin:
        raise NotFound()
    sensor = await queries.sensor(conn, sensor_id)
    if sensor is None:
        raise NotFound()
    values = await _checked_rule(conn, data)
    start = (now or datetime.now(UTC)) - timedelta(days=DRY_RUN_DAYS)
    points = await queries.series(conn, sensor.id, start)
    spec = engine.RuleSpec(
        levels=tuple(
            engine.Level(v["name"], v["direction"], v["value"], v["clear_at"], v["for_s"])
            for v in values["levels"]
        ),
        no_data_after_s=values["no_data_after_s"],
        rise_per_hour=values["rise_per_hour"],
        stuck_after_s=values["stuck_after_s"],
    )
    events = []
    for action, _ in replay(spec, points):
        name = values["levels"][action.level]["name"] if 0 <= action.level < len(values["levels"]) else None
        assert action.at is not None
        events.append(
            RuleEvent(
                kind=action.kind, level=name, value=action.value, at=action.at, duration_s=action.duration_s
            )
        )
    return DryRun(observations=len(points), events=events)
