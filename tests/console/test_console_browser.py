"""The console in a real browser (Debian's Chromium through Playwright), in French and in German, with an
accessibility check (axe-core, WCAG 2.1 A/AA) on every page it visits."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect

from hub.db import transaction
from hub.settings import Settings
from messaging import pipeline
from server.app import create_app
from tests.communities.helpers import create_community, create_post, join
from tests.conftest import Servers, SignedIn, user_factory
from tests.console.helpers import PASSWORD, Client, become_client, quiet_now, verified_provider

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent.parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

TEXTS = {
    "title_fr": "Canicule : buvez de l’eau",
    "title_de": "Hitzewelle: Trinken Sie viel Wasser",
    "body_fr": "Il va faire très chaud demain. Buvez de l’eau et restez au frais : nous passons plus tôt.",
    "body_de": "Morgen wird es sehr heiß. Bitte trinken Sie viel Wasser und bleiben Sie im Kühlen.",
}
WORDS = {
    "fr": {
        "sign_in": "Se connecter",
        "compose": "Écrire une alerte",
        "preview": "Aperçu et destinataires",
        "audience": "49 personnes la recevront : 44 maintenant, 5 après leurs heures calmes.",
        "send": "Envoyer à 49 personnes",
        "acknowledged": "25 personnes sur 49 ont confirmé.",
        "hide": "Masquer",
        "hidden": "La publication est masquée.",
        "French": "français",
        "German": "allemand",
    },
    "de": {
        "sign_in": "Anmelden",
        "compose": "Meldung schreiben",
        "preview": "Vorschau und Empfänger anzeigen",
        "audience": "49 Personen erhalten sie: 44 sofort, 5 nach ihrer Ruhezeit.",
        "send": "An 49 Personen senden",
        "acknowledged": "25 von 49 Personen haben bestätigt.",
        "hide": "Ausblenden",
        "hidden": "Der Beitrag ist ausgeblendet.",
        "French": "Französisch",
        "German": "Deutsch",
    },
}


class LiveServer:
    """The hub's app served by uvicorn on a loopback port, in a thread with its own event loop."""

    def __init__(self, settings: Settings, servers: Servers) -> None:
        app = create_app(settings, database_url=servers.database_url, redis_url=servers.redis_url)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, loop="asyncio", lifespan="on", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the console server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def live(settings: Settings, servers: Servers) -> Iterator[LiveServer]:
    server = LiveServer(settings, servers)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium; a missing browser fails the tests (``.ci/run`` installs it), never skips them."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def accessible(page: Page) -> None:
    """No violation of WCAG 2.1 A/AA found by axe-core on the page as it is now."""
    await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate(
        """async (tags) => await axe.run(document, {runOnly: {type: "tag", values: tags}, iframes: false})""",
        WCAG_TAGS,
    )
    violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5]) for v in result["violations"]]
    assert violations == [], f"{page.url}: {violations}"


async def sign_in(page: Page, live: LiveServer, person: SignedIn, lang: str) -> None:
    await page.goto(f"{live.url}/console/?lang={lang}")
    await expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    await accessible(page)
    await page.get_by_label(re.compile("E-Mail|e-mail", re.I)).first.fill(person.email)
    await page.locator("#password").fill(PASSWORD)
    await page.get_by_role("button", name=WORDS[lang]["sign_in"]).click()
    await expect(page).not_to_have_url(re.compile("sign-in"))
    await expect(page.locator("h1")).to_be_visible()


@dataclass(frozen=True)
class CareSetting:
    provider_id: str
    clients: list[SignedIn]


async def care_setting(client: Client, db: asyncpg.Pool, staff: SignedIn) -> CareSetting:
    """A verified provider with 37 French- and 12 German-speaking clients, 5 of them in quiet hours now."""
    make_user = user_factory(client, db)
    provider_id = await verified_provider(client, db, make_user, staff)
    french = [
        await make_user(
            locale="fr", municipality_code="57089" if i % 3 else "57589", display_name=f"Client fr {i:02}"
        )
        for i in range(37)
    ]
    german = [
        await make_user(
            locale="de",
            municipality_code="10045114" if i % 2 else "07320000",
            display_name=f"Klient de {i:02}",
        )
        for i in range(12)
    ]
    for person in french + german:
        await become_client(client, provider_id, person, staff)
    for person in french[:3]:
        await quiet_now(client, person, "Europe/Paris")
    for person in german[:2]:
        await quiet_now(client, person, "Europe/Berlin")
    for i, person in enumerate(french[:20]):
        device = await client.post(
            "/v1/me/devices",
            json={"token": f"console-test-{uuid.uuid4().hex}-{i}", "platform": "android"},
            headers=person.headers,
        )
        assert device.status_code in (200, 201), device.text
    return CareSetting(provider_id=provider_id, clients=french + german)


