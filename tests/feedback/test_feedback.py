"""Citizen feedback: Open311 round trip, routing across the border, clean photos, states told in the
reporter's language, duplicates, care reports and access."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import piexif
import pytest
import requests
import uvicorn
from georeport import GeoReport
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image

from feedback import boundaries, photos
from hub.db import transaction
from hub.settings import Settings, load_settings
from i18n import translate
from messaging import pipeline
from messaging.models import decode_content
from server.app import create_app
from tests.conftest import Servers, SignedIn, UserFactory

Client = AsyncTestClient[Litestar]

MANDELBACHTAL = "10045116"
GERSHEIM = "10045113"
SARREGUEMINES = "57631"
BITCHE = "57089"
#: in Bliesmengen-Bolchen (Mandelbachtal), on the Blies facing France: between cells and near the border
BLIESMENGEN = (49.128, 7.118)
PILOT = Path(__file__).resolve().parents[2] / "territory" / "data" / "pilot_region.csv"


def jpeg_with_gps(size: tuple[int, int] = (640, 480)) -> bytes:
    """A camera-like JPEG: GPS position, device make and model, date taken."""
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Fairphone", piexif.ImageIFD.Model: b"FP5"},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2026:11:28 09:15:00"},
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((49, 1), (7, 1), (4080, 100)),
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: ((7, 1), (7, 1), (480, 100)),
            },
        }
    )
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 40)).save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    assert piexif.load(data)["GPS"], "the test photo must carry GPS data"
    return data


def assert_no_metadata(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert "exif" not in image.info and "icc_profile" not in image.info
    assert b"Exif" not in data and b"Fairphone" not in data and b"GPS" not in data


async def make_admin(db: asyncpg.Pool, make_user: UserFactory) -> SignedIn:
    admin = await make_user()
    await db.execute("UPDATE users SET is_admin = true WHERE id = $1", uuid.UUID(admin.id))
    return admin


async def make_staff(
    client: Client, db: asyncpg.Pool, make_user: UserFactory, code: str, locale: str = "fr"
) -> SignedIn:
    staff = await make_user(locale=locale, municipality_code=code)
    admin = await make_admin(db, make_user)
    granted = await client.post(
        "/v1/feedback/staff", json={"email": staff.email, "municipality_code": code}, headers=admin.headers
    )
    assert granted.status_code == 200, granted.text
    assert staff.id in {m["user_id"] for m in granted.json()}
    return staff


async def report(
    client: Client,
    who: SignedIn,
    *,
    lat: float,
    lon: float,
    service_code: str = "fallen-tree",
    description: str = "Ein Baum liegt quer über dem Weg.",
    choose: str | None = None,
    media: list[bytes] | None = None,
) -> str:
    fields = {"service_code": service_code, "lat": str(lat), "long": str(lon), "description": description}
    if choose:
        fields["municipality_code"] = choose
    files = [("media", (f"photo{i}.jpg", data, "image/jpeg")) for i, data in enumerate(media or [])]
    response = await client.post(
        "/open311/v2/requests.json", data=fields, files=files or None, headers=who.headers
    )
    assert response.status_code == 201, response.text
    [created] = response.json()
    return str(created["service_request_id"])


async def notifications(db: asyncpg.Pool, user: SignedIn, kind: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT id, kind, content, audience_user_ids FROM notifications
        WHERE kind = $1 AND $2 = ANY(audience_user_ids) ORDER BY created_at
        """,
        kind,
        uuid.UUID(user.id),
    )
    return [dict(r) | {"content": decode_content(r["content"])} for r in rows]


# -- routing --------------------------------------------------------------------------------------------------


def pilot_centroids() -> list[boundaries.Centroid]:
    with PILOT.open(encoding="utf-8") as f:
        return [
            boundaries.Centroid(
                code=r["official_code"],
                country="DE" if r["country"] == "DE" else "FR",
                lat=float(r["lat"]),
                lon=float(r["lon"]),
            )
            for r in csv.DictReader(f)
        ]


def test_every_verified_centroid_lies_in_its_own_cell_on_its_own_side_of_the_border() -> None:
    centroids = pilot_centroids()
    for c in centroids:
        routing = boundaries.route(c.lat, c.lon, centroids)
        assert routing.code == c.code and not routing.ambiguous
        side, _ = boundaries.side_of_border(c.lat, c.lon)
        assert side == c.country, c.code


