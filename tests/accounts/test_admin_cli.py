"""`hub admin grant|revoke|list`, run as an operator would: beside `hub dev`, or with HUB_DATABASE_URL."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import Servers
from tests.server.test_cli import PASSWORD, Dev, hub, server_processes


@pytest.fixture(scope="module")
def hub_dir() -> Iterator[Path]:
    """A data dir of its own for `hub dev` (never the test session's, whose servers the tests use)."""
    path = Path("/tmp") / f"hub-admin-{os.getpid()}-{secrets.token_hex(3)}"
    path.mkdir(mode=0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _register(base: str, email: str) -> str:
    response = httpx.post(
        f"{base}/v1/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": "Margot", "municipality_code": "57089"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])


def test_granted_operator_registers_a_partner_and_verifies_a_provider_while_dev_runs(hub_dir: Path) -> None:
    dev = Dev(hub_dir)
    try:
        email = f"{uuid.uuid4().hex[:10]}@example.test"
        token = _register(dev.base, email)
        headers = {"Authorization": f"Bearer {token}"}
        provider = httpx.post(
            f"{dev.base}/v1/care/providers",
            json={
                "kind": "home_care",
                "name": "Soins à domicile de Bitche",
                "description": {"fr": "Aide et soins à domicile."},
                "languages": ["fr"],
                "municipality_codes": ["57089"],
                "contact": {},
            },
            headers=headers,
            timeout=10,
        )
        assert provider.status_code == 201, provider.text
        provider_id = provider.json()["id"]
        partner = {"name": "Saarpfalz-Touristik", "kind": "tourism_office", "language": "de"}
        refused = httpx.post(f"{dev.base}/v1/partners", json=partner, headers=headers, timeout=10)
        assert refused.status_code in (403, 404)

        granted = hub(hub_dir, "admin", "grant", email.upper())
        assert granted.returncode == 0, granted.stdout + granted.stderr
        assert "est maintenant administrateur du hub" in granted.stdout

        created = httpx.post(f"{dev.base}/v1/partners", json=partner, headers=headers, timeout=10)
        assert created.status_code == 201, created.text
        verified = httpx.post(
            f"{dev.base}/v1/care/providers/{provider_id}/verify", headers=headers, timeout=10
        )
        assert verified.status_code == 200, verified.text

        listed = hub(hub_dir, "admin", "list", LANG="de_DE.UTF-8")
        assert listed.returncode == 0, listed.stderr
        assert "Administratoren des Hubs:" in listed.stdout
        assert email in listed.stdout
        assert "demo-admin@hub.localhost" in listed.stdout

        revoked = hub(hub_dir, "admin", "revoke", email, LANG="de_DE.UTF-8")
        assert revoked.returncode == 0, revoked.stderr
        assert "ist kein Administrator des Hubs mehr" in revoked.stdout
        again = httpx.post(f"{dev.base}/v1/partners", json=partner, headers=headers, timeout=10)
        assert again.status_code in (403, 404)

        unknown = hub(hub_dir, "admin", "grant", "nobody-here@example.test")
        assert unknown.returncode == 1
        assert "Aucun compte" in unknown.stderr
    finally:
        code, out = dev.stop(signal.SIGINT)
    assert code == 0, out
    assert "hub admin grant" in out
    assert "demo-admin@hub.localhost" in out
    assert not server_processes(hub_dir)


async def test_admin_commands_work_with_a_database_url_and_are_audited(
    tmp_path: Path, servers: Servers, db: asyncpg.Pool
) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    await db.execute(
        "INSERT INTO users (email, password_hash, display_name, locale, email_verified_at) "
        "VALUES ($1, 'x', 'Jonas', 'de', now())",
        email,
    )
    url = {"HUB_DATABASE_URL": servers.database_url}
    granted = hub(tmp_path, "admin", "grant", email, LANG="de_DE.UTF-8", **url)
    assert granted.returncode == 0, granted.stdout + granted.stderr
    assert f"{email} ist jetzt Administrator des Hubs." in granted.stdout
    twice = hub(tmp_path, "admin", "grant", email, **url)
    assert "est déjà administrateur du hub" in twice.stdout
    revoked = hub(tmp_path, "admin", "revoke", email, LANG="en_GB.UTF-8", **url)
    assert f"{email} is no longer a hub administrator." in revoked.stdout
    assert not (tmp_path / "postgres").exists()
    audit = await db.fetch(
        "SELECT action, operator FROM admin_audit WHERE lower(email) = lower($1) ORDER BY id", email
    )
    assert [a["action"] for a in audit] == ["grant", "revoke"]
    assert all(a["operator"] for a in audit)
    assert await db.fetchval("SELECT is_admin FROM users WHERE email = $1", email) is False
