"""Shared fixtures: real PostgreSQL and Redis (embedded, or HUB_DATABASE_URL / HUB_REDIS_URL), a fresh
database per test session, the app, and signed-in users."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from devtools.embedded import EmbeddedPostgres, EmbeddedRedis
from devtools.fcm_local import FcmLocal
from devtools.smtp_local import MailCatcher
from hub.db import migrate
from hub.settings import Settings, load_settings
from i18n.content import Bilingual
from messaging import pipeline
from messaging.models import Audience
from messaging.push import PushSender
from messaging.service import notify
from messaging.smtp import Mailer
from server.app import create_app
from server.domains import MIGRATIONS
from territory.loader import load_pilot_region


@dataclass(frozen=True)
class Servers:
    database_url: str
    redis_url: str


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A short, traversable path: the embedded PostgreSQL may run as another user.
    path = Path("/tmp") / f"hub-test-{os.getpid()}-{secrets.token_hex(3)}"
    path.mkdir(mode=0o755)
    return path


@pytest.fixture(scope="session")
def servers(data_dir: Path) -> Iterator[Servers]:
    """Real servers for the whole session, with a database of its own."""
    external_db = os.environ.get("HUB_DATABASE_URL")
    external_redis = os.environ.get("HUB_REDIS_URL")
    stoppers: list[Callable[[], None]] = []
    if external_db:
        name = f"hub_test_{secrets.token_hex(4)}"

        async def create() -> None:
            conn = await asyncpg.connect(external_db)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        async def drop() -> None:
            conn = await asyncpg.connect(external_db)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(create())
        database_url = _with_database(external_db, name)
        stoppers.append(lambda: asyncio.run(drop()))
    else:
        pg = EmbeddedPostgres(data_dir)
        database_url = pg.start()
        stoppers.append(pg.stop)
    if external_redis:
        redis_url = external_redis
    else:
        redis = EmbeddedRedis(data_dir, persistent=False)
        redis_url = redis.start()
        stoppers.append(redis.stop)
    migrate(database_url, MIGRATIONS)
    asyncio.run(_seed(database_url))
    try:
        yield Servers(database_url=database_url, redis_url=redis_url)
    finally:
        for stop in reversed(stoppers):
            stop()


async def _seed(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await load_pilot_region(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def fcm(data_dir: Path) -> AsyncIterator[FcmLocal]:
    """A loopback endpoint speaking the FCM HTTP v1 protocol, with its service-account file."""
    folder = data_dir / "fcm"
    folder.mkdir()
    server = FcmLocal(folder)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
def smtp() -> Iterator[MailCatcher]:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""
    catcher = MailCatcher()
    catcher.start()
    try:
        yield catcher
    finally:
        catcher.stop()


@pytest.fixture(scope="session")
def settings(data_dir: Path, fcm: FcmLocal, smtp: MailCatcher) -> Settings:
    env = {
        "HUB_FCM_CREDENTIALS_FILE": str(fcm.credentials_file),
        "HUB_FCM_ENDPOINT": fcm.base_url,
        "HUB_SMTP_HOST": smtp.host,
        "HUB_SMTP_PORT": str(smtp.port),
        "HUB_DATA_DIR": str(data_dir),
        "HUB_SECRET_KEY": secrets.token_urlsafe(48),
        "HUB_QUEUE_NAME": f"hub-test-{secrets.token_hex(4)}",
        "HUB_AUTH_RATE_PER_MINUTE": "100000",
        "HUB_PUBLIC_URL": "https://hub.example.test",
    }
    return load_settings(env)


@pytest.fixture(scope="session")
def app(settings: Settings, servers: Servers) -> Litestar:
    return create_app(settings, database_url=servers.database_url, redis_url=servers.redis_url)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as c:
        yield c


@pytest.fixture(scope="session")
async def db(servers: Servers) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(servers.database_url, min_size=1, max_size=5)
    try:
        yield pool
    finally:
        await pool.close()


@dataclass(frozen=True)
class SignedIn:
    id: str
    email: str
    locale: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


UserFactory = Callable[..., Awaitable[SignedIn]]


@pytest.fixture
def make_user(client: AsyncTestClient[Litestar], db: asyncpg.Pool) -> UserFactory:
    """Register a fresh user (unique email) and return their tokens."""
    return user_factory(client, db)


def user_factory(client: AsyncTestClient[Litestar], db: asyncpg.Pool | None = None) -> UserFactory:
    """Registers fresh users (unique emails) through the API; by default each proves their address with
    the link of their welcome email (``verified=False`` leaves it unproven)."""

    async def factory(
        locale: str = "fr",
        municipality_code: str | None = "57089",
        display_name: str | None = None,
        verified: bool = True,
    ) -> SignedIn:
        email = f"{uuid.uuid4().hex[:12]}@example.test"
        body = {
            "email": email,
            "password": "correct horse battery",
            "display_name": display_name or f"User {email[:6]}",
            "locale": locale,
        }
        if municipality_code:
            body["municipality_code"] = municipality_code
        response = await client.post("/v1/auth/register", json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        if verified:
            assert db is not None, "proving an address reads the emailed link from the database"
            token = await emailed_token(db, email, "/verify-email")
            proven = await client.post("/v1/auth/verify-email", json={"token": token})
            assert proven.status_code == 200, proven.text
        return SignedIn(
            id=data["user"]["id"],
            email=email,
            locale=locale,
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
        )

    return factory


async def planned_push(conn: asyncpg.Connection, count: int, now: datetime) -> tuple[uuid.UUID, str]:
    """A push-only notification to ``count`` new people (one device each, written by SQL: fast for
    thousands), planned at ``now``; its id, and the pattern of the people's addresses to delete them by."""
    tag = uuid.uuid4().hex[:8]
    users = await conn.fetchval(
        """
        WITH made AS (
          INSERT INTO users (id, email, password_hash, display_name, locale, time_zone)
          SELECT gen_random_uuid(), 'fan' || i || '-' || $2 || '@example.test', 'x', 'Fan ' || i,
                 CASE WHEN i % 2 = 0 THEN 'fr' ELSE 'de' END, 'Europe/Paris'
          FROM generate_series(1, $1) AS i RETURNING id
        ), devices AS (
          INSERT INTO devices (user_id, token, platform) SELECT id, 'fan-' || id, 'android' FROM made
        )
        SELECT array_agg(id) FROM made
        """,
        count,
        tag,
    )
    async with conn.transaction():
        nid = await notify(
            conn,
            kind="post",
            audience=Audience(user_ids=tuple(users)),
            title=Bilingual(fr="Titre", de="Titel"),
            body=Bilingual(fr="Texte", de="Text"),
            deep_link="/",
            channels=("push",),
        )
        await pipeline.plan_notification(conn, nid, now)
    return nid, f"fan%-{tag}@example.test"


