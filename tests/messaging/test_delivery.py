"""The delivery pipeline end to end: outbox → planning → ARQ dispatch → FCM HTTP v1 and SMTP, with faults."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from litestar import Litestar
from litestar.testing import AsyncTestClient

from devtools.fcm_local import FcmLocal
from devtools.smtp_local import CaughtEmail, MailCatcher
from hub.db import transaction
from hub.queue import queue_pool
from hub.settings import Settings
from i18n.content import Bilingual
from messaging import pipeline, queries
from messaging.models import Audience, Message
from messaging.service import notify
from tests.conftest import Clock, Servers, SignedIn, UserFactory, planned_push
from workers.main import run_burst

ALERT_TITLE = Bilingual(fr="Alerte canicule", de="Hitzewarnung")
ALERT_BODY = Bilingual(
    fr="Buvez de l'eau et restez au frais.", de="Trinken Sie Wasser und bleiben Sie im Kühlen."
)


@pytest.fixture(scope="session")
async def arq(servers: Servers, settings: Settings) -> AsyncIterator[ArqRedis]:
    queue = await queue_pool(servers.redis_url, settings.queue_name)
    try:
        yield queue
    finally:
        await queue.aclose()


@pytest.fixture(scope="session")
def pool(db: asyncpg.Pool) -> asyncpg.Pool:
    return db


async def drain(settings: Settings, servers: Servers) -> None:
    """Run the workers until both queues are empty, as `hub worker` would (crons off: tests drive sweeps)."""
    await run_burst(settings, database_url=servers.database_url, redis_url=servers.redis_url)


async def member(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    locale: str,
    *,
    device: bool = True,
    email: bool = True,
    community: uuid.UUID | None = None,
) -> tuple[SignedIn, str]:
    user = await make_user(locale=locale)
    token = f"token-{uuid.uuid4().hex}"
    if device:
        r = await client.post(
            "/v1/me/devices", json={"token": token, "platform": "android"}, headers=user.headers
        )
        assert r.status_code == 201, r.text
    if community is not None:
        r = await client.put(
            "/v1/me/preferences",
            json={"items": [{"community_id": str(community), "push": True, "email": email, "digest": "off"}]},
            headers=user.headers,
        )
        assert r.status_code == 200, r.text
    return user, token


async def publish(pool: asyncpg.Pool, queue: ArqRedis | None, **kwargs: object) -> uuid.UUID:
    async with transaction(pool, queue) as conn:
        return await notify(conn, **kwargs)  # type: ignore[arg-type]


async def publish_and_plan(pool: asyncpg.Pool, channels: pipeline.Channels, **kwargs: object) -> uuid.UUID:
    """Record a notification and plan it at the channels' clock, as the worker's first job would."""
    notification_id = await publish(pool, None, **kwargs)
    async with transaction(pool) as conn:
        await pipeline.plan_notification(conn, notification_id, channels.clock())
    return notification_id


async def statuses(pool: asyncpg.Pool, notification_id: uuid.UUID) -> Counter[tuple[str, str]]:
    """Push and email deliveries by channel and status (every recipient also has an inbox row)."""
    rows = await pool.fetch(
        "SELECT channel, status, count(*) AS n FROM deliveries WHERE notification_id = $1 AND channel <> 'inbox' "
        "GROUP BY 1, 2",
        notification_id,
    )
    return Counter({(r["channel"], r["status"]): r["n"] for r in rows})


def notification_mail(smtp: MailCatcher, address: str) -> list[CaughtEmail]:
    """Notification emails to an address, without the account's own welcome and verification emails."""
    return [m for m in smtp.to(address) if not (m.header("Message-ID") or "").startswith("<direct-")]