@pytest.mark.parametrize("lang", ["fr", "de"])
async def test_staff_writes_a_heat_alert_previews_it_sends_it_once_and_watches_acknowledgements(
    lang: str,
    live: LiveServer,
    browser: Browser,
    client: Client,
    db: asyncpg.Pool,
    channels: pipeline.Channels,
) -> None:
    make_user = user_factory(client, db)
    staff = await make_user(locale=lang, display_name=f"Staff {lang}")
    setting = await care_setting(client, db, staff)
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await sign_in(page, live, staff, lang)
        await accessible(page)
        await page.get_by_role("link", name="Soins à domicile du Pays de Bitche").click()
        await accessible(page)
        await page.get_by_role("link", name=WORDS[lang]["compose"]).click()
        await accessible(page)

        for field, text in TEXTS.items():
            await page.locator(f"#{field}").fill(text)
        await page.locator("#priority-important").check()
        await page.get_by_role("button", name=WORDS[lang]["preview"]).click()
        # htmx swaps the check into the page: the form keeps what was typed.
        await expect(page.locator("#audience-summary")).to_have_text(WORDS[lang]["audience"])
        assert await page.locator("#title_fr").input_value() == TEXTS["title_fr"]
        languages = page.locator("#audience-languages tbody tr")
        await expect(languages).to_have_count(2)
        await expect(languages.nth(0)).to_contain_text(WORDS[lang]["French"])
        await expect(languages.nth(0)).to_contain_text("37")
        await expect(languages.nth(1)).to_contain_text(WORDS[lang]["German"])
        await expect(languages.nth(1)).to_contain_text("12")
        await expect(page.locator("#audience-places")).to_contain_text("Bitche" if lang == "fr" else "Bitsch")
        await expect(page.locator("#audience-places")).to_contain_text(
            "Homburg" if lang == "de" else "Hombourg"
        )
        await expect(page.locator("#preview-fr .push-title")).to_have_text(TEXTS["title_fr"])
        await expect(page.locator("#preview-de .push-title")).to_have_text(TEXTS["title_de"])
        await expect(page.locator("#preview-de .push-body")).to_have_text(TEXTS["body_de"])
        french_email = await page.locator("#preview-fr iframe.email").get_attribute("srcdoc")
        german_email = await page.locator("#preview-de iframe.email").get_attribute("srcdoc")
        assert french_email is not None and "Buvez de l’eau" in french_email
        assert german_email is not None and "Bitte trinken Sie viel Wasser" in german_email
        await expect(page.locator("#preview-de .email-text")).to_contain_text("Morgen wird es sehr heiß.")
        await accessible(page)

        send = page.get_by_role("button", name=WORDS[lang]["send"])
        await send.dblclick()
        await expect(page).to_have_url(re.compile(r"/console/alerts/[0-9a-f-]{36}$"))
        alert_id = uuid.UUID(page.url.rsplit("/", 1)[1])
        sent = await db.fetch(
            "SELECT id, notification_id FROM care_alerts WHERE provider_id = $1",
            uuid.UUID(setting.provider_id),
        )
        assert [r["id"] for r in sent] == [alert_id]
        await accessible(page)

        # The fan-out runs while the page is open; the figures move without a reload.
        notification_id = sent[0]["notification_id"]
        async with transaction(db) as conn:
            assert await pipeline.plan_notification(conn, notification_id, channels.clock()) == 49
        await pipeline.dispatch(db, channels, notification_id, "push")
        await pipeline.dispatch(db, channels, notification_id, "email")
        # 20 have a phone (3 of them in quiet hours: their push waits), the 29 others get an email.
        delivery = page.locator("#delivery tbody tr")
        await expect(delivery).to_have_count(4)
        await expect(delivery.filter(has_text="29")).to_have_count(2)
        await expect(delivery.filter(has_text="17")).to_have_count(1)
        await expect(page.locator("#delivery-summary")).to_contain_text("5")
        french_acks = [p for p in setting.clients if p.locale == "fr"][3:23]
        german_acks = [p for p in setting.clients if p.locale == "de"][2:7]
        for person in french_acks + german_acks:
            acked = await client.post(f"/v1/care/alerts/{alert_id}/ack", headers=person.headers)
            assert acked.status_code == 200, acked.text
        await expect(page.locator("#ack-summary")).to_have_text(WORDS[lang]["acknowledged"], timeout=15_000)
        rows = page.locator("#ack-languages tbody tr")
        await expect(rows.filter(has_text=WORDS[lang]["French"])).to_contain_text(re.compile(r"37\s*20"))
        await expect(rows.filter(has_text=WORDS[lang]["German"])).to_contain_text(re.compile(r"12\s*5"))
        await expect(page.locator("#ack-places")).to_contain_text("Rohrbach")
        await expect(page.locator(".people")).to_contain_text("Klient de 00")
        await accessible(page)
    finally:
        await context.close()