@pytest.mark.parametrize(
    ("point", "code"),
    [
        ((49.16, 7.21), GERSHEIM),  # north of the Blies-Gersheim line: Germany
        ((49.105, 7.22), "57517"),  # just south of it: Obergailbach, France
        ((49.0523, 7.4299), BITCHE),
        ((49.2373, 7.2529), "10045112"),  # Blieskastel
        ((49.1100, 7.0675), SARREGUEMINES),
    ],
)
def test_points_on_both_sides_of_the_border_go_to_their_municipality(
    point: tuple[float, float], code: str
) -> None:
    assert boundaries.route(*point, pilot_centroids()).code == code


async def test_a_place_between_cells_offers_a_choice_and_far_away_is_outside(client: Client) -> None:
    placed = await client.get(
        "/v1/feedback/place", params={"lat": BLIESMENGEN[0], "long": BLIESMENGEN[1], "lang": "de"}
    )
    assert placed.status_code == 200, placed.text
    body = placed.json()
    assert body["ambiguous"] is True
    codes = [c["code"] for c in body["candidates"]]
    assert MANDELBACHTAL in codes and SARREGUEMINES in codes
    assert "110" in body["emergency"]["text"] and "112" in body["emergency"]["text"]
    french = await client.get("/v1/feedback/place", params={"lat": 49.0523, "long": 7.4299, "lang": "fr"})
    assert french.json()["municipality_code"] == BITCHE
    assert "17" in french.json()["emergency"]["text"] and "18" in french.json()["emergency"]["text"]
    far = await client.get("/v1/feedback/place", params={"lat": 48.2, "long": 2.3})
    assert far.json()["routing"] == "outside" and far.json()["municipality_code"] is None


# -- photos ---------------------------------------------------------------------------------------------------


def test_reencoded_photo_keeps_the_pixels_and_loses_gps_and_device() -> None:
    original = jpeg_with_gps((3000, 1000))
    clean = photos.reencode(original)
    assert_no_metadata(clean.content)
    assert (clean.width, clean.height) == (photos.MAX_SIDE, 683)
    assert Image.open(io.BytesIO(clean.content)).getpixel((10, 10)) == pytest.approx((30, 120, 40), abs=4)


@pytest.mark.parametrize("data", [b"", b"GIF89a not really", b"\xff\xd8\xff\xe0 truncated jpeg"])
def test_garbage_is_not_a_photo(data: bytes) -> None:
    with pytest.raises(photos.PhotoRejected):
        photos.reencode(data)


# -- the whole story ------------------------------------------------------------------------------------------