async def test_urgent_alert_reaches_each_member_once_in_their_language(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    arq: ArqRedis,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
    smtp: MailCatcher,
) -> None:
    community = uuid.uuid4()
    marie, marie_token = await member(client, make_user, "fr", community=community)
    jonas, jonas_token = await member(client, make_user, "de", community=community)
    notification_id = await publish(
        pool,
        arq,
        kind="post",
        audience=Audience(user_ids=(uuid.UUID(marie.id), uuid.UUID(jonas.id))),
        community_id=community,
        title=ALERT_TITLE,
        body=ALERT_BODY,
        priority="urgent",
        deep_link=f"/notifications/{uuid.uuid4()}",
        sender_name=Bilingual(fr="Mairie de Bitche", de="Rathaus Bitsch"),
    )
    await drain(settings, servers)
    await drain(settings, servers)  # a second run finds nothing to send

    [to_marie] = fcm.messages(marie_token)
    [to_jonas] = fcm.messages(jonas_token)
    assert to_marie.title == "Alerte canicule"
    assert to_jonas.title == "Hitzewarnung"
    assert to_marie.data["notification_id"] == str(notification_id)
    assert to_marie.android is not None and to_marie.android.priority == "high"
    [mail_marie] = notification_mail(smtp, marie.email)
    [mail_jonas] = notification_mail(smtp, jonas.email)
    assert "Alerte canicule" in mail_marie.subject
    assert "Hitzewarnung" in mail_jonas.subject
    assert mail_jonas.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert await statuses(pool, notification_id) == Counter({("push", "sent"): 2, ("email", "sent"): 2})

    stats = await client.get(f"/v1/notifications/{notification_id}/stats", headers=marie.headers)
    assert stats.status_code == 404  # only the sender sees statistics


async def test_german_only_post_reaches_french_reader_marked_as_fallback(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    arq: ArqRedis,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
) -> None:
    marie, token = await member(client, make_user, "fr")
    await publish(
        pool,
        arq,
        kind="post",
        audience=Audience(user_ids=(uuid.UUID(marie.id),)),
        title=Bilingual(de="Chorprobe fällt aus"),
        body=Bilingual(de="Die Probe am Donnerstag fällt aus."),
        deep_link="/posts/1",
    )
    await drain(settings, servers)
    [push] = fcm.messages(token)
    assert push.title == "Chorprobe fällt aus"
    assert push.body is not None and push.body.startswith("(uniquement en allemand)")
    inbox = (await client.get("/v1/me/notifications", headers=marie.headers)).json()
    assert inbox["items"][0]["title"] == {
        "text": "Chorprobe fällt aus",
        "lang": "de",
        "fallback": True,
        "simple": None,
    }


async def test_info_push_waits_for_quiet_hours_and_urgent_goes_through(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    arq: ArqRedis,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
    channels: pipeline.Channels,
) -> None:
    user, token = await member(client, make_user, "fr")
    local = datetime.now(ZoneInfo("Europe/Paris"))
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    r = await client.patch(
        "/v1/me",
        json={"quiet_hours": {"start": start.isoformat(), "end": end.isoformat()}},
        headers=user.headers,
    )
    assert r.status_code == 200
    audience = Audience(user_ids=(uuid.UUID(user.id),))
    info = await publish(
        pool, arq, kind="post", audience=audience, title=ALERT_TITLE, body=ALERT_BODY, deep_link="/a"
    )
    urgent = await publish(
        pool,
        arq,
        kind="post",
        audience=audience,
        title=ALERT_TITLE,
        body=ALERT_BODY,
        deep_link="/b",
        priority="urgent",
    )
    await drain(settings, servers)
    assert [m.data["deep_link"] for m in fcm.messages(token)] == ["/b"]
    row = await pool.fetchrow(
        "SELECT status, due_at, deferred_by_quiet_hours FROM deliveries WHERE notification_id = $1 AND channel = 'push'",
        info,
    )
    assert row["status"] == "pending" and row["deferred_by_quiet_hours"]
    assert row["due_at"] > datetime.now(UTC) + timedelta(minutes=90)
    override = await pool.fetchval(
        "SELECT quiet_override FROM deliveries WHERE notification_id = $1 AND channel = 'push'", urgent
    )
    assert override is True

    # Quiet hours end: the sweep finds the waiting push and it goes out, once.
    assert isinstance(channels.clock, Clock)
    channels.clock.advance(hours=2, minutes=1)
    async with transaction(pool) as conn:
        await pipeline.sweep_deliveries(conn, channels.clock())
    await pipeline.dispatch(pool, channels, info, "push")
    await pipeline.dispatch(pool, channels, info, "push")
    assert Counter(m.data["deep_link"] for m in fcm.messages(token)) == Counter({"/a": 1, "/b": 1})


