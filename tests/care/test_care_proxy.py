"""Circles set up for a senior by someone else: pending until the senior (or their verified provider) says yes,
the senior told who asked and how to refuse, in control afterwards; the plan; nothing revealed about addresses."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.care.test_care import (
    CONSENT_DE,
    CONSENT_FR,
    care_notifications,
    create_circle,
    invite_and_accept,
    rendered,
    verified_provider,
)
from tests.conftest import SignedIn, UserFactory

Client = AsyncTestClient[Litestar]
PLAN = {"days": [1, 2, 3, 4, 5], "window_start": "08:00:00", "window_end": "10:00:00"}


def on_behalf(senior: SignedIn, method: str = "phone") -> dict[str, Any]:
    return {
        "senior_email": senior.email,
        "senior_consent": {"method": method, "text_version": "care-circle-2026-11", "locale": "fr"},
        "my_consent": CONSENT_DE,
    }


async def request(client: Client, senior: SignedIn, asker: SignedIn) -> str:
    """Ask to set up the senior's circle; the id of the pending circle, as the senior finds it."""
    asked = await client.post("/v1/care/circles/on-behalf", json=on_behalf(senior), headers=asker.headers)
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "requested"
    items = (await client.get("/v1/care/circles/requests-about-me", headers=senior.headers)).json()["items"]
    assert items[0]["outcome"] == "pending"
    circle_id: str = items[0]["circle_id"]
    return circle_id


