"""Provider outages longer than any retry count: SMTP down and FCM throttling for ten minutes lose nothing."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from devtools.fcm_local import FcmLocal
from devtools.smtp_local import MailCatcher
from hub.db import transaction
from hub.queue import queue_pool
from hub.settings import Settings
from i18n.content import Bilingual
from messaging import pipeline, queries
from messaging.models import Audience
from messaging.planning import LEASE_S, SLICE_SIZE, Circuit
from messaging.push import PushSender
from messaging.service import notify
from messaging.smtp import Mailer
from tests.conftest import Clock, Servers, UserFactory
from tests.messaging.test_delivery import drain

TITLE = Bilingual(fr="Coupure d'eau à Bitche", de="Wasserabstellung in Bitsch")
BODY = Bilingual(fr="Prévoyez des réserves d'eau.", de="Legen Sie Wasservorräte an.")


@pytest.fixture
async def reset_circuits(db: asyncpg.Pool) -> AsyncIterator[None]:
    """Circuits are shared by every worker (and test): leave them closed for the next one."""
    yield
    await db.execute(
        "UPDATE delivery_circuits SET failures = 0, trips = 0, opened_at = NULL, open_until = NULL, "
        "probe_until = NULL, last_error = NULL"
    )


async def people(
    db: asyncpg.Pool, count: int, *, device: bool, domain: str = "example.test"
) -> list[uuid.UUID]:
    """People inserted directly (registration hashes a password per person: too slow for a fan-out)."""
    rows = await db.fetch(
        """
        INSERT INTO users (email, password_hash, display_name, locale)
        SELECT $2 || '-' || i || '@' || $3, 'x', 'Person ' || i, CASE WHEN i % 2 = 0 THEN 'fr' ELSE 'de' END
        FROM generate_series(1, $1) AS i
        RETURNING id
        """,
        count,
        f"p{secrets.token_hex(4)}",
        domain,
    )
    ids = [r["id"] for r in rows]
    if device:
        await db.execute(
            "INSERT INTO devices (user_id, token, platform) SELECT id, 'tok-' || id, 'android' FROM unnest($1::uuid[]) id",
            ids,
        )
    return ids


async def publish_and_plan(
    db: asyncpg.Pool,
    clock: Clock,
    ids: list[uuid.UUID],
    channels: tuple[str, ...],
    sender: uuid.UUID | None = None,
) -> uuid.UUID:
    async with transaction(db) as conn:
        notification_id = await notify(
            conn,
            kind="post",
            audience=Audience(user_ids=tuple(ids)),
            title=TITLE,
            body=BODY,
            deep_link="/outage",
            priority="urgent",
            respect_preferences=False,
            channels=channels,
            sender_id=sender,
        )
    async with transaction(db) as conn:
        await pipeline.plan_notification(conn, notification_id, clock())
    return notification_id


async def statuses(db: asyncpg.Pool, notification_id: uuid.UUID, channel: str) -> Counter[str]:
    rows = await db.fetch(
        "SELECT status, count(*) AS n FROM deliveries WHERE notification_id = $1 AND channel = $2 GROUP BY 1",
        notification_id,
        channel,
    )
    return Counter({r["status"]: r["n"] for r in rows})


async def attempts(db: asyncpg.Pool, notification_id: uuid.UUID, channel: str) -> int:
    return int(
        await db.fetchval(
            "SELECT sum(attempts) FROM deliveries WHERE notification_id = $1 AND channel = $2",
            notification_id,
            channel,
        )
    )


async def wait_out(
    db: asyncpg.Pool,
    channels: pipeline.Channels,
    clock: Clock,
    notification_id: uuid.UUID,
    channel: str,
    minutes: int,
) -> None:
    """Time passes in steps of 20 s while the provider is down: sweeps and dispatch jobs run as a worker's would."""
    for _ in range(minutes * 3):
        clock.advance(seconds=20)
        async with transaction(db) as conn:
            await pipeline.sweep_deliveries(conn, clock())
        await pipeline.dispatch(db, channels, notification_id, channel)
        assert (await statuses(db, notification_id, channel))["failed"] == 0