async def test_unregistered_token_is_deleted_after_one_send(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    arq: ArqRedis,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
) -> None:
    user, token = await member(client, make_user, "de")
    fcm.unregister(token)
    notification_id = await publish(
        pool,
        arq,
        kind="post",
        audience=Audience(user_ids=(uuid.UUID(user.id),)),
        title=ALERT_TITLE,
        body=ALERT_BODY,
        deep_link="/x",
    )
    await drain(settings, servers)
    assert await pool.fetchval("SELECT count(*) FROM devices WHERE token = $1", token) == 0
    assert await statuses(pool, notification_id) == Counter({("push", "skipped"): 1})
    reason = await pool.fetchval(
        "SELECT skip_reason FROM deliveries WHERE notification_id = $1 AND channel = 'push'", notification_id
    )
    assert reason == "no_valid_device"


async def test_redis_down_at_publish_delays_but_loses_nothing(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
) -> None:
    user, token = await member(client, make_user, "fr")
    # Redis is down when the post is published: enqueueing after commit fails.
    dead = ArqRedis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, default_queue_name=settings.queue_name
    )
    notification_id = await publish(
        pool,
        dead,
        kind="post",
        audience=Audience(user_ids=(uuid.UUID(user.id),)),
        title=ALERT_TITLE,
        body=ALERT_BODY,
        deep_link="/r",
    )
    await dead.aclose()
    await drain(settings, servers)
    assert fcm.messages(token) == []  # nothing reached the queue
    live = await queue_pool(servers.redis_url, settings.queue_name)
    try:
        async with transaction(pool, live) as conn:
            assert await pipeline.relay_outbox(conn, datetime.now(UTC)) >= 1
    finally:
        await live.aclose()
    await drain(settings, servers)
    assert len(fcm.messages(token)) == 1
    assert await statuses(pool, notification_id) == Counter({("push", "sent"): 1})


async def test_smtp_down_mid_fanout_then_back_sends_each_once(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    smtp: MailCatcher,
    channels: pipeline.Channels,
) -> None:
    community = uuid.uuid4()
    users = [(await member(client, make_user, "fr", device=False, community=community))[0] for _ in range(12)]
    notification_id = await publish_and_plan(
        pool,
        channels,
        kind="post",
        audience=Audience(user_ids=tuple(uuid.UUID(u.id) for u in users)),
        community_id=community,
        title=ALERT_TITLE,
        body=ALERT_BODY,
        deep_link="/m",
        priority="important",
    )
    smtp.go_down_after(5)
    await pipeline.dispatch(pool, channels, notification_id, "email")
    counts = await statuses(pool, notification_id)
    assert counts[("email", "sent")] == 5
    assert counts[("email", "pending")] == 7  # to be retried, not lost
    smtp.restart()
    assert isinstance(channels.clock, Clock)
    channels.clock.advance(hours=1)
    await pipeline.dispatch(pool, channels, notification_id, "email")
    assert await statuses(pool, notification_id) == Counter({("email", "sent"): 12, ("push", "skipped"): 12})
    for user in users:
        assert len(smtp.to(user.email)) == 1


async def test_fcm_503_with_retry_after_is_retried_later_once(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    fcm: FcmLocal,
    channels: pipeline.Channels,
) -> None:
    users = [await member(client, make_user, "de") for _ in range(4)]
    notification_id = await publish_and_plan(
        pool,
        channels,
        kind="post",
        audience=Audience(user_ids=tuple(uuid.UUID(u.id) for u, _ in users)),
        title=ALERT_TITLE,
        body=ALERT_BODY,
        deep_link="/f",
        priority="urgent",
    )
    fcm.fail_next(2, 503, retry_after="120")
    await pipeline.dispatch(pool, channels, notification_id, "push")
    waiting = await pool.fetch(
        "SELECT due_at, last_error FROM deliveries WHERE notification_id = $1 AND status = 'pending'",
        notification_id,
    )
    assert len(waiting) == 2
    assert all(w["due_at"] >= channels.clock() + timedelta(seconds=110) for w in waiting)
    await pipeline.dispatch(pool, channels, notification_id, "push")  # not due yet: nothing happens
    assert await statuses(pool, notification_id) == Counter({("push", "sent"): 2, ("push", "pending"): 2})
    assert isinstance(channels.clock, Clock)
    channels.clock.advance(seconds=130)
    await pipeline.dispatch(pool, channels, notification_id, "push")
    assert await statuses(pool, notification_id) == Counter({("push", "sent"): 4})
    for _, token in users:
        assert len(fcm.messages(token)) == 1


