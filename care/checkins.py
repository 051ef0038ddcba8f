"""Daily check-ins and their escalation ladder: the plan, check-ins, ladder steps, claims, the batch job."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from prometheus_client import Counter

from care import ladder
from care.common import CircleAccess, access_circle, current_time, messages
from care.errors import (
    REASON_PAUSE_ORDER,
    REASON_WINDOW_ORDER,
    AlreadyClaimed,
    CircleClosed,
    CirclePending,
    EscalationOver,
    NoCircle,
)
from care.models import Checkin, Escalation, Plan, PlanIn
from care.queries import checkins as queries
from care.queries import common
from hub.auth import CurrentUser
from hub.errors import Forbidden, InvalidField, NotFound
from hub.logs import get_logger
from messaging.models import Audience, Message, Priority
from messaging.service import notify

log = get_logger("care")
LADDER_STEPS = Counter("hub_care_ladder_steps_total", "Check-in ladder steps taken, by step", ["step"])


# -- check-in plan and check-ins ---------------------------------------------------------------------------


async def put_plan(
    conn: asyncpg.Connection, user: CurrentUser, data: PlanIn, now: datetime | None = None
) -> Plan:
    """The senior sets their own plan; it applies from the next window that opens after now."""
    circle = await queries.open_circle_of(conn, user.id)
    if circle is None:
        raise NoCircle()
    return await _set_plan(conn, circle, user.id, data, now or current_time())


async def get_plan(conn: asyncpg.Connection, user: CurrentUser) -> Plan:
    plan = await queries.plan_of(conn, user.id)
    if plan is None:
        raise NotFound()
    return plan


async def _plan_access(conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID) -> CircleAccess:
    """The senior, or the member who set the circle up for them; other members get 403, others 404."""
    access = await access_circle(conn, user.id, circle_id)
    if access.role != "senior" and not access.proxy:
        raise Forbidden()
    return access


async def put_circle_plan(
    conn: asyncpg.Connection,
    user: CurrentUser,
    circle_id: uuid.UUID,
    data: PlanIn,
    now: datetime | None = None,
) -> Plan:
    """The plan of the circle's senior, set by the senior or by the person who set the circle up for them
    (while a member); the circle's log records who set it. A closed circle takes no plan."""
    access = await _plan_access(conn, user, circle_id)
    if access.circle.closed_at is not None:
        raise CircleClosed()
    if access.circle.pending:
        raise CirclePending()
    return await _set_plan(conn, access.circle, user.id, data, now or current_time())


async def get_circle_plan(conn: asyncpg.Connection, user: CurrentUser, circle_id: uuid.UUID) -> Plan:
    """The senior's plan, for the senior or the person who set the circle up for them."""
    access = await _plan_access(conn, user, circle_id)
    plan = await queries.plan_of(conn, access.circle.senior_id)
    if plan is None or plan.circle_id != circle_id:
        raise NotFound()
    await common.log_access(conn, circle_id, user.id, "checkin_plan")
    return plan


async def _set_plan(
    conn: asyncpg.Connection,
    circle: common.CircleRow,
    actor_id: uuid.UUID,
    data: PlanIn,
    now: datetime,
) -> Plan:
    """Store the senior's plan (in their zone unless one is given) and log who set it."""
    if data.window_start >= data.window_end:
        raise InvalidField("window_end", REASON_WINDOW_ORDER)
    for pause in data.pauses:
        if pause.first_day > pause.last_day:
            raise InvalidField("pauses", REASON_PAUSE_ORDER)
    zone = data.zone
    if zone is None:
        person = await common.user(conn, circle.senior_id)
        zone = "Europe/Berlin" if person and person.time_zone == "Europe/Berlin" else "Europe/Paris"
    await queries.upsert_plan(
        conn,
        senior_id=circle.senior_id,
        circle_id=circle.id,
        days=sorted(set(data.days)),
        window_start=data.window_start.replace(tzinfo=None),
        window_end=data.window_end.replace(tzinfo=None),
        zone=zone,
        grace_minutes=data.grace_minutes,
        caregiver_ack_minutes=data.caregiver_ack_minutes,
        pauses=data.pauses,
        now=now,
    )
    await common.insert_event(
        conn, circle.id, "plan_updated", at=now, actor_id=actor_id, subject_id=circle.senior_id
    )
    if actor_id != circle.senior_id:
        # Someone else changed when the senior is expected to check in: the senior hears of it at once.
        actor = await common.user(conn, actor_id)
        title, body = messages("plan_changed", proxy=actor.display_name if actor else "")
        await notify(
            conn,
            kind="care.plan_changed",
            audience=Audience(user_ids=(circle.senior_id,)),
            title=title,
            body=body,
            deep_link=f"/care/circles/{circle.id}",
            priority="important",
            source_id=circle.id,
            sender_id=actor_id,
            respect_preferences=False,
            channels=("push", "email"),
        )
    plan = await queries.plan_of(conn, circle.senior_id)
    assert plan is not None
    return plan


