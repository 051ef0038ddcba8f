"""Planning decisions as tables of cases: the pure functions, and the SQL planner agreeing with them."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from hub.db import transaction
from i18n.content import Bilingual
from messaging import pipeline
from messaging.models import Audience
from messaging.planning import (
    MAX_ATTEMPTS,
    ChannelPlan,
    Outcome,
    Recipient,
    digest_periods_due,
    email_outcome,
    plan_channels,
    push_outcome,
    retry_delay,
)
from messaging.service import notify


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


@pytest.mark.parametrize(
    ("case", "results", "attempts", "status", "reason"),
    [
        ("one device reached is enough", [("sent", None, None), ("retry", 5.0, "503")], 1, "sent", None),
        ("no device left", [], 1, "skipped", "no_device"),
        (
            "every token dead",
            [("invalid_token", None, "404"), ("invalid_token", None, "404")],
            1,
            "skipped",
            "no_valid_device",
        ),
        ("transient: try again", [("retry", 30.0, "503")], 1, "pending", None),
        ("transient too often: give up", [("retry", None, "503")], MAX_ATTEMPTS, "failed", None),
        ("refused for good", [("failed", None, "400 bad payload")], 1, "failed", None),
    ],
)
def test_push_outcome(
    case: str,
    results: list[tuple[str, float | None, str | None]],
    attempts: int,
    status: str,
    reason: str | None,
) -> None:
    outcome = push_outcome(results, attempts, random.Random(1))
    assert (outcome.status, outcome.skip_reason) == (status, reason)
    if status == "pending":
        assert outcome.retry_in is not None and outcome.retry_in >= 30.0


@pytest.mark.parametrize(
    ("status", "attempts", "expected"),
    [
        ("sent", 1, "sent"),
        ("retry", 1, "pending"),
        ("retry", MAX_ATTEMPTS, "failed"),
        ("permanent", 1, "failed"),
    ],
)
def test_email_outcome(status: str, attempts: int, expected: str) -> None:
    outcome: Outcome = email_outcome(status, "451 try later", attempts, random.Random(1))
    assert outcome.status == expected


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