async def test_ten_minutes_of_smtp_down_lose_no_email(
    db: asyncpg.Pool,
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    reset_circuits: None,
) -> None:
    catcher = MailCatcher()  # a mail server of its own, taken down for this test only
    catcher.start()
    catcher.stop()
    clock = Clock()
    mailer = Mailer(catcher.host, catcher.port, mail_from="Hub <no-reply@hub.example.test>", pool_size=2)
    channels = pipeline.Channels(
        push=None,
        mailer=mailer,
        public_url="https://hub.example.test",
        mail_from="Hub <no-reply@hub.example.test>",
        clock=clock,
    )
    sender = await make_user()
    ids = await people(db, 120, device=False)
    notification_id = await publish_and_plan(db, clock, ids, ("email",), uuid.UUID(sender.id))
    try:
        await pipeline.dispatch(db, channels, notification_id, "email")
        assert await statuses(db, notification_id, "email") == Counter({"pending": 120})
        circuit = await queries.circuit(db, "email")  # type: ignore[arg-type]
        assert circuit.is_open  # the outage is detected once, not by every delivery on its own

        stats = (
            await client.get(f"/v1/notifications/{notification_id}/stats", headers=sender.headers)
        ).json()
        assert stats["waiting_for_provider"] == [{"key": "email", "count": 120}]

        await wait_out(db, channels, clock, notification_id, "email", minutes=10)
        # While it was down only probes were sent: the deliveries did not burn an attempt each time.
        assert await attempts(db, notification_id, "email") < 120 + 30 * 5

        catcher.start()
        clock.advance(seconds=61)  # the circuit's longest pause: the next dispatch probes, and it works
        await pipeline.dispatch(db, channels, notification_id, "email")
        async with transaction(db) as conn:
            await pipeline.sweep_deliveries(conn, clock())
        await pipeline.dispatch(db, channels, notification_id, "email")
        assert await statuses(db, notification_id, "email") == Counter({"sent": 120})
        assert not (await queries.circuit(db, "email")).is_open  # type: ignore[arg-type]
        received = Counter(address for m in catcher.messages for address in m.rcpt_tos)
        assert len(received) == 120 and set(received.values()) == {1}
        stats = (
            await client.get(f"/v1/notifications/{notification_id}/stats", headers=sender.headers)
        ).json()
        assert stats["waiting_for_provider"] == []
    finally:
        await mailer.close()
        catcher.stop()


@pytest.mark.parametrize(("status", "retry_after"), [(429, "45"), (503, None)])
async def test_ten_minutes_of_fcm_throttling_lose_no_push(
    db: asyncpg.Pool, tmp_path: Path, reset_circuits: None, status: int, retry_after: str | None
) -> None:
    clock = Clock()
    async with FcmLocal(tmp_path / "fcm") as fcm:
        push = PushSender(fcm.credentials_file, fcm.base_url, concurrency=16)
        await push.start()
        channels = pipeline.Channels(
            push=push,
            mailer=None,
            public_url="https://hub.example.test",
            mail_from="Hub <no-reply@hub.example.test>",
            clock=clock,
        )
        ids = await people(db, 150, device=True)
        notification_id = await publish_and_plan(db, clock, ids, ("push",))
        try:
            fcm.fail_next(1_000_000, status, retry_after=retry_after)
            await pipeline.dispatch(db, channels, notification_id, "push")
            counts = await statuses(db, notification_id, "push")
            # the first slice met the throttling and opened the circuit; the rest of the claim was given back
            assert counts == Counter({"pending": 150})
            assert await attempts(db, notification_id, "push") == SLICE_SIZE
            circuit = await queries.circuit(db, "push")  # type: ignore[arg-type]
            assert circuit.open_until is not None
            if retry_after is not None:
                assert (circuit.open_until - clock()).total_seconds() >= 44  # Retry-After is honoured

            await wait_out(db, channels, clock, notification_id, "push", minutes=10)
            assert fcm.stats().accepted == 0

            fcm.reset()  # the throttling ends
            clock.advance(seconds=61)
            await pipeline.dispatch(db, channels, notification_id, "push")
            async with transaction(db) as conn:
                await pipeline.sweep_deliveries(conn, clock())
            await pipeline.dispatch(db, channels, notification_id, "push")
            assert await statuses(db, notification_id, "push") == Counter({"sent": 150})
            delivered = Counter(m.token for m in fcm.messages())
            assert set(delivered) == {f"tok-{i}" for i in ids} and set(delivered.values()) == {1}
        finally:
            await push.close()


