"""Small contract fixes: quiet hours as HH:MM times, one charset on the iCalendar feed."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import UserFactory
from tests.test_events import community


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