async def test_worker_dying_mid_batch_resends_at_most_that_batch(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    fcm: FcmLocal,
    channels: pipeline.Channels,
) -> None:
    users = [await member(client, make_user, "fr") for _ in range(3)]
    notification_id = await publish_and_plan(
        pool,
        channels,
        kind="post",
        audience=Audience(user_ids=tuple(uuid.UUID(u.id) for u, _ in users)),
        title=ALERT_TITLE,
        body=ALERT_BODY,
        deep_link="/k",
    )
    async with transaction(pool) as conn:
        # A worker claims the batch and dies before recording anything.
        claimed = await queries.claim(conn, notification_id, "push", channels.clock(), 500)
    assert len(claimed) == 3
    await pipeline.dispatch(pool, channels, notification_id, "push")
    assert await statuses(pool, notification_id) == Counter({("push", "sending"): 3})  # leased: nobody sends
    assert isinstance(channels.clock, Clock)
    channels.clock.advance(seconds=pipeline.queries.LEASE_S + 1)
    async with transaction(pool) as conn:
        await pipeline.sweep_deliveries(conn, channels.clock())
    await pipeline.dispatch(pool, channels, notification_id, "push")
    assert await statuses(pool, notification_id) == Counter({("push", "sent"): 3})
    for _, token in users:
        assert len(fcm.messages(token)) == 1


async def test_stopping_worker_releases_its_batch(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    fcm: FcmLocal,
    channels: pipeline.Channels,
) -> None:
    users = [await member(client, make_user, "fr") for _ in range(3)]
    notification_id = await publish_and_plan(
        pool,
        channels,
        kind="post",
        audience=Audience(user_ids=tuple(uuid.UUID(u.id) for u, _ in users)),
        title=ALERT_TITLE,
        body=ALERT_BODY,
        deep_link="/s",
    )
    fcm.fail_next(3, None, delay=5.0)  # the endpoint hangs; SIGTERM arrives meanwhile
    task = asyncio.create_task(pipeline.dispatch(pool, channels, notification_id, "push"))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rows = await pool.fetch(
        "SELECT status, attempts FROM deliveries WHERE notification_id = $1 AND channel = 'push'",
        notification_id,
    )
    assert [(r["status"], r["attempts"]) for r in rows] == [("pending", 0)] * 3


async def test_message_texts_are_translated_for_each_reader(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    arq: ArqRedis,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
) -> None:
    fr, fr_token = await member(client, make_user, "fr")
    de, de_token = await member(client, make_user, "de")
    await publish(
        pool,
        arq,
        kind="test",
        audience=Audience(user_ids=(uuid.UUID(fr.id), uuid.UUID(de.id))),
        title=Message("Too many requests"),
        body=Message("The request is not valid."),
        deep_link="/t",
        respect_preferences=False,
        channels=("push",),
    )
    await drain(settings, servers)
    assert fcm.messages(fr_token)[0].title == "Trop de requêtes"
    assert fcm.messages(de_token)[0].title == "Zu viele Anfragen"


