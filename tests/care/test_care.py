"""Care: directory, provider alerts with acknowledgement, circles with consent, and the check-in ladder."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from care import checkins, providers, service
from hub.db import transaction
from i18n import translate
from messaging.models import decode_content
from tests.conftest import SignedIn, UserFactory, emailed_token

Client = AsyncTestClient[Litestar]
CONSENT_FR = {"text_version": "care-circle-2026-11", "locale": "fr"}
CONSENT_DE = {"text_version": "care-circle-2026-11", "locale": "de"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def make_admin(db: asyncpg.Pool, make_user: UserFactory) -> SignedIn:
    admin = await make_user()
    await db.execute("UPDATE users SET is_admin = true WHERE id = $1", uuid.UUID(admin.id))
    return admin


async def verified_provider(
    client: Client, db: asyncpg.Pool, make_user: UserFactory, staff: SignedIn, **overrides: Any
) -> str:
    body: dict[str, Any] = {
        "kind": "home_care",
        "name": "Soins à domicile du Pays de Bitche",
        "description": {"fr": "Aide et soins à domicile.", "de": "Häusliche Pflege und Hilfe."},
        "languages": ["fr", "de"],
        "municipality_codes": ["57089", "10045114"],
        "contact": {"phone": "+33 3 87 00 00 00"},
    }
    body.update(overrides)
    created = await client.post("/v1/care/providers", json=body, headers=staff.headers)
    assert created.status_code == 201, created.text
    provider_id: str = created.json()["id"]
    admin = await make_admin(db, make_user)
    verified = await client.post(f"/v1/care/providers/{provider_id}/verify", headers=admin.headers)
    assert verified.status_code == 200, verified.text
    return provider_id


async def invite_and_accept(
    client: Client,
    senior: SignedIn,
    circle_id: str,
    member: SignedIn,
    role: str,
    provider_id: str | None = None,
) -> str:
    body: dict[str, Any] = {"email": member.email, "role": role}
    if provider_id:
        body["provider_id"] = provider_id
    invited = await client.post(
        f"/v1/care/circles/{circle_id}/invitations", json=body, headers=senior.headers
    )
    assert invited.status_code == 200, invited.text
    member_id: str = next(m["id"] for m in invited.json()["members"] if m["invited_email"] == member.email)
    consent = CONSENT_DE if member.locale == "de" else CONSENT_FR
    accepted = await client.post(
        f"/v1/care/invitations/{member_id}/accept", json=consent, headers=member.headers
    )
    assert accepted.status_code == 200, accepted.text
    return member_id


async def create_circle(client: Client, senior: SignedIn) -> str:
    created = await client.post("/v1/care/circles", json={"consent": CONSENT_FR}, headers=senior.headers)
    assert created.status_code == 201, created.text
    circle_id: str = created.json()["id"]
    return circle_id


async def morning_plan(client: Client, senior: SignedIn) -> None:
    body = {"days": [1, 2, 3, 4, 5, 6, 7], "window_start": "08:00:00", "window_end": "10:00:00"}
    response = await client.put("/v1/care/checkin-plan", json=body, headers=senior.headers)
    assert response.status_code == 200, response.text
    assert response.json()["zone"] == "Europe/Paris"


class Family:
    """A French senior in Bitche, her German-speaking daughter in Homburg, a home-care provider."""

    def __init__(
        self, senior: SignedIn, daughter: SignedIn, staff: SignedIn, circle_id: str, provider_id: str
    ):
        self.senior, self.daughter, self.staff = senior, daughter, staff
        self.circle_id, self.provider_id = circle_id, provider_id


async def family(client: Client, db: asyncpg.Pool, make_user: UserFactory) -> Family:
    senior = await make_user(locale="fr", municipality_code="57089", display_name="Marie Muller")
    daughter = await make_user(locale="de", municipality_code="10045114", display_name="Anna Muller")
    staff = await make_user(locale="fr", municipality_code="57089", display_name="Claire Weber")
    provider_id = await verified_provider(client, db, make_user, staff)
    circle_id = await create_circle(client, senior)
    await invite_and_accept(client, senior, circle_id, daughter, "family")
    await invite_and_accept(client, senior, circle_id, staff, "provider", provider_id)
    await morning_plan(client, senior)
    return Family(senior, daughter, staff, circle_id, provider_id)


async def advance(db: asyncpg.Pool, now: datetime) -> int:
    async with transaction(db) as conn:
        return await checkins.advance_checkins(conn, now)


async def care_notifications(db: asyncpg.Pool, user: SignedIn, kind: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT id, kind, audience_user_ids, priority, content, channels, ack_requested, respect_preferences,
               source_id, deep_link
        FROM notifications WHERE kind = $1 AND $2 = ANY(audience_user_ids) ORDER BY created_at
        """,
        kind,
        uuid.UUID(user.id),
    )
    result = []
    for r in rows:
        item = dict(r)
        item["content"] = decode_content(r["content"])
        item["audience"] = {str(u) for u in r["audience_user_ids"]}
        result.append(item)
    return result