async def test_an_outage_longer_than_the_deadline_ends_failed_and_the_sender_can_retry(
    db: asyncpg.Pool,
    client: AsyncTestClient[Litestar],
    make_user: UserFactory,
    reset_circuits: None,
) -> None:
    catcher = MailCatcher()
    catcher.start()
    catcher.stop()
    clock = Clock()
    mailer = Mailer(catcher.host, catcher.port, mail_from="Hub <no-reply@hub.example.test>", pool_size=1)
    channels = pipeline.Channels(
        push=None,
        mailer=mailer,
        public_url="https://hub.example.test",
        mail_from="Hub <no-reply@hub.example.test>",
        clock=clock,
    )
    sender, stranger = await make_user(), await make_user()
    ids = await people(db, 3, device=False)
    notification_id = await publish_and_plan(db, clock, ids, ("email",), uuid.UUID(sender.id))
    try:
        await pipeline.dispatch(db, channels, notification_id, "email")
        clock.advance(hours=3, seconds=1)  # an urgent alert's retry window is over
        async with transaction(db) as conn:
            await pipeline.sweep_deliveries(conn, clock())
        assert await statuses(db, notification_id, "email") == Counter({"failed": 3})
        stats = (
            await client.get(f"/v1/notifications/{notification_id}/stats", headers=sender.headers)
        ).json()
        assert {"channel": "email", "status": "failed", "count": 3} in stats["by_channel_status"]

        path = f"/v1/notifications/{notification_id}/retry-failed"
        assert (await client.post(path, headers=stranger.headers)).status_code == 404  # not theirs
        catcher.start()
        # the route asks for dispatch at the real time; this test's clock is ahead of it
        answer = await client.post(path, headers=sender.headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "notification_id": str(notification_id),
            "retried": 3,
            "by_channel": [{"key": "email", "count": 3}],
        }
        await pipeline.dispatch(db, channels, notification_id, "email")
        assert await statuses(db, notification_id, "email") == Counter({"sent": 3})
        assert len(catcher.messages) == 3
        again = await client.post(path, headers=sender.headers)
        assert again.json()["retried"] == 0
    finally:
        await mailer.close()
        catcher.stop()


async def test_one_address_never_blocks_a_batch(db: asyncpg.Pool, reset_circuits: None) -> None:
    """An IDN domain goes out in its ASCII form; a non-ASCII mailbox goes out where the server offers
    SMTPUTF8, and elsewhere fails at once with its reason; every other email of the batch is sent once."""
    for smtputf8 in (True, False):
        catcher = MailCatcher(smtputf8=smtputf8)
        catcher.start()
        clock = Clock()
        mailer = Mailer(catcher.host, catcher.port, mail_from="Hub <no-reply@hub.example.test>", pool_size=1)
        channels = pipeline.Channels(
            push=None,
            mailer=mailer,
            public_url="https://hub.example.test",
            mail_from="Hub <no-reply@hub.example.test>",
            clock=clock,
        )
        try:
            ids = await people(db, 6, device=False)
            tag = secrets.token_hex(3)
            idn, utf8_local = f"anna-{tag}@bücher.example", f"jürgen-{tag}@example.test"
            await db.execute("UPDATE users SET email = $2 WHERE id = $1", ids[0], idn)
            await db.execute("UPDATE users SET email = $2 WHERE id = $1", ids[1], utf8_local)
            notification_id = await publish_and_plan(db, clock, ids, ("email",))
            await pipeline.dispatch(db, channels, notification_id, "email")
            assert len(catcher.to(f"anna-{tag}@xn--bcher-kva.example")) == 1
            if smtputf8:
                assert await statuses(db, notification_id, "email") == Counter({"sent": 6})
                [mail] = catcher.to(utf8_local)
                assert mail.header("To") == utf8_local
            else:
                assert await statuses(db, notification_id, "email") == Counter({"sent": 5, "failed": 1})
                reason = await db.fetchval(
                    "SELECT last_error FROM deliveries WHERE notification_id = $1 AND user_id = $2 "
                    "AND channel = 'email'",
                    notification_id,
                    ids[1],
                )
                assert "SMTPUTF8" in reason
                bounced = await db.fetchval(
                    "SELECT count(*) FROM email_bounces WHERE address = lower($1)", utf8_local
                )
                assert bounced == 0  # not the mailbox's fault: no bounce is counted against it
            clock.advance(minutes=10)
            async with transaction(db) as conn:
                await pipeline.sweep_deliveries(conn, clock())
            await pipeline.dispatch(db, channels, notification_id, "email")
            assert len(catcher.messages) == (6 if smtputf8 else 5)  # each sent once, nothing retried
        finally:
            await mailer.close()
            catcher.stop()


