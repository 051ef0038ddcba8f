"""Helpers for the console tests: a provider with staff and clients, quiet hours now, a cookie-holding visitor."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import SignedIn, UserFactory

Client = AsyncTestClient[Litestar]
PASSWORD = "correct horse battery"
CONSENT = {"text_version": "care-provider-2026-11", "locale": "fr"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SEND_KEY = re.compile(r'name="send_key" value="([^"]+)"')


async def make_admin(db: asyncpg.Pool, make_user: UserFactory) -> SignedIn:
    admin = await make_user()
    await db.execute("UPDATE users SET is_admin = true WHERE id = $1", uuid.UUID(admin.id))
    return admin


async def verified_provider(client: Client, db: asyncpg.Pool, make_user: UserFactory, staff: SignedIn) -> str:
    body: dict[str, Any] = {
        "kind": "home_care",
        "name": "Soins à domicile du Pays de Bitche",
        "description": {"fr": "Aide et soins à domicile.", "de": "Häusliche Pflege und Hilfe."},
        "languages": ["fr", "de"],
        "municipality_codes": ["57089", "10045114"],
    }
    created = await client.post("/v1/care/providers", json=body, headers=staff.headers)
    assert created.status_code == 201, created.text
    provider_id: str = created.json()["id"]
    admin = await make_admin(db, make_user)
    verified = await client.post(f"/v1/care/providers/{provider_id}/verify", headers=admin.headers)
    assert verified.status_code == 200, verified.text
    return provider_id


async def become_client(client: Client, provider_id: str, person: SignedIn, staff: SignedIn) -> None:
    """The person asks to receive the provider's alerts and its staff approves them (alerts go to approved
    clients only)."""
    joined = await client.post(
        f"/v1/care/providers/{provider_id}/clients",
        json={**CONSENT, "locale": person.locale},
        headers=person.headers,
    )
    assert joined.status_code == 200, joined.text
    approved = await client.post(
        f"/v1/care/providers/{provider_id}/clients/{person.id}/approve", headers=staff.headers
    )
    assert approved.status_code == 200, approved.text


async def quiet_now(client: Client, person: SignedIn, zone: str) -> None:
    """Give the person quiet hours that are in force now (one hour either side of the present)."""
    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    changed = await client.patch(
        "/v1/me",
        json={"quiet_hours": {"start": start.strftime("%H:%M:00"), "end": end.strftime("%H:%M:00")}},
        headers=person.headers,
    )
    assert changed.status_code == 200, changed.text


class Visitor:
    """A browser without JavaScript: keeps its own console cookies, sends forms with their CSRF token.

    The shared test client's cookie jar is emptied after each answer, so visitors never see each other's
    cookies.
    """

    def __init__(self, client: Client, base: str = "") -> None:
        self.client = client
        self.base = base
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        self.client.cookies.clear()
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self._keep(
            await self.client.get(self.base + path, headers=self._headers(headers), follow_redirects=False)
        )

    async def post(
        self,
        path: str,
        form: dict[str, str] | None = None,
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        data = dict(form or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf)
        return self._keep(
            await self.client.post(
                self.base + path, data=data, headers=self._headers(headers), follow_redirects=False
            )
        )

    async def sign_in(self, person: SignedIn, lang: str = "fr") -> httpx.Response:
        await self.get(f"/console/sign-in?lang={lang}")
        response = await self.post(
            "/console/sign-in", {"email": person.email, "password": PASSWORD, "next": "/console/"}
        )
        assert response.status_code == 303, response.text
        # The CSRF token changes with the session: the page after sign-in carries the new one.
        landed = await self.get(response.headers["location"])
        assert landed.status_code == 200, landed.text
        return response
