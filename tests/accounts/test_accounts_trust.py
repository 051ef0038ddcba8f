"""Accounts you can rely on: proven addresses, sign-up that tells nothing, password reset, change, end all."""

from __future__ import annotations

import time
import uuid

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import UserFactory, emailed_token

Client = AsyncTestClient[Litestar]
PASSWORD = "correct horse battery"


def _body(email: str, password: str = PASSWORD, locale: str = "fr") -> dict[str, str]:
    return {"email": email, "password": password, "display_name": "Anne", "locale": locale}


async def _emails_to(db: asyncpg.Pool, address: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT kind, locale, deep_link, message FROM direct_emails WHERE lower(address) = lower($1) "
        "ORDER BY created_at, id",
        address,
    )


async def test_sign_up_sends_welcome_with_link_in_their_language_and_link_proves_address(
    client: Client, db: asyncpg.Pool
) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    created = await client.post("/v1/auth/register", json=_body(email, locale="de"))
    assert created.status_code == 201
    headers = {"Authorization": f"Bearer {created.json()['access_token']}"}
    assert created.json()["user"]["email_verified"] is False
    [welcome] = await _emails_to(db, email)
    assert welcome["kind"] == "accounts.verify_email"
    assert welcome["locale"] == "de"
    assert welcome["deep_link"].startswith("/verify-email?token=")
    assert (await client.get("/v1/me", headers=headers)).json()["email_verified"] is False

    token = await emailed_token(db, email, "/verify-email")
    proven = await client.post("/v1/auth/verify-email", json={"token": token})
    assert proven.status_code == 200, proven.text
    assert proven.json() == {"email_verified": True}
    assert (await client.get("/v1/me", headers=headers)).json()["email_verified"] is True

    again = await client.post(
        "/v1/auth/verify-email", json={"token": token}, headers={"Accept-Language": "de"}
    )
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_token"
    assert again.json()["detail"] == "Dieser Link ist ungültig oder abgelaufen. Fordern Sie einen neuen an."
    forged = await client.post("/v1/auth/verify-email", json={"token": "x" * 43})
    assert forged.status_code == 400