def _view(plan: queries.PlanRow, pauses: list[Any], has_provider: bool) -> ladder.PlanView:
    return ladder.PlanView(
        days=frozenset(plan.days),
        window_start=plan.window_start,
        window_end=plan.window_end,
        zone=plan.zone,
        grace=timedelta(minutes=plan.grace_minutes),
        ack_wait=timedelta(minutes=plan.caregiver_ack_minutes),
        active_from=plan.active_from,
        pauses=tuple((p.first_day, p.last_day) for p in pauses),
        has_provider=has_provider,
    )


async def check_in(conn: asyncpg.Connection, user: CurrentUser, now: datetime | None = None) -> Checkin:
    """ "I'm fine": recorded for the local date of the senior's plan; an open ladder for that date stops."""
    now = now or current_time()
    plan = await queries.plan_of(conn, user.id)
    zone = plan.zone if plan else "Europe/Paris"
    day = now.astimezone(ZoneInfo(zone)).date()
    await queries.insert_checkin(conn, user.id, day, now)
    circle = await queries.open_circle_of(conn, user.id)
    if circle is not None:
        await common.insert_event(conn, circle.id, "checked_in", at=now, actor_id=user.id, local_date=day)
    if plan is not None and circle is not None:
        escalation = await queries.escalation_for(conn, plan.id, day)
        if escalation is not None and escalation.state in ladder.OPEN_STATES:
            await _resolve(conn, escalation, circle.senior_name, user.id, now)
    return Checkin(at=now, local_date=day)


# -- the ladder ------------------------------------------------------------------------------------------------


async def _tell(
    conn: asyncpg.Connection,
    kind: str,
    user_ids: list[uuid.UUID],
    title: Message,
    body: Message,
    *,
    deep_link: str,
    source_id: uuid.UUID,
    priority: Priority,
    ack_requested: bool = False,
) -> None:
    """A care notification that people in a circle cannot opt out of (they consented to the circle)."""
    if not user_ids:
        return
    await notify(
        conn,
        kind=kind,
        audience=Audience(user_ids=tuple(user_ids)),
        title=title,
        body=body,
        deep_link=deep_link,
        priority=priority,
        source_id=source_id,
        ack_requested=ack_requested,
        respect_preferences=False,
        channels=("push", "email"),
    )


async def _resolve(
    conn: asyncpg.Connection,
    escalation: queries.EscalationRow,
    senior_name: str,
    senior_id: uuid.UUID,
    now: datetime,
) -> None:
    if not await queries.advance_escalation(
        conn, escalation.id, expected=tuple(ladder.OPEN_STATES), state="resolved", now=now
    ):
        return
    await common.insert_event(
        conn,
        escalation.circle_id,
        "resolved_by_checkin",
        at=now,
        subject_id=senior_id,
        escalation_id=escalation.id,
        local_date=escalation.local_date,
    )
    if escalation.state == "reminded":
        return  # nobody else was alerted yet
    told = await queries.recipients(
        conn, escalation.circle_id, providers=None if escalation.state == "provider_alerted" else False
    )
    await _tell(
        conn,
        "care.checkin_resolved",
        told,
        *messages("checkin_resolved", name=senior_name),
        deep_link=f"/care/circles/{escalation.circle_id}",
        source_id=escalation.id,
        priority="important",
    )


class _Alert(msgspec.Struct, frozen=True, kw_only=True):
    """A ladder step that alerts part of the circle: the state it moves from and to (also the event's
    kind), who is told, with which notification kind and texts."""

    expected: str
    state: str
    providers: bool
    kind: str
    texts: str


_ALERTS: dict[ladder.Action, _Alert] = {
    "alert_circle": _Alert(
        expected="reminded",
        state="circle_alerted",
        providers=False,
        kind="care.checkin_missed",
        texts="checkin_missed",
    ),
    "alert_provider": _Alert(
        expected="circle_alerted",
        state="provider_alerted",
        providers=True,
        kind="care.checkin_missed_provider",
        texts="checkin_missed_provider",
    ),
}