async def emailed_token(db: asyncpg.Pool, address: str, link: str) -> str:
    """The token of the newest link to ``link`` emailed to an address (as recorded for sending)."""
    deep_link = await db.fetchval(
        "SELECT deep_link FROM direct_emails WHERE lower(address) = lower($1) AND deep_link LIKE $2 "
        "ORDER BY created_at DESC, id LIMIT 1",
        address,
        f"{link}?token=%",
    )
    assert deep_link is not None, f"no {link} link was emailed"
    return str(deep_link).split("?token=", 1)[1]


class Clock:
    """A clock the tests move instead of sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **kwargs: float) -> None:
        self.offset += timedelta(**kwargs)


@pytest.fixture
async def channels(settings: Settings) -> AsyncIterator[pipeline.Channels]:
    assert settings.fcm_credentials_file is not None and settings.smtp_host is not None
    push = PushSender(settings.fcm_credentials_file, settings.fcm_endpoint, concurrency=32)
    mailer = Mailer(settings.smtp_host, settings.smtp_port, mail_from=settings.mail_from, pool_size=2)
    await push.start()
    await mailer.start()
    try:
        yield pipeline.Channels(
            push=push,
            mailer=mailer,
            public_url=settings.public_url,
            mail_from=settings.mail_from,
            clock=Clock(),
        )
    finally:
        await push.close()
        await mailer.close()


GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, actual: str) -> None:
    """Compare with a reviewed golden file; ``HUB_UPDATE_GOLDEN=1`` rewrites it (then review the diff)."""
    path = GOLDEN / name
    if os.environ.get("HUB_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with HUB_UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")
