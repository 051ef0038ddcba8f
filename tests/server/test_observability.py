"""Logs, metrics and the worker check: a delivered post shows in /metrics and in the log under its request id."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hub.logs import configure_logging
from hub.metrics import scraper_allowed
from hub.redaction import redact
from hub.settings import Settings, SettingsError, load_settings
from server.app import create_app
from tests.communities.helpers import create_community, join
from tests.conftest import Servers, UserFactory
from workers.main import build_worker, run_worker

METRICS_TOKEN = "scrape-" + "x" * 24


@pytest.fixture(scope="module")
async def scraped(settings: Settings, servers: Servers) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The API configured with a metrics token (the test client is not on loopback)."""
    own = msgspec.structs.replace(settings, metrics_token=METRICS_TOKEN)
    app = create_app(own, database_url=servers.database_url, redis_url=servers.redis_url)
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """JSON log lines written during the test (the handlers the hub installs, into a buffer)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample, 0 when it is absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        metric = line.rsplit(" ", 1)[0]
        if all(f'{key}="{value}"' in metric for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def drain(settings: Settings, servers: Servers) -> None:
    worker = build_worker(
        settings,
        database_url=servers.database_url,
        redis_url=servers.redis_url,
        burst=True,
        handle_signals=False,
        with_crons=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_delivered_post_shows_in_metrics_and_in_the_log_under_its_request_id(
    scraped: AsyncTestClient[Litestar],
    make_user: UserFactory,
    settings: Settings,
    servers: Servers,
    log_lines: io.StringIO,
) -> None:
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    before = (await scraped.get("/metrics", headers=auth)).text
    owner = await make_user(locale="fr")
    reader = await make_user(locale="de")
    device = await scraped.post(
        "/v1/me/devices",
        json={"token": f"obs-{secrets.token_hex(8)}", "platform": "android"},
        headers=reader.headers,
    )
    assert device.status_code == 201
    community = await create_community(scraped, owner)
    await join(scraped, reader, community["id"])
    request_id = "obs" + secrets.token_hex(8)
    response = await scraped.post(
        f"/v1/communities/{community['id']}/posts",
        json={"title": {"fr": "Répétition", "de": "Probe"}, "body": {"fr": "Mardi.", "de": "Dienstag."}},
        headers={**owner.headers, "X-Request-ID": request_id},
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == request_id
    await drain(settings, servers)

    after = (await scraped.get("/metrics", headers=auth)).text
    sent = sample(after, "hub_deliveries_total", channel="push", status="sent")
    assert sent >= sample(before, "hub_deliveries_total", channel="push", status="sent") + 1
    assert sample(after, "hub_jobs_total", function="dispatch_push", outcome="ok") >= 1
    assert sample(after, "hub_channel_request_seconds_count", channel="push") >= 1
    assert 'hub_oldest_due_delivery_age_seconds{channel="push"}' in after
    assert "hub_oldest_unplanned_notification_age_seconds " in after
    route = "/v1/communities/{community_id}/posts"
    assert sample(after, "hub_requests_total", path=route, method="POST", status_code="201") >= 1

    lines = parsed(log_lines)
    api = [x for x in lines if x["event"] == "request" and x.get("request_id") == request_id]
    assert [(x["method"], x["route"], x["status"]) for x in api] == [("POST", route, 201)]
    batches = [x for x in lines if x["event"] == "batch recorded" and x.get("request_id") == request_id]
    assert batches, "the worker's batch line carries the request id of the post"
    assert batches[0]["channel"] == "push" and batches[0]["sent"] >= 1
    assert batches[0]["notification_id"] and batches[0]["batch_id"]
    assert batches[0]["job"] == "dispatch_push"
    assert all("Probe" not in json.dumps(x) and "Dienstag" not in json.dumps(x) for x in lines)


async def test_failed_sign_in_is_one_line_without_the_address(
    client: AsyncTestClient[Litestar], log_lines: io.StringIO
) -> None:
    address = f"nobody-{secrets.token_hex(4)}@example.org"
    response = await client.post("/v1/auth/login", json={"email": address, "password": "wrong password 1"})
    assert response.status_code == 401
    failed = [x for x in parsed(log_lines) if x["event"] == "sign-in failed"]
    assert [x["reason"] for x in failed] == ["unknown_account"]
    assert address not in log_lines.getvalue()
    refused = await client.get("/v1/feed", headers={"X-Request-ID": "refused0123"})
    assert refused.status_code == 401
    lines = [x for x in parsed(log_lines) if x["event"] == "request" and x["request_id"] == "refused0123"]
    assert [(x["route"], x["status"]) for x in lines] == [("/v1/feed", 401)]


async def test_metrics_are_not_public(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/metrics")).status_code == 404
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + "y" * 30})
    assert wrong.status_code == 404
    document = (await client.get("/schema/openapi.json")).json()
    assert "/metrics" not in document["paths"]


@pytest.mark.parametrize(
    ("host", "authorization", "token", "allow", "expected"),
    [
        ("127.0.0.1", None, None, "", True),
        ("::1", None, None, "", True),
        ("192.0.2.7", None, None, "", False),
        ("192.0.2.7", None, None, "192.0.2.0/24", True),
        ("127.0.0.1", None, None, "192.0.2.0/24", False),
        ("198.51.100.1", f"Bearer {METRICS_TOKEN}", METRICS_TOKEN, "", True),
        ("198.51.100.1", f"bearer {METRICS_TOKEN}", METRICS_TOKEN, "", True),
        ("198.51.100.1", "Bearer not-the-token-at-all", METRICS_TOKEN, "", False),
        ("198.51.100.1", f"Bearer {METRICS_TOKEN}", None, "", False),
        ("testclient", None, None, "", False),
        (None, None, None, "", False),
    ],
)
def test_who_may_scrape(
    settings: Settings,
    host: str | None,
    authorization: str | None,
    token: str | None,
    allow: str,
    expected: bool,
) -> None:
    configured = msgspec.structs.replace(settings, metrics_token=token, metrics_allow=allow)
    assert scraper_allowed(host, authorization, configured) is expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HUB_METRICS_ALLOW", "10.0.0.0/8, not-a-network"),
        ("HUB_METRICS_TOKEN", "short"),
        ("HUB_LOG_FORMAT", "xml"),
    ],
)
def test_wrong_observability_settings_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"HUB_SECRET_KEY": "k" * 40, "HUB_DATA_DIR": "/tmp", variable: value})
    assert raised.value.variable == variable


def test_log_format_is_console_in_dev_and_json_otherwise() -> None:
    assert load_settings({"HUB_DATA_DIR": "/tmp", "HUB_SECRET_KEY": "k" * 40}).log_format == "json"
    env = {"HUB_DATA_DIR": "/tmp", "HUB_SECRET_KEY": "k" * 40, "HUB_LOG_FORMAT": "console"}
    assert load_settings(env).log_format == "console"


def test_bearer_tokens_never_reach_a_line() -> None:
    assert (
        redact("sent Authorization: Bearer eyJhbGciOi.abc-def_1 to x")
        == "sent Authorization: Bearer [redacted] to x"
    )
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("INFO", "console", stream)
        logging.getLogger("litestar").warning("header was bearer abc.def.ghi")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("hub").exception("failed")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    text = stream.getvalue()
    assert "abc.def.ghi" not in text and "bearer [redacted]" in text
    assert len(text.splitlines()) == 2, "a console record, traceback included, is one line"


async def worker_check(redis_url: str, queue: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_REDIS_URL=redis_url,
        HUB_QUEUE_NAME=queue,
        HUB_SECRET_KEY="k" * 40,
        LANG="en_GB.UTF-8",
        HUB_DATA_DIR="/tmp",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "worker",
        "--check",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, (out + err).decode()


async def test_worker_check_fails_until_a_worker_reports_health(settings: Settings, servers: Servers) -> None:
    queue = f"hub-check-{secrets.token_hex(4)}"
    code, text = await worker_check(servers.redis_url, queue)
    assert code == 1, text
    assert "No worker reported health" in text
    own = msgspec.structs.replace(settings, queue_name=queue)
    worker = asyncio.create_task(
        run_worker(own, database_url=servers.database_url, redis_url=servers.redis_url, handle_signals=False)
    )
    try:
        async with asyncio.timeout(30):
            while True:
                code, text = await worker_check(servers.redis_url, queue)
                if code == 0:
                    break
                await asyncio.sleep(0.3)
        assert "A worker reported health" in text
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


async def test_refused_and_failed_requests_are_counted_with_their_status(
    scraped: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    before = (await scraped.get("/metrics", headers=auth)).text
    user = await make_user()
    forged = await scraped.get("/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    anonymous = await scraped.get("/v1/me")
    assert anonymous.status_code == 401
    missing = await scraped.get(f"/v1/communities/{secrets.token_hex(16)}", headers=user.headers)
    assert missing.status_code in (400, 404)
    after = (await scraped.get("/metrics", headers=auth)).text

    def grew(path: str, status: str, by: int) -> bool:
        labels = {"path": path, "method": "GET", "status_code": status}
        return (
            sample(after, "hub_requests_total", **labels)
            >= sample(before, "hub_requests_total", **labels) + by
        )

    assert grew("/v1/me", "401", 2)
    assert grew("/v1/communities/{community_id}", str(missing.status_code), 1)
    # a refused request is never counted as a success
    assert not grew("/v1/me", "200", 1)