async def _step(
    conn: asyncpg.Connection,
    plan: queries.PlanRow,
    day: Any,
    escalation: queries.EscalationRow | None,
    action: ladder.Action,
    now: datetime,
) -> bool:
    """Carry out one ladder step; False when another run did it first (nothing is sent twice)."""
    circle_id = plan.circle_id
    if action == "remind_senior":
        escalation_id = await queries.start_escalation(conn, plan.id, circle_id, day, now)
        if escalation_id is None:
            return False
        await common.insert_event(
            conn,
            circle_id,
            "reminder_sent",
            at=now,
            subject_id=plan.senior_id,
            escalation_id=escalation_id,
            local_date=day,
        )
        await _tell(
            conn,
            "care.checkin_reminder",
            [plan.senior_id],
            *messages("checkin_reminder"),
            deep_link="/care/checkin",
            source_id=escalation_id,
            priority="urgent",
        )
        return True
    assert escalation is not None
    alert = _ALERTS.get(action)
    if alert is not None:
        if not await queries.advance_escalation(
            conn, escalation.id, expected=(alert.expected,), state=alert.state, now=now
        ):
            return False
        await common.insert_event(
            conn,
            circle_id,
            alert.state,
            at=now,
            subject_id=plan.senior_id,
            escalation_id=escalation.id,
            local_date=day,
        )
        title, body = messages(alert.texts, name=plan.senior_name)
        await _tell(
            conn,
            alert.kind,
            await queries.recipients(conn, circle_id, providers=alert.providers),
            title,
            body,
            deep_link=f"/care/circles/{circle_id}/escalations/{escalation.id}",
            source_id=escalation.id,
            priority="urgent",
            ack_requested=True,
        )
        return True
    if action == "resolve":
        await _resolve(conn, escalation, plan.senior_name, plan.senior_id, now)
        return True
    return False


#: plans handled per batch (and per transaction in the worker job)
PLAN_BATCH = 500


async def advance_checkin_batch(
    conn: asyncpg.Connection, now: datetime, *, after: uuid.UUID | None = None, limit: int = PLAN_BATCH
) -> tuple[int, uuid.UUID | None]:
    """Take every due ladder step at ``now`` for one batch of plans (those after ``after``, in id order).

    Returns the steps taken and where the next batch starts (None when this was the last one). Plans are
    locked with SKIP LOCKED, and every step moves its row only from the state it expects, so two runs at
    once (or a run repeated) take each step exactly once.
    """
    plans = await queries.lock_plans(conn, limit, after)
    steps = 0
    for plan in plans:
        view = _view(
            plan, await queries.pauses(conn, plan.id), await queries.has_provider(conn, plan.circle_id)
        )
        for day in ladder.candidate_days(view, now):
            escalation = await queries.escalation_for(conn, plan.id, day)
            state = ladder.LadderState(
                state=escalation.state if escalation else None,  # type: ignore[arg-type]
                reminded_at=escalation.reminded_at if escalation else None,
                circle_alerted_at=escalation.circle_alerted_at if escalation else None,
                checked_in=await queries.checked_in(conn, plan.senior_id, day),
            )
            action = ladder.next_action(view, day, now, state)
            if action != "none" and await _step(conn, plan, day, escalation, action, now):
                steps += 1
                LADDER_STEPS.labels(action).inc()
                # ids and the step only: never a name, a text or what the check-in said
                log.info("ladder step", step=action, plan_id=str(plan.id), circle_id=str(plan.circle_id))
    return steps, plans[-1].id if len(plans) == limit else None


async def advance_checkins(conn: asyncpg.Connection, now: datetime, *, batch: int = PLAN_BATCH) -> int:
    """Take every due ladder step at ``now`` for all plans, a batch at a time, in the caller's
    transaction; the number of steps taken."""
    steps, after = 0, None
    while True:
        taken, after = await advance_checkin_batch(conn, now, after=after, limit=batch)
        steps += taken
        if after is None:
            return steps


async def claim(
    conn: asyncpg.Connection,
    user: CurrentUser,
    circle_id: uuid.UUID,
    escalation_id: uuid.UUID,
    now: datetime | None = None,
) -> Escalation:
    """ "I'm checking": the first caregiver to answer stops the ladder; the rest of the circle is told."""
    now = now or current_time()
    access = await access_circle(conn, user.id, circle_id)
    escalation = await queries.escalation(conn, escalation_id)
    if escalation is None or escalation.circle_id != circle_id:
        raise NotFound()
    if access.role != "member":
        raise Forbidden()
    if not await queries.claim_escalation(conn, escalation_id, user.id, now):
        current = await queries.escalation(conn, escalation_id)
        if current is not None and current.state == "claimed":
            raise AlreadyClaimed(name=current.claimed_by_name or "")
        raise EscalationOver()
    await common.insert_event(
        conn,
        circle_id,
        "escalation_claimed",
        at=now,
        actor_id=user.id,
        subject_id=access.circle.senior_id,
        escalation_id=escalation_id,
        local_date=escalation.local_date,
    )
    others = [u for u in await queries.recipients(conn, circle_id, providers=None) if u != user.id]
    await _tell(
        conn,
        "care.escalation_claimed",
        others,
        *messages("escalation_claimed", caregiver=user.display_name, name=access.circle.senior_name),
        deep_link=f"/care/circles/{circle_id}",
        source_id=escalation_id,
        priority="urgent",
    )
    done = await queries.escalation(conn, escalation_id)
    assert done is not None
    return Escalation(
        id=done.id,
        circle_id=done.circle_id,
        local_date=done.local_date,
        state=done.state,
        claimed_by=done.claimed_by_name,
        claimed_at=done.claimed_at,
    )
