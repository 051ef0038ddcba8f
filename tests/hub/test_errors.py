"""Every kind of error is RFC 9457 problem details with a stable code, in the caller's language."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from devtools.embedded import EmbeddedRedis
from hub.settings import Settings, SettingsError, load_settings
from server.app import create_app
from tests.conftest import Servers, UserFactory

PROBLEM = "application/problem+json"


def problem_of(response: object) -> dict[str, object]:
    assert response.headers["content-type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert {"type", "title", "status", "detail", "code", "instance", "request_id"} <= set(body)
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("lang", "detail"),
    [
        ("fr", "Le champ email est obligatoire."),
        ("de", "Das Feld email ist erforderlich."),
        ("en", "The field email is required."),
    ],
)
async def test_missing_field_is_named_in_callers_language(
    client: AsyncTestClient[Litestar], lang: str, detail: str
) -> None:
    response = await client.post(
        "/v1/auth/register",
        json={"password": "long enough password", "display_name": "A"},
        params={"lang": lang},
    )
    assert response.status_code == 400
    body = problem_of(response)
    assert body["code"] == "validation_failed"
    assert body["detail"] == detail
    assert body["errors"] == [{"code": "missing_field", "field": "email", "message": detail}]


async def test_unknown_field_is_rejected_not_dropped(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(
        "/v1/auth/register",
        json={
            "email": "x@example.test",
            "password": "long enough password",
            "display_name": "A",
            "role": "admin",
        },
        headers={"Accept-Language": "de"},
    )
    assert response.status_code == 400
    body = problem_of(response)
    assert body["code"] == "unknown_field"
    assert body["detail"] == "Das Feld role gehört nicht zu dieser Anfrage."


async def test_wrong_type_and_bad_value_name_the_field(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(
        "/v1/auth/register",
        json={"email": "x@example.test", "password": 12, "display_name": "A"},
        headers={"Accept-Language": "fr-FR,fr;q=0.9"},
    )
    body = problem_of(response)
    assert body["errors"][0]["field"] == "password"  # type: ignore[index]
    assert body["detail"] == "Le champ password a une valeur invalide."


async def test_malformed_json_is_a_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(
        "/v1/auth/login",
        content=b'{"email": ',
        headers={"content-type": "application/json", "Accept-Language": "de"},
    )
    assert response.status_code == 400
    body = problem_of(response)
    assert body["code"] == "malformed_body"
    assert body["detail"] == "Der Inhalt der Anfrage ist kein gültiges JSON."


async def test_query_parameter_out_of_range_is_named(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/v1/municipalities", params={"limit": 500, "lang": "de"})
    assert response.status_code == 400
    body = problem_of(response)
    assert body["errors"][0]["field"] == "limit"  # type: ignore[index]
    assert body["detail"] == "Der Parameter limit hat einen ungültigen Wert."


@pytest.mark.parametrize(
    ("lang", "title"),
    [("fr", "Connexion requise"), ("de", "Anmeldung erforderlich"), ("en", "Sign-in required")],
)
async def test_missing_token_is_401(client: AsyncTestClient[Litestar], lang: str, title: str) -> None:
    response = await client.get("/v1/me", headers={"Accept-Language": lang})
    assert response.status_code == 401
    body = problem_of(response)
    assert body["code"] == "unauthorized"
    assert body["title"] == title


async def test_garbage_token_is_401(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401
    assert problem_of(response)["code"] == "unauthorized"


async def test_signed_in_users_locale_wins_over_accept_language(
    client: AsyncTestClient[Litestar], make_user: UserFactory
) -> None:
    user = await make_user(locale="de")
    response = await client.patch(
        "/v1/me", json={"display_name": ""}, headers={**user.headers, "Accept-Language": "fr"}
    )
    assert response.status_code == 400
    assert problem_of(response)["detail"] == "Das Feld display_name muss mindestens 1 Zeichen lang sein."
    forced = await client.patch(
        "/v1/me", json={"display_name": ""}, headers=user.headers, params={"lang": "fr"}
    )
    assert problem_of(forced)["detail"] == "Le champ display_name doit compter au moins 1 caractère(s)."


@pytest.mark.parametrize(("lang", "title"), [("fr", "Introuvable"), ("de", "Nicht gefunden")])
async def test_unknown_route_is_404(client: AsyncTestClient[Litestar], lang: str, title: str) -> None:
    response = await client.get("/v1/nothing-here", headers={"Accept-Language": lang})
    assert response.status_code == 404
    body = problem_of(response)
    assert body["code"] == "not_found"
    assert body["title"] == title


async def test_wrong_method_is_405(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/v1/auth/login", headers={"Accept-Language": "de"})
    assert response.status_code == 405
    body = problem_of(response)
    assert body["code"] == "method_not_allowed"
    assert body["title"] == "Methode nicht erlaubt"


async def test_body_over_the_limit_is_413(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(
        "/v1/auth/login",
        content=b'{"email": "' + b"a" * 100_000 + b'"}',
        headers={"content-type": "application/json", "Accept-Language": "fr"},
    )
    assert response.status_code == 413
    body = problem_of(response)
    assert body["code"] == "body_too_large"
    assert body["title"] == "Requête trop volumineuse"


async def test_request_id_is_echoed(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/v1/me", headers={"X-Request-ID": "abcdef0123456789"})
    assert response.headers["x-request-id"] == "abcdef0123456789"
    assert problem_of(response)["request_id"] == "abcdef0123456789"


@pytest.fixture(scope="module")
async def strict_client(settings: Settings, servers: Servers) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A second app with a low sign-in limit and a route that fails, to see 429 and 500."""

    @get("/v1/boom", opt={"public": True}, include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("SELECT secret FROM /etc/shadow")

    env = {
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_SECRET_KEY": settings.secret_key,
        "HUB_QUEUE_NAME": f"hub-test-strict-{secrets.token_hex(4)}",
        "HUB_AUTH_RATE_PER_MINUTE": "3",
    }
    app = create_app(
        load_settings(env),
        database_url=servers.database_url,
        redis_url=servers.redis_url,
        extra_routes=[boom],
    )
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_too_many_sign_ins_is_429_with_retry_after(strict_client: AsyncTestClient[Litestar]) -> None:
    statuses = []
    for _ in range(4):
        response = await strict_client.post(
            "/v1/auth/login",
            json={"email": "nobody@example.test", "password": "whatever password"},
            headers={"Accept-Language": "de"},
        )
        statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 429]
    body = problem_of(response)
    assert body["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert (
        body["detail"]
        == f"Zu viele Versuche. Bitte warten Sie {retry_after} Sekunden und versuchen Sie es erneut."
    )


