"""Small contract fixes: quiet hours as HH:MM times, one charset on the iCalendar feed, links on the right port."""

from __future__ import annotations

import socket
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient

from hub.settings import load_settings
from server.devserver import follow_listening_address
from tests.communities.test_events import community
from tests.conftest import UserFactory


async def test_quiet_hours_accept_hh_mm_and_hh_mm_ss(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    for start, end in (("22:00", "07:00"), ("22:30:00", "06:45:00")):
        r = await client.patch(
            "/v1/me", json={"quiet_hours": {"start": start, "end": end}}, headers=user.headers
        )
        assert r.status_code == 200, r.text
        shown = r.json()["quiet_hours"]
        assert shown["start"].startswith(start[:5]) and shown["end"].startswith(end[:5])
    bad = await client.patch(
        "/v1/me", json={"quiet_hours": {"start": "25:00", "end": "07:00"}}, headers=user.headers
    )
    assert bad.status_code in {400, 422}


def test_quiet_hours_are_times_in_openapi(client: AsyncTestClient[Litestar]) -> None:
    schemas = client.app.openapi_schema.to_schema()["components"]["schemas"]
    quiet = next(v for k, v in schemas.items() if k.endswith("QuietHours"))
    for field in ("start", "end"):
        prop = quiet["properties"][field]
        assert prop.get("format") == "time", prop
        assert prop.get("type") == "string"


async def test_ics_feed_has_one_charset(client: AsyncTestClient[Litestar], make_user: UserFactory) -> None:
    owner = await make_user()
    cid = await community(client, owner)
    r = await client.get(f"/v1/communities/{cid}/events.ics")
    assert r.status_code == 200
    assert r.headers["content-type"].lower().count("charset") == 1, r.headers["content-type"]


def test_links_follow_the_port_hub_dev_listens_on_unless_public_url_is_set(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    try:
        defaults = load_settings({"HUB_DATA_DIR": str(tmp_path), "HUB_SECRET_KEY": "k" * 40})
        assert follow_listening_address(defaults, sock).public_url == f"http://127.0.0.1:{port}"
        fixed = load_settings(
            {
                "HUB_DATA_DIR": str(tmp_path),
                "HUB_SECRET_KEY": "k" * 40,
                "HUB_PUBLIC_URL": "https://hub.example",
            }
        )
        assert follow_listening_address(fixed, sock).public_url == "https://hub.example"
    finally:
        sock.close()
