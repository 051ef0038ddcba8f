"""The hub's log after a scenario over real HTTP holds no token, email address or body."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import socket
import sys
import uuid
from collections.abc import Iterator

import httpx
import uvicorn

from hub.logs import configure_logging
from hub.redaction import redact
from hub.settings import Settings
from server.app import create_app
from tests.conftest import Servers


@contextlib.contextmanager
def hub_logging() -> Iterator[io.StringIO]:
    """The hub's own logging set-up (the one ``hub dev`` and ``hub serve`` use), writing to a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.stderr)
    buffer = io.StringIO()
    sys.stderr = buffer
    root.handlers[:] = []  # configure_logging closes the handlers it replaces; these are the test runner's
    try:
        configure_logging("DEBUG", "console")
        yield buffer
    finally:
        root.handlers[:], root.level, sys.stderr = saved


def test_redact_removes_tokens_keys_and_addresses() -> None:
    line = (
        '127.0.0.1:5 - "GET /v1/unsubscribe/AbC-123_x?lang=de HTTP/1.1" 200 '
        "/v1/communities/1/events.ics?token=s3cret&lang=fr Bearer eyJhbGciOi.eyJzdWIi.sig "
        "hubp_abcdef123 marie.muller@example.test"
    )
    out = redact(line)
    for secret in ("AbC-123_x", "s3cret", "eyJhbGciOi", "hubp_abcdef123", "marie.muller", "example.test"):
        assert secret not in out
    assert "lang=de" in out and "/v1/unsubscribe/" in out


async def test_log_of_a_scenario_holds_no_token_address_or_body(settings: Settings, servers: Servers) -> None:
    app = create_app(settings, database_url=servers.database_url, redis_url=servers.redis_url)
    email = f"log-{uuid.uuid4().hex[:8]}@example.test"
    password = "a long and secret passphrase"
    display = f"Display{uuid.uuid4().hex[:6]}"
    unsubscribe = f"unsub{uuid.uuid4().hex}"
    feed_token = f"feed{uuid.uuid4().hex}"
    secrets = [email, email.split("@")[0], password, display, unsubscribe, feed_token]
    with hub_logging() as hub_log:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on", access_log=True))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        try:
            base = f"http://127.0.0.1:{sock.getsockname()[1]}"
            async with httpx.AsyncClient(base_url=base) as http:
                body = {"email": email, "password": password, "display_name": display, "locale": "fr"}
                registered = await http.post("/v1/auth/register", json=body)
                assert registered.status_code == 201
                access, refresh = registered.json()["access_token"], registered.json()["refresh_token"]
                secrets += [access, refresh]
                wrong = await http.post("/v1/auth/login", json={"email": email, "password": "wrong one!"})
                assert wrong.status_code == 401
                await http.get(f"/v1/unsubscribe/{unsubscribe}")
                await http.post(f"/v1/unsubscribe/{unsubscribe}")
                await http.get(f"/v1/communities/{uuid.uuid4()}/events.ics?token={feed_token}")
                await http.get("/v1/me", headers={"Authorization": f"Bearer {access}"})
                await http.get("/v1/communities", headers={"Authorization": f"Bearer {access}x"})
                await http.post("/v1/auth/refresh", json={"refresh_token": refresh})
        finally:
            server.should_exit = True
            await serving
    log = hub_log.getvalue()
    assert "/v1/auth/register" in log and "/v1/unsubscribe/" in log  # access lines are there, secrets not
    for secret in secrets:
        assert secret not in log, secret