async def test_daily_digest_collects_info_posts_once(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    smtp: MailCatcher,
    channels: pipeline.Channels,
) -> None:
    community = uuid.uuid4()
    user = await make_user(locale="de")
    r = await client.put(
        "/v1/me/preferences",
        json={"items": [{"community_id": str(community), "push": False, "email": False, "digest": "daily"}]},
        headers=user.headers,
    )
    assert r.status_code == 200
    ids = []
    for title in ("Flohmarkt in Bitsch", "Konzert in Homburg"):
        ids.append(
            await publish(
                pool,
                None,
                kind="post",
                audience=Audience(user_ids=(uuid.UUID(user.id),)),
                community_id=community,
                title=Bilingual(de=title),
                body=Bilingual(de="Details in der App."),
                deep_link="/d",
            )
        )
    async with transaction(pool) as conn:
        for notification_id in ids:
            await pipeline.plan_notification(conn, notification_id, channels.clock())
    assert (await statuses(pool, ids[0])) == Counter({("email", "held"): 1})
    evening = datetime(2031, 3, 4, 17, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert await pipeline.send_digests(pool, channels, evening) == 1
    assert await pipeline.send_digests(pool, channels, evening) == 0
    [digest] = smtp.to(user.email)
    assert (
        digest.text is not None
        and "Flohmarkt in Bitsch" in digest.text
        and "Konzert in Homburg" in digest.text
    )
    assert (await statuses(pool, ids[1])) == Counter({("email", "sent"): 1})


async def test_hard_bounces_suppress_the_address(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    smtp: MailCatcher,
    channels: pipeline.Channels,
) -> None:
    user, _ = await member(client, make_user, "fr", device=False)
    smtp.bounce(user.email)
    for _ in range(2):
        notification_id = await publish(
            pool,
            None,
            kind="post",
            audience=Audience(user_ids=(uuid.UUID(user.id),)),
            title=ALERT_TITLE,
            body=ALERT_BODY,
            deep_link="/h",
        )
        async with transaction(pool) as conn:
            await pipeline.plan_notification(conn, notification_id, channels.clock())
        await pipeline.dispatch(pool, channels, notification_id, "email")
        assert (await statuses(pool, notification_id))[("email", "failed")] == 1
    third = await publish_and_plan(
        pool,
        channels,
        kind="post",
        audience=Audience(user_ids=(uuid.UUID(user.id),)),
        title=ALERT_TITLE,
        body=ALERT_BODY,
        deep_link="/h",
    )
    assert (await statuses(pool, third))[("email", "skipped")] == 1
    reason = await pool.fetchval(
        "SELECT skip_reason FROM deliveries WHERE notification_id = $1 AND channel = 'email'", third
    )
    assert reason == "address_suppressed"


async def test_nothing_is_recorded_for_a_rolled_back_publication(
    pool: asyncpg.Pool, make_user: UserFactory
) -> None:
    user = await make_user()
    marker = f"/rolled-back/{uuid.uuid4()}"
    with pytest.raises(RuntimeError):
        async with transaction(pool) as conn:
            await notify(
                conn,
                kind="post",
                audience=Audience(user_ids=(uuid.UUID(user.id),)),
                title=ALERT_TITLE,
                body=ALERT_BODY,
                deep_link=marker,
            )
            raise RuntimeError("the post failed to save")
    assert await pool.fetchval("SELECT count(*) FROM notifications WHERE deep_link = $1", marker) == 0


@pytest.mark.parametrize(
    ("local", "start", "end", "expected"),
    [
        ("2026-11-21 23:30", "22:00", "07:00", "2026-11-22 07:00"),
        ("2026-11-22 06:59", "22:00", "07:00", "2026-11-22 07:00"),
        ("2026-11-22 07:00", "22:00", "07:00", None),
        ("2026-11-21 21:59", "22:00", "07:00", None),
        ("2026-11-21 13:30", "13:00", "14:00", "2026-11-21 14:00"),
        ("2026-11-21 14:30", "13:00", "14:00", None),
        # the night the clocks go forward (02:00 → 03:00) and back (03:00 → 02:00) in Europe/Paris
        ("2026-03-28 23:00", "22:00", "07:00", "2026-03-29 07:00"),
        ("2026-10-24 23:00", "22:00", "07:00", "2026-10-25 07:00"),
        ("2026-03-29 01:30", "01:00", "02:30", "2026-03-29 03:30"),
    ],
)
async def test_quiet_hours_end_agrees_in_python_and_sql(
    pool: asyncpg.Pool, local: str, start: str, end: str, expected: str | None
) -> None:
    from messaging.planning import quiet_hours_end

    zone = ZoneInfo("Europe/Paris")
    at = datetime.fromisoformat(local).replace(tzinfo=zone)
    python = quiet_hours_end(at, time.fromisoformat(start), time.fromisoformat(end), "Europe/Paris")
    sql = await pool.fetchval(
        "SELECT quiet_hours_end($1, $2, $3, 'Europe/Paris')",
        at,
        time.fromisoformat(start),
        time.fromisoformat(end),
    )
    want = datetime.fromisoformat(expected).replace(tzinfo=zone) if expected else None
    assert python == want
    assert sql == want


async def test_withdrawn_recipient_gets_nothing_more_others_still_do(
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    pool: asyncpg.Pool,
    fcm: FcmLocal,
    channels: pipeline.Channels,
) -> None:
    from messaging.service import withdraw_recipient

    (leaving, leaving_token), (staying, staying_token) = [
        await member(client, make_user, "de") for _ in range(2)
    ]
    circle = f"/care/circles/{uuid.uuid4()}/"
    audience = Audience(user_ids=(uuid.UUID(leaving.id), uuid.UUID(staying.id)))
    planned = await publish_and_plan(
        pool,
        channels,
        kind="care.test",
        audience=audience,
        title=ALERT_TITLE,
        body=ALERT_BODY,
        deep_link=f"{circle}escalations/1",
        priority="urgent",
    )
    later = await publish(
        pool,
        None,
        kind="care.test",
        audience=audience,
        title=ALERT_TITLE,
        body=ALERT_BODY,
        deep_link=f"{circle}escalations/2",
        priority="urgent",
    )
    async with transaction(pool) as conn:
        await withdraw_recipient(conn, uuid.UUID(leaving.id), circle)
        await pipeline.plan_notification(conn, later, channels.clock())
    for notification_id in (planned, later):
        await pipeline.dispatch(pool, channels, notification_id, "push")
    assert fcm.messages(leaving_token) == []
    assert len(fcm.messages(staying_token)) == 2


async def test_email_to_an_address_without_account_and_its_opt_out(
    client: AsyncTestClient[Litestar],
    pool: asyncpg.Pool,
    arq: ArqRedis,
    settings: Settings,
    servers: Servers,
    smtp: MailCatcher,
    channels: pipeline.Channels,
) -> None:
    from messaging.service import email_address

    address = f"tochter-{uuid.uuid4().hex[:8]}@example.test"
    async with transaction(pool, arq) as conn:
        await email_address(
            conn,
            kind="care.invitation",
            address=address,
            locale="de",
            title=Message("Too many requests"),
            body=Message("Conflict"),
            deep_link="/care/invitations",
        )
    await drain(settings, servers)
    [mail] = smtp.to(address)
    assert "Zu viele Anfragen" in mail.subject
    header = mail.header("List-Unsubscribe")
    assert header is not None
    path = header.split("<", 1)[1].split(">", 1)[0].split("hub.example.test", 1)[1]
    page = await client.get(path, headers={"Accept-Language": "de"})
    assert "Diese E-Mails abbestellen?" in page.text
    assert (await client.post(path)).status_code == 200

    async with transaction(pool) as conn:
        second = await email_address(
            conn,
            kind="care.invitation",
            address=address.upper(),
            locale="de",
            title=Message("Too many requests"),
            body=Message("Conflict"),
            deep_link="/care/invitations",
        )
    assert await pipeline.send_direct_email(pool, channels, second) == "skipped"
    assert len(smtp.to(address)) == 1


async def test_email_to_an_address_is_retried_after_a_temporary_failure(
    pool: asyncpg.Pool, smtp: MailCatcher, channels: pipeline.Channels
) -> None:
    from messaging.service import email_address

    address = f"voisin-{uuid.uuid4().hex[:8]}@example.test"
    async with transaction(pool) as conn:
        email_id = await email_address(
            conn,
            kind="care.invitation",
            address=address,
            locale="fr",
            title=Message("Too many requests"),
            body=Message("Conflict"),
            deep_link="/care/invitations",
        )
    smtp.fail_next(1)
    assert await pipeline.send_direct_email(pool, channels, email_id) == "pending"
    assert await pipeline.send_direct_email(pool, channels, email_id) is None  # not due yet
    assert isinstance(channels.clock, Clock)
    channels.clock.advance(minutes=5)
    async with transaction(pool) as conn:
        await pipeline.sweep_deliveries(conn, channels.clock())
    assert await pipeline.send_direct_email(pool, channels, email_id) == "sent"
    [mail] = smtp.to(address)
    assert "Trop de requêtes" in mail.subject


async def test_the_sweep_leaves_a_fan_out_to_the_job_sending_it(pool: asyncpg.Pool) -> None:
    """Stale-looking due rows of a notification a job is sending right now are that job's to claim: the
    sweep neither marks them nor asks for more jobs; once no lease runs, it does."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        nid, people = await planned_push(conn, 3, now)
        async with conn.transaction():
            claimed = await queries.claim(conn, nid, "push", now, 1)
        assert len(claimed) == 1
        later = now + timedelta(seconds=5)  # the claim's lease runs until now + LEASE_S
        async with conn.transaction():
            work = await queries.due_work(conn, later, 1.0)
        assert (nid, "push") not in {(w.notification_id, w.channel) for w in work}
        marked = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE notification_id = $1 AND enqueued_at = $2", nid, later
        )
        assert marked == 0
        # the job is done with its batch: the two rows nobody claimed are the sweep's again
        await queries.record_outcomes(conn, [(claimed[0].id, "sent", None, None, None, False)], later, nid)
        async with conn.transaction():
            work = await queries.due_work(conn, later, 1.0)
        assert (nid, "push") in {(w.notification_id, w.channel) for w in work}
        marked = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE notification_id = $1 AND enqueued_at = $2", nid, later
        )
        assert marked == 2
        await conn.execute("DELETE FROM users WHERE email LIKE $1", people)


async def test_a_job_whose_time_is_up_hands_over_between_slices(
    pool: asyncpg.Pool, fcm: FcmLocal, channels: pipeline.Channels, arq: ArqRedis
) -> None:
    """A dispatch job stops between two slices once its time is up, well before the worker's job timeout
    would cancel it mid-slice: what it has not sent is pending again (attempt not counted) and a new job
    is queued to go on; together they send each delivery once."""
    async with pool.acquire() as conn:
        nid, people = await planned_push(conn, 120, channels.clock())
    tokens = {
        r["token"]
        for r in await pool.fetch(
            "SELECT d.token FROM devices d JOIN users u ON u.id = d.user_id WHERE u.email LIKE $1", people
        )
    }
    handled = await pipeline.dispatch(pool, channels, nid, "push", queue=arq, budget_s=0)
    assert handled == pipeline.SLICE_SIZE
    rows = await pool.fetch(
        "SELECT status, attempts, lease_until FROM deliveries WHERE notification_id = $1 AND channel = 'push'",
        nid,
    )
    assert Counter((r["status"], r["attempts"]) for r in rows) == Counter(
        {("sent", 1): pipeline.SLICE_SIZE, ("pending", 0): 120 - pipeline.SLICE_SIZE}
    )
    assert all(r["lease_until"] is None for r in rows)
    # the sweep leaves them to the job asked for (it would mark them all and ask for eight more)
    async with pool.acquire() as conn:
        looked = conn.transaction()
        await looked.start()
        work = await queries.due_work(conn, channels.clock(), pipeline.STALE_AFTER_S)
        await looked.rollback()  # what it marks of other tests' rows is not this test's business
    assert (nid, "push") not in {(w.notification_id, w.channel) for w in work}
    queued = [j for j in await arq.queued_jobs() if list(j.args) == [str(nid)]]
    assert [j.function for j in queued] == ["dispatch_push"]
    assert queued[0].job_id is not None and ":next-" in queued[0].job_id
    # the job it asked for goes on and sends the rest
    assert await pipeline.dispatch(pool, channels, nid, "push", queue=arq) == 120 - pipeline.SLICE_SIZE
    sent = Counter(m.token for m in fcm.messages() if m.token in tokens)
    assert sent == Counter(dict.fromkeys(tokens, 1))
    await arq.zrem(arq.default_queue_name, queued[0].job_id)
    await arq.delete(job_key_prefix + queued[0].job_id)
    await pool.execute("DELETE FROM users WHERE email LIKE $1", people)
