"""The pages behind the account emails' links: nothing happens on GET, the form's POST does the work."""

from __future__ import annotations

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import UserFactory, emailed_token

Client = AsyncTestClient[Litestar]
FORM = {"content-type": "application/x-www-form-urlencoded"}


async def _verified(client: Client, headers: dict[str, str]) -> bool:
    me = await client.get("/v1/me", headers=headers)
    assert me.status_code == 200, me.text
    return bool(me.json()["email_verified"])


async def test_opening_the_verification_link_proves_nothing_until_the_button_is_pressed(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    person = await make_user(locale="de", verified=False)
    token = await emailed_token(db, person.email, "/verify-email")

    page = await client.get("/verify-email", params={"token": token}, headers={"Accept-Language": "de-DE"})
    assert page.status_code == 200
    assert page.headers["content-language"] == "de"
    assert page.headers["cache-control"] == "no-store"
    assert '<html lang="de">' in page.text
    assert "Meine Adresse bestätigen" in page.text
    assert f'name="token" value="{token}"' in page.text
    assert not await _verified(client, person.headers)  # a mail scanner following the link changes nothing

    done = await client.post(
        "/verify-email", content=f"token={token}", headers={**FORM, "Accept-Language": "de"}
    )
    assert done.status_code == 200, done.text
    assert "Ihre E-Mail-Adresse ist bestätigt" in done.text
    assert await _verified(client, person.headers)

    again = await client.post("/verify-email?lang=fr", content=f"token={token}", headers=FORM)
    assert again.status_code == 400
    assert "Ce lien n&#39;est pas valable ou a expiré." in again.text  # used links say so, as the API does
    assert "<form" not in again.text


async def test_verification_page_without_a_token_says_the_link_is_not_valid(client: Client) -> None:
    page = await client.get("/verify-email", params={"lang": "en"})
    assert page.status_code == 200
    assert "<form" not in page.text
    assert "This link is not valid or has expired" in page.text
    refused = await client.post("/verify-email", content="token=", headers=FORM, params={"lang": "en"})
    assert refused.status_code == 400


async def test_reset_page_sets_the_new_password_and_says_what_is_wrong_in_the_readers_language(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    person = await make_user(locale="fr")
    assert (await client.post("/v1/auth/password/forgot", json={"email": person.email})).status_code == 202
    token = await emailed_token(db, person.email, "/reset-password")

    page = await client.get("/reset-password", params={"token": token, "lang": "de"})
    assert page.status_code == 200
    assert '<label for="password">Neues Passwort</label>' in page.text
    assert "Mindestens 10 Zeichen." in page.text
    assert 'minlength="10"' in page.text

    short = await client.post(
        "/reset-password?lang=de", content=f"token={token}&password=kurz&password_confirm=kurz", headers=FORM
    )
    assert short.status_code == 422
    assert "Das neue Passwort muss mindestens 10 Zeichen lang sein." in short.text
    assert 'aria-invalid="true"' in short.text
    differ = await client.post(
        "/reset-password?lang=fr",
        content=f"token={token}&password=nouveau+secret+long&password_confirm=autre+chose+long",
        headers=FORM,
    )
    assert differ.status_code == 422
    assert "Les deux mots de passe ne sont pas identiques" in differ.text

    saved = await client.post(
        "/reset-password?lang=fr",
        content=f"token={token}&password=nouveau+secret+long&password_confirm=nouveau+secret+long",
        headers=FORM,
    )
    assert saved.status_code == 200, saved.text
    assert "Votre nouveau mot de passe est enregistré" in saved.text
    old_session = await client.get("/v1/me", headers=person.headers)
    assert old_session.status_code == 401  # every session ended
    signed_in = await client.post(
        "/v1/auth/login", json={"email": person.email, "password": "nouveau secret long"}
    )
    assert signed_in.status_code == 200, signed_in.text

    reused = await client.post(
        "/reset-password?lang=fr",
        content=f"token={token}&password=encore+un+autre+secret&password_confirm=encore+un+autre+secret",
        headers=FORM,
    )
    assert reused.status_code == 400
    assert "<form" not in reused.text


async def test_app_links_land_on_a_page_in_both_languages(client: Client) -> None:
    page = await client.get("/open/care/alerts/5f0c1d2e-0000-4000-8000-000000000001", params={"lang": "de"})
    assert page.status_code == 200
    assert page.text.index('<section lang="de">') < page.text.index('<section lang="fr">')
    assert "In der App öffnen" in page.text
    assert "Ouvrir dans l’application" in page.text or "Ouvrir dans l'application" in page.text
    assert 'href="hubbitche:/care/alerts/5f0c1d2e-0000-4000-8000-000000000001"' in page.text
    signin = await client.get("/open/sign-in")
    assert signin.status_code == 200
    assert 'href="hubbitche:/sign-in"' in signin.text