def rendered(notification: dict[str, Any], part: str, locale: str) -> str:
    message = getattr(notification["content"], part)
    return translate(locale, message.msgid, **message.params)


async def step_events(db: asyncpg.Pool, circle_id: str, day: date) -> list[str]:
    rows = await db.fetch(
        "SELECT kind FROM care_events WHERE circle_id = $1 AND local_date = $2 AND escalation_id IS NOT NULL "
        "ORDER BY id",
        uuid.UUID(circle_id),
        day,
    )
    return [r["kind"] for r in rows]


# -- the whole story -------------------------------------------------------------------------------------------


async def test_missed_morning_reminds_senior_alerts_daughter_in_german_and_her_claim_tells_provider(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    f = await family(client, db, make_user)
    day = date(2027, 2, 10)

    # The window closes at 10:00 in Bitche (09:00 UTC) without a check-in: the senior is reminded.
    assert await advance(db, utc(2027, 2, 10, 8, 59)) >= 0
    assert await step_events(db, f.circle_id, day) == []
    await advance(db, utc(2027, 2, 10, 9, 1))
    reminders = await care_notifications(db, f.senior, "care.checkin_reminder")
    assert len(reminders) == 1
    assert reminders[0]["audience"] == {f.senior.id}
    assert rendered(reminders[0], "title", "fr") == "Votre appel du jour"

    # After the grace period the daughter is alerted: urgent, push and email, in German, no health details.
    await advance(db, utc(2027, 2, 10, 9, 29))
    assert await care_notifications(db, f.daughter, "care.checkin_missed") == []
    await advance(db, utc(2027, 2, 10, 9, 31))
    [alert] = await care_notifications(db, f.daughter, "care.checkin_missed")
    assert alert["audience"] == {f.daughter.id}
    assert alert["priority"] == "urgent"
    assert alert["channels"] == ["push", "email"]
    assert alert["ack_requested"] is True
    assert alert["respect_preferences"] is False
    assert rendered(alert, "body", "de") == (
        "Marie Muller hat sich heute nicht wie vereinbart gemeldet. Können Sie nach dem Rechten sehen?"
    )
    assert rendered(alert, "title", "de") == "Marie Muller hat sich nicht gemeldet"
    assert await care_notifications(db, f.staff, "care.checkin_missed") == []

    # "I'm checking": the ladder stops and the provider is told.
    escalation_id = alert["source_id"]
    claimed = await client.post(
        f"/v1/care/circles/{f.circle_id}/escalations/{escalation_id}/claim", headers=f.daughter.headers
    )
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["state"] == "claimed"
    assert claimed.json()["claimed_by"] == "Anna Muller"
    [told] = await care_notifications(db, f.staff, "care.escalation_claimed")
    assert told["audience"] == {f.staff.id}
    assert rendered(told, "body", "fr") == (
        "Anna Muller prend des nouvelles de Marie Muller. Vous n'avez rien à faire."
    )
    again = await client.post(
        f"/v1/care/circles/{f.circle_id}/escalations/{escalation_id}/claim", headers=f.staff.headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_claimed"

    # Later runs do nothing more: the provider is not alerted.
    await advance(db, utc(2027, 2, 10, 10, 30))
    await advance(db, utc(2027, 2, 10, 12, 0))
    assert await care_notifications(db, f.staff, "care.checkin_missed_provider") == []

    # The log shows each step once, and the read is recorded.
    events = await client.get(f"/v1/care/circles/{f.circle_id}/events", headers=f.daughter.headers)
    assert events.status_code == 200
    steps = [e["kind"] for e in events.json()["items"] if e["local_date"] == day.isoformat()]
    assert steps == ["escalation_claimed", "circle_alerted", "reminder_sent"]
    reads = await db.fetch(
        "SELECT reader_id, what FROM care_access_log WHERE circle_id = $1", uuid.UUID(f.circle_id)
    )
    assert [(str(r["reader_id"]), r["what"]) for r in reads] == [(f.daughter.id, "events")]


async def test_nobody_answers_so_the_provider_is_alerted(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    f = await family(client, db, make_user)
    await advance(db, utc(2027, 2, 12, 9, 0))
    await advance(db, utc(2027, 2, 12, 9, 30))
    await advance(db, utc(2027, 2, 12, 9, 59))
    assert await care_notifications(db, f.staff, "care.checkin_missed_provider") == []
    await advance(db, utc(2027, 2, 12, 10, 0))
    [alert] = await care_notifications(db, f.staff, "care.checkin_missed_provider")
    assert alert["audience"] == {f.staff.id}
    assert alert["priority"] == "urgent"
    assert await step_events(db, f.circle_id, date(2027, 2, 12)) == [
        "reminder_sent",
        "circle_alerted",
        "provider_alerted",
    ]


async def test_dst_days_follow_local_time(client: Client, db: asyncpg.Pool, make_user: UserFactory) -> None:
    f = await family(client, db, make_user)
    # Last Sunday of March: 10:00 in Bitche is 08:00 UTC.
    await advance(db, utc(2027, 3, 28, 7, 59))
    assert await step_events(db, f.circle_id, date(2027, 3, 28)) == []
    await advance(db, utc(2027, 3, 28, 8, 0))
    assert await step_events(db, f.circle_id, date(2027, 3, 28)) == ["reminder_sent"]
    # Last Sunday of October: 10:00 in Bitche is 09:00 UTC.
    await advance(db, utc(2027, 10, 31, 8, 59))
    assert await step_events(db, f.circle_id, date(2027, 10, 31)) == []
    await advance(db, utc(2027, 10, 31, 9, 0))
    await advance(db, utc(2027, 10, 31, 9, 30))
    assert await step_events(db, f.circle_id, date(2027, 10, 31)) == ["reminder_sent", "circle_alerted"]


async def test_two_concurrent_runs_escalate_exactly_once(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    f = await family(client, db, make_user)
    day = date(2027, 2, 15)
    for now in (utc(2027, 2, 15, 9, 5), utc(2027, 2, 15, 9, 35), utc(2027, 2, 15, 10, 10)):
        await asyncio.gather(advance(db, now), advance(db, now), advance(db, now))
    assert await step_events(db, f.circle_id, day) == ["reminder_sent", "circle_alerted", "provider_alerted"]
    escalations = await db.fetch(
        "SELECT id FROM care_escalations WHERE circle_id = $1 AND local_date = $2",
        uuid.UUID(f.circle_id),
        day,
    )
    assert len(escalations) == 1
    sent = await db.fetch(
        "SELECT kind FROM notifications WHERE source_id = $1 ORDER BY created_at", escalations[0]["id"]
    )
    assert [r["kind"] for r in sent] == [
        "care.checkin_reminder",
        "care.checkin_missed",
        "care.checkin_missed_provider",
    ]


async def test_pause_and_late_checkin(client: Client, db: asyncpg.Pool, make_user: UserFactory) -> None:
    f = await family(client, db, make_user)
    body = {
        "days": [1, 2, 3, 4, 5, 6, 7],
        "window_start": "08:00:00",
        "window_end": "10:00:00",
        "pauses": [{"first_day": "2027-04-05", "last_day": "2027-04-09"}],
    }
    assert (await client.put("/v1/care/checkin-plan", json=body, headers=f.senior.headers)).status_code == 200
    await advance(db, utc(2027, 4, 7, 12, 0))
    assert await step_events(db, f.circle_id, date(2027, 4, 7)) == []

    await advance(db, utc(2027, 4, 12, 8, 5))
    await advance(db, utc(2027, 4, 12, 8, 35))
    senior = await _current(db, f.senior)
    async with transaction(db) as conn:
        checkin = await checkins.check_in(conn, senior, utc(2027, 4, 12, 8, 40))
    assert checkin.local_date == date(2027, 4, 12)
    assert await step_events(db, f.circle_id, date(2027, 4, 12)) == [
        "reminder_sent",
        "circle_alerted",
        "resolved_by_checkin",
    ]
    [resolved] = await care_notifications(db, f.daughter, "care.checkin_resolved")
    assert rendered(resolved, "title", "de") == "Marie Muller hat sich gemeldet"
    await advance(db, utc(2027, 4, 12, 11, 0))
    assert await care_notifications(db, f.staff, "care.checkin_missed_provider") == []


async def _current(db: asyncpg.Pool, user: SignedIn) -> Any:
    from hub.auth import CurrentUser

    row = await db.fetchrow("SELECT display_name FROM users WHERE id = $1", uuid.UUID(user.id))
    return CurrentUser(
        id=uuid.UUID(user.id),
        session_id=uuid.uuid4(),
        email=user.email,
        display_name=row["display_name"],
        locale=user.locale,
        is_admin=False,
    )


async def test_caregiver_who_withdraws_mid_ladder_gets_nothing_more(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    f = await family(client, db, make_user)
    neighbour = await make_user(locale="fr", display_name="Paul Schmitt")
    neighbour_member = await invite_and_accept(client, f.senior, f.circle_id, neighbour, "neighbour")
    await advance(db, utc(2027, 2, 20, 9, 5))
    await advance(db, utc(2027, 2, 20, 9, 35))
    [alert] = await care_notifications(db, neighbour, "care.checkin_missed")
    assert alert["audience"] == {f.daughter.id, neighbour.id}

    left = await client.delete(
        f"/v1/care/circles/{f.circle_id}/members/{neighbour_member}", headers=neighbour.headers
    )
    assert left.status_code == 204
    consent = await db.fetchrow(
        "SELECT withdrawn_at FROM care_consents WHERE member_id = $1", uuid.UUID(neighbour_member)
    )
    assert consent["withdrawn_at"] is not None

    await advance(db, utc(2027, 2, 20, 10, 10))
    claimed = await client.post(
        f"/v1/care/circles/{f.circle_id}/escalations/{alert['source_id']}/claim", headers=f.daughter.headers
    )
    assert claimed.status_code == 200
    [told] = await care_notifications(db, f.staff, "care.escalation_claimed")
    assert told["audience"] == {f.staff.id}
    for kind in ("care.checkin_missed_provider", "care.escalation_claimed", "care.checkin_resolved"):
        assert await care_notifications(db, neighbour, kind) == []
    gone = await client.get(f"/v1/care/circles/{f.circle_id}/events", headers=neighbour.headers)
    assert gone.status_code == 404


async def test_senior_withdrawing_consent_closes_the_circle_and_stops_the_ladder(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    f = await family(client, db, make_user)
    await advance(db, utc(2027, 2, 22, 9, 5))
    withdrawn = await client.post(
        f"/v1/care/circles/{f.circle_id}/consent/withdraw", headers=f.senior.headers
    )
    assert withdrawn.status_code == 200
    assert withdrawn.json()["closed_at"] is not None
    await advance(db, utc(2027, 2, 22, 9, 40))
    assert await care_notifications(db, f.daughter, "care.checkin_missed") == []
    assert (
        await client.get(f"/v1/care/circles/{f.circle_id}", headers=f.daughter.headers)
    ).status_code == 404
    assert (await client.get(f"/v1/care/circles/{f.circle_id}", headers=f.senior.headers)).status_code == 200


# -- access --------------------------------------------------------------------------------------------------


async def test_circle_access_matrix(client: Client, db: asyncpg.Pool, make_user: UserFactory) -> None:
    senior = await make_user(display_name="Marie Muller")
    caregiver = await make_user(locale="de", municipality_code="10045114")
    invited = await make_user()
    removed = await make_user()
    stranger = await make_user()
    circle_id = await create_circle(client, senior)
    await invite_and_accept(client, senior, circle_id, caregiver, "family")
    removed_member = await invite_and_accept(client, senior, circle_id, removed, "friend")
    response = await client.post(
        f"/v1/care/circles/{circle_id}/invitations",
        json={"email": invited.email, "role": "neighbour"},
        headers=senior.headers,
    )
    assert response.status_code == 200
    gone = await client.delete(
        f"/v1/care/circles/{circle_id}/members/{removed_member}", headers=senior.headers
    )
    assert gone.status_code == 204

    for path in (f"/v1/care/circles/{circle_id}", f"/v1/care/circles/{circle_id}/events"):
        assert (await client.get(path)).status_code == 401
        for who, status in (
            (stranger, 404),
            (invited, 404),
            (removed, 404),
            (caregiver, 200),
            (senior, 200),
        ):
            answer = await client.get(path, headers=who.headers)
            assert answer.status_code == status, (path, who.email, answer.text)
    seen = await client.get(f"/v1/care/circles/{circle_id}", headers=caregiver.headers)
    assert all(m["invited_email"] is None for m in seen.json()["members"])
    # a caregiver cannot invite or remove others
    assert (
        await client.post(
            f"/v1/care/circles/{circle_id}/invitations",
            json={"email": stranger.email, "role": "friend"},
            headers=caregiver.headers,
        )
    ).status_code == 403


async def test_invitation_to_an_address_without_account_waits_for_sign_up(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior = await make_user(display_name="Marie Muller")
    circle_id = await create_circle(client, senior)
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    invited = await client.post(
        f"/v1/care/circles/{circle_id}/invitations",
        json={"email": email, "role": "family"},
        headers=senior.headers,
    )
    assert invited.status_code == 200
    assert (
        await client.post(
            f"/v1/care/circles/{circle_id}/invitations",
            json={"email": email.upper(), "role": "family"},
            headers=senior.headers,
        )
    ).status_code == 409
    registered = await client.post(
        "/v1/auth/register",
        json={"email": email, "password": "correct horse battery", "display_name": "Lena", "locale": "de"},
    )
    headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
    # someone else signs up with the same address: neither sees the invitation before proving the address
    other = await client.post(
        "/v1/auth/register",
        json={"email": email, "password": "another long password", "display_name": "Eve"},
    )
    other_headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    assert (await client.get("/v1/care/invitations", headers=headers)).json()["items"] == []
    member_id = await db.fetchval(
        "SELECT id FROM care_circle_members WHERE circle_id = $1 AND state = 'invited'", uuid.UUID(circle_id)
    )
    early = await client.post(f"/v1/care/invitations/{member_id}/accept", json=CONSENT_DE, headers=headers)
    assert early.status_code == 404
    # Lena proves the address with the link of her welcome email (the second sign-up got no link)
    token = await emailed_token(db, email, "/verify-email")
    assert (await client.post("/v1/auth/verify-email", json={"token": token})).status_code == 200
    mine = await client.get("/v1/care/invitations", headers=headers)
    [invitation] = mine.json()["items"]
    assert invitation["senior_name"] == "Marie Muller"
    assert invitation["registered"] is False
    assert (await client.get("/v1/care/invitations", headers=other_headers)).json()["items"] == []
    stolen = await client.post(
        f"/v1/care/invitations/{invitation['id']}/accept", json=CONSENT_DE, headers=other_headers
    )
    assert stolen.status_code == 404
    accepted = await client.post(
        f"/v1/care/invitations/{invitation['id']}/accept", json=CONSENT_DE, headers=headers
    )
    assert accepted.status_code == 200
    consent = await db.fetchrow(
        "SELECT purpose, text_version, locale, given_at FROM care_consents WHERE member_id = $1",
        uuid.UUID(invitation["id"]),
    )
    assert (consent["purpose"], consent["text_version"], consent["locale"]) == (
        "caregiver_membership",
        "care-circle-2026-11",
        "de",
    )


async def test_registered_invitee_is_notified_in_their_language(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior = await make_user(display_name="Marie Muller")
    daughter = await make_user(locale="de", municipality_code="10045114")
    circle_id = await create_circle(client, senior)
    await client.post(
        f"/v1/care/circles/{circle_id}/invitations",
        json={"email": daughter.email, "role": "family"},
        headers=senior.headers,
    )
    [note] = await care_notifications(db, daughter, "care.invitation")
    assert rendered(note, "body", "de") == "Marie Muller lädt Sie in den Betreuungskreis ein."
    declined = await client.post(
        f"/v1/care/invitations/{note['source_id']}/decline", headers=daughter.headers
    )
    assert declined.status_code == 204
    assert (await client.get(f"/v1/care/circles/{circle_id}", headers=daughter.headers)).status_code == 404


# -- directory and provider alerts -----------------------------------------------------------------------


async def test_directory_lists_verified_providers_in_the_readers_language(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    staff = await make_user()
    kind = "meals_on_wheels"
    unverified = await client.post(
        "/v1/care/providers",
        json={
            "kind": kind,
            "name": "Repas Pas Vérifiés",
            "description": {"fr": "Repas."},
            "languages": ["fr"],
            "municipality_codes": ["57089"],
        },
        headers=staff.headers,
    )
    assert unverified.status_code == 201
    not_admin = await client.post(
        f"/v1/care/providers/{unverified.json()['id']}/verify", headers=staff.headers
    )
    assert not_admin.status_code == 403
    provider_id = await verified_provider(
        client, db, make_user, staff, kind=kind, name="Repas à domicile", description={"fr": "Repas livrés."}
    )
    listing = await client.get(
        "/v1/care/services", params={"municipality": "10045114", "kind": kind, "language": "de", "lang": "de"}
    )
    assert listing.status_code == 200
    [item] = [i for i in listing.json()["items"] if i["provider_id"] == provider_id]
    assert item["description"] == {"text": "Repas livrés.", "lang": "fr", "fallback": True, "simple": None}
    names = [i["name"] for i in listing.json()["items"]]
    assert "Repas Pas Vérifiés" not in names
    none = await client.get(
        "/v1/care/services", params={"municipality": "57089", "kind": kind, "language": "it"}
    )
    assert none.json()["items"] == []
    unknown = await client.get("/v1/care/services", params={"municipality": "99999"})
    assert unknown.status_code == 422


async def test_provider_alert_acknowledgements_and_one_reminder(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    staff = await make_user()
    provider_id = await verified_provider(client, db, make_user, staff)
    french = await make_user(locale="fr", municipality_code="57089")
    german = await make_user(locale="de", municipality_code="10045114")
    bystander = await make_user()
    for person, consent in ((french, CONSENT_FR), (german, CONSENT_DE), (bystander, CONSENT_FR)):
        joined = await client.post(
            f"/v1/care/providers/{provider_id}/clients", json=consent, headers=person.headers
        )
        assert joined.status_code == 200
        assert joined.json()["status"] == "requested"
    # the provider's staff approve two of the three requests; the bystander's stays a request
    for person in (french, german):
        approved = await client.post(
            f"/v1/care/providers/{provider_id}/clients/{person.id}/approve", headers=staff.headers
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
    stranger_alert = await client.post(
        f"/v1/care/providers/{provider_id}/alerts",
        json={"title": {"fr": "x"}, "body": {"fr": "y"}},
        headers=bystander.headers,
    )
    assert stranger_alert.status_code == 404

    sent = await client.post(
        f"/v1/care/providers/{provider_id}/alerts",
        json={
            "title": {"fr": "Canicule", "de": "Hitzewelle"},
            "body": {
                "fr": "Buvez de l'eau, nous passons plus tôt.",
                "de": "Trinken Sie Wasser, wir kommen früher.",
            },
            "priority": "urgent",
            "ack_requested": True,
            "remind_after_minutes": 60,
        },
        headers=staff.headers,
    )
    assert sent.status_code == 201, sent.text
    alert = sent.json()
    assert alert["recipients"] == 2
    [note] = await care_notifications(db, german, "care.provider_alert")
    assert note["audience"] == {french.id, german.id}
    assert note["priority"] == "urgent"
    assert await care_notifications(db, bystander, "care.provider_alert") == []

    assert (
        await client.post(f"/v1/care/alerts/{alert['id']}/ack", headers=french.headers)
    ).status_code == 200
    assert (
        await client.post(f"/v1/care/alerts/{alert['id']}/ack", headers=bystander.headers)
    ).status_code == 404
    assert (await client.get(f"/v1/care/alerts/{alert['id']}", headers=french.headers)).status_code == 404
    report = (await client.get(f"/v1/care/alerts/{alert['id']}", headers=staff.headers)).json()
    assert (report["recipients"], report["acknowledged"]) == (2, 1)
    assert {r["key"]: (r["recipients"], r["acknowledged"]) for r in report["by_language"]} == {
        "de": (1, 0),
        "fr": (1, 1),
    }
    assert {r["key"]: r["rate"] for r in report["by_municipality"]} == {"10045114": 0.0, "57089": 1.0}
    assert [p["user_id"] for p in report["not_acknowledged"]] == [german.id]

    created = datetime.fromisoformat(alert["created_at"])

    async def remind(now: datetime) -> int:
        async with transaction(db) as conn:
            return await providers.remind_unacknowledged_alerts(conn, now)

    await remind(created + timedelta(minutes=59))
    assert await care_notifications(db, german, "care.provider_alert_reminder") == []
    await asyncio.gather(remind(created + timedelta(minutes=61)), remind(created + timedelta(minutes=61)))
    await remind(created + timedelta(hours=5))
    [reminder] = await care_notifications(db, german, "care.provider_alert_reminder")
    assert reminder["audience"] == {german.id}
    assert rendered(reminder, "body", "de").startswith("Bitte bestätigen Sie")
    assert await care_notifications(db, french, "care.provider_alert_reminder") == []


async def test_export_and_erasure_cover_care_data(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    f = await family(client, db, make_user)
    await advance(db, utc(2027, 2, 25, 9, 5))
    async with transaction(db) as conn:
        exported = await service.export_user(conn, uuid.UUID(f.senior.id))
        assert [c["id"] for c in exported["circles"]] == [f.circle_id]
        assert exported["consents"][0]["purpose"] == "senior_circle"
        assert exported["escalations"]
        await service.erase_user(conn, uuid.UUID(f.senior.id))
        await service.erase_user(conn, uuid.UUID(f.daughter.id))
    left = await db.fetchval("SELECT count(*) FROM care_circles WHERE id = $1", uuid.UUID(f.circle_id))
    assert left == 0
    memberships = await db.fetchval(
        "SELECT count(*) FROM care_circle_members WHERE user_id = $1", uuid.UUID(f.daughter.id)
    )
    assert memberships == 0