async def test_an_address_that_cannot_be_written_at_all_fails_alone(
    db: asyncpg.Pool, smtp: MailCatcher, channels: pipeline.Channels
) -> None:
    assert isinstance(channels.clock, Clock)
    ids = await people(db, 4, device=False)
    await db.execute("UPDATE users SET email = 'broken@@' || id WHERE id = $1", ids[0])
    notification_id = await publish_and_plan(db, channels.clock, ids, ("email",))
    await pipeline.dispatch(db, channels, notification_id, "email")
    assert await statuses(db, notification_id, "email") == Counter({"sent": 3, "failed": 1})


async def test_a_living_worker_keeps_its_lease_while_a_slow_send_goes_on(
    db: asyncpg.Pool, fcm: FcmLocal
) -> None:
    clock = Clock()
    push = PushSender(fcm.credentials_file, fcm.base_url, timeout=LEASE_S * 3)
    await push.start()
    channels = pipeline.Channels(
        push=push,
        mailer=None,
        public_url="https://hub.example.test",
        mail_from="Hub <no-reply@hub.example.test>",
        clock=clock,
    )
    ids = await people(db, 3, device=True)
    notification_id = await publish_and_plan(db, clock, ids, ("push",))
    fcm.fail_next(3, None, delay=LEASE_S + 4)  # FCM answers, but only after longer than a lease
    try:
        task = asyncio.create_task(pipeline.dispatch(db, channels, notification_id, "push"))
        await asyncio.sleep(LEASE_S + 2)
        async with transaction(db) as conn:
            await pipeline.sweep_deliveries(conn, clock())
        # the heartbeat renewed the lease: nothing was handed to another worker meanwhile
        assert await statuses(db, notification_id, "push") == Counter({"sending": 3})
        assert await task == 3
    finally:
        await push.close()
    assert await statuses(db, notification_id, "push") == Counter({"sent": 3})
    tokens = {f"tok-{i}" for i in ids}
    assert Counter(m.token for m in fcm.messages() if m.token in tokens) == Counter(dict.fromkeys(tokens, 1))


async def test_the_sweep_has_a_worker_probe_the_provider_and_its_success_resumes_the_waiting(
    db: asyncpg.Pool, servers: Servers, settings: Settings, fcm: FcmLocal, reset_circuits: None
) -> None:
    ids = await people(db, 30, device=True)
    notification_id = await publish_and_plan(db, Clock(), ids, ("push",))
    # FCM was down: the deliveries wait for it (their next attempt far off), and the circuit's pause is over
    await db.execute(
        "UPDATE deliveries SET waiting_provider = true, attempts = 1, due_at = now() + interval '10 minutes' "
        "WHERE notification_id = $1 AND channel = 'push'",
        notification_id,
    )
    await db.execute(
        "UPDATE delivery_circuits SET failures = 40, trips = 3, opened_at = now() - interval '5 minutes', "
        "open_until = now() - interval '1 second' WHERE channel = 'push'"
    )
    queue = await queue_pool(servers.redis_url, settings.queue_name)
    try:
        for _ in range(2):  # the probe may go to another notification's waiting push: then the next sweep
            async with transaction(db, queue) as conn:
                await pipeline.sweep_deliveries(conn, pipeline.utcnow())
            await drain(settings, servers)
    finally:
        await queue.aclose()
    assert await statuses(db, notification_id, "push") == Counter({"sent": 30})
    assert await queries.circuit(db, "push") == Circuit()  # type: ignore[arg-type]
    tokens = {f"tok-{i}" for i in ids}
    assert Counter(m.token for m in fcm.messages() if m.token in tokens) == Counter(dict.fromkeys(tokens, 1))