async def set_up(client: Client, make_user: UserFactory) -> tuple[SignedIn, SignedIn, str]:
    """A daughter asks, her mother agrees in the app."""
    senior = await make_user(locale="fr", municipality_code="57089", display_name="Marie Muller")
    daughter = await make_user(locale="de", municipality_code="10045114", display_name="Anna Muller")
    circle_id = await request(client, senior, daughter)
    confirmed = await client.post(
        f"/v1/care/circles/{circle_id}/confirm", json=CONSENT_FR, headers=senior.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return senior, daughter, circle_id


def notice_code(note: dict[str, Any]) -> str:
    return str(note["content"].body.params["code"])


async def test_a_request_shows_and_sets_nothing_until_the_senior_agrees(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior = await make_user(locale="fr", municipality_code="57089", display_name="Marie Muller")
    daughter = await make_user(locale="de", municipality_code="10045114", display_name="Anna Muller")
    circle_id = await request(client, senior, daughter)

    # the person who asked sees nothing and sets nothing
    for method, path in (
        ("GET", f"/v1/care/circles/{circle_id}"),
        ("GET", f"/v1/care/circles/{circle_id}/events"),
        ("GET", f"/v1/care/circles/{circle_id}/checkin-plan"),
        ("PUT", f"/v1/care/circles/{circle_id}/checkin-plan"),
    ):
        answer = await client.request(
            method, path, json=PLAN if method == "PUT" else None, headers=daughter.headers
        )
        assert answer.status_code == 404, (method, path, answer.text)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM care_checkin_plans WHERE senior_id = $1", uuid.UUID(senior.id)
        )
        == 0
    )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM care_consents WHERE circle_id = $1 AND purpose = 'senior_circle'",
            uuid.UUID(circle_id),
        )
        == 0
    )

    # the senior is told at once, in French: who asked, that nothing happens without her, how to refuse
    [note] = await care_notifications(db, senior, "care.circle_requested")
    assert note["audience"] == {senior.id}
    assert note["respect_preferences"] is False
    assert rendered(note, "title", "fr") == "Anna Muller demande à créer votre cercle d'aidants"
    body = rendered(note, "body", "fr")
    assert "Rien n'est partagé ni mis en place sans votre accord" in body
    assert "Pour refuser" in body
    assert notice_code(note) in body
    assert "accord" not in rendered(note, "title", "fr")
    mine = (await client.get(f"/v1/care/circles/{circle_id}", headers=senior.headers)).json()
    assert (mine["my_role"], mine["state"], mine["consent"]) == ("senior", "pending", None)
    assert mine["members"][0]["invited_email"] == daughter.email
    # nothing to invite into, nothing to plan, until she agrees
    assert (
        await client.put(f"/v1/care/circles/{circle_id}/checkin-plan", json=PLAN, headers=senior.headers)
    ).status_code == 409

    # she agrees in the app: her consent is hers, given in the app
    confirmed = await client.post(
        f"/v1/care/circles/{circle_id}/confirm", json=CONSENT_FR, headers=senior.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "active"
    consent = await db.fetchrow(
        "SELECT user_id, method, recorded_by, text_version, locale FROM care_consents "
        "WHERE circle_id = $1 AND purpose = 'senior_circle'",
        uuid.UUID(circle_id),
    )
    assert (consent["user_id"], consent["method"], consent["recorded_by"], consent["locale"]) == (
        uuid.UUID(senior.id),
        "app",
        None,
        "fr",
    )
    [told] = await care_notifications(db, daughter, "care.circle_confirmed")
    assert rendered(told, "title", "de") == "Marie Muller hat dem Betreuungskreis zugestimmt"
    twice = await client.post(
        f"/v1/care/circles/{circle_id}/confirm", json=CONSENT_FR, headers=senior.headers
    )
    assert twice.status_code == 409
    assert (
        await client.post("/v1/care/circles", json={"consent": CONSENT_FR}, headers=senior.headers)
    ).status_code == 409

    # now the daughter sees the circle and sets the plan: it follows the senior's zone (Bitche)
    seen = (await client.get(f"/v1/care/circles/{circle_id}", headers=daughter.headers)).json()
    assert seen["senior"]["display_name"] == "Marie Muller"
    assert seen["proxy"]["display_name"] == "Anna Muller"
    [me] = seen["members"]
    assert (me["role"], me["state"], me["proxy"]) == ("family", "accepted", True)
    plan = await client.put(f"/v1/care/circles/{circle_id}/checkin-plan", json=PLAN, headers=daughter.headers)
    assert plan.status_code == 200, plan.text
    assert plan.json()["zone"] == "Europe/Paris"
    assert (await client.get("/v1/care/checkin-plan", headers=senior.headers)).json() == plan.json()
    # … and the senior hears of it at once, in French; her own change tells nobody.
    [changed] = await care_notifications(db, senior, "care.plan_changed")
    assert rendered(changed, "title", "fr") == "Anna Muller a modifié votre appel quotidien"
    own = await client.put(
        f"/v1/care/circles/{circle_id}/checkin-plan", json={**PLAN, "days": [1, 3]}, headers=senior.headers
    )
    assert own.status_code == 200
    assert len(await care_notifications(db, senior, "care.plan_changed")) == 1
    events = (await client.get(f"/v1/care/circles/{circle_id}/events", headers=senior.headers)).json()
    logged = [(e["kind"], e["actor"], e["subject"]) for e in events["items"]]
    assert logged == [
        ("plan_updated", "Marie Muller", "Marie Muller"),
        ("plan_updated", "Anna Muller", "Marie Muller"),
        ("circle_confirmed", "Marie Muller", None),
        ("circle_requested", "Anna Muller", "Marie Muller"),
    ]


async def test_the_senior_refuses_in_the_app_or_with_the_code(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior = await make_user(display_name="Marie Muller")
    daughter = await make_user(locale="de", display_name="Anna Muller")
    neighbour = await make_user(display_name="Paul Schmitt")
    circle_id = await request(client, senior, daughter)
    refused = await client.post(f"/v1/care/circles/{circle_id}/refuse", headers=senior.headers)
    assert refused.status_code == 200
    assert refused.json()["state"] == "closed"
    assert (await client.get(f"/v1/care/circles/{circle_id}", headers=daughter.headers)).status_code == 404
    assert (
        await client.post(f"/v1/care/circles/{circle_id}/confirm", json=CONSENT_FR, headers=senior.headers)
    ).status_code == 409
    # a refused request does not stop another person from asking; this time she answers with the code
    second = await request(client, senior, neighbour)
    [_, note] = await care_notifications(db, senior, "care.circle_requested")
    wrong = await client.post(
        "/v1/care/circles/confirmations", json={"code": "ABCDE-FGHJK", "answer": "refuse"}
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_code"
    by_code = await client.post(
        "/v1/care/circles/confirmations", json={"code": notice_code(note).lower(), "answer": "refuse"}
    )
    assert by_code.status_code == 200, by_code.text
    assert by_code.json() == {"answer": "refuse", "circle_state": "refused"}
    again = await client.post(
        "/v1/care/circles/confirmations", json={"code": notice_code(note), "answer": "refuse"}
    )
    assert again.status_code == 400
    history = (await client.get("/v1/care/circles/requests-about-me", headers=senior.headers)).json()["items"]
    assert [(h["requested_by"]["display_name"], h["circle_state"]) for h in history] == [
        ("Paul Schmitt", "refused"),
        ("Anna Muller", "refused"),
    ]
    assert (await client.get("/v1/care/circles/requests-about-me", headers=daughter.headers)).json()[
        "items"
    ] == []
    assert second != circle_id


async def test_the_senior_confirms_with_the_code_without_signing_in(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior = await make_user(locale="de", display_name="Lotte Weber")
    son = await make_user(display_name="Jonas Weber")
    circle_id = await request(client, senior, son)
    [note] = await care_notifications(db, senior, "care.circle_requested")
    assert notice_code(note) in rendered(note, "body", "de")
    missing = await client.post(
        "/v1/care/circles/confirmations", json={"code": notice_code(note), "answer": "confirm"}
    )
    assert missing.status_code == 422
    confirmed = await client.post(
        "/v1/care/circles/confirmations",
        json={"code": notice_code(note), "answer": "confirm", "consent": CONSENT_DE},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["circle_state"] == "active"
    method = await db.fetchval(
        "SELECT method FROM care_consents WHERE circle_id = $1 AND purpose = 'senior_circle'",
        uuid.UUID(circle_id),
    )
    assert method == "code"
    assert (await client.get(f"/v1/care/circles/{circle_id}", headers=son.headers)).status_code == 200


async def test_a_verified_provider_serving_the_senior_records_the_consent_it_obtained(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    staff = await make_user(display_name="Claire Staff")
    provider_id = await verified_provider(client, db, make_user, staff)
    senior = await make_user(display_name="Marie Muller")
    other_senior = await make_user(display_name="Hans Becker")
    daughter = await make_user(locale="de", display_name="Anna Muller")
    await client.post(f"/v1/care/providers/{provider_id}/clients", json=CONSENT_FR, headers=senior.headers)
    approved = await client.post(
        f"/v1/care/providers/{provider_id}/clients/{senior.id}/approve", headers=staff.headers
    )
    assert approved.status_code == 200
    circle_id = await request(client, senior, daughter)
    other_circle = await request(client, other_senior, daughter)

    pending = (
        await client.get(f"/v1/care/providers/{provider_id}/pending-circles", headers=staff.headers)
    ).json()
    assert [(p["circle_id"], p["senior"]["display_name"]) for p in pending["items"]] == [
        (circle_id, "Marie Muller")
    ]
    assert (
        await client.get(f"/v1/care/providers/{provider_id}/pending-circles", headers=daughter.headers)
    ).status_code == 404
    body = {
        "provider_id": provider_id,
        "method": "in_person",
        "text_version": "care-circle-2026-11",
        "locale": "fr",
    }
    # a senior who is not the provider's client, and someone who is not its staff: nothing to see
    not_client = await client.post(
        f"/v1/care/circles/{other_circle}/provider-consent", json=body, headers=staff.headers
    )
    assert not_client.status_code == 404
    not_staff = await client.post(
        f"/v1/care/circles/{circle_id}/provider-consent", json=body, headers=daughter.headers
    )
    assert not_staff.status_code == 404

    recorded = await client.post(
        f"/v1/care/circles/{circle_id}/provider-consent", json=body, headers=staff.headers
    )
    assert recorded.status_code == 202, recorded.text
    consent = await db.fetchrow(
        "SELECT user_id, method, recorded_by, provider_id, text_version, locale FROM care_consents "
        "WHERE circle_id = $1 AND purpose = 'senior_circle'",
        uuid.UUID(circle_id),
    )
    assert dict(consent) == {
        "user_id": uuid.UUID(senior.id),
        "method": "in_person",
        "recorded_by": uuid.UUID(staff.id),
        "provider_id": uuid.UUID(provider_id),
        "text_version": "care-circle-2026-11",
        "locale": "fr",
    }
    seen = (await client.get(f"/v1/care/circles/{circle_id}", headers=senior.headers)).json()
    assert seen["state"] == "active"
    assert seen["consent"]["recorded_by"] == "Claire Staff"
    assert (await client.get(f"/v1/care/circles/{circle_id}", headers=daughter.headers)).status_code == 200


async def test_requests_answer_alike_whatever_the_address_and_are_limited(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    helper = await make_user(display_name="Paul Schmitt")
    with_circle = await make_user()
    await create_circle(client, with_circle)
    unproven = await make_user(verified=False)
    senior = await make_user(display_name="Marie Muller")
    answers = []
    for address in (f"{uuid.uuid4().hex[:10]}@example.test", with_circle.email, unproven.email, senior.email):
        answer = await client.post(
            "/v1/care/circles/on-behalf",
            json={**on_behalf(senior), "senior_email": address},
            headers=helper.headers,
        )
        assert answer.status_code == 202, answer.text
        answers.append(answer.json())
    assert len({tuple(sorted(a)) for a in answers}) == 1
    assert all(a["status"] == "requested" for a in answers)
    # only the senior who proved her address was asked; nobody else has a circle or a notice
    for person in (with_circle, unproven):
        assert await care_notifications(db, person, "care.circle_requested") == []
    assert (
        await db.fetchval("SELECT count(*) FROM care_circles WHERE senior_id = $1", uuid.UUID(unproven.id))
        == 0
    )
    assert len(await care_notifications(db, senior, "care.circle_requested")) == 1

    # asking again for the same address: limited (and the senior sees the attempt)
    await client.post("/v1/care/circles/on-behalf", json=on_behalf(senior), headers=helper.headers)
    limited = await client.post("/v1/care/circles/on-behalf", json=on_behalf(senior), headers=helper.headers)
    assert limited.status_code == 429
    assert limited.json()["code"] == "too_many_requests"
    # the address may be asked about again once the week of the earlier requests has passed
    assert limited.headers["retry-after"] == str(7 * 24 * 3600)
    history = (await client.get("/v1/care/circles/requests-about-me", headers=senior.headers)).json()["items"]
    assert [h["outcome"] for h in history] == ["limited", "not_possible", "pending"]
    assert all(h["requested_by"]["display_name"] == "Paul Schmitt" for h in history)
    assert len(await care_notifications(db, senior, "care.circle_requested")) == 1
    # and a sixth request of the day, for any address, is limited too
    sixth = await client.post(
        "/v1/care/circles/on-behalf",
        json={**on_behalf(senior), "senior_email": f"{uuid.uuid4().hex[:10]}@example.test"},
        headers=helper.headers,
    )
    assert sixth.status_code == 429
    assert sixth.headers["retry-after"] == str(24 * 3600)

    own = await client.post("/v1/care/circles/on-behalf", json=on_behalf(helper), headers=helper.headers)
    assert own.status_code == 422
    bad_method = await client.post(
        "/v1/care/circles/on-behalf", json=on_behalf(senior, method="email"), headers=helper.headers
    )
    assert bad_method.status_code in (400, 422)
    assert (await client.post("/v1/care/circles/on-behalf", json=on_behalf(senior))).status_code == 401


async def test_senior_removes_the_proxy_and_withdraws_consent_at_any_time(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior, daughter, circle_id = await set_up(client, make_user)
    [member] = (await client.get(f"/v1/care/circles/{circle_id}", headers=senior.headers)).json()["members"]
    removed = await client.delete(
        f"/v1/care/circles/{circle_id}/members/{member['id']}", headers=senior.headers
    )
    assert removed.status_code == 204
    path = f"/v1/care/circles/{circle_id}/checkin-plan"
    assert (await client.put(path, json=PLAN, headers=daughter.headers)).status_code == 404
    assert (await client.get(f"/v1/care/circles/{circle_id}", headers=daughter.headers)).status_code == 404
    assert (await client.get(f"/v1/care/circles/{circle_id}", headers=senior.headers)).json()["proxy"] is None

    withdrawn = await client.post(f"/v1/care/circles/{circle_id}/consent/withdraw", headers=senior.headers)
    assert withdrawn.status_code == 200
    assert withdrawn.json()["consent"]["withdrawn_at"] is not None
    assert (await client.put(path, json=PLAN, headers=senior.headers)).status_code == 409
    # once the senior has withdrawn, only she can open a circle again: a new request opens nothing
    again = await client.post("/v1/care/circles/on-behalf", json=on_behalf(senior), headers=daughter.headers)
    assert again.status_code == 202
    [latest, *_] = (await client.get("/v1/care/circles/requests-about-me", headers=senior.headers)).json()[
        "items"
    ]
    assert (latest["outcome"], latest["circle_id"]) == ("not_possible", None)


async def test_proxy_circle_access_matrix(client: Client, make_user: UserFactory) -> None:
    senior, daughter, circle_id = await set_up(client, make_user)
    neighbour = await make_user(display_name="Paul Schmitt")
    stranger = await make_user()
    await invite_and_accept(client, senior, circle_id, neighbour, "neighbour")
    plan = f"/v1/care/circles/{circle_id}/checkin-plan"
    assert (await client.put(plan, json=PLAN, headers=senior.headers)).status_code == 200

    matrix: list[tuple[str, str, dict[str, int]]] = [
        (
            "GET",
            f"/v1/care/circles/{circle_id}",
            {"stranger": 404, "neighbour": 200, "proxy": 200, "senior": 200},
        ),
        ("GET", plan, {"stranger": 404, "neighbour": 403, "proxy": 200, "senior": 200}),
        ("PUT", plan, {"stranger": 404, "neighbour": 403, "proxy": 200, "senior": 200}),
        (
            "POST",
            f"/v1/care/circles/{circle_id}/invitations",
            {"stranger": 404, "neighbour": 403, "proxy": 403},
        ),
        (
            "POST",
            f"/v1/care/circles/{circle_id}/consent/withdraw",
            {"stranger": 404, "neighbour": 403, "proxy": 403},
        ),
    ]
    people = {"stranger": stranger, "neighbour": neighbour, "proxy": daughter, "senior": senior}
    for method, path, expected in matrix:
        body: dict[str, Any] | None = PLAN if method == "PUT" else None
        if path.endswith("/invitations"):
            body = {"email": f"{uuid.uuid4().hex[:10]}@example.test", "role": "friend"}
        assert (await client.request(method, path, json=body)).status_code == 401
        for who, status in expected.items():
            answer = await client.request(method, path, json=body, headers=people[who].headers)
            assert answer.status_code == status, (method, path, who, answer.text)
    # the consent record is shown to the senior and to who recorded it, not to other members
    seen = (await client.get(f"/v1/care/circles/{circle_id}", headers=neighbour.headers)).json()
    assert seen["consent"] is None
    assert seen["proxy"]["display_name"] == "Anna Muller"
