"""Bad input is a 4xx problem in the caller's language, never a 500, signed in or not."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import UserFactory

DEEP = ("[" * 5000 + "]" * 5000).encode()
INVALID_UTF8 = b'{"email": "\xff\xfe@example.test", "password": "correct horse battery"}'


def _problem(response: Any) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/auth/register",
            {
                "email": "nul@example.test",
                "password": "correct horse battery",
                "display_name": "Ma\u0000rie",
                "locale": "fr",
            },
        ),
        ("/v1/auth/register", {"email": "n\u0000ul@example.test", "password": "x" * 12, "locale": "fr"}),
        ("/v1/auth/login", {"email": "nul\u0000@example.test", "password": "correct horse battery"}),
        ("/v1/auth/login", {"email": "nul@example.test", "password": "correct\u0000horse"}),
        ("/v1/auth/refresh", {"refresh_token": "abc\u0000def"}),
    ],
)
async def test_nul_bytes_in_anonymous_bodies_are_a_4xx(
    client: AsyncTestClient[Litestar], path: str, body: dict[str, Any]
) -> None:
    problem = _problem(await client.post(path, json=body, headers={"Accept-Language": "de"}))
    assert problem["status"] in {400, 401, 422}


async def test_nul_bytes_in_signed_in_bodies_and_parameters_are_a_4xx(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user(locale="de")
    created = await client.post(
        "/v1/communities",
        headers=user.headers,
        json={
            "name": {"fr": "Chorale\u0000"},
            "description": {"fr": "x"},
            "municipality_codes": ["57089"],
            "visibility": "public",
            "join_policy": "open",
            "kind": "association",
        },
    )
    problem = _problem(created)
    assert created.headers["content-language"] == "de"
    assert problem["status"] in {400, 422}
    _problem(await client.get("/v1/communities", params={"q": "a\u0000b"}, headers=user.headers))
    _problem(await client.get("/v1/municipalities", params={"q": "Bit\u0000che"}))
    _problem(await client.patch("/v1/me", headers=user.headers, json={"display_name": "A\u0000"}))


async def test_unsubscribe_with_nul_or_garbage_token_is_a_4xx(client: AsyncTestClient[Litestar]) -> None:
    for token in ("abc%00def", "%FF%FE", "x" * 5000):
        response = await client.get(f"/v1/unsubscribe/{token}")
        assert 400 <= response.status_code < 500, (token, response.status_code)
        response = await client.post(f"/v1/unsubscribe/{token}")
        assert 400 <= response.status_code < 500, (token, response.status_code)


async def test_invalid_utf8_and_deep_json_are_a_400(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    for content in (DEEP, INVALID_UTF8, b"\x00\x00\x00"):
        headers = {"Content-Type": "application/json"}
        _problem(await client.post("/v1/auth/login", content=content, headers=headers))
        _problem(await client.post("/v1/communities", content=content, headers={**headers, **user.headers}))


async def test_huge_numbers_are_a_4xx(client: AsyncTestClient[Litestar], make_user: UserFactory) -> None:
    user = await make_user()
    _problem(await client.get("/v1/communities", params={"limit": str(10**40)}))
    _problem(await client.get("/v1/feed", params={"limit": "1e400"}, headers=user.headers))
    response = await client.put(
        "/v1/care/checkin-plan",
        headers=user.headers,
        json={"window_start": "09:00", "window_end": "10:00", "grace_minutes": 10**30},
    )
    _problem(response)


@pytest.mark.parametrize("bad", ["Chorale\u202eelaroh", "Chorale\u2066x\u2069", "Cho\nrale", "Cho\x07rale"])
async def test_control_and_bidi_override_characters_are_refused_in_names_and_titles(
    client: AsyncTestClient[Litestar], make_user: UserFactory, bad: str
) -> None:
    user = await make_user(locale="de")
    community = {"name": {"fr": bad}, "municipality_codes": ["57089"], "kind": "choir"}
    r = await client.post("/v1/communities", json=community, headers=user.headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid_field", r.text
    assert "name" in r.json()["detail"]
    r = await client.patch("/v1/me", json={"display_name": bad}, headers=user.headers)
    assert r.status_code == 422 and "display_name" in r.json()["detail"], r.text
    registered = await client.post(
        "/v1/auth/register",
        json={"email": "bidi@example.test", "password": "correct horse battery", "display_name": bad},
    )
    assert registered.status_code == 422


async def test_line_breaks_stay_allowed_in_descriptions(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user()
    community = {
        "name": {"fr": "Chorale"},
        "description": {"fr": "Répétitions :\n- mardi\n- jeudi"},
        "municipality_codes": ["57089"],
        "kind": "choir",
    }
    r = await client.post("/v1/communities", json=community, headers=user.headers)
    assert r.status_code == 201, r.text


async def test_validation_messages_say_what_is_valid(client: AsyncTestClient[Litestar]) -> None:
    short = await client.post(
        "/v1/auth/register",
        json={"email": "short@example.test", "password": "short", "display_name": "A"},
        headers={"Accept-Language": "de"},
    )
    problem = _problem(short)
    assert problem["errors"][0]["field"] == "password"
    assert "10" in problem["detail"], problem["detail"]
    locale = await client.post(
        "/v1/auth/register",
        json={
            "email": "loc@example.test",
            "password": "correct horse battery",
            "display_name": "A",
            "locale": "it",
        },
        headers={"Accept-Language": "fr"},
    )
    problem = _problem(locale)
    assert problem["errors"][0]["field"] == "locale"
    for allowed in ("fr", "de", "en"):
        assert allowed in problem["detail"], problem["detail"]
    assert "data" not in {e["field"] for e in problem["errors"]}