@pytest.mark.parametrize("lang", ["fr", "de"])
async def test_moderator_hides_a_reported_post_from_the_queue(
    lang: str, live: LiveServer, browser: Browser, client: Client, db: asyncpg.Pool
) -> None:
    make_user = user_factory(client, db)
    owner = await make_user(locale=lang, display_name=f"Moderator {lang}")
    community = await create_community(client, owner)
    reader = await make_user()
    await join(client, reader, community["id"])
    post = await create_post(
        client, owner, community["id"], title={"fr": "Vends voiture", "de": "Auto zu verkaufen"}
    )
    reported = await client.post(
        f"/v1/posts/{post['id']}/report", json={"reason": "Publicité"}, headers=reader.headers
    )
    assert reported.status_code in (200, 201), reported.text

    context = await browser.new_context()
    page = await context.new_page()
    try:
        await sign_in(page, live, owner, lang)
        await page.locator(f"a[href='/console/communities/{community['id']}/moderation']").click()
        await expect(page.locator("#reports")).to_contain_text("Publicité")
        await accessible(page)
        await (
            page.locator("#reports tbody tr")
            .filter(has_text="Publicité")
            .get_by_role("button", name=re.compile(WORDS[lang]["hide"], re.I))
            .click()
        )
        await expect(page.get_by_role("status")).to_contain_text(WORDS[lang]["hidden"])
        await expect(page.locator("#reports")).to_have_count(0)
        await accessible(page)
    finally:
        await context.close()
    assert (await client.get(f"/v1/posts/{post['id']}")).status_code == 404
    await asyncio.sleep(0)


@pytest.mark.parametrize("lang", ["fr", "de"])
async def test_hub_admin_pages_verify_a_provider_and_show_a_new_key_once(
    lang: str, live: LiveServer, browser: Browser, client: Client, db: asyncpg.Pool
) -> None:
    make_user = user_factory(client, db)
    staff = await make_user()
    created = await client.post(
        "/v1/care/providers",
        json={
            "kind": "nursing",
            "name": f"Pflegedienst {lang} {uuid.uuid4().hex[:6]}",
            "description": {"de": "Ambulante Pflege."},
            "languages": ["de"],
            "municipality_codes": ["10045114"],
        },
        headers=staff.headers,
    )
    assert created.status_code == 201, created.text
    admin = await make_user(locale=lang)
    await db.execute("UPDATE users SET is_admin = true WHERE id = $1", uuid.UUID(admin.id))
    community = await create_community(client, admin)
    partner = await client.post(
        "/v1/partners",
        json={"name": f"Partner {uuid.uuid4().hex[:6]}", "kind": "association", "language": lang},
        headers=admin.headers,
    )
    assert partner.status_code == 201, partner.text

    context = await browser.new_context()
    page = await context.new_page()
    try:
        await sign_in(page, live, admin, lang)
        await page.locator("a[href='/console/admin']").click()
        await accessible(page)
        row = page.locator("#providers-to-verify tbody tr").filter(has_text=created.json()["name"])
        await row.get_by_role("button").click()
        await expect(page.get_by_role("status")).to_be_visible()
        await expect(
            page.locator("#providers-to-verify tbody tr").filter(has_text=created.json()["name"])
        ).to_have_count(0)
        await page.get_by_role("link", name=partner.json()["name"]).click()
        await accessible(page)
        await page.locator("#label").fill("site")
        await page.locator("#scope_posts").check()
        await page.locator("#community_ids").fill(community["id"])
        await page.locator("form[action$='/keys'] button[type=submit]").click()
        key = await page.locator("#issued code.key").inner_text()
        assert key.startswith("hubp_")
        await accessible(page)
        await page.goto(page.url)
        await expect(page.locator("#issued")).to_have_count(0)
        await expect(page.locator("#keys")).to_contain_text(key[:12])
    finally:
        await context.close()


