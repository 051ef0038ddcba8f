"""Circles set up for a senior by someone else: recorded consent, the senior told and in control, the plan."""

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


async def set_up(client: Client, make_user: UserFactory) -> tuple[SignedIn, SignedIn, str]:
    senior = await make_user(locale="fr", municipality_code="57089", display_name="Marie Muller")
    daughter = await make_user(locale="de", municipality_code="10045114", display_name="Anna Muller")
    created = await client.post(
        "/v1/care/circles/on-behalf", json=on_behalf(senior), headers=daughter.headers
    )
    assert created.status_code == 201, created.text
    return senior, daughter, created.json()["id"]


async def test_daughter_sets_up_her_mothers_circle_with_consent_obtained_by_phone(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior, daughter, circle_id = await set_up(client, make_user)

    seen = (await client.get(f"/v1/care/circles/{circle_id}", headers=daughter.headers)).json()
    assert seen["senior"]["display_name"] == "Marie Muller"
    assert seen["my_role"] == "member"
    assert seen["proxy"]["display_name"] == "Anna Muller"
    [me] = seen["members"]
    assert (me["role"], me["state"], me["proxy"]) == ("family", "accepted", True)
    assert seen["consent"]["method"] == "phone"
    assert seen["consent"]["recorded_by"] == "Anna Muller"

    consents = await db.fetch(
        "SELECT user_id, purpose, method, recorded_by, text_version, locale, given_at FROM care_consents "
        "WHERE circle_id = $1 ORDER BY purpose",
        uuid.UUID(circle_id),
    )
    [caregiver, senior_consent] = consents
    assert (caregiver["user_id"], caregiver["purpose"], caregiver["method"], caregiver["locale"]) == (
        uuid.UUID(daughter.id),
        "caregiver_membership",
        "app",
        "de",
    )
    assert senior_consent["user_id"] == uuid.UUID(senior.id)  # the consent is the senior's …
    assert senior_consent["recorded_by"] == uuid.UUID(daughter.id)  # … as the daughter recorded it
    assert (senior_consent["method"], senior_consent["text_version"], senior_consent["locale"]) == (
        "phone",
        "care-circle-2026-11",
        "fr",
    )
    assert senior_consent["given_at"] is not None

    # The senior is told at once, in French, and sees her circle as its senior.
    [note] = await care_notifications(db, senior, "care.circle_set_up")
    assert note["audience"] == {senior.id}
    assert note["respect_preferences"] is False
    assert rendered(note, "title", "fr") == "Anna Muller a créé votre cercle d'aidants"
    assert "retirer votre accord" in rendered(note, "body", "fr")
    mine = (await client.get(f"/v1/care/circles/{circle_id}", headers=senior.headers)).json()
    assert mine["my_role"] == "senior"
    assert mine["consent"]["recorded_by"] == "Anna Muller"
    assert mine["members"][0]["invited_email"] == daughter.email
    assert (
        await client.post("/v1/care/circles", json={"consent": CONSENT_FR}, headers=senior.headers)
    ).status_code == 409

    # The daughter sets the plan: it follows the senior's zone (Bitche), and the log says who set it.
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
        ("circle_created", "Anna Muller", "Marie Muller"),
    ]


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
    # once the senior has withdrawn, only she can open a circle again
    again = await client.post("/v1/care/circles/on-behalf", json=on_behalf(senior), headers=daughter.headers)
    assert again.status_code == 422


async def test_set_up_is_refused_alike_for_unknown_addresses_and_seniors_with_a_circle(
    client: Client, make_user: UserFactory
) -> None:
    helper = await make_user(display_name="Paul Schmitt")
    with_circle = await make_user()
    await create_circle(client, with_circle)
    unknown = await client.post(
        "/v1/care/circles/on-behalf",
        json={**on_behalf(with_circle), "senior_email": f"{uuid.uuid4().hex[:10]}@example.test"},
        headers=helper.headers,
    )
    taken = await client.post(
        "/v1/care/circles/on-behalf", json=on_behalf(with_circle), headers=helper.headers
    )
    assert unknown.status_code == taken.status_code == 422
    assert unknown.json()["detail"] == taken.json()["detail"]
    own = await client.post("/v1/care/circles/on-behalf", json=on_behalf(helper), headers=helper.headers)
    assert own.status_code == 422
    bad_method = await client.post(
        "/v1/care/circles/on-behalf", json=on_behalf(with_circle, method="email"), headers=helper.headers
    )
    assert bad_method.status_code in (400, 422)
    assert (await client.post("/v1/care/circles/on-behalf", json=on_behalf(with_circle))).status_code == 401


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
