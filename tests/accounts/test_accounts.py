"""Accounts: sign-up, sign-in, refresh rotation, logout revocation, profile, export and erasure."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import UserFactory


async def test_register_login_and_me(client: AsyncTestClient[Litestar], make_user: UserFactory) -> None:
    user = await make_user(locale="de", municipality_code="10045114")
    me = await client.get("/v1/me", headers=user.headers)
    assert me.status_code == 200
    body = me.json()
    assert body["locale"] == "de"
    assert body["municipality_code"] == "10045114"
    assert body["time_zone"] == "Europe/Berlin"

    login = await client.post(
        "/v1/auth/login", json={"email": user.email.upper(), "password": "correct horse battery"}
    )
    assert login.status_code == 200
    assert login.json()["user"]["id"] == user.id


async def test_wrong_password_is_401_in_callers_language(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    response = await client.post(
        "/v1/auth/login",
        json={"email": user.email, "password": "wrong password!"},
        headers={"Accept-Language": "de-DE,de;q=0.9"},
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid_credentials"
    assert problem["detail"] == "Die E-Mail-Adresse oder das Passwort ist nicht korrekt."


async def test_duplicate_email_is_not_revealed(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    response = await client.post(
        "/v1/auth/register",
        json={"email": user.email, "password": "another long password", "display_name": "X"},
    )
    assert response.status_code == 201
    assert response.json()["user"]["id"] != user.id
    assert response.json()["user"]["email_verified"] is False
    me = await client.get("/v1/me", headers=user.headers)
    assert me.json()["email_verified"] is True


async def test_refresh_rotates_and_reuse_ends_session(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    first = await client.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != user.refresh_token
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert me.status_code == 200

    # The old refresh token was copied somewhere: presenting it ends the whole session.
    replay = await client.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert replay.status_code == 401
    after = await client.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert me.status_code == 401


async def test_logout_revokes_access_token(client: AsyncTestClient[Litestar], make_user: UserFactory) -> None:
    user = await make_user()
    assert (await client.post("/v1/auth/logout", headers=user.headers)).status_code == 204
    me = await client.get("/v1/me", headers=user.headers)
    assert me.status_code == 401
    assert me.json()["code"] == "unauthorized"
    refresh = await client.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refresh.status_code == 401


async def test_profile_update_and_quiet_hours(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    response = await client.patch(
        "/v1/me",
        json={
            "display_name": "Marie",
            "locale": "de",
            "quiet_hours": {"start": "22:00:00", "end": "07:00:00"},
        },
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["display_name"] == "Marie"
    assert body["quiet_hours"] == {"start": "22:00", "end": "07:00"}  # HH:MM, as API.md shows
    off = await client.patch("/v1/me", json={"quiet_hours": None}, headers=user.headers)
    assert off.json()["quiet_hours"] is None


async def test_unknown_municipality_names_the_field(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    response = await client.patch(
        "/v1/me", json={"municipality_code": "99999"}, headers={**user.headers, "Accept-Language": "fr"}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_field"
    assert "municipality_code" in problem["detail"]
    assert "99999" in problem["detail"]


async def test_export_and_erase(client: AsyncTestClient[Litestar], make_user: UserFactory) -> None:
    user = await make_user()
    export = await client.get("/v1/me/export", headers=user.headers)
    assert export.status_code == 200
    data = export.json()
    assert data["user"]["email"] == user.email
    assert len(data["sessions"]) == 1
    assert (await client.delete("/v1/me", headers=user.headers)).status_code == 204
    login = await client.post(
        "/v1/auth/login", json={"email": user.email, "password": "correct horse battery"}
    )
    assert login.status_code == 401