POST_TEXTS = {
    "title_fr": "Répétition de la chorale mardi",
    "title_de": "Chorprobe am Dienstag",
    "body_fr": "La répétition a lieu mardi à 19 h dans la salle des fêtes. Venez avec vos partitions.",
    "body_de": "Die Probe ist am Dienstag um 19 Uhr im Festsaal. Bitte bringen Sie die Noten mit.",
    "body_fr_simple": "Mardi, nous chantons ensemble. C’est à 19 h, dans la salle des fêtes.",
    "body_de_simple": "Am Dienstag singen wir zusammen. Das ist um 19 Uhr im Festsaal.",
}
POST_WORDS = {
    "fr": {
        "write": "Écrire une publication",
        "audience": "6 personnes la recevront : 5 maintenant, 1 après leurs heures calmes.",
        "send": "Envoyer à 6 personnes",
        "schedule": "Programmer pour 6 personnes",
        "recipients": "6 personnes devaient la recevoir.",
        "scheduled": "Programmée pour le",
    },
    "de": {
        "write": "Beitrag schreiben",
        "audience": "6 Personen erhalten sie: 5 sofort, 1 nach ihrer Ruhezeit.",
        "send": "An 6 Personen senden",
        "schedule": "Für 6 Personen planen",
        "recipients": "6 Personen sollten ihn erhalten.",
        "scheduled": "Geplant für",
    },
}


@pytest.mark.parametrize("lang", ["fr", "de"])
async def test_community_admin_composes_a_post_previews_it_and_follows_its_delivery(
    lang: str,
    live: LiveServer,
    browser: Browser,
    client: Client,
    db: asyncpg.Pool,
    channels: pipeline.Channels,
) -> None:
    make_user = user_factory(client, db)
    owner = await make_user(locale=lang, display_name=f"Chorleitung {lang}")
    community = await create_community(client, owner)
    members = [await make_user(locale="fr", municipality_code="57089") for _ in range(4)]
    members += [await make_user(locale="de", municipality_code="10045114") for _ in range(2)]
    for person in members:
        await join(client, person, community["id"])
    await quiet_now(client, members[-1], "Europe/Berlin")
    words = POST_WORDS[lang]

    context = await browser.new_context()
    page = await context.new_page()
    try:
        await sign_in(page, live, owner, lang)
        write = page.locator(f"a[href='/console/communities/{community['id']}/compose']")
        await expect(write).to_have_text(words["write"])
        await write.click()
        await expect(page).to_have_url(re.compile(r"/compose$"))
        await accessible(page)
        for field, text in POST_TEXTS.items():
            await page.locator(f"#{field}").fill(text)
        await page.locator("#priority-important").check()
        scheduled = lang == "de"
        # a month ahead at this time of day: the quiet hours of the member in them now are in force then too
        when = datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=30)
        if scheduled:
            await page.locator("#publish_date").fill(when.strftime("%d.%m.%Y"))
            await page.locator("#publish_time").fill(when.strftime("%H:%M"))
        await page.get_by_role("button", name=WORDS[lang]["preview"]).click()
        await expect(page.locator("#audience-summary")).to_have_text(words["audience"])
        await expect(page.locator("#audience-languages tbody tr")).to_have_count(2)
        await expect(page.locator("#preview-fr .push-title")).to_have_text(POST_TEXTS["title_fr"])
        await expect(page.locator("#preview-de .push-title")).to_have_text(POST_TEXTS["title_de"])
        await expect(page.locator("#preview-de .email-text")).to_contain_text("Die Probe ist am Dienstag")
        assert await page.locator("#body_de_simple").input_value() == POST_TEXTS["body_de_simple"]
        await accessible(page)

        if scheduled:
            await expect(page.locator("#schedule-summary")).to_contain_text(when.strftime("%d.%m.%Y, %H:%M"))
            await page.get_by_role("button", name=words["schedule"]).dblclick()
        else:
            await page.get_by_role("button", name=words["send"]).dblclick()
        await expect(page).to_have_url(re.compile(r"/console/posts/[0-9a-f-]{36}$"))
        post_id = uuid.UUID(page.url.rsplit("/", 1)[1])
        stored = await db.fetch("SELECT * FROM posts WHERE community_id = $1", uuid.UUID(community["id"]))
        assert [r["id"] for r in stored] == [post_id]
        assert stored[0]["body_fr_simple"] == POST_TEXTS["body_fr_simple"]
        await accessible(page)
        if scheduled:
            assert stored[0]["published_at"] is None
            await expect(page.locator("#post-state")).to_contain_text(words["scheduled"])
            return

        notification_id = await db.fetchval(
            "SELECT id FROM notifications WHERE kind = 'post' AND source_id = $1", post_id
        )
        async with transaction(db) as conn:
            assert await pipeline.plan_notification(conn, notification_id, channels.clock()) == 6
        await pipeline.dispatch(db, channels, notification_id, "push")
        await pipeline.dispatch(db, channels, notification_id, "email")
        await expect(page.locator("#recipients-summary")).to_have_text(words["recipients"], timeout=15_000)
        await expect(page.locator("#delivery tbody tr").first).to_be_visible()
        await expect(page.locator("#recipients-places")).to_contain_text(
            "Bitche" if lang == "fr" else "Bitsch"
        )
        await accessible(page)
    finally:
        await context.close()
