"""Official warnings end to end: realistic DWD, MeteoAlarm and NINA documents served on loopback, polled,
normalised, delivered through the real pipeline in each reader's language, and read through the API."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import msgspec
import pytest
from aiohttp import web
from arq.connections import ArqRedis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from devtools.fcm_local import FcmLocal
from hub.db import transaction
from hub.queue import queue_pool
from hub.settings import Settings
from official_warnings import poller
from official_warnings.models import PollReport
from official_warnings.parsing import FeedError, parse_atom, parse_cap
from tests.conftest import Servers, SignedIn, UserFactory
from tests.messaging.test_delivery import drain

FIXTURES = Path(__file__).parent.parent / "fixtures" / "warnings"
Client = AsyncTestClient[Litestar]


class FeedServer:
    """A loopback HTTP server answering like the real feeds (ETag, 304), or with errors on demand."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.failing: dict[str, list[tuple[int, bytes]]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.base = ""
        self._runner: web.AppRunner | None = None

    def serve(self, path: str, fixture: str, expires: datetime, replace: dict[str, str] | None = None) -> str:
        text = (FIXTURES / fixture).read_text(encoding="utf-8")
        for old, new in (replace or {}).items():
            text = text.replace(old, new)
        text = text.replace("{BASE}", self.base).replace("{EXPIRES}", expires.isoformat())
        text = text.replace("{ONSET}", (expires - timedelta(hours=6)).isoformat())
        self.routes[path] = text.encode()
        return self.base + path

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, request.headers.get("If-None-Match")))
        queued = self.failing.get(request.path)
        if queued:
            status, body = queued.pop(0)
            return web.Response(status=status, body=body)
        body = self.routes.get(request.path)
        if body is None:
            return web.Response(status=404)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"ETag": etag, "Content-Type": "application/xml"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def queue(servers: Servers, settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await queue_pool(servers.redis_url, settings.queue_name)
    try:
        yield pool
    finally:
        await pool.aclose()


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def poll(
    db: asyncpg.Pool, kind: str, url: str, now: datetime, queue: ArqRedis | None = None
) -> PollReport | None:
    async with aiohttp.ClientSession(timeout=poller.TIMEOUT) as session:
        return await poller.poll_feed(
            db,
            session,
            kind,
            url,
            now=now,
            poll_seconds=60,
            transaction=lambda pool: transaction(pool, queue),
        )


async def device(client: Client, user: SignedIn) -> str:
    token = f"token-{uuid.uuid4().hex}"
    r = await client.post(
        "/v1/me/devices", json={"token": token, "platform": "android"}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return token


async def warning_pushes(fcm: FcmLocal, token: str) -> list[tuple[str | None, str | None]]:
    return [(m.title, m.body) for m in fcm.messages(token)]


async def test_dwd_storm_reaches_homburg_in_german_and_a_bitche_follower_in_french_once_then_one_all_clear(
    client: Client,
    make_user: UserFactory,
    db: asyncpg.Pool,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
    feeds: FeedServer,
    queue: ArqRedis,
) -> None:
    now = datetime.now(UTC)
    expires = now + timedelta(hours=8)
    homburg = await make_user(locale="de", municipality_code="10045114")
    follower = await make_user(locale="fr", municipality_code="57089")
    neighbour = await make_user(locale="fr", municipality_code="57089")
    tokens = {u.id: await device(client, u) for u in (homburg, follower, neighbour)}
    # quiet hours all day long: a severe warning passes them, and that is recorded
    r = await client.patch(
        "/v1/me", json={"quiet_hours": {"start": "00:00:00", "end": "23:59:00"}}, headers=follower.headers
    )
    assert r.status_code == 200, r.text
    r = await client.put("/v1/me/places", json={"municipality_codes": ["10045114"]}, headers=follower.headers)
    assert r.status_code == 200 and r.json() == {"municipality_codes": ["10045114"]}

    dwd_url = feeds.serve("/dwd/storm.xml", "dwd_storm_saarpfalz.xml", expires)
    report = await poll(db, "dwd", dwd_url, now, queue)
    assert report is not None and report.outcome == "ok" and report.alerts == 1
    await drain(settings, servers)

    [(de_title, de_body)] = await warning_pushes(fcm, tokens[homburg.id])
    assert de_title == "Amtliche UNWETTERWARNUNG vor ORKANARTIGEN BÖEN"
    assert "110 km/h" in (de_body or "")
    [(fr_title, fr_body)] = await warning_pushes(fcm, tokens[follower.id])
    assert fr_title is not None and fr_title.startswith(
        "Vigilance rouge – vents violents – Saarpfalz-Kreis – jusqu'au"
    )
    assert "Original en allemand :\nAmtliche UNWETTERWARNUNG" in (fr_body or "")
    assert await warning_pushes(fcm, tokens[neighbour.id]) == []
    override = await db.fetchval(
        "SELECT quiet_override FROM deliveries WHERE user_id = $1 AND channel = 'push'",
        uuid.UUID(follower.id),
    )
    assert override is True

    # The API: the German text for a German reader, the rendered French one with the original attached
    r = await client.get("/v1/warnings", params={"municipality": "10045114", "lang": "fr"})
    assert r.status_code == 200, r.text
    [item] = [w for w in r.json()["items"] if w["source"] == "dwd"]
    assert item["severity"] == "severe" and item["status"] == "active" and item["rendered"] is True
    assert item["headline"]["lang"] == "fr" and item["headline"]["fallback"] is False
    assert item["original"]["lang"] == "de"
    assert item["original"]["headline"] == "Amtliche UNWETTERWARNUNG vor ORKANARTIGEN BÖEN"
    assert "10045111" in item["municipality_codes"] and "Deutscher Wetterdienst" in item["attribution"]
    r = await client.get("/v1/warnings", params={"municipality": "10045114", "lang": "de"})
    [item_de] = [w for w in r.json()["items"] if w["source"] == "dwd"]
    assert item_de["original"] is None and item_de["headline"]["text"].startswith("Amtliche")

    # The same storm from MeteoAlarm: one more source, no second notification
    feed_url = feeds.serve("/meteoalarm/germany.xml", "meteoalarm_germany.xml", expires)
    feeds.serve("/cap/meteoalarm_storm_de.xml", "meteoalarm_storm_de.xml", expires)
    report = await poll(db, "cap-atom", feed_url, now, queue)
    assert report is not None and report.outcome == "ok" and report.alerts == 1
    await drain(settings, servers)
    assert len(await warning_pushes(fcm, tokens[homburg.id])) == 1
    assert len(await warning_pushes(fcm, tokens[follower.id])) == 1
    r = await client.get("/v1/warnings", params={"municipality": "10045114", "lang": "en"})
    assert {tuple(w["sources"]) for w in r.json()["items"]} == {("dwd", "meteoalarm")}

    # Cancelled by DWD: the MeteoAlarm copy is still in force, so nothing yet; its cancel ends it all
    cancel_url = feeds.serve("/dwd/cancel.xml", "dwd_storm_cancel.xml", expires)
    await poll(db, "dwd", cancel_url, now, queue)
    await drain(settings, servers)
    assert len(await warning_pushes(fcm, tokens[homburg.id])) == 1
    dwd_id = item["id"]
    r = await client.get(f"/v1/warnings/{dwd_id}", params={"lang": "fr"})
    assert r.status_code == 200 and r.json()["warning"]["status"] == "cancelled"
    assert [h["msg_type"] for h in r.json()["history"]] == ["Alert", "Cancel"]

    cancel = (FIXTURES / "dwd_storm_cancel.xml").read_text(encoding="utf-8")
    cancel = cancel.replace(".9e0c2d71-", ".9e0c2d72-").replace(
        "4b1c0b4e-7d2a-4d1a-9c55-3f7b1c2e9a01.DEU", "4b1c0b4e-7d2a-4d1a-9c55-3f7b1c2e9a01.MUL"
    )
    feeds.routes["/dwd/cancel-mul.xml"] = cancel.encode()
    async with transaction(db, queue) as conn:
        from official_warnings import service

        await service.ingest(conn, parse_cap(cancel.encode()), "meteoalarm", now)
    await drain(settings, servers)
    [_, (clear_de, _b)] = await warning_pushes(fcm, tokens[homburg.id])
    assert clear_de == "Entwarnung – Sturm – Saarpfalz-Kreis"
    # the all-clear is not urgent: it waits for the end of the follower's quiet hours, once
    [(status, due_at, title)] = await db.fetch(
        "SELECT d.status, d.due_at, n.content -> 'title' ->> 'fr' "
        "FROM deliveries d JOIN notifications n ON n.id = d.notification_id "
        "WHERE d.user_id = $1 AND d.channel = 'push' AND n.kind = 'warning.all_clear'",
        uuid.UUID(follower.id),
    )
    assert status == "pending" and due_at > now and title == "Fin d'alerte – vents violents – Saarpfalz-Kreis"
    assert await warning_pushes(fcm, tokens[neighbour.id]) == []


async def test_exercise_reaches_administrators_only(
    client: Client,
    make_user: UserFactory,
    db: asyncpg.Pool,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
    feeds: FeedServer,
    queue: ArqRedis,
) -> None:
    now = datetime.now(UTC)
    resident = await make_user(locale="de", municipality_code="10045114")
    admin = await make_user(locale="de", municipality_code="10045114")
    await db.execute("UPDATE users SET is_admin = true WHERE id = $1", uuid.UUID(admin.id))
    resident_token, admin_token = await device(client, resident), await device(client, admin)
    from tests.care.test_care import verified_provider

    staff = await make_user(locale="fr", municipality_code="57089")
    staff_token = await device(client, staff)
    await verified_provider(client, db, make_user, staff)
    url = feeds.serve("/api31/dashboard/100450000000.json", "nina_dashboard.json", now)
    feeds.serve("/api31/warnings/mow.DE-SL-SB-SE055-20261129-55-000.json", "nina_exercise.json", now)
    report = await poll(db, "nina", url, now, queue)
    assert report is not None and report.outcome == "ok" and report.alerts == 1
    await drain(settings, servers)
    assert fcm.messages(resident_token) == []
    [to_admin] = fcm.messages(admin_token)
    assert to_admin.title == "ÜBUNG – keine echte Warnung: Probealarm: Test der Warnmittel im Saarpfalz-Kreis"
    [to_staff] = [m for m in fcm.messages(staff_token) if m.title and m.title.startswith("EXERCICE")]
    assert (
        to_staff.title
        == "EXERCICE – pas une vraie alerte : Probealarm: Test der Warnmittel im Saarpfalz-Kreis"
    )
    r = await client.get("/v1/warnings", params={"municipality": "10045114"})
    assert all(w["source"] != "nina" for w in r.json()["items"])
    # the same dashboard again: the detail is not fetched twice
    before = len(feeds.requests)
    report = await poll(db, "nina", url, now + timedelta(minutes=2))
    assert report is not None and report.outcome in {"not_modified", "ok"} and report.alerts == 0
    assert len(feeds.requests) == before + 1


async def test_feed_answering_500_or_garbage_backs_off_and_breaks_nothing(
    db: asyncpg.Pool, feeds: FeedServer
) -> None:
    now = datetime.now(UTC)
    url = feeds.serve("/broken/feed.xml", "meteoalarm_france.xml", now + timedelta(hours=4))
    feeds.serve("/cap/meteoalarm_heat_fr.xml", "meteoalarm_heat_fr.xml", now + timedelta(hours=4))
    feeds.failing["/broken/feed.xml"] = [(500, b"oops"), (200, b"<html><body>Maintenance</body></html>")]
    report = await poll(db, "cap-atom", url, now)
    assert report == PollReport(poller.feed_key("cap-atom", url), "http_error", 500, 0)
    assert await poll(db, "cap-atom", url, now + timedelta(seconds=61)) is None  # backing off (120 s)
    report = await poll(db, "cap-atom", url, now + timedelta(seconds=121))
    assert report is not None and report.outcome == "garbage"
    report = await poll(db, "cap-atom", url, now + timedelta(seconds=121 + 239))
    assert report is None  # 240 s after the second failure
    report = await poll(db, "cap-atom", url, now + timedelta(seconds=121 + 241))
    assert report is not None and report.outcome == "ok" and report.alerts == 1
    rows = await db.fetch(
        "SELECT outcome, http_status FROM warning_fetches WHERE feed_key = $1 ORDER BY id",
        poller.feed_key("cap-atom", url),
    )
    assert [(r["outcome"], r["http_status"]) for r in rows] == [
        ("http_error", 500),
        ("garbage", 200),
        ("ok", 200),
    ]
    # conditional request: the next poll sends the ETag and gets a 304
    report = await poll(db, "cap-atom", url, now + timedelta(seconds=121 + 241 + 61))
    assert report is not None and report.outcome == "not_modified"


def test_hostile_xml_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&x;</alert>'
    with pytest.raises(FeedError):
        parse_cap(bomb)
    with pytest.raises(FeedError):
        parse_cap(b"not xml at all")
    with pytest.raises(FeedError):
        parse_atom(b"<rss/>", "https://feeds.meteoalarm.org/feeds/germany")
    feed = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><updated>2026-11-29T06:00:00Z</updated>'
        b'<link href="http://169.254.169.254/latest" type="application/cap+xml"/>'
        b'<link href="/api/v1/warnings/feeds-germany/abc" type="application/cap+xml"/></entry></feed>'
    )
    [entry] = parse_atom(feed, "https://feeds.meteoalarm.org/feeds/germany")
    assert entry.url == "https://feeds.meteoalarm.org/api/v1/warnings/feeds-germany/abc"


async def test_places_are_checked_and_exported(client: Client, make_user: UserFactory) -> None:
    user = await make_user(locale="fr")
    r = await client.put("/v1/me/places", json={"municipality_codes": ["99999"]}, headers=user.headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid_field"
    many = [
        "57006",
        "57046",
        "57074",
        "57083",
        "57089",
        "10045111",
        "10045112",
        "10045113",
        "10045114",
        "10045115",
        "10045116",
    ]
    r = await client.put("/v1/me/places", json={"municipality_codes": many}, headers=user.headers)
    assert r.status_code == 422
    assert "10" in r.json()["detail"]
    r = await client.put("/v1/me/places", json={"municipality_codes": many[:10]}, headers=user.headers)
    assert r.status_code == 200 and r.json()["municipality_codes"] == many[:10]
    r = await client.get("/v1/me/export", headers=user.headers)
    assert [p["municipality_code"] for p in r.json()["sections"]["places"]] == many[:10]
    r = await client.get("/v1/me/places", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def dwd_document(
    identifier: str,
    *,
    severity: str,
    cells: list[str],
    expires: datetime,
    msg_type: str = "Alert",
    references: str | None = None,
    ii: str = "52",
) -> bytes:
    """A DWD CAP document like the fixture, with the parts a test varies."""
    text = (FIXTURES / "dwd_storm_saarpfalz.xml").read_text(encoding="utf-8")
    text = text.replace(
        "2.49.0.0.276.0.DWD.PVW.1795888800000.4b1c0b4e-7d2a-4d1a-9c55-3f7b1c2e9a01.DEU", identifier
    )
    text = text.replace("<severity>Severe</severity>", f"<severity>{severity}</severity>")
    text = text.replace("<msgType>Alert</msgType>", f"<msgType>{msg_type}</msgType>")
    text = text.replace("<value>54</value>", f"<value>{ii}</value>")
    if references:
        text = text.replace(
            "<source>PVW</source>", f"<source>PVW</source>\n    <references>{references}</references>"
        )
    geocodes = "".join(
        f"<geocode><valueName>WARNCELLID</valueName><value>{c}</value></geocode>" for c in cells
    )
    start, end = text.index("<geocode>"), text.rindex("</geocode>") + len("</geocode>")
    text = text[:start] + geocodes + text[end:]
    text = text.replace("{EXPIRES}", expires.isoformat()).replace(
        "{ONSET}", (expires - timedelta(hours=4)).isoformat()
    )
    return text.encode()


async def ingest(db: asyncpg.Pool, queue: ArqRedis, data: bytes, source: str = "dwd") -> None:
    from official_warnings import service

    async with transaction(db, queue) as conn:
        await service.ingest(conn, parse_cap(data), source, datetime.now(UTC))


async def test_update_tells_only_the_newly_concerned_and_a_higher_level_again(
    client: Client,
    make_user: UserFactory,
    db: asyncpg.Pool,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
    queue: ArqRedis,
) -> None:
    expires = datetime.now(UTC) + timedelta(hours=10)
    bexbach = await make_user(locale="de", municipality_code="10045111")
    kirkel = await make_user(locale="de", municipality_code="10045115")
    t_bexbach, t_kirkel = await device(client, bexbach), await device(client, kirkel)
    first = f"2.49.0.0.276.0.DWD.PVW.{uuid.uuid4().hex}.DEU"
    # a thunderstorm (II 31) keeps this chain apart from the other tests' storms
    await ingest(
        db, queue, dwd_document(first, severity="Moderate", cells=["810045111"], expires=expires, ii="31")
    )
    await drain(settings, servers)
    assert len(fcm.messages(t_bexbach)) == 1 and fcm.messages(t_kirkel) == []

    second = f"2.49.0.0.276.0.DWD.PVW.{uuid.uuid4().hex}.DEU"
    ref = f"opendata@dwd.de,{first},2026-11-29T14:00:00+01:00"
    update = dwd_document(
        second,
        severity="Moderate",
        cells=["810045111", "810045115"],
        expires=expires,
        msg_type="Update",
        references=ref,
        ii="31",
    )
    await ingest(db, queue, update)
    await drain(settings, servers)
    assert len(fcm.messages(t_bexbach)) == 1  # same level, same place: nothing new for Bexbach
    assert len(fcm.messages(t_kirkel)) == 1  # the newly covered place is told

    third = f"2.49.0.0.276.0.DWD.PVW.{uuid.uuid4().hex}.DEU"
    ref = f"opendata@dwd.de,{second},2026-11-29T15:00:00+01:00"
    higher = dwd_document(
        third,
        severity="Severe",
        cells=["810045111", "810045115"],
        expires=expires,
        msg_type="Update",
        references=ref,
        ii="31",
    )
    await ingest(db, queue, higher)
    await drain(settings, servers)
    assert len(fcm.messages(t_bexbach)) == 2 and len(fcm.messages(t_kirkel)) == 2  # the level rose


async def test_severity_routing_moderate_waits_for_quiet_hours_minor_goes_to_the_inbox_only(
    client: Client,
    make_user: UserFactory,
    db: asyncpg.Pool,
    settings: Settings,
    servers: Servers,
    queue: ArqRedis,
) -> None:
    expires = datetime.now(UTC) + timedelta(hours=10)
    person = await make_user(locale="de", municipality_code="10045116")
    await device(client, person)
    r = await client.patch(
        "/v1/me", json={"quiet_hours": {"start": "00:00:00", "end": "23:59:00"}}, headers=person.headers
    )
    assert r.status_code == 200
    cases = {"Minor": ("61", "info"), "Moderate": ("59", "important"), "Extreme": ("88", "urgent")}
    for severity, (ii, _priority) in cases.items():
        identifier = f"2.49.0.0.276.0.DWD.PVW.{uuid.uuid4().hex}.DEU"
        await ingest(
            db,
            queue,
            dwd_document(identifier, severity=severity, cells=["810045116"], expires=expires, ii=ii),
        )
    await drain(settings, servers)
    rows = await db.fetch(
        "SELECT n.priority, d.channel, d.quiet_override, d.deferred_by_quiet_hours FROM deliveries d "
        "JOIN notifications n ON n.id = d.notification_id WHERE d.user_id = $1 AND n.kind = 'warning' "
        "ORDER BY n.priority, d.channel",
        uuid.UUID(person.id),
    )
    got = {(r["priority"], r["channel"], r["quiet_override"], r["deferred_by_quiet_hours"]) for r in rows}
    assert got == {
        ("info", "inbox", False, False),
        ("important", "inbox", False, False),
        ("important", "push", False, True),
        ("urgent", "inbox", False, False),
        ("urgent", "push", True, False),
        ("urgent", "email", False, False),
    }


async def test_severe_heat_tells_each_care_provider_once_with_its_count(
    client: Client,
    make_user: UserFactory,
    db: asyncpg.Pool,
    settings: Settings,
    servers: Servers,
    fcm: FcmLocal,
    feeds: FeedServer,
    queue: ArqRedis,
) -> None:
    from tests.care.test_care import CONSENT_FR, create_circle, morning_plan, verified_provider

    staff = await make_user(locale="de", municipality_code="10045114")
    staff_token = await device(client, staff)
    provider_id = await verified_provider(client, db, make_user, staff, name="Pflegedienst Saar-Mosel")
    for with_plan in (True, True, False):
        senior = await make_user(locale="fr", municipality_code="57089")
        if with_plan:
            await create_circle(client, senior)
            await morning_plan(client, senior)
        r = await client.post(
            f"/v1/care/providers/{provider_id}/clients", json=CONSENT_FR, headers=senior.headers
        )
        assert r.status_code == 200, r.text
        # only clients the provider's staff approved count (a request alone does not)
        r = await client.post(
            f"/v1/care/providers/{provider_id}/clients/{senior.id}/approve", headers=staff.headers
        )
        assert r.status_code in (200, 204), r.text
    now = datetime.now(UTC)
    fresh = {"20261129060000.57.heat": f"{uuid.uuid4().hex}.57.heat"}  # a message no other test took in
    url = feeds.serve("/meteoalarm/france.xml", "meteoalarm_france.xml", now + timedelta(hours=12), fresh)
    feeds.serve("/cap/meteoalarm_heat_fr.xml", "meteoalarm_heat_fr.xml", now + timedelta(hours=12), fresh)
    report = await poll(db, "cap-atom", url, now, queue)
    assert report is not None and report.alerts == 1
    await drain(settings, servers)
    care = [m for m in fcm.messages(staff_token) if m.title and "Klienten" in m.title]
    assert [m.title for m in care] == ["Warnstufe Orange – Hitze: 2 Ihrer Klientinnen und Klienten betroffen"]

    # The French reader gets Météo-France's own text; the German reader a rendered one, orange as published
    r = await client.get("/v1/warnings", params={"municipality": "57089", "lang": "fr"})
    heats = [w for w in r.json()["items"] if w["hazard"] == "heat"]
    assert heats
    for heat in heats:
        assert heat["headline"] == {
            "text": "Vigilance orange canicule en Moselle",
            "lang": "fr",
            "fallback": False,
            "simple": None,
        }
        assert heat["original"] is None and heat["level"] == "orange" and heat["licence"] == "CC BY 4.0"
    r = await client.get("/v1/warnings", params={"municipality": "57089", "lang": "de"})
    for heat_de in [w for w in r.json()["items"] if w["hazard"] == "heat"]:
        assert heat_de["headline"]["text"].startswith("Warnstufe Orange – Hitze – Moselle – bis ")
        assert heat_de["original"]["lang"] == "fr"
    r = await client.get("/v1/open-data/warnings.geojson")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    points = [f for f in r.json()["features"] if f["properties"]["warning_id"] == heat["id"]]
    assert {f["properties"]["municipality_code"] for f in points} >= {"57089", "57631", "57227"}
    assert all(f["properties"]["municipality_code"].startswith("57") for f in points)


async def test_worker_job_polls_configured_dwd_zip_and_unknown_ids_are_404(
    client: Client, db: asyncpg.Pool, settings: Settings, servers: Servers, feeds: FeedServer
) -> None:
    import io
    import zipfile

    from official_warnings import jobs

    expires = datetime.now(UTC) + timedelta(hours=5)
    buffer = io.BytesIO()
    identifier = f"2.49.0.0.276.0.DWD.PVW.{uuid.uuid4().hex}.DEU"
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "Z_CAP_C_EDZW_1.xml",
            dwd_document(identifier, severity="Minor", cells=["810045113"], expires=expires, ii="59"),
        )
    feeds.routes["/dwd/latest.zip"] = buffer.getvalue()
    url = feeds.base + "/dwd/latest.zip"
    configured = msgspec.structs.replace(settings, warning_feeds=(("dwd", url),), warning_poll_seconds=60)
    pool = await asyncpg.create_pool(servers.database_url, min_size=1, max_size=2)
    try:
        reports = await jobs.poll_warning_feeds({"settings": configured, "pool": pool})
    finally:
        await pool.close()
    assert [(r.outcome, r.alerts) for r in reports] == [("ok", 1)]
    r = await client.get("/v1/warnings", params={"municipality": "10045113", "lang": "de"})
    assert any(w["event_code"] == "59" and w["hazard"] == "fog" for w in r.json()["items"])
    r = await client.get(f"/v1/warnings/{uuid.uuid4()}", params={"lang": "de"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = await client.get("/v1/warnings", params={"municipality": "99999", "lang": "de"})
    assert r.status_code == 422 and "99999" in r.json()["detail"]


async def test_one_bad_document_in_a_feed_is_refused_without_holding_back_the_others(
    db: asyncpg.Pool, feeds: FeedServer
) -> None:
    now = datetime.now(UTC)
    fresh = {"20261129060000.57.heat": f"{uuid.uuid4().hex}.57.heat"}
    good = feeds.serve("/cap/good.xml", "meteoalarm_heat_fr.xml", now + timedelta(hours=3), fresh)
    feeds.routes["/cap/bomb.xml"] = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&b;</alert>'
    )
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        + "".join(
            f"<entry><id>{u}</id><updated>2026-11-29T06:00:00+00:00</updated>"
            f'<link href="{u}" type="application/cap+xml"/></entry>'
            for u in (feeds.base + "/cap/missing.xml", feeds.base + "/cap/bomb.xml", good)
        )
        + "</feed>"
    )
    feeds.routes["/mixed/feed.xml"] = feed.encode()
    url = feeds.base + "/mixed/feed.xml"
    report = await poll(db, "cap-atom", url, now)
    assert report is not None and report.outcome == "ok" and report.alerts == 1
    error = await db.fetchval(
        "SELECT error FROM warning_fetches WHERE feed_key = $1", poller.feed_key("cap-atom", url)
    )
    assert error.startswith("2 documents refused")


def test_warning_feeds_setting_is_checked(tmp_path: Path) -> None:
    from hub.settings import SettingsError, load_settings

    base = {"HUB_SECRET_KEY": "x" * 40, "HUB_DATA_DIR": str(tmp_path), "HUB_LANG": "de"}
    feeds_value = "dwd=https://opendata.dwd.de/a.zip cap-atom=https://feeds.meteoalarm.org/germany"
    settings = load_settings({**base, "HUB_WARNING_FEEDS": feeds_value, "HUB_WARNING_POLL_SECONDS": "120"})
    assert settings.warning_feeds == (
        ("dwd", "https://opendata.dwd.de/a.zip"),
        ("cap-atom", "https://feeds.meteoalarm.org/germany"),
    )
    assert settings.warning_poll_seconds == 120
    with pytest.raises(SettingsError) as error:
        load_settings({**base, "HUB_WARNING_FEEDS": "rss=https://example.org/feed"})
    assert error.value.variable == "HUB_WARNING_FEEDS" and "cap-atom, dwd, nina" in error.value.message
