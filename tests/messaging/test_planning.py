"""Planning decisions as tables of cases: the pure functions, and the SQL planner agreeing with them."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from hub.db import transaction
from i18n.content import Bilingual
from messaging import pipeline
from messaging.models import Audience
from messaging.planning import (
    CIRCUIT_THRESHOLD,
    RETRY_WINDOW,
    URGENT_MAX_DELAY_S,
    URGENT_RETRY_WINDOW,
    ChannelPlan,
    Circuit,
    Outcome,
    Recipient,
    RetryPolicy,
    circuit_after,
    digest_periods_due,
    email_outcome,
    gate,
    plan_channels,
    push_outcome,
    retry_delay,
    retry_window,
)
from messaging.service import notify
from tests.conftest import UserFactory


def person(
    push: bool | None = None,
    email: bool | None = None,
    digest: str = "off",
    device: bool = True,
    suppressed: bool = False,
) -> Recipient:
    return Recipient(
        pref_push=push, pref_email=email, digest=digest, has_device=device, email_suppressed=suppressed
    )


PENDING_PUSH = ChannelPlan("push", "pending")
PENDING_EMAIL = ChannelPlan("email", "pending")

# (case, person, priority, respect preferences, expected plans)
CHANNEL_CASES = [
    ("defaults with a device: push only", person(), "info", True, [PENDING_PUSH]),
    (
        "defaults without a device: email instead",
        person(device=False),
        "info",
        True,
        [ChannelPlan("push", "skipped", "no_device"), PENDING_EMAIL],
    ),
    ("push off, email on", person(push=False, email=True), "info", True, [PENDING_EMAIL]),
    ("both off: nothing", person(push=False, email=False), "urgent", True, []),
    (
        "both off, but the alert ignores preferences",
        person(push=False, email=False),
        "urgent",
        False,
        [PENDING_PUSH, PENDING_EMAIL],
    ),
    (
        "daily digest holds non-urgent email",
        person(email=False, digest="daily"),
        "info",
        True,
        [PENDING_PUSH, ChannelPlan("email", "held", "digest")],
    ),
    (
        "urgent skips the digest",
        person(email=True, digest="weekly"),
        "urgent",
        True,
        [PENDING_PUSH, PENDING_EMAIL],
    ),
    (
        "urgent with email off and a digest: no email",
        person(email=False, digest="daily"),
        "urgent",
        True,
        [PENDING_PUSH],
    ),
    (
        "suppressed address",
        person(email=True, suppressed=True),
        "important",
        True,
        [PENDING_PUSH, ChannelPlan("email", "skipped", "address_suppressed")],
    ),
]


@pytest.mark.parametrize(
    ("case", "who", "priority", "respect", "expected"), CHANNEL_CASES, ids=[c[0] for c in CHANNEL_CASES]
)
def test_channel_plans(
    case: str, who: Recipient, priority: str, respect: bool, expected: list[ChannelPlan]
) -> None:
    assert (
        plan_channels(who, priority=priority, respect_preferences=respect, channels=("push", "email"))
        == expected
    )


@pytest.mark.parametrize(
    ("case", "who", "priority", "respect", "expected"), CHANNEL_CASES, ids=[c[0] for c in CHANNEL_CASES]
)
async def test_sql_planner_agrees_with_the_rules(
    db: asyncpg.Pool,
    case: str,
    who: Recipient,
    priority: str,
    respect: bool,
    expected: list[ChannelPlan],
) -> None:
    email = f"plan-{uuid.uuid4().hex[:10]}@example.test"
    community = uuid.uuid4()
    async with transaction(db) as conn:
        user_id = await conn.fetchval(
            "INSERT INTO users (email, password_hash, display_name, locale) VALUES ($1, 'x', 'P', 'de') RETURNING id",
            email,
        )
        if who.has_device:
            await conn.execute(
                "INSERT INTO devices (user_id, token, platform) VALUES ($1, $2, 'ios')",
                user_id,
                f"t-{user_id}",
            )
        if who.pref_push is not None or who.pref_email is not None or who.digest != "off":
            await conn.execute(
                "INSERT INTO notification_preferences (user_id, community_id, push, email, digest) "
                "VALUES ($1, $2, $3, $4, $5)",
                user_id,
                community,
                who.pref_push,
                who.pref_email,
                who.digest,
            )
        if who.email_suppressed:
            await conn.execute(
                "INSERT INTO email_bounces (address, hard_bounces, suppressed_at) VALUES (lower($1), 2, now())",
                email,
            )
        notification_id = await notify(
            conn,
            kind="post",
            audience=Audience(user_ids=(user_id,)),
            community_id=community,
            title=Bilingual(de="T"),
            body=Bilingual(de="B"),
            deep_link="/p",
            priority=priority,  # type: ignore[arg-type]
            respect_preferences=respect,
        )
        await pipeline.plan_notification(conn, notification_id, datetime.now(UTC))
    rows = await db.fetch(
        "SELECT channel, status, skip_reason FROM deliveries WHERE notification_id = $1 AND channel <> 'inbox' "
        "ORDER BY channel DESC",
        notification_id,
    )
    planned = [
        ChannelPlan(
            r["channel"], r["status"], r["skip_reason"] or ("digest" if r["status"] == "held" else None)
        )
        for r in rows
    ]
    assert planned == expected
    inbox = await db.fetchval(
        "SELECT count(*) FROM deliveries WHERE notification_id = $1 AND channel = 'inbox'", notification_id
    )
    assert inbox == 1  # everybody gets it in the app, whatever the channels


@pytest.mark.parametrize(
    ("attempts", "retry_after", "low", "high"),
    [
        (1, None, 2.5, 5.0),
        (2, None, 5.0, 10.0),
        (4, None, 20.0, 40.0),
        (20, None, 450.0, 900.0),
        (1, 120.0, 120.0, 120.0),
    ],
)
def test_retry_delay_grows_with_jitter_and_honours_retry_after(
    attempts: int, retry_after: float | None, low: float, high: float
) -> None:
    rng = random.Random(7)
    for _ in range(50):
        assert low <= retry_delay(attempts, retry_after, rng) <= high


NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
#: an attempt an hour into a three-hour retry window, and one made when the window is over
OPEN = RetryPolicy(now=NOW, retry_until=NOW + timedelta(hours=2), urgent=True)
CLOSED = RetryPolicy(now=NOW, retry_until=NOW - timedelta(seconds=1), urgent=True)


@pytest.mark.parametrize(
    ("case", "results", "attempts", "policy", "status", "reason", "provider"),
    [
        (
            "one device reached is enough",
            [("sent", None, None), ("retry", 5.0, "503")],
            1,
            OPEN,
            "sent",
            None,
            False,
        ),
        ("no device left", [], 1, OPEN, "skipped", "no_device", False),
        (
            "every token dead",
            [("invalid_token", None, "404"), ("invalid_token", None, "404")],
            1,
            OPEN,
            "skipped",
            "no_valid_device",
            False,
        ),
        ("transient: try again", [("retry", 30.0, "503")], 1, OPEN, "pending", None, True),
        (
            "transient, the fortieth time: still before the deadline",
            [("retry", None, "429")],
            40,
            OPEN,
            "pending",
            None,
            True,
        ),
        ("transient after the deadline: give up", [("retry", None, "503")], 3, CLOSED, "failed", None, False),
        ("refused for good", [("failed", None, "400 bad payload")], 1, OPEN, "failed", None, False),
    ],
)
def test_push_outcome(
    case: str,
    results: list[tuple[str, float | None, str | None]],
    attempts: int,
    policy: RetryPolicy,
    status: str,
    reason: str | None,
    provider: bool,
) -> None:
    outcome = push_outcome(results, attempts, policy, random.Random(1))
    assert (outcome.status, outcome.skip_reason, outcome.provider) == (status, reason, provider)
    if status == "pending":
        assert outcome.retry_in is not None and 2.5 <= outcome.retry_in <= URGENT_MAX_DELAY_S
    if case.startswith("transient: "):
        assert outcome.retry_in is not None and outcome.retry_in >= 30.0  # Retry-After honoured


@pytest.mark.parametrize(
    ("status", "attempts", "policy", "provider", "expected"),
    [
        ("sent", 1, OPEN, False, "sent"),
        ("retry", 1, OPEN, False, "pending"),
        ("retry", 100, OPEN, True, "pending"),
        ("retry", 2, CLOSED, True, "failed"),
        ("permanent", 1, OPEN, False, "failed"),
    ],
)
def test_email_outcome(
    status: str, attempts: int, policy: RetryPolicy, provider: bool, expected: str
) -> None:
    outcome: Outcome = email_outcome(
        status, "451 try later", attempts, policy, random.Random(1), provider=provider
    )
    assert outcome.status == expected
    assert outcome.provider == (expected == "pending" and provider)


def test_the_last_attempt_is_at_the_deadline_not_after_it() -> None:
    policy = RetryPolicy(now=NOW, retry_until=NOW + timedelta(seconds=7))
    outcome = email_outcome("retry", "421 closing", 12, policy, random.Random(3), provider=True)
    assert outcome.status == "pending" and outcome.retry_in == 7.0


@pytest.mark.parametrize(
    ("priority", "kind", "window"),
    [
        ("urgent", "post", URGENT_RETRY_WINDOW),
        ("info", "care.checkin_missed", URGENT_RETRY_WINDOW),
        ("important", "post", RETRY_WINDOW),
        ("info", "event.reminder", RETRY_WINDOW),
    ],
)
def test_retry_window_depends_on_what_is_sent(priority: str, kind: str, window: timedelta) -> None:
    assert retry_window(priority, kind) == window


async def test_planner_sets_the_same_retry_deadline(db: asyncpg.Pool, make_user: UserFactory) -> None:
    user = await make_user()
    now = datetime.now(UTC)
    for priority, kind in (("urgent", "post"), ("info", "care.test"), ("important", "post")):
        async with transaction(db) as conn:
            notification_id = await notify(
                conn,
                kind=kind,
                audience=Audience(user_ids=(uuid.UUID(user.id),)),
                title=Bilingual(fr="Titre"),
                body=Bilingual(fr="Texte"),
                deep_link="/w",
                priority=priority,  # type: ignore[arg-type]
                respect_preferences=False,
            )
        async with transaction(db) as conn:
            await pipeline.plan_notification(conn, notification_id, now)
        deadlines = await db.fetch(
            "SELECT channel, retry_until FROM deliveries WHERE notification_id = $1 AND status = 'pending'",
            notification_id,
        )
        assert deadlines and {r["retry_until"] for r in deadlines} == {now + retry_window(priority, kind)}


# -- the circuit breaker: (case, circuit, answered, provider failures, Retry-After, expected gate after) --

OPENED = Circuit(failures=CIRCUIT_THRESHOLD, trips=1, opened_at=NOW, open_until=NOW + timedelta(seconds=5))


@pytest.mark.parametrize(
    ("case", "before", "answered", "failures", "retry_after", "expected"),
    [
        ("closed and fine", Circuit(), 50, 0, None, "send"),
        ("a few failures do not open it", Circuit(), 0, CIRCUIT_THRESHOLD - 1, None, "send"),
        ("failures in a row open it", Circuit(failures=CIRCUIT_THRESHOLD - 1), 0, 1, None, "wait"),
        ("one answer in the slice keeps it closed", Circuit(failures=10), 1, 49, None, "send"),
        ("a failed probe opens it again", OPENED, 0, 1, None, "wait"),
        ("a successful probe closes it", OPENED, 1, 0, None, "send"),
        ("Retry-After keeps it open longer", Circuit(failures=CIRCUIT_THRESHOLD), 0, 5, 600.0, "wait"),
    ],
)
def test_circuit_breaker(
    case: str, before: Circuit, answered: int, failures: int, retry_after: float | None, expected: str
) -> None:
    after = circuit_after(
        before,
        answered=answered,
        provider_failures=failures,
        retry_after=retry_after,
        error="503 UNAVAILABLE",
        now=NOW,
        rng=random.Random(5),
    )
    assert gate(after, NOW) == expected
    if after.is_open:
        assert after.open_until is not None
        pause = (after.open_until - NOW).total_seconds()
        assert pause >= (retry_after or 0.0)
        assert pause <= max(60.0, retry_after or 0.0)
        # once the pause is over one dispatcher probes; while its probe runs, others wait
        assert gate(after, after.open_until) == "probe"
        probing = Circuit(open_until=after.open_until, probe_until=after.open_until + timedelta(seconds=30))
        assert gate(probing, after.open_until) == "wait"


def test_failed_probes_lengthen_the_pause_up_to_a_minute() -> None:
    circuit = Circuit(failures=CIRCUIT_THRESHOLD)
    pauses = []
    for _ in range(8):
        circuit = circuit_after(
            circuit,
            answered=0,
            provider_failures=1,
            retry_after=None,
            error="x",
            now=NOW,
            rng=random.Random(0),
        )
        assert circuit.open_until is not None
        pauses.append((circuit.open_until - NOW).total_seconds())
    assert pauses[0] <= 5.0 and pauses[3] > pauses[0] and max(pauses) <= 60.0
    assert circuit.opened_at == NOW  # the outage is dated from its start


PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 11, 18, 9, 0, tzinfo=PARIS), []),  # a Wednesday morning
        (datetime(2026, 11, 18, 17, 0, tzinfo=PARIS), [("daily", date(2026, 11, 18))]),
        (
            datetime(2026, 11, 21, 18, 30, tzinfo=PARIS),
            [("daily", date(2026, 11, 21)), ("weekly", date(2026, 11, 21))],
        ),
        # 00:59 on Sunday in Paris: Saturday's digests were due last evening, Sunday's not before 17:00
        (datetime(2026, 11, 21, 23, 59, tzinfo=UTC), []),
    ],
)
def test_digest_periods_due(local: datetime, expected: list[tuple[str, date]]) -> None:
    assert digest_periods_due(local) == expected