async def test_sign_up_with_a_taken_address_answers_the_same_and_tells_the_owner(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    owner = await make_user(locale="de")
    fresh = f"{uuid.uuid4().hex[:10]}@example.test"
    started = time.perf_counter()
    new = await client.post("/v1/auth/register", json=_body(fresh, password="another long password"))
    new_time = time.perf_counter() - started
    started = time.perf_counter()
    taken = await client.post("/v1/auth/register", json=_body(owner.email, password="another long password"))
    taken_time = time.perf_counter() - started
    assert new.status_code == taken.status_code == 201
    assert set(taken.json()) == set(new.json())
    assert set(taken.json()["user"]) == set(new.json()["user"])
    assert taken.json()["user"]["email_verified"] is False
    assert taken_time < new_time * 3 + 0.2
    # the owner hears of it in their language, with no link that could prove the address for the newcomer
    notice = (await _emails_to(db, owner.email))[-1]
    assert notice["kind"] == "accounts.sign_up_again"
    assert notice["locale"] == "de"
    assert "token" not in notice["deep_link"]
    # the newcomer cannot ask for a link either: the address is proven by the owner
    impostor = {"Authorization": f"Bearer {taken.json()['access_token']}"}
    count = len(await _emails_to(db, owner.email))
    assert (await client.post("/v1/me/verify-email", headers=impostor)).status_code == 202
    assert len(await _emails_to(db, owner.email)) == count
    # each signs in to their own account with their own password
    login = await client.post("/v1/auth/login", json={"email": owner.email, "password": PASSWORD})
    assert login.json()["user"]["id"] == owner.id
    login = await client.post(
        "/v1/auth/login", json={"email": owner.email, "password": "another long password"}
    )
    assert login.json()["user"]["id"] == taken.json()["user"]["id"]


async def test_changing_the_address_needs_proving_it_again(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    user = await make_user()
    new_address = f"{uuid.uuid4().hex[:10]}@example.test"
    changed = await client.patch("/v1/me", json={"email": new_address}, headers=user.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == new_address
    assert changed.json()["email_verified"] is False
    [link] = await _emails_to(db, new_address)
    assert link["kind"] == "accounts.verify_email"
    token = await emailed_token(db, new_address, "/verify-email")
    assert (await client.post("/v1/auth/verify-email", json={"token": token})).status_code == 200
    assert (await client.get("/v1/me", headers=user.headers)).json()["email_verified"] is True
    # the same address in other letters stays proven
    same = await client.patch("/v1/me", json={"email": new_address.upper()}, headers=user.headers)
    assert same.json()["email_verified"] is True


async def test_forgot_password_is_202_for_every_address_and_mails_only_owners(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    user = await make_user()
    unknown = f"{uuid.uuid4().hex[:10]}@example.test"
    known = await client.post("/v1/auth/password/forgot", json={"email": user.email})
    stranger = await client.post("/v1/auth/password/forgot", json={"email": unknown})
    assert known.status_code == stranger.status_code == 202
    assert known.json() == stranger.json()
    assert await _emails_to(db, unknown) == []
    assert (await _emails_to(db, user.email))[-1]["kind"] == "accounts.password_reset"


async def test_reset_link_sets_password_once_and_ends_every_session(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    user = await make_user()
    await client.post("/v1/auth/password/forgot", json={"email": user.email})
    token = await emailed_token(db, user.email, "/reset-password")
    reset = await client.post(
        "/v1/auth/password/reset", json={"token": token, "password": "a brand new secret"}
    )
    assert reset.status_code == 200, reset.text
    assert reset.json()["sessions_ended"] == 1
    assert (await client.get("/v1/me", headers=user.headers)).status_code == 401
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refreshed.status_code == 401
    old = await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert old.status_code == 401
    new = await client.post("/v1/auth/login", json={"email": user.email, "password": "a brand new secret"})
    assert new.status_code == 200
    replay = await client.post(
        "/v1/auth/password/reset", json={"token": token, "password": "yet another secret"}
    )
    assert replay.status_code == 400
    assert replay.json()["code"] == "invalid_token"


async def test_reset_link_expires(client: Client, db: asyncpg.Pool, make_user: UserFactory) -> None:
    user = await make_user()
    await client.post("/v1/auth/password/forgot", json={"email": user.email})
    token = await emailed_token(db, user.email, "/reset-password")
    await db.execute(
        "UPDATE account_tokens SET expires_at = now() - interval '1 second' "
        "WHERE user_id = $1 AND purpose = 'password_reset'",
        uuid.UUID(user.id),
    )
    late = await client.post(
        "/v1/auth/password/reset", json={"token": token, "password": "a brand new secret"}
    )
    assert late.status_code == 400


async def test_change_password_asks_the_current_one_and_ends_other_sessions(
    client: Client, make_user: UserFactory
) -> None:
    user = await make_user()
    other = await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    other_headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    wrong = await client.post(
        "/v1/me/password",
        json={"current_password": "not my password", "new_password": "a brand new secret"},
        headers=user.headers,
    )
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "invalid_field"
    assert "current_password" in wrong.json()["detail"]
    assert wrong.json()["detail"].endswith("ce n'est pas votre mot de passe actuel.")
    changed = await client.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new secret"},
        headers=user.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["sessions_ended"] == 1
    assert (await client.get("/v1/me", headers=user.headers)).status_code == 200
    assert (await client.get("/v1/me", headers=other_headers)).status_code == 401


async def test_logout_all_ends_every_session(client: Client, make_user: UserFactory) -> None:
    user = await make_user()
    other = await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    ended = await client.post("/v1/auth/logout-all", headers=user.headers)
    assert ended.status_code == 204
    assert (await client.get("/v1/me", headers=user.headers)).status_code == 401
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": other.json()["refresh_token"]})
    assert refreshed.status_code == 401
