"""The push sender against the loopback FCM endpoint, over real HTTP."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devtools.fcm_local import FcmLocal, FcmLocalThread
from messaging.push import PushMessage, PushSender, parse_retry_after


@pytest.fixture(scope="module")
async def fcm_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FcmLocal]:
    server = FcmLocal(tmp_path_factory.mktemp("fcm"))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def fcm(fcm_server: FcmLocal) -> AsyncIterator[FcmLocal]:
    # A send a previous test gave up on may still be answered; it must not count here.
    for _ in range(300):
        if fcm_server.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    fcm_server.reset()
    fcm_server.latency = 0.0
    yield fcm_server
    fcm_server.latency = 0.0


@pytest.fixture
async def sender(fcm: FcmLocal) -> AsyncIterator[PushSender]:
    push = PushSender(fcm.credentials_file, fcm.base_url, concurrency=8, timeout=2.0)
    await push.start()
    try:
        yield push
    finally:
        await push.close()


def message(token: str = "device-1", *, urgent: bool = False, **data: str) -> PushMessage:
    payload = {"notification_id": "n-1", "deep_link": "hub://notifications/n-1", **data}
    return PushMessage(
        token=token, title="Coupure d'eau", body="Rue de la Gare, 14h-16h", data=payload, urgent=urgent
    )


async def test_many_sends_share_one_access_token(fcm: FcmLocal, sender: PushSender) -> None:
    outcomes = await sender.send_many([message(f"device-{i}") for i in range(50)])

    assert {o.status for o in outcomes} == {"sent"}
    stats = fcm.stats()
    assert stats.accepted == 50
    assert stats.token_requests == 1


async def test_sent_push_carries_text_notification_id_and_deep_link(
    fcm: FcmLocal, sender: PushSender
) -> None:
    outcome = await sender.send(message("device-a", community="57089"))

    assert outcome.status == "sent"
    [record] = fcm.messages()
    assert outcome.message_id == record.name
    assert record.name.startswith(f"projects/{fcm.project_id}/messages/")
    assert record.token == "device-a"
    assert (record.title, record.body) == ("Coupure d'eau", "Rue de la Gare, 14h-16h")
    assert record.data == {
        "notification_id": "n-1",
        "deep_link": "hub://notifications/n-1",
        "community": "57089",
    }
    assert record.headers["Authorization"].startswith("Bearer ya29.local-")
    assert record.headers["Content-Type"].startswith("application/json")


async def test_urgent_push_is_high_priority_and_time_sensitive(fcm: FcmLocal, sender: PushSender) -> None:
    assert (await sender.send(message(urgent=True))).status == "sent"

    [record] = fcm.messages()
    assert record.android is not None
    assert record.android.priority == "high"
    assert record.apns is not None
    assert record.apns.headers is not None
    assert record.apns.headers["apns-priority"] == "10"
    assert record.apns.payload == {"aps": {"interruption-level": "time-sensitive", "sound": "default"}}


async def test_ordinary_push_is_normal_priority(fcm: FcmLocal, sender: PushSender) -> None:
    assert (await sender.send(message(urgent=False))).status == "sent"

    [record] = fcm.messages()
    assert record.android is not None
    assert record.android.priority == "normal"
    assert record.apns is not None
    assert record.apns.headers is not None
    assert record.apns.headers["apns-priority"] == "5"
    assert record.apns.payload == {"aps": {"interruption-level": "active"}}


async def test_collapse_key_makes_a_resent_copy_replace_the_first(fcm: FcmLocal, sender: PushSender) -> None:
    push = PushMessage(token="device-c", title="t", body="b", data={}, urgent=True, collapse_key="n-42")
    assert (await sender.send(push)).status == "sent"

    [record] = fcm.messages()
    assert record.android is not None
    assert record.android.collapse_key == "n-42"
    assert record.android.notification == {"tag": "n-42"}
    assert record.apns is not None
    assert record.apns.headers is not None
    assert record.apns.headers["apns-collapse-id"] == "n-42"


async def test_uninstalled_app_token_is_reported_invalid(fcm: FcmLocal, sender: PushSender) -> None:
    fcm.unregister("gone")

    outcome = await sender.send(message("gone"))

    assert outcome.status == "invalid_token"
    assert outcome.error is not None
    assert "404" in outcome.error
    assert fcm.messages() == []


async def test_malformed_token_is_reported_invalid(fcm: FcmLocal, sender: PushSender) -> None:
    fcm.invalidate("not-a-token")

    outcome = await sender.send(message("not-a-token"))

    assert outcome.status == "invalid_token"
    assert fcm.stats().invalid_token == 1


async def test_unavailable_with_retry_after_seconds_asks_for_a_retry(
    fcm: FcmLocal, sender: PushSender
) -> None:
    fcm.fail_next(1, 503, retry_after="30")

    outcome = await sender.send(message())

    assert outcome.status == "retry"
    assert outcome.retry_after == 30.0
    assert fcm.messages() == []
    # The sender did not retry on its own.
    assert fcm.stats().injected == 1
    assert fcm.stats().accepted == 0


async def test_unavailable_with_retry_after_date_asks_for_a_retry(fcm: FcmLocal, sender: PushSender) -> None:
    fcm.fail_next(1, 503, retry_after=email.utils.formatdate(time.time() + 120, usegmt=True))

    outcome = await sender.send(message())

    assert outcome.status == "retry"
    assert outcome.retry_after is not None
    assert 100 < outcome.retry_after <= 120


async def test_quota_exceeded_asks_for_a_retry(fcm: FcmLocal, sender: PushSender) -> None:
    fcm.fail_next(1, 429, retry_after="7")

    outcome = await sender.send(message())

    assert outcome.status == "retry"
    assert outcome.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_server_errors_ask_for_a_retry_without_a_delay(
    fcm: FcmLocal, sender: PushSender, status: int
) -> None:
    fcm.fail_next(1, status)

    outcome = await sender.send(message())

    assert outcome.status == "retry"
    assert outcome.retry_after is None


async def test_expired_access_token_is_renewed_once_and_the_push_goes_out(
    fcm: FcmLocal, sender: PushSender
) -> None:
    assert (await sender.send(message("device-1"))).status == "sent"
    fcm.revoke_tokens()

    outcomes = await sender.send_many([message(f"device-{i}") for i in range(20)])

    assert {o.status for o in outcomes} == {"sent"}
    stats = fcm.stats()
    assert stats.token_requests == 2
    assert stats.accepted == 21


async def test_refused_renewed_token_fails_without_looping(fcm: FcmLocal, sender: PushSender) -> None:
    fcm.fail_next(2, 401)

    outcome = await sender.send(message())

    assert outcome.status == "failed"
    assert fcm.stats().token_requests == 2
    assert fcm.stats().injected == 2


async def test_unreachable_token_endpoint_asks_for_a_retry(fcm: FcmLocal, sender: PushSender) -> None:
    fcm.fail_token_requests(1, status=403)

    outcome = await sender.send(message())

    assert outcome.status == "retry"
    assert outcome.error is not None
    assert outcome.error.startswith("OAuth token")
    assert (await sender.send(message())).status == "sent"


async def test_token_signed_by_another_key_is_refused(fcm: FcmLocal, tmp_path: Path) -> None:
    stranger = FcmLocal(tmp_path)
    await stranger.start()
    try:
        info = json.loads(stranger.credentials_file.read_text())
        info["token_uri"] = fcm.token_uri
        info["client_email"] = fcm.client_email
        forged = tmp_path / "forged.json"
        forged.write_text(json.dumps(info))
    finally:
        await stranger.stop()
    async with PushSender(forged, fcm.base_url) as push:
        outcome = await push.send(message())

    assert outcome.status == "retry"
    assert outcome.error is not None
    assert "Invalid JWT Signature" in outcome.error
    assert fcm.stats().tokens_issued == 0


async def test_wrong_project_fails_without_blaming_the_token(fcm: FcmLocal, tmp_path: Path) -> None:
    info = json.loads(fcm.credentials_file.read_text())
    info["project_id"] = "someone-else"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(info))
    async with PushSender(other, fcm.base_url) as push:
        outcome = await push.send(message())

    assert outcome.status == "failed"
    assert outcome.error is not None
    assert "403" in outcome.error


async def test_no_answer_in_time_asks_for_a_retry(fcm: FcmLocal) -> None:
    fcm.fail_next(1, None, delay=1.0)
    async with PushSender(fcm.credentials_file, fcm.base_url, timeout=0.3) as push:
        outcome = await push.send(message())

    assert outcome.status == "retry"
    assert outcome.error is not None
    assert "timeout" in outcome.error


async def test_unreachable_endpoint_asks_for_a_retry(fcm: FcmLocal) -> None:
    closed = FcmLocal(fcm.directory / "closed")
    await closed.start()
    base_url = closed.base_url
    await closed.stop()
    async with PushSender(fcm.credentials_file, base_url) as push:
        outcome = await push.send(message())

    assert outcome.status == "retry"
    assert outcome.error is not None
    assert outcome.error.startswith("connection")


async def test_non_string_data_fails_before_anything_is_sent(fcm: FcmLocal, sender: PushSender) -> None:
    push = PushMessage(token="t", title="t", body="b", data={"count": 3}, urgent=False)  # type: ignore[dict-item]

    outcome = await sender.send(push)

    assert outcome.status == "failed"
    assert fcm.stats().token_requests == 0


async def test_at_most_concurrency_requests_are_in_flight(fcm: FcmLocal) -> None:
    fcm.latency = 0.05
    async with PushSender(fcm.credentials_file, fcm.base_url, concurrency=4) as push:
        outcomes = await push.send_many([message(f"device-{i}") for i in range(24)])

    assert {o.status for o in outcomes} == {"sent"}
    assert fcm.stats().max_in_flight == 4


async def test_send_many_answers_in_the_order_of_the_messages(fcm: FcmLocal, sender: PushSender) -> None:
    fcm.unregister("device-3", "device-17")
    fcm.latency = 0.002
    pushes = [message(f"device-{i}") for i in range(40)]

    outcomes = await sender.send_many(pushes)

    assert len(outcomes) == 40
    token_of = {r.name: r.token for r in fcm.messages()}
    for push, outcome in zip(pushes, outcomes, strict=True):
        if push.token in {"device-3", "device-17"}:
            assert outcome.status == "invalid_token"
        else:
            assert outcome.message_id is not None
            assert token_of[outcome.message_id] == push.token


async def test_send_many_of_nothing_is_nothing(sender: PushSender) -> None:
    assert await sender.send_many([]) == []


async def test_close_releases_the_connections(fcm: FcmLocal) -> None:
    push = PushSender(fcm.credentials_file, fcm.base_url, concurrency=4)
    await push.start()
    await push.send_many([message(f"device-{i}") for i in range(8)])
    assert fcm.open_connections > 0
    session = push.session

    await push.close()

    assert session is not None
    assert session.closed
    assert push.session is None
    for _ in range(100):
        if fcm.open_connections == 0:
            break
        await asyncio.sleep(0.01)
    assert fcm.open_connections == 0
    with pytest.raises(RuntimeError):
        await push.send(message())


async def test_local_endpoint_runs_in_a_background_thread(tmp_path: Path) -> None:
    with FcmLocalThread(FcmLocal(tmp_path)) as server:
        async with PushSender(server.credentials_file, server.base_url) as push:
            outcome = await push.send(message())
        assert outcome.status == "sent"
        assert len(server.messages()) == 1


def test_retry_after_that_is_neither_seconds_nor_a_date_is_ignored() -> None:
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("1.5") == 1.5
