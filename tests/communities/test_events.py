"""Events: validation, access, RSVPs with a waiting list under races, reminders once, feeds and 304s."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import icalendar
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from communities.events import service
from hub.db import transaction
from messaging.models import decode_content
from messaging.texts import Texts, texts_for
from tests.conftest import SignedIn, UserFactory

Client = AsyncTestClient[Litestar]
CROSS_BORDER = ["57089", "10045114"]  # Bitche (Moselle) and Homburg (Saarland)


def soon(days: float = 10, hours: float = 0) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days, hours=hours)).replace(microsecond=0)


async def community(
    client: Client, owner: SignedIn, *, visibility: str = "public", codes: list[str] | None = None
) -> str:
    r = await client.post(
        "/v1/communities",
        json={
            "name": {"fr": "Chorale transfrontalière", "de": "Grenzüberschreitender Chor"},
            "municipality_codes": codes or CROSS_BORDER,
            "visibility": visibility,
            "kind": "choir",
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def joined(client: Client, make_user: UserFactory, community_id: str, locale: str = "fr") -> SignedIn:
    user = await make_user(locale=locale)
    r = await client.post(f"/v1/communities/{community_id}/join", headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    return user


def event_body(**overrides: Any) -> dict[str, Any]:
    start = soon()
    body: dict[str, Any] = {
        "title": {"fr": "Concert de Noël", "de": "Weihnachtskonzert"},
        "description": {"fr": "Chants des deux rives", "de": "Lieder beider Ufer"},
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "time_zone": "Europe/Paris",
        "location": "Église Sainte-Catherine, Bitche",
        "municipality_code": "57089",
    }
    body.update(overrides)
    return body


async def new_event(client: Client, owner: SignedIn, community_id: str, **overrides: Any) -> dict[str, Any]:
    r = await client.post(
        f"/v1/communities/{community_id}/events", json=event_body(**overrides), headers=owner.headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def notifications(db: asyncpg.Pool, kind: str, event_id: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT * FROM notifications WHERE kind = $1 AND source_id = $2 ORDER BY created_at",
            kind,
            uuid.UUID(event_id),
        )
    )


def said(note: asyncpg.Record, locale: str) -> Texts:
    """What the pipeline tells a reader of ``locale`` about this notification."""
    return texts_for(decode_content(note["content"]), locale)


@pytest.fixture
async def owner(make_user: UserFactory) -> SignedIn:
    return await make_user(locale="fr")


async def test_publisher_creates_bilingual_event_and_members_are_notified(
    client: Client, make_user: UserFactory, owner: SignedIn, db: asyncpg.Pool
) -> None:
    cid = await community(client, owner)
    reader = await joined(client, make_user, cid, "de")
    event = await new_event(client, owner, cid, capacity=20)
    assert event["title"] == {"text": "Concert de Noël", "lang": "fr", "fallback": False, "simple": None}
    assert event["capacity"] == 20 and event["attending"] == 0 and event["sequence"] == 0

    german = await client.get(f"/v1/events/{event['id']}", headers=reader.headers)
    assert german.status_code == 200
    assert german.json()["title"]["text"] == "Weihnachtskonzert"

    [note] = await notifications(db, "event", event["id"])
    assert note["audience_community_id"] == uuid.UUID(cid)
    assert said(note, "de").body.text.startswith("Neue Veranstaltung")
    assert "Bitche" in said(note, "fr").body.text

    listing = await client.get(f"/v1/communities/{cid}/events", params={"lang": "de"})
    assert [e["id"] for e in listing.json()["items"]] == [event["id"]]


async def test_member_cannot_create_and_outsider_of_private_community_gets_404(
    client: Client, make_user: UserFactory, owner: SignedIn
) -> None:
    cid = await community(client, owner, visibility="private")
    stranger = await make_user()
    r = await client.post(f"/v1/communities/{cid}/events", json=event_body(), headers=stranger.headers)
    assert r.status_code == 404
    event = await new_event(client, owner, cid)
    assert (await client.get(f"/v1/events/{event['id']}", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"/v1/events/{event['id']}")).status_code == 404
    assert (await client.post(f"/v1/events/{event['id']}/rsvp", headers=stranger.headers)).status_code == 404

    public = await community(client, owner)
    member = await joined(client, make_user, public)
    r = await client.post(f"/v1/communities/{public}/events", json=event_body(), headers=member.headers)
    assert r.status_code == 403
    assert r.json()["code"] == "community_role_required"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_at": soon(days=9).isoformat()}, "ends_at"),
        ({"capacity": 0}, "capacity"),
        ({"time_zone": "Europe/Bitche"}, "time_zone"),
        ({"municipality_code": "57999"}, "municipality_code"),
        ({"title": {"fr": "  "}}, "title"),
    ],
)
async def test_bad_event_input_is_a_clear_problem(
    client: Client, owner: SignedIn, overrides: dict[str, Any], field: str
) -> None:
    cid = await community(client, owner)
    r = await client.post(
        f"/v1/communities/{cid}/events",
        json=event_body(**overrides),
        params={"lang": "de"},
        headers=owner.headers,
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "invalid_field"
    assert field in problem["detail"]
    assert r.headers["content-language"] == "de"


async def test_parallel_rsvps_never_exceed_capacity(
    client: Client, make_user: UserFactory, owner: SignedIn
) -> None:
    cid = await community(client, owner)
    event = await new_event(client, owner, cid, capacity=3)
    people = [await joined(client, make_user, cid) for _ in range(10)]
    answers = await asyncio.gather(
        *(client.post(f"/v1/events/{event['id']}/rsvp", headers=p.headers) for p in people)
    )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["attending"] * 3 + ["waiting"] * 7
    assert sorted(a.json()["position"] for a in answers if a.json()["status"] == "waiting") == list(
        range(1, 8)
    )
    detail = (await client.get(f"/v1/events/{event['id']}")).json()
    assert (detail["attending"], detail["waiting"]) == (3, 7)


async def test_two_cancellations_at_once_promote_exactly_two(
    client: Client, make_user: UserFactory, owner: SignedIn, db: asyncpg.Pool
) -> None:
    cid = await community(client, owner)
    event = await new_event(client, owner, cid, capacity=2)
    people = [await joined(client, make_user, cid) for _ in range(5)]
    for person in people:  # in order: the first two attend, the next three wait
        assert (
            await client.post(f"/v1/events/{event['id']}/rsvp", headers=person.headers)
        ).status_code == 200
    again = await client.post(f"/v1/events/{event['id']}/rsvp", headers=people[0].headers)
    assert again.json()["status"] == "attending"  # answering twice changes nothing

    gone = await asyncio.gather(
        *(client.delete(f"/v1/events/{event['id']}/rsvp", headers=p.headers) for p in people[:2])
    )
    assert [g.status_code for g in gone] == [204, 204]
    rows = await db.fetch(
        "SELECT user_id, status FROM event_rsvps WHERE event_id = $1", uuid.UUID(event["id"])
    )
    status = {str(r["user_id"]): r["status"] for r in rows}
    assert status == {people[2].id: "attending", people[3].id: "attending", people[4].id: "waiting"}
    promoted = await notifications(db, "event_promoted", event["id"])
    told = sorted(str(u) for n in promoted for u in n["audience_user_ids"])
    assert told == sorted([people[2].id, people[3].id])
    assert said(promoted[0], "de").body.text.startswith("Ein Platz")
    assert (
        await client.delete(f"/v1/events/{event['id']}/rsvp", headers=people[0].headers)
    ).status_code == 404


async def test_reminder_goes_out_exactly_once_with_two_workers(
    client: Client, make_user: UserFactory, owner: SignedIn, db: asyncpg.Pool
) -> None:
    cid = await community(client, owner)
    start = soon(days=0, hours=20)
    event = await new_event(
        client, owner, cid, starts_at=start.isoformat(), ends_at=(start + timedelta(hours=1)).isoformat()
    )
    later = await new_event(client, owner, cid)  # in ten days: not due yet
    french = await joined(client, make_user, cid, "fr")
    german = await joined(client, make_user, cid, "de")
    for person in (french, german):
        await client.post(f"/v1/events/{event['id']}/rsvp", headers=person.headers)
        await client.post(f"/v1/events/{later['id']}/rsvp", headers=person.headers)

    async def run() -> int:
        async with transaction(db) as conn:
            return await service.send_due_reminders(conn, datetime.now(UTC))

    counts = await asyncio.gather(run(), run())
    assert await run() == 0
    [reminder] = await notifications(db, "event_reminder", event["id"])
    assert sum(counts) >= 1
    assert sorted(str(u) for u in reminder["audience_user_ids"]) == sorted([french.id, german.id])
    assert said(reminder, "fr").body.text.startswith("Rappel")
    assert said(reminder, "de").body.text.startswith("Erinnerung")
    assert await notifications(db, "event_reminder", later["id"]) == []


async def test_moving_and_cancelling_tell_attendees_with_the_new_time(
    client: Client, make_user: UserFactory, owner: SignedIn, db: asyncpg.Pool
) -> None:
    cid = await community(client, owner)
    event = await new_event(client, owner, cid)
    member = await joined(client, make_user, cid, "de")
    await client.post(f"/v1/events/{event['id']}/rsvp", headers=member.headers)
    new_start = soon(days=12).replace(hour=18, minute=30, second=0)
    moved = await client.patch(
        f"/v1/events/{event['id']}",
        json={"starts_at": new_start.isoformat(), "ends_at": (new_start + timedelta(hours=2)).isoformat()},
        headers=owner.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["sequence"] == 1
    [note] = await notifications(db, "event_update", event["id"])
    assert [str(u) for u in note["audience_user_ids"]] == [member.id]
    berlin = new_start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert f"{berlin:%H:%M}" in said(note, "de").body.text

    forbidden = await client.patch(
        f"/v1/events/{event['id']}", json={"location": "x"}, headers=member.headers
    )
    assert forbidden.status_code == 403

    cancelled = await client.delete(f"/v1/events/{event['id']}", headers=owner.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["sequence"] == 2
    notes = await notifications(db, "event_update", event["id"])
    assert len(notes) == 2 and said(notes[1], "fr").body.text.startswith("Cet événement a été annulé")
    again = await client.post(f"/v1/events/{event['id']}/rsvp", headers=member.headers)
    assert again.status_code == 409


async def test_capacity_cannot_drop_below_attendees_and_raising_it_promotes(
    client: Client, make_user: UserFactory, owner: SignedIn
) -> None:
    cid = await community(client, owner)
    event = await new_event(client, owner, cid, capacity=1)
    a, b = await joined(client, make_user, cid), await joined(client, make_user, cid)
    await client.post(f"/v1/events/{event['id']}/rsvp", headers=a.headers)
    assert (await client.post(f"/v1/events/{event['id']}/rsvp", headers=b.headers)).json()[
        "status"
    ] == "waiting"
    r = await client.patch(f"/v1/events/{event['id']}", json={"capacity": 2}, headers=owner.headers)
    assert (r.json()["attending"], r.json()["waiting"]) == (2, 0)
    r = await client.patch(f"/v1/events/{event['id']}", json={"capacity": 1}, headers=owner.headers)
    assert r.status_code == 422


def parse_ics(body: bytes) -> list[icalendar.cal.Component]:
    cal = icalendar.Calendar.from_ical(body)
    return list(cal.walk("VEVENT"))


async def test_ics_feed_in_both_languages_with_uids_sequence_and_cancellations(
    client: Client, owner: SignedIn
) -> None:
    cid = await community(client, owner)
    kept = await new_event(client, owner, cid, time_zone="Europe/Berlin")
    dropped = await new_event(client, owner, cid, title={"de": "Nur auf Deutsch"})
    await client.delete(f"/v1/events/{dropped['id']}", headers=owner.headers)

    fr = await client.get(f"/v1/communities/{cid}/events.ics", params={"lang": "fr"})
    de = await client.get(f"/v1/communities/{cid}/events.ics", params={"lang": "de"})
    assert fr.status_code == de.status_code == 200
    assert fr.headers["content-type"].startswith("text/calendar")
    assert fr.headers["etag"] != de.headers["etag"]
    cal = icalendar.Calendar.from_ical(fr.content)
    assert {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")} == {"Europe/Berlin", "Europe/Paris"}
    by_uid = {str(e["UID"]): e for e in parse_ics(fr.content)}
    assert set(by_uid) == {f"{kept['id']}@hub", f"{dropped['id']}@hub"}
    first = by_uid[f"{kept['id']}@hub"]
    assert str(first["SUMMARY"]) == "Concert de Noël"
    assert first.decoded("DTSTART") == datetime.fromisoformat(kept["starts_at"])
    assert first["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert str(first["STATUS"]) == "CONFIRMED" and first.decoded("SEQUENCE") == 0
    gone = by_uid[f"{dropped['id']}@hub"]
    assert str(gone["STATUS"]) == "CANCELLED" and gone.decoded("SEQUENCE") == 1
    assert str(gone["SUMMARY"]) == "Nur auf Deutsch"
    german = {str(e["UID"]): e for e in parse_ics(de.content)}
    assert str(german[f"{kept['id']}@hub"]["SUMMARY"]) == "Weihnachtskonzert"


async def test_ics_and_open_data_answer_conditional_requests_with_304(
    client: Client, owner: SignedIn
) -> None:
    cid = await community(client, owner)
    event = await new_event(client, owner, cid)
    url = f"/v1/communities/{cid}/events.ics"
    first = await client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304
    assert (await client.get(url, headers={"If-Modified-Since": modified})).status_code == 304
    await asyncio.sleep(1.1)  # Last-Modified has a resolution of one second
    await client.patch(
        f"/v1/events/{event['id']}", json={"location": "Salle des fêtes"}, headers=owner.headers
    )
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert (await client.get(url, headers={"If-Modified-Since": modified})).status_code == 200

    data = await client.get("/v1/events/open-data", params={"lang": "de"})
    assert data.status_code == 200
    assert event["id"] in [e["id"] for e in data.json()["items"]]
    again = await client.get(
        "/v1/events/open-data", params={"lang": "de"}, headers={"If-None-Match": data.headers["etag"]}
    )
    assert again.status_code == 304


async def test_private_feed_needs_a_personal_token_that_can_be_revoked(
    client: Client, make_user: UserFactory, owner: SignedIn
) -> None:
    cid = await community(client, owner, visibility="private")
    event = await new_event(client, owner, cid)
    url = f"/v1/communities/{cid}/events.ics"
    assert (await client.get(url)).status_code == 404
    token = await client.post(f"/v1/communities/{cid}/feed-token", headers=owner.headers)
    assert token.status_code == 200
    secret = token.json()["token"]
    assert token.json()["url"].endswith(f"/v1/communities/{cid}/events.ics?token={secret}")
    feed = await client.get(url, params={"token": secret, "lang": "de"})
    assert feed.status_code == 200
    [item] = parse_ics(feed.content)
    assert str(item["UID"]) == f"{event['id']}@hub"
    assert (
        await client.get(
            f"/v1/communities/{await community(client, owner, visibility='private')}/events.ics",
            params={"token": secret},
        )
    ).status_code == 404
    assert (
        await client.delete(f"/v1/communities/{cid}/feed-token", headers=owner.headers)
    ).status_code == 204
    assert (await client.get(url, params={"token": secret})).status_code == 404


async def test_event_on_a_moselle_holiday_lists_the_conflict(client: Client, owner: SignedIn) -> None:
    cid = await community(client, owner)
    event = await new_event(
        client,
        owner,
        cid,
        starts_at="2030-12-26T15:00:00+01:00",
        ends_at="2030-12-26T17:00:00+01:00",
    )
    conflicts = {(c["municipality_code"], c["name"]) for c in event["holiday_conflicts"]}
    assert ("57089", "Saint-Étienne") in conflicts
    assert ("10045114", "Second Day of Christmas") not in conflicts  # names are in the reader's language
    assert ("10045114", "Deuxième jour de Noël") in conflicts


async def test_erasing_an_attendee_frees_the_place_for_the_waiting_list(
    client: Client, owner: SignedIn, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    community_id = await community(client, owner)
    created = await client.post(
        f"/v1/communities/{community_id}/events", json=event_body(capacity=1), headers=owner.headers
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    attending = await joined(client, make_user, community_id)
    waiting = await joined(client, make_user, community_id, locale="de")
    assert (await client.post(f"/v1/events/{event_id}/rsvp", headers=attending.headers)).json()[
        "status"
    ] == "attending"
    assert (await client.post(f"/v1/events/{event_id}/rsvp", headers=waiting.headers)).json()[
        "status"
    ] == "waiting"
    export = (await client.get("/v1/me/export", headers=attending.headers)).json()
    assert any(event_id in str(section) for section in export["sections"].values())

    assert (await client.delete("/v1/me", headers=attending.headers)).status_code == 204
    left = await db.fetchval("SELECT count(*) FROM event_rsvps WHERE user_id = $1", uuid.UUID(attending.id))
    assert left == 0
    mine = await client.post(f"/v1/events/{event_id}/rsvp", headers=waiting.headers)
    assert mine.json()["status"] == "attending"  # promoted when the place was freed