async def test_unexpected_error_is_a_localized_500_that_leaks_nothing(
    strict_client: AsyncTestClient[Litestar],
) -> None:
    response = await strict_client.get("/v1/boom", headers={"Accept-Language": "fr"})
    assert response.status_code == 500
    body = problem_of(response)
    assert body["code"] == "internal_error"
    assert body["title"] == "Erreur interne"
    assert body["request_id"] in str(body["detail"])
    for secret in ("SELECT", "/etc", "RuntimeError", "Traceback"):
        assert secret not in response.text


async def test_health_live_and_ready(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_ready_is_503_when_redis_goes_away(
    settings: Settings, servers: Servers, tmp_path: Path
) -> None:
    folder = Path("/tmp") / f"hub-redis-{secrets.token_hex(4)}"
    folder.mkdir()
    redis = EmbeddedRedis(folder, persistent=False)
    redis_url = redis.start()
    try:
        app = create_app(settings, database_url=servers.database_url, redis_url=redis_url)
        async with AsyncTestClient(app=app) as client:
            assert (await client.get("/health/ready")).status_code == 200
            redis.stop()
            response = await client.get("/health/ready")
            assert response.status_code == 503
            assert response.json()["redis"] == "unreachable"
            assert response.json()["database"] == "ok"
    finally:
        redis.stop()


@pytest.mark.parametrize(
    ("variable", "value", "lang", "expected"),
    [
        ("HUB_SMTP_PORT", "abc", "fr", "un nombre entier est attendu"),
        ("HUB_SMTP_PORT", "70000", "de", "erwartet wird eine Zahl von 1 bis 65535"),
        (
            "HUB_DATABASE_URL",
            "mysql://x",
            "de",
            "erwartet wird eine URL, die mit postgres, postgresql beginnt",
        ),
        ("HUB_SECRET_KEY", "short", "fr", "doit comporter au moins 32 caractères"),
        ("HUB_SMTP_STARTTLS", "maybe", "de", "erwartet wird true oder false"),
        ("HUB_FCM_CREDENTIALS_FILE", "/nonexistent.json", "fr", "fichier introuvable : /nonexistent.json"),
    ],
)
def test_bad_setting_names_the_variable(variable: str, value: str, lang: str, expected: str) -> None:
    env = {"HUB_SECRET_KEY": "k" * 40, "HUB_LANG": lang, "HUB_DATA_DIR": "/tmp", variable: value}
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert raised.value.variable == variable
    assert raised.value.message == expected


def test_secret_key_is_required_outside_development() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"HUB_LANG": "de", "HUB_DATA_DIR": "/tmp"})
    assert raised.value.variable == "HUB_SECRET_KEY"
    assert raised.value.message == "außerhalb des Entwicklungsmodus erforderlich"


async def test_every_invalid_field_of_a_body_is_listed(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(
        "/v1/auth/register",
        json={"email": "not an address", "password": "short", "display_name": "Anna", "locale": "it"},
        params={"lang": "de"},
    )
    assert response.status_code == 400
    body = problem_of(response)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert [e["field"] for e in errors] == ["email", "password", "locale"]
    assert [e["code"] for e in errors] == ["bad_format", "too_short", "not_allowed"]
    assert errors[1]["message"] == "Das Feld password muss mindestens 10 Zeichen lang sein."
    assert errors[2]["message"] == "Das Feld locale muss einen dieser Werte haben: de, en, fr."
    # the first error is the one the problem's detail names, as before
    assert body["detail"] == errors[0]["message"]
    assert body["code"] == "validation_failed"


async def test_missing_unknown_and_invalid_fields_are_listed_together(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.post(
        "/v1/auth/register",
        json={"password": 12, "display_name": "", "role": "admin"},
        params={"lang": "fr"},
    )
    assert response.status_code == 400
    errors = problem_of(response)["errors"]
    assert isinstance(errors, list)
    assert {(e["code"], e["field"]) for e in errors} == {
        ("missing_field", "email"),
        ("invalid_value", "password"),
        ("too_short", "display_name"),
        ("unknown_field", "role"),
    }
    assert len(errors) == 4