async def test_german_resident_reports_a_fallen_tree_and_hears_each_change_in_german(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    resident = await make_user(locale="de", municipality_code=MANDELBACHTAL, display_name="Anna Becker")
    staff = await make_staff(client, db, make_user, MANDELBACHTAL, locale="fr")
    other_staff = await make_staff(client, db, make_user, SARREGUEMINES)

    fields = {
        "service_code": "fallen-tree",
        "lat": str(BLIESMENGEN[0]),
        "long": str(BLIESMENGEN[1]),
        "description": "Ein Baum liegt quer über dem Radweg an der Blies.",
    }
    ambiguous = await client.post("/open311/v2/requests.json", data=fields, headers=resident.headers)
    assert ambiguous.status_code == 409
    [error] = ambiguous.json()
    assert error["code"] == 409 and "municipality_code" in error["description"]
    assert "Gemeinde" in error["description"]  # in her language

    request_id = await report(
        client,
        resident,
        lat=BLIESMENGEN[0],
        lon=BLIESMENGEN[1],
        description=fields["description"],
        choose=MANDELBACHTAL,
        media=[jpeg_with_gps()],
    )
    [new] = await notifications(db, staff, "feedback.new")
    assert uuid.UUID(resident.id) not in new["audience_user_ids"]

    mine = (await client.get("/v1/me/feedback", headers=resident.headers)).json()["items"]
    [item] = [i for i in mine if i["id"] == request_id]
    assert item["municipality_code"] == MANDELBACHTAL and item["routing"] == "chosen"
    assert item["service_name"]["text"] == "Umgestürzter Baum oder gefährlicher Ast"
    assert item["service_name"]["fallback"] is False
    [photo] = item["photos"]
    assert photo["released"] is False
    own_photo = await client.get(photo["url"], headers=resident.headers)
    assert own_photo.status_code == 200
    assert_no_metadata(own_photo.content)
    assert (await client.get(photo["url"])).status_code == 404  # not public before release

    assert (
        await client.get(f"/v1/feedback/requests/{request_id}", headers=other_staff.headers)
    ).status_code == 404
    notes = [
        ("acknowledged", None, "Signalement reçu, merci.", "Meldung erhalten, vielen Dank."),
        ("in_progress", None, "Le service technique passe jeudi.", "Der Bauhof kommt am Donnerstag."),
        ("closed", "solved", "L'arbre a été dégagé.", "Der Baum wurde entfernt."),
    ]
    for status, resolution, fr, de in notes:
        body: dict[str, Any] = {"status": status, "note": {"fr": fr, "de": de}}
        if resolution:
            body["resolution"] = resolution
        changed = await client.post(
            f"/v1/feedback/requests/{request_id}/status", json=body, headers=staff.headers
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["status"] == status

    told = await notifications(db, resident, "feedback.update")
    assert [translate("de", n["content"].title.msgid) for n in told] == [
        "Ihre Meldung ist bei der Gemeinde angekommen",
        "Ihre Meldung wird bearbeitet",
        "Ihre Meldung wurde abgeschlossen",
    ]
    assert [n["content"].body.de for n in told] == [de for *_, de in notes]
    assert [n["content"].body.fr for n in told] == [fr for _, _, fr, _ in notes]
    [asked] = await notifications(db, resident, "feedback.satisfaction")
    assert translate("de", asked["content"].title.msgid) == "Sind Sie zufrieden?"

    # Planned as the worker plans them: her inbox reads in German, the staff's note in its German version.
    for n in told:
        async with transaction(db) as conn:
            assert await pipeline.plan_notification(conn, n["id"], datetime.now(UTC)) == 1
    inbox = await client.get("/v1/me/notifications", headers=resident.headers)
    assert inbox.status_code == 200
    feedback_items = [i for i in inbox.json()["items"] if i["kind"] == "feedback.update"]
    assert [(i["title"]["text"], i["body"]["text"], i["body"]["lang"]) for i in reversed(feedback_items)] == [
        ("Ihre Meldung ist bei der Gemeinde angekommen", "Meldung erhalten, vielen Dank.", "de"),
        ("Ihre Meldung wird bearbeitet", "Der Bauhof kommt am Donnerstag.", "de"),
        ("Ihre Meldung wurde abgeschlossen", "Der Baum wurde entfernt.", "de"),
    ]

    seen = (await client.get(f"/v1/feedback/requests/{request_id}", headers=resident.headers)).json()
    last = seen["updates"][-1]
    assert (last["note"]["text"], last["note"]["lang"]) == ("Der Baum wurde entfernt.", "de")
    assert last["notes"] == {"fr": "L'arbre a été dégagé.", "de": "Der Baum wurde entfernt."}
    assert seen["resolution"] == "solved"

    # Not public until staff release it; then an Open311 reader sees it, with the photo.
    listed = await client.get("/open311/v2/requests.json", params={"service_code": "fallen-tree"})
    assert request_id not in {r["service_request_id"] for r in listed.json()}
    missing = await client.get(f"/open311/v2/requests/{request_id}.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404
    released = await client.post(
        f"/v1/feedback/requests/{request_id}/release",
        json={"photo_ids": [photo["id"]]},
        headers=staff.headers,
    )
    assert released.status_code == 200, released.text
    [public] = (await client.get(f"/open311/v2/requests/{request_id}.json", params={"locale": "de"})).json()
    assert public["status"] == "closed" and public["detailed_status"] == "closed"
    assert public["status_notes"] == "Der Baum wurde entfernt."
    assert public["agency_responsible"] == "Mandelbachtal"
    assert public["media_url"].endswith(photo["url"])
    assert "reporter" not in json.dumps(public) and resident.email not in json.dumps(public)
    anonymous_photo = await client.get(photo["url"])
    assert anonymous_photo.status_code == 200
    assert_no_metadata(anonymous_photo.content)

    # Not satisfied: the report opens again for review, and staff hear of it.
    unhappy = await client.post(
        f"/v1/feedback/requests/{request_id}/satisfaction",
        json={"satisfied": False},
        headers=resident.headers,
    )
    assert unhappy.status_code == 200, unhappy.text
    assert unhappy.json()["status"] == "open" and unhappy.json()["review_requested"] is True
    assert await notifications(db, staff, "feedback.reopened")

    page = await client.get(f"/feedback/{MANDELBACHTAL}", params={"lang": "de"})
    assert page.status_code == 200
    assert "Meldungen in Mandelbachtal" in page.text and "Ein Baum liegt quer" in page.text
    assert "110" in page.text
    geojson = (
        await client.get("/v1/open-data/feedback.geojson", params={"municipality": MANDELBACHTAL})
    ).json()
    [feature] = [f for f in geojson["features"] if f["properties"]["id"] == request_id]
    assert feature["geometry"] == {"type": "Point", "coordinates": [BLIESMENGEN[1], BLIESMENGEN[0]]}


# -- duplicates and followers ---------------------------------------------------------------------------------


async def test_nearby_open_report_of_the_same_service_is_offered_and_its_followers_are_told(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    first = await make_user(locale="fr", municipality_code=BITCHE)
    neighbour = await make_user(locale="de", municipality_code=BITCHE)
    staff = await make_staff(client, db, make_user, BITCHE)
    lat, lon = 49.0601, 7.4301
    request_id = await report(
        client, first, lat=lat, lon=lon, service_code="street-light", description="Lampe éteinte"
    )

    close = await client.get(
        "/v1/feedback/place", params={"lat": lat + 0.0003, "long": lon, "service_code": "street-light"}
    )
    [nearby] = close.json()["nearby"]
    assert nearby["id"] == request_id and nearby["distance_m"] <= 50
    assert nearby["description"] is None  # not released: the text stays private
    far = await client.get(
        "/v1/feedback/place", params={"lat": lat + 0.0008, "long": lon, "service_code": "street-light"}
    )
    assert far.json()["nearby"] == []
    other_service = await client.get(
        "/v1/feedback/place", params={"lat": lat, "long": lon, "service_code": "waste"}
    )
    assert other_service.json()["nearby"] == []

    followed = await client.post(f"/v1/feedback/requests/{request_id}/follow", headers=neighbour.headers)
    assert followed.status_code == 204
    changed = await client.post(
        f"/v1/feedback/requests/{request_id}/status",
        json={"status": "acknowledged", "note": {"fr": "Noté.", "de": "Notiert."}},
        headers=staff.headers,
    )
    assert changed.status_code == 200
    [told] = await notifications(db, neighbour, "feedback.update")
    assert {str(u) for u in told["audience_user_ids"]} == {first.id, neighbour.id}
    mine = (await client.get("/v1/me/feedback", headers=neighbour.headers)).json()["items"]
    [followed_item] = [i for i in mine if i["id"] == request_id]
    assert followed_item["following"] is True and followed_item["description"] == ""


# -- care -----------------------------------------------------------------------------------------------------


async def test_person_in_difficulty_goes_to_care_providers_serving_the_municipality_never_public(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    reporter = await make_user(locale="fr", municipality_code=BITCHE)
    roads = await make_staff(client, db, make_user, BITCHE)
    carer = await make_user(locale="fr", municipality_code=BITCHE)
    created = await client.post(
        "/v1/care/providers",
        json={
            "kind": "home_care",
            "name": "Aide à domicile de Bitche",
            "description": {"fr": "Aide à domicile.", "de": "Häusliche Hilfe."},
            "languages": ["fr", "de"],
            "municipality_codes": [BITCHE],
            "contact": {"phone": "+33 3 87 00 00 01"},
        },
        headers=carer.headers,
    )
    assert created.status_code == 201, created.text
    admin = await make_admin(db, make_user)
    verified = await client.post(f"/v1/care/providers/{created.json()['id']}/verify", headers=admin.headers)
    assert verified.status_code == 200

    request_id = await report(
        client,
        reporter,
        lat=49.0523,
        lon=7.4299,
        service_code="person-in-difficulty",
        description="Un voisin âgé ne sort plus depuis trois jours.",
    )
    [told] = await notifications(db, carer, "feedback.new")
    assert "Un voisin" not in json.dumps(told, default=str)  # no details in push or email
    assert await notifications(db, roads, "feedback.new") == []
    assert (await client.get(f"/v1/feedback/requests/{request_id}", headers=roads.headers)).status_code == 404
    seen = await client.get(f"/v1/feedback/requests/{request_id}", headers=carer.headers)
    assert seen.status_code == 200 and seen.json()["description"].startswith("Un voisin")
    listed = await client.get(
        f"/v1/feedback/municipalities/{BITCHE}/requests", params={"audience": "care"}, headers=carer.headers
    )
    assert request_id in {i["id"] for i in listed.json()["items"]}
    release = await client.post(f"/v1/feedback/requests/{request_id}/release", json={}, headers=admin.headers)
    assert release.status_code == 404
    nearby = await client.get(
        "/v1/feedback/place", params={"lat": 49.0523, "long": 7.4299, "service_code": "person-in-difficulty"}
    )
    assert nearby.json()["nearby"] == []


# -- access and bad input -------------------------------------------------------------------------------------


async def test_access_staff_of_another_municipality_get_404_and_the_reporter_cannot_change_it(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    reporter = await make_user(locale="de", municipality_code=BITCHE)
    stranger = await make_user()
    other = await make_staff(client, db, make_user, "10045114")
    request_id = await report(client, reporter, lat=49.0523, lon=7.4299, service_code="waste")
    change = {"status": "acknowledged", "note": {"fr": "Vu.", "de": "Gesehen."}}
    for who in (stranger, other):
        assert (
            await client.get(f"/v1/feedback/requests/{request_id}", headers=who.headers)
        ).status_code == 404
        response = await client.post(
            f"/v1/feedback/requests/{request_id}/status", json=change, headers=who.headers
        )
        assert response.status_code == 404
    own = await client.post(
        f"/v1/feedback/requests/{request_id}/status", json=change, headers=reporter.headers
    )
    assert own.status_code == 403 and own.json()["code"] == "staff_only"
    listed = await client.get(f"/v1/feedback/municipalities/{BITCHE}/requests", headers=other.headers)
    assert listed.status_code == 404


async def test_open311_bad_input_is_a_4xx_in_the_callers_language(
    client: Client, make_user: UserFactory
) -> None:
    anonymous = await client.post(
        "/open311/v2/requests.json",
        data={"service_code": "waste", "lat": "49.05", "long": "7.43", "description": "x"},
        headers={"Accept-Language": "de"},
    )
    assert anonymous.status_code == 403 and anonymous.json()[0]["description"].startswith(
        "Melden Sie sich an"
    )
    user = await make_user(locale="fr")
    cases = [
        ({"service_code": "no-such", "lat": "49.05", "long": "7.43", "description": "x"}, 422),
        ({"service_code": "waste", "lat": "abc", "long": "7.43", "description": "x"}, 422),
        ({"service_code": "waste", "lat": "48.2", "long": "2.3", "description": "x"}, 422),
        ({"service_code": "waste", "description": "x"}, 422),
        ({"service_code": "waste", "lat": "49.05", "long": "7.43", "description": ""}, 422),
    ]
    for fields, status in cases:
        response = await client.post("/open311/v2/requests.json", data=fields, headers=user.headers)
        assert response.status_code == status, (fields, response.text)
        assert response.json()[0]["code"] == status
    garbage = await client.post(
        "/open311/v2/requests.json",
        data={"service_code": "waste", "lat": "49.05", "long": "7.43", "description": "x"},
        files=[("media", ("x.jpg", b"not an image", "image/jpeg"))],
        headers=user.headers,
    )
    assert garbage.status_code == 422 and "JPEG" in garbage.json()[0]["description"]
    broken_json = await client.post(
        "/open311/v2/requests.json",
        content=b"{not json",
        headers={**user.headers, "Content-Type": "application/json"},
    )
    assert broken_json.status_code == 400
    by_json = await client.post(
        "/open311/v2/requests.json",
        json={
            "service_code": "waste",
            "address_string": "3 rue de la Gare, 57230 Bitche",
            "description": "Sacs",
        },
        headers=user.headers,
    )
    assert by_json.status_code == 201, by_json.text
    assert by_json.json()[0]["municipality_code"] == BITCHE
    bbox = await client.get("/open311/v2/requests.json", params={"bbox": "1,2,3"})
    assert bbox.status_code == 422


# -- an Open311 client from PyPI against the hub over HTTP -------------------------------------------------


@pytest.fixture
async def served(settings: Settings, servers: Servers) -> AsyncIterator[str]:
    """The hub on a loopback port, so a real HTTP client (requests, as Open311 clients use) can reach it."""
    env = {
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_SECRET_KEY": settings.secret_key,
        "HUB_QUEUE_NAME": f"hub-test-open311-{secrets.token_hex(4)}",
    }
    app = create_app(load_settings(env), database_url=servers.database_url, redis_url=servers.redis_url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server stopped before it started"
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_open311_client_round_trip(
    served: str, client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    admin = await make_admin(db, make_user)
    key = await client.post(
        "/v1/feedback/api-keys", json={"name": "Appli de la commune"}, headers=admin.headers
    )
    assert key.status_code == 201, key.text
    api_key = key.json()["api_key"]
    staff = await make_staff(client, db, make_user, "57738")  # Waldhouse
    root = f"{served}/open311/v2"
    geo = GeoReport(root, jurisdiction="pays-de-bitche", api_key=api_key)

    services = await asyncio.to_thread(geo.get_service_list)
    assert {"fallen-tree", "idea", "person-in-difficulty"} <= {s["service_code"] for s in services}

    def submit() -> requests.Response:
        # georeport only reads; this is the spec's POST, form-encoded with api_key and jurisdiction_id.
        return requests.post(
            f"{root}/requests.json",
            data={
                "jurisdiction_id": "pays-de-bitche",
                "api_key": geo.api_key,
                "service_code": "road-damage",
                "lat": "49.1437",
                "long": "7.4656",
                "description": "Nid-de-poule devant la mairie",
                "email": "someone@example.test",
            },
            files={"media": ("hole.jpg", jpeg_with_gps(), "image/jpeg")},
            timeout=30,
        )

    posted = await asyncio.to_thread(submit)
    assert posted.status_code == 201, posted.text
    request_id = posted.json()[0]["service_request_id"]
    assert posted.json()[0]["municipality_code"] == "57738"

    before = await asyncio.to_thread(geo.get_service_requests, service_code="road-damage")
    assert request_id not in {r["service_request_id"] for r in before}
    item = (await client.get(f"/v1/feedback/requests/{request_id}", headers=staff.headers)).json()
    released = await client.post(
        f"/v1/feedback/requests/{request_id}/release",
        json={"photo_ids": [p["id"] for p in item["photos"]]},
        headers=staff.headers,
    )
    assert released.status_code == 200

    listed = await asyncio.to_thread(geo.get_service_requests, service_code="road-damage", status="open")
    assert [r for r in listed if r["service_request_id"] == request_id]
    one = await asyncio.to_thread(geo.get_service_request, request_id)
    assert one["status"] == "open" and one["lat"] == 49.1437 and one["long"] == 7.4656
    assert one["description"] == "Nid-de-poule devant la mairie"
    assert "someone@example.test" not in json.dumps(one)
    # media_url is absolute on HUB_PUBLIC_URL; here the hub listens on a test port.
    photo = await asyncio.to_thread(requests.get, served + urlsplit(one["media_url"]).path, timeout=30)
    assert photo.status_code == 200
    assert_no_metadata(photo.content)
    closed = await asyncio.to_thread(geo.get_service_requests, service_code="road-damage", status="closed")
    assert request_id not in {r["service_request_id"] for r in closed}


# -- the public page in a real browser ----------------------------------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def test_public_list_reads_in_german_and_french_in_a_browser(
    served: str, client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    from playwright.async_api import async_playwright

    reporter = await make_user(locale="fr", municipality_code="57641")  # Schweyen
    staff = await make_staff(client, db, make_user, "57641")
    request_id = await report(
        client,
        reporter,
        lat=49.1599,
        lon=7.3902,
        service_code="waste",
        description="Dépôt sauvage <b>au</b> bord du chemin",
        media=[jpeg_with_gps()],
    )
    item = (await client.get(f"/v1/feedback/requests/{request_id}", headers=staff.headers)).json()
    await client.post(
        f"/v1/feedback/requests/{request_id}/status",
        json={"status": "acknowledged", "note": {"fr": "Enlèvement lundi.", "de": "Abholung am Montag."}},
        headers=staff.headers,
    )
    released = await client.post(
        f"/v1/feedback/requests/{request_id}/release",
        json={"photo_ids": [item["photos"][0]["id"]]},
        headers=staff.headers,
    )
    assert released.status_code == 200

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{served}/feedback/57641?lang=de")
            assert await page.get_attribute("html", "lang") == "de"
            assert await page.inner_text("h1") == "Meldungen in Schweyen"
            # Schweyen is in France: the French numbers, told in German
            assert "in Frankreich 112" in await page.inner_text("[role=note]")
            entry = page.locator("li", has_text="Dépôt sauvage")
            assert await entry.count() == 1
            text = await entry.inner_text()
            assert "Dépôt sauvage <b>au</b> bord du chemin" in text  # shown as text, never as markup
            assert "Bestätigt" in text and "Abholung am Montag." in text
            image = entry.locator("img")
            assert await image.get_attribute("alt") == "Foto zur Meldung"
            assert await image.evaluate("img => img.complete && img.naturalWidth > 0")
            await page.click("text=Français")
            assert await page.inner_text("h1") == "Signalements à Schweyen"
            assert "Enlèvement lundi." in await page.inner_text("main, body")
            assert "le 17 (police)" in await page.inner_text("[role=note]")
        finally:
            await browser.close()


# -- catalogue, abuse, personal data --------------------------------------------------------------------------


async def test_staff_add_a_bilingual_service_of_their_own_that_open311_lists_per_locale(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    staff = await make_staff(client, db, make_user, "10045114")  # Homburg
    body = {
        "code": "homburg-castle-path",
        "municipality_code": "10045114",
        "name": {"fr": "Chemin du Schlossberg", "de": "Weg am Schlossberg"},
        "description": {"fr": "Problème sur le chemin du Schlossberg.", "de": "Problem am Schlossbergweg."},
        "group": {"fr": "Tourisme", "de": "Tourismus"},
        "keywords": ["problem", "tip"],
    }
    one_language = {**body, "name": {"fr": "Chemin du Schlossberg"}}
    assert (
        await client.post("/v1/feedback/services", json=one_language, headers=staff.headers)
    ).status_code == 400
    created = await client.post("/v1/feedback/services", json=body, headers=staff.headers)
    assert created.status_code == 201, created.text
    again = await client.post("/v1/feedback/services", json=body, headers=staff.headers)
    assert again.status_code == 409
    region_wide = {**body, "code": "region-thing", "municipality_code": None}
    assert (
        await client.post("/v1/feedback/services", json=region_wide, headers=staff.headers)
    ).status_code == 403
    elsewhere = {**body, "code": "bitche-thing", "municipality_code": BITCHE}
    assert (
        await client.post("/v1/feedback/services", json=elsewhere, headers=staff.headers)
    ).status_code == 404

    german = (
        await client.get("/open311/v2/services.json", params={"locale": "de", "municipality": "10045114"})
    ).json()
    [mine] = [s for s in german if s["service_code"] == "homburg-castle-path"]
    assert mine == {
        "service_code": "homburg-castle-path",
        "service_name": "Weg am Schlossberg",
        "description": "Problem am Schlossbergweg.",
        "metadata": False,
        "type": "realtime",
        "keywords": "problem,tip",
        "group": "Tourismus",
    }
    french = (await client.get("/open311/v2/services.json", params={"locale": "fr"})).json()
    assert "homburg-castle-path" not in {s["service_code"] for s in french}  # not for the whole region
    assert {"Arbre tombé ou branche dangereuse", "Personne en difficulté"} <= {
        s["service_name"] for s in french
    }

    renamed = await client.patch(
        "/v1/feedback/services/homburg-castle-path",
        json={"name": {"fr": "Sentier du Schlossberg", "de": "Schlossbergpfad"}, "active": False},
        headers=staff.headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == {"fr": "Sentier du Schlossberg", "de": "Schlossbergpfad"}
    listed = (await client.get("/open311/v2/services.json", params={"municipality": "10045114"})).json()
    assert "homburg-castle-path" not in {s["service_code"] for s in listed}  # inactive
    outsider = await make_staff(client, db, make_user, BITCHE)
    other = await client.patch(
        "/v1/feedback/services/homburg-castle-path", json={"active": True}, headers=outsider.headers
    )
    assert other.status_code == 404

    reporter = await make_user(locale="de", municipality_code=BITCHE)
    wrong_place = await client.post(
        "/open311/v2/requests.json",
        data={"service_code": "homburg-castle-path", "lat": "49.0523", "long": "7.4299", "description": "x"},
        headers=reporter.headers,
    )
    assert wrong_place.status_code == 422


async def test_abuse_reports_hide_a_public_report_and_erasure_keeps_it_without_its_author(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    reporter = await make_user(locale="fr", municipality_code="57188")  # Éguelshardt
    staff = await make_staff(client, db, make_user, "57188")
    request_id = await report(
        client, reporter, lat=49.0197, lon=7.4929, service_code="idea", description="Un banc près de l'étang"
    )
    await client.post(f"/v1/feedback/requests/{request_id}/release", json={}, headers=staff.headers)
    public = {"service_request_id": request_id}
    assert (await client.get("/open311/v2/requests.json", params=public)).json()

    export = (await client.get("/v1/me/export", headers=reporter.headers)).json()
    assert request_id in json.dumps(export)

    for _ in range(3):
        flagger = await make_user()
        flagged = await client.post(
            f"/v1/feedback/requests/{request_id}/abuse",
            json={"reason": "Propos injurieux"},
            headers=flagger.headers,
        )
        assert flagged.status_code == 204
    assert (await client.get("/open311/v2/requests.json", params=public)).json() == []
    flagged_item = await client.get(f"/v1/feedback/requests/{request_id}", headers=staff.headers)
    assert flagged_item.json()["hidden"] is True
    shown_again = await client.post(
        f"/v1/feedback/requests/{request_id}/release", json={}, headers=staff.headers
    )
    assert shown_again.status_code == 200
    assert (await client.get("/open311/v2/requests.json", params=public)).json()

    assert (await client.delete("/v1/me", headers=reporter.headers)).status_code in (200, 204)
    kept = await client.get(f"/v1/feedback/requests/{request_id}", headers=staff.headers)
    assert kept.status_code == 200 and kept.json()["description"] == "Un banc près de l'étang"
    assert (
        await db.fetchval("SELECT reporter_id FROM feedback_requests WHERE id = $1", uuid.UUID(request_id))
        is None
    )


async def test_staff_forward_a_report_across_the_border_and_the_reporter_is_told(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    reporter = await make_user(locale="de", municipality_code=MANDELBACHTAL)
    french = await make_staff(client, db, make_user, SARREGUEMINES)
    german = await make_staff(client, db, make_user, MANDELBACHTAL, locale="de")
    request_id = await report(client, reporter, lat=49.1100, lon=7.0675, service_code="signage")
    assert (
        await client.get(f"/v1/feedback/requests/{request_id}", headers=german.headers)
    ).status_code == 404
    same = await client.post(
        f"/v1/feedback/requests/{request_id}/forward",
        json={"municipality_code": SARREGUEMINES, "note": {"fr": "x", "de": "x"}},
        headers=french.headers,
    )
    assert same.status_code == 422
    forwarded = await client.post(
        f"/v1/feedback/requests/{request_id}/forward",
        json={
            "municipality_code": MANDELBACHTAL,
            "note": {
                "fr": "Le panneau est côté allemand : transmis à Mandelbachtal.",
                "de": "Das Schild steht auf deutscher Seite: an Mandelbachtal weitergeleitet.",
            },
        },
        headers=french.headers,
    )
    assert forwarded.status_code == 200, forwarded.text
    assert forwarded.json()["municipality_code"] == MANDELBACHTAL
    assert (
        await client.get(f"/v1/feedback/requests/{request_id}", headers=french.headers)
    ).status_code == 404
    seen = await client.get(f"/v1/feedback/requests/{request_id}", headers=german.headers)
    assert seen.status_code == 200
    [update] = seen.json()["updates"]
    assert (update["kind"], update["from_municipality"], update["to_municipality"]) == (
        "forwarded",
        SARREGUEMINES,
        MANDELBACHTAL,
    )
    [told] = await notifications(db, reporter, "feedback.update")
    assert translate("de", told["content"].title.msgid) == (
        "Ihre Meldung wurde an eine andere Gemeinde weitergeleitet"
    )
    assert told["content"].body.de.startswith("Das Schild steht auf deutscher Seite")
    assert await notifications(db, german, "feedback.new")


async def test_demo_makes_the_demo_admin_staff_and_releases_two_reports_once(servers: Servers) -> None:
    from communities import demo as communities_demo
    from feedback.domain import DOMAIN

    assert DOMAIN.demo is not None
    connection = await asyncpg.connect(servers.database_url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute("DELETE FROM communities")  # the communities' demo seeds an empty hub only
        await communities_demo.seed(connection)
        await DOMAIN.demo(connection)
        await DOMAIN.demo(connection)
        rows = await connection.fetch(
            "SELECT municipality_code, released_at IS NOT NULL AS public FROM feedback_requests "
            "WHERE id::text LIKE '5f0b7c1e-%' ORDER BY id"
        )
        assert [(r["municipality_code"], r["public"]) for r in rows] == [("57089", True), ("10045116", True)]
        staff = await connection.fetch(
            "SELECT s.municipality_code FROM feedback_staff s JOIN users u ON u.id = s.user_id "
            "WHERE u.email = 'demo-admin@hub.localhost' ORDER BY 1"
        )
        assert [r["municipality_code"] for r in staff] == ["10045116", "57089"]
    finally:
        await transaction.rollback()
        await connection.close()
