"""The public dashboard in a real headless browser (Debian's Chromium): both languages, a phone's width,
no JavaScript needed, the chart and the alert in force readable."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, async_playwright

from hub.settings import Settings
from server.app import create_app
from tests.conftest import Servers, UserFactory
from tests.sensors.test_sensors import HYDROGRAPH, eui, hub_admin, ingest_key, new_rule, new_sensor, send_tts

Client = AsyncTestClient[Litestar]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def live_server(settings: Settings, servers: Servers) -> AsyncIterator[str]:
    """The hub served over real HTTP on a loopback port (its own app, pool and lifespan)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(settings, database_url=servers.database_url, redis_url=servers.redis_url)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium; the test fails (never skips) when it is missing."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.mark.parametrize(
    ("lang", "heading", "alert", "chart_caption"),
    [
        (
            "fr",
            "Capteurs à Sarreguemines",
            "Blies à Sarreguemines : niveau orange depuis le",
            "Relevés des trois derniers jours, en cm.",
        ),
        (
            "de",
            "Messstellen in Saargemünd",
            "Blies in Saargemünd: Stufe Orange seit",
            "Messwerte der letzten drei Tage, in cm.",
        ),
    ],
)
async def test_dashboard_reads_on_a_phone_without_javascript_in_both_languages(
    client: Client,
    db: asyncpg.Pool,
    make_user: UserFactory,
    live_server: str,
    browser: Browser,
    lang: str,
    heading: str,
    alert: str,
    chart_caption: str,
) -> None:
    admin = await hub_admin(make_user, db)
    key = await ingest_key(client, admin)
    device = eui()
    sensor = await new_sensor(client, admin, device)
    await new_rule(client, admin, sensor["id"])
    await send_tts(client, key, device, HYDROGRAPH[:10], datetime.now(UTC) - timedelta(hours=4))

    context = await browser.new_context(
        java_script_enabled=False,
        viewport={"width": 390, "height": 844},
        locale="de-DE" if lang == "de" else "fr-FR",
    )
    page = await context.new_page()
    response = await page.goto(f"{live_server}/dashboard/57631?lang={lang}")
    assert response is not None and response.status == 200
    assert await page.locator("html").get_attribute("lang") == lang
    assert (await page.locator("h1").inner_text()).strip() == heading
    assert alert in await page.locator(".alerts").inner_text()
    card = page.locator("article.card", has=page.locator(f"[id='s-{sensor['id']}']"))
    assert await card.locator(".value").inner_text() == "258 cm"
    assert chart_caption in await card.locator("figcaption").inner_text()
    chart = card.locator("svg[role='img']")
    assert await chart.is_visible()
    box = await chart.bounding_box()
    assert box is not None and box["width"] <= 390 and box["height"] > 100
    assert await card.locator("svg polyline").count() == 1
    assert "Ville de Sarreguemines" in await page.locator("footer").inner_text()
    await context.close()

    # The same page measured (scripts on only to measure it): nothing wider than the phone, large text.
    measuring = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await measuring.new_page()
    await page.goto(f"{live_server}/dashboard/57631?lang={lang}")
    wide = await page.evaluate(
        """[...document.querySelectorAll('body *')]
           .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
           .map(e => e.tagName + ':' + (e.textContent || '').trim().slice(0, 40))"""
    )
    assert wide == []
    assert await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    await measuring.close()
