"""The account email pages in a real headless browser (Debian's Chromium): the flows work without
JavaScript, and axe-core finds no WCAG 2.1 A/AA violation on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, Page

from tests.conftest import UserFactory, emailed_token
from tests.sensors.test_sensor_dashboard_browser import browser, live_server  # noqa: F401 (fixtures)

AXE = Path(__file__).parent.parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def accessible(page: Page) -> None:
    await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate(
        """async (tags) => await axe.run(document, {runOnly: {type: "tag", values: tags}, iframes: false})""",
        WCAG_TAGS,
    )
    violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5]) for v in result["violations"]]
    assert violations == [], f"{page.url}: {violations}"


async def test_confirming_an_address_and_resetting_a_password_work_without_javascript(
    browser: Browser,  # noqa: F811
    live_server: str,  # noqa: F811
    client: AsyncTestClient[Litestar],
    db: asyncpg.Pool,
    make_user: UserFactory,
) -> None:
    person = await make_user(locale="de", verified=False)
    context = await browser.new_context(
        java_script_enabled=False, locale="de-DE", viewport={"width": 390, "height": 844}
    )
    page = await context.new_page()
    token = await emailed_token(db, person.email, "/verify-email")
    await page.goto(f"{live_server}/verify-email?token={token}")
    await page.get_by_role("button", name="Meine Adresse bestätigen").click()
    assert "Ihre E-Mail-Adresse ist bestätigt" in await page.locator("main").inner_text()
    assert await db.fetchval(
        "SELECT email_verified_at IS NOT NULL FROM users WHERE lower(email) = lower($1)", person.email
    )

    assert (await client.post("/v1/auth/password/forgot", json={"email": person.email})).status_code == 202
    token = await emailed_token(db, person.email, "/reset-password")
    await page.goto(f"{live_server}/reset-password?token={token}")
    await page.get_by_label("Neues Passwort", exact=True).fill("ein neues langes Passwort")
    await page.get_by_label("Neues Passwort, noch einmal").fill("ein neues langes Passwort")
    await page.get_by_role("button", name="Neues Passwort speichern").click()
    assert "Ihr neues Passwort ist gespeichert" in await page.locator("main").inner_text()
    signed_in = await client.post(
        "/v1/auth/login", json={"email": person.email, "password": "ein neues langes Passwort"}
    )
    assert signed_in.status_code == 200
    await context.close()


async def test_account_pages_pass_an_accessibility_check(
    browser: Browser,  # noqa: F811
    live_server: str,  # noqa: F811
) -> None:
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    for path in ("/verify-email?token=abc", "/reset-password?token=abc", "/open/care/invitations"):
        await page.goto(f"{live_server}{path}")
        await accessible(page)
    # a refused form, with its message, is checked too
    await page.goto(f"{live_server}/reset-password?token=abc&lang=de")
    await page.locator("form").evaluate("form => { form.noValidate = true; }")
    await page.locator("#password").fill("kurz")
    await page.locator("#password_confirm").fill("kurz")
    await page.get_by_role("button", name="Neues Passwort speichern").click()
    assert "mindestens 10 Zeichen" in await page.locator("[role=alert]").inner_text()
    await accessible(page)
    await context.close()
