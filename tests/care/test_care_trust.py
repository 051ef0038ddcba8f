"""Care you can rely on: approved clients, accepted staff, invitations that are no relay, who read what,
one acknowledgement for inbox and report, cursors nobody can forge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from care import providers
from hub.db import transaction
from messaging import pipeline
from tests.care.test_care import (
    CONSENT_DE,
    CONSENT_FR,
    care_notifications,
    create_circle,
    invite_and_accept,
    verified_provider,
)
from tests.care.test_care_proxy import PLAN, request
from tests.conftest import UserFactory

Client = AsyncTestClient[Litestar]
ALERT = {
    "title": {"fr": "Canicule", "de": "Hitzewelle"},
    "body": {"fr": "Buvez de l'eau.", "de": "Trinken Sie Wasser."},
    "priority": "urgent",
    "ack_requested": True,
    "remind_after_minutes": 60,
}


async def test_an_alert_acknowledged_in_the_inbox_is_acknowledged_for_the_provider_and_not_reminded(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    staff = await make_user()
    provider_id = await verified_provider(client, db, make_user, staff)
    inbox_reader = await make_user(locale="de")
    app_reader = await make_user()
    for person in (inbox_reader, app_reader):
        await client.post(
            f"/v1/care/providers/{provider_id}/clients", json=CONSENT_DE, headers=person.headers
        )
        await client.post(
            f"/v1/care/providers/{provider_id}/clients/{person.id}/approve", headers=staff.headers
        )
    sent = await client.post(f"/v1/care/providers/{provider_id}/alerts", json=ALERT, headers=staff.headers)
    assert sent.status_code == 201, sent.text
    alert = sent.json()
    assert alert["recipients"] == 2
    [note] = await care_notifications(db, inbox_reader, "care.provider_alert")
    async with transaction(db) as conn:
        await pipeline.plan_notification(conn, note["id"], datetime.now(UTC))

    # one acknowledges from the inbox, the other from the care alert: each is the same fact in both places
    acked = await client.post(f"/v1/notifications/{note['id']}/ack", headers=inbox_reader.headers)
    assert acked.status_code == 204, acked.text
    assert (
        await client.post(f"/v1/care/alerts/{alert['id']}/ack", headers=app_reader.headers)
    ).status_code == 200
    report = (await client.get(f"/v1/care/alerts/{alert['id']}", headers=staff.headers)).json()
    assert (report["recipients"], report["acknowledged"]) == (2, 2)
    assert report["not_acknowledged"] == []
    inbox = (await client.get("/v1/me/notifications", headers=app_reader.headers)).json()["items"]
    assert [(i["id"], i["acknowledged"]) for i in inbox if i["kind"] == "care.provider_alert"] == [
        (str(note["id"]), True)
    ]
    created = datetime.fromisoformat(alert["created_at"])
    async with transaction(db) as conn:
        await providers.remind_unacknowledged_alerts(conn, created + timedelta(hours=2))
    assert await care_notifications(db, inbox_reader, "care.provider_alert_reminder") == []
    assert await care_notifications(db, app_reader, "care.provider_alert_reminder") == []


async def test_clients_are_approved_by_staff_or_accept_their_invitation(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    staff = await make_user()
    provider_id = await verified_provider(client, db, make_user, staff)
    asking = await make_user(display_name="Marie Muller")
    invited = await make_user(locale="de")
    outsider = await make_user()
    requested = await client.post(
        f"/v1/care/providers/{provider_id}/clients", json=CONSENT_FR, headers=asking.headers
    )
    assert requested.json()["status"] == "requested"
    waiting = await client.get(f"/v1/care/providers/{provider_id}/clients", headers=staff.headers)
    assert [(c["display_name"], c["status"]) for c in waiting.json()["items"]] == [
        ("Marie Muller", "requested")
    ]
    assert (
        await client.get(f"/v1/care/providers/{provider_id}/clients", headers=outsider.headers)
    ).status_code == 404
    assert (
        await client.post(
            f"/v1/care/providers/{provider_id}/clients/{asking.id}/approve", headers=outsider.headers
        )
    ).status_code == 404
    sent = await client.post(f"/v1/care/providers/{provider_id}/alerts", json=ALERT, headers=staff.headers)
    assert sent.json()["recipients"] == 0

    # staff invite by address; the same answer for an address without a proven account
    for address in (invited.email, f"{uuid.uuid4().hex[:10]}@example.test"):
        answer = await client.post(
            f"/v1/care/providers/{provider_id}/client-invitations",
            json={"email": address},
            headers=staff.headers,
        )
        assert answer.status_code == 202, answer.text
    [offer] = await care_notifications(db, invited, "care.client_invitation")
    assert offer["audience"] == {invited.id}
    accepted = await client.post(
        f"/v1/care/providers/{provider_id}/clients", json=CONSENT_DE, headers=invited.headers
    )
    assert accepted.json()["status"] == "approved"
    declined = await client.post(
        f"/v1/care/providers/{provider_id}/clients/{asking.id}/decline", headers=staff.headers
    )
    assert declined.json()["status"] == "declined"
    sent = await client.post(f"/v1/care/providers/{provider_id}/alerts", json=ALERT, headers=staff.headers)
    assert sent.json()["recipients"] == 1
    [alerted] = await care_notifications(db, invited, "care.provider_alert")
    assert alerted["audience"] == {invited.id}


async def test_staff_seats_need_acceptance_and_staff_can_leave(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    founder = await make_user()
    provider_id = await verified_provider(client, db, make_user, founder)
    nurse = await make_user(locale="de")
    unknown = await client.post(
        f"/v1/care/providers/{provider_id}/staff",
        json={"email": f"{uuid.uuid4().hex[:10]}@example.test"},
        headers=founder.headers,
    )
    offered = await client.post(
        f"/v1/care/providers/{provider_id}/staff", json={"email": nurse.email}, headers=founder.headers
    )
    assert unknown.status_code == offered.status_code == 200
    assert unknown.json() == offered.json()
    [offer] = await care_notifications(db, nurse, "care.staff_invitation")
    assert offer["audience"] == {nurse.id}
    # not staff until accepted
    assert (await client.get(f"/v1/care/providers/{provider_id}", headers=nurse.headers)).status_code == 404
    early = await client.post(f"/v1/care/providers/{provider_id}/alerts", json=ALERT, headers=nurse.headers)
    assert early.status_code == 404
    accepted = await client.post(f"/v1/care/providers/{provider_id}/staff/me/accept", headers=nurse.headers)
    assert accepted.status_code == 200, accepted.text
    assert (
        await client.post(f"/v1/care/providers/{provider_id}/alerts", json=ALERT, headers=nurse.headers)
    ).status_code == 201
    again = await client.post(
        f"/v1/care/providers/{provider_id}/staff", json={"email": nurse.email}, headers=founder.headers
    )
    assert again.status_code == 409
    # staff leave; the last one cannot
    assert (
        await client.delete(f"/v1/care/providers/{provider_id}/staff/me", headers=nurse.headers)
    ).status_code == 204
    assert (await client.get(f"/v1/care/providers/{provider_id}", headers=nurse.headers)).status_code == 404
    last = await client.delete(f"/v1/care/providers/{provider_id}/staff/me", headers=founder.headers)
    assert last.status_code == 409
    assert last.json()["code"] == "last_staff"


async def test_invitations_are_limited_and_a_declined_address_is_not_asked_again(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior = await make_user()
    circle_id = await create_circle(client, senior)
    declining = await make_user()
    invited = await client.post(
        f"/v1/care/circles/{circle_id}/invitations",
        json={"email": declining.email, "role": "friend"},
        headers=senior.headers,
    )
    assert invited.status_code == 200
    [member] = [m for m in invited.json()["members"] if m["state"] == "invited"]
    assert member["display_name"] is None  # an invitation does not tell whether the address has an account
    assert (
        await client.post(f"/v1/care/invitations/{member['id']}/decline", headers=declining.headers)
    ).status_code == 204
    again = await client.post(
        f"/v1/care/circles/{circle_id}/invitations",
        json={"email": declining.email, "role": "friend"},
        headers=senior.headers,
    )
    assert again.status_code == 200
    assert [m for m in again.json()["members"] if m["state"] == "invited"] == []
    assert len(await care_notifications(db, declining, "care.invitation")) == 1

    for n in range(9):
        answer = await client.post(
            f"/v1/care/circles/{circle_id}/invitations",
            json={"email": f"{uuid.uuid4().hex[:10]}@example.test", "role": "friend"},
            headers=senior.headers,
        )
        assert answer.status_code == 200, (n, answer.text)
    limited = await client.post(
        f"/v1/care/circles/{circle_id}/invitations",
        json={"email": f"{uuid.uuid4().hex[:10]}@example.test", "role": "friend"},
        headers=senior.headers,
    )
    assert limited.status_code == 429
    assert limited.json()["code"] == "too_many_requests"
    assert limited.headers["retry-after"] == str(24 * 3600)
    subjects = await db.fetch(
        "SELECT message FROM direct_emails WHERE kind = 'care.invitation' AND address LIKE '%@example.test' "
        "ORDER BY created_at DESC LIMIT 9"
    )
    for row in subjects:
        assert json.loads(row["message"])["title"]["params"] == {}


async def test_the_senior_alone_sees_who_read_their_circle_and_plan(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior = await make_user(locale="de", display_name="Lotte Weber")
    son = await make_user(display_name="Jonas Weber")
    neighbour = await make_user(display_name="Paul Schmitt")
    circle_id = await request(client, senior, son)
    await client.post(f"/v1/care/circles/{circle_id}/confirm", json=CONSENT_DE, headers=senior.headers)
    await invite_and_accept(client, senior, circle_id, neighbour, "neighbour")
    assert (
        await client.put(f"/v1/care/circles/{circle_id}/checkin-plan", json=PLAN, headers=son.headers)
    ).status_code == 200
    assert (
        await client.get(f"/v1/care/circles/{circle_id}/checkin-plan", headers=son.headers)
    ).status_code == 200
    assert (
        await client.get(f"/v1/care/circles/{circle_id}/events", headers=neighbour.headers)
    ).status_code == 200

    reads = await client.get(
        f"/v1/care/circles/{circle_id}/reads", params={"limit": 1}, headers=senior.headers
    )
    assert reads.status_code == 200
    [latest] = reads.json()["items"]
    assert (latest["reader"]["display_name"], latest["what"], latest["what_text"]) == (
        "Paul Schmitt",
        "events",
        "das Protokoll Ihres Kreises",
    )
    rest = await client.get(
        f"/v1/care/circles/{circle_id}/reads",
        params={"cursor": reads.json()["next_cursor"]},
        headers=senior.headers,
    )
    assert ("Jonas Weber", "checkin_plan", "Ihr täglicher „Mir geht's gut“-Plan") in [
        (r["reader"]["display_name"], r["what"], r["what_text"]) for r in rest.json()["items"]
    ]
    for other in (son, neighbour):
        assert (
            await client.get(f"/v1/care/circles/{circle_id}/reads", headers=other.headers)
        ).status_code == 404
    exported = (await client.get("/v1/me/export", headers=senior.headers)).json()["sections"]["care"]
    assert {(r["reader"], r["what"]) for r in exported["reads_of_my_care_data"]} >= {
        ("Jonas Weber", "checkin_plan"),
        ("Paul Schmitt", "events"),
    }
    assert [r["requested_by"] for r in exported["setup_requests_about_me"]] == ["Jonas Weber"]


def _forge(secret: str, position: object) -> str:
    payload = json.dumps(position, separators=(",", ":")).encode()
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")


async def test_care_cursors_are_signed_with_the_secret_key_and_scoped(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior = await make_user()
    other_senior = await make_user()
    circle_id = await create_circle(client, senior)
    other_circle = await create_circle(client, other_senior)
    for _ in range(3):
        await client.post("/v1/care/checkins", headers=senior.headers)
    page = (
        await client.get(f"/v1/care/circles/{circle_id}/events", params={"limit": 1}, headers=senior.headers)
    ).json()
    cursor = page["next_cursor"]
    assert cursor is not None
    more = await client.get(
        f"/v1/care/circles/{circle_id}/events", params={"cursor": cursor}, headers=senior.headers
    )
    assert more.status_code == 200
    # signed with the old public constant: refused
    forged = _forge("care-events", 10**9)
    refused = await client.get(
        f"/v1/care/circles/{circle_id}/events", params={"cursor": forged}, headers=senior.headers
    )
    assert refused.status_code == 422
    # a genuine cursor of one circle is refused on another
    foreign = await client.get(
        f"/v1/care/circles/{other_circle}/events", params={"cursor": cursor}, headers=other_senior.headers
    )
    assert foreign.status_code == 422
    # directory cursors are bound to their filters
    for _ in range(2):
        await verified_provider(client, db, make_user, await make_user(), kind="transport")
    listing = await client.get("/v1/care/services", params={"limit": 1, "kind": "transport"})
    services_cursor = listing.json()["next_cursor"]
    assert services_cursor is not None
    same = await client.get("/v1/care/services", params={"cursor": services_cursor, "kind": "transport"})
    assert same.status_code == 200
    other_filter = await client.get(
        "/v1/care/services", params={"cursor": services_cursor, "kind": "nursing"}
    )
    assert other_filter.status_code == 422
    assert (
        await client.get(
            "/v1/care/services", params={"cursor": _forge("care-services", ["a", str(uuid.uuid4())])}
        )
    ).status_code == 422
