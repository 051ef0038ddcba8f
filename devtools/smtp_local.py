"""A local mail catcher on aiosmtpd that keeps what it receives, with bounces, 451s and outages on demand."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

import msgspec
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class CaughtEmail(msgspec.Struct, frozen=True, kw_only=True):
    """One received message, parsed: envelope, decoded subject, text and HTML parts, all headers."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    to: str
    subject: str
    text: str | None
    html: str | None
    headers: tuple[tuple[str, str], ...]
    raw: bytes
    connection: int
    received_at: datetime

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), decoded."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


def _content(part: object) -> str | None:
    if not isinstance(part, EmailMessage):
        return None
    return str(part.get_content()).replace("\r\n", "\n")


def _parse(envelope: Envelope, connection: int) -> CaughtEmail:
    raw = envelope.original_content or b""
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text_part = parsed.get_body(("plain",))
    html_part = parsed.get_body(("html",))
    return CaughtEmail(
        mail_from=envelope.mail_from or "",
        rcpt_tos=tuple(envelope.rcpt_tos),
        to=str(parsed.get("To", "")),
        subject=str(parsed.get("Subject", "")),
        text=_content(text_part),
        html=_content(html_part),
        headers=tuple((key, str(value)) for key, value in parsed.items()),
        raw=raw,
        connection=connection,
        received_at=datetime.now(UTC),
    )


class _Protocol(SMTP):
    """aiosmtpd's SMTP session that tells the catcher when a client connects and leaves."""

    def __init__(self, catcher: MailCatcher, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._catcher = catcher
        self.connection_number = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._catcher._connected(transport)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._catcher._disconnected(self.transport)
        super().connection_lost(exc)


class _Controller(Controller):
    def __init__(self, catcher: MailCatcher, **kwargs: Any) -> None:
        super().__init__(catcher, **kwargs)
        self._catcher = catcher

    def factory(self) -> SMTP:
        return _Protocol(self._catcher, self.handler, **self.SMTP_kwargs)


class MailCatcher:
    """An SMTP server on loopback (a free port unless one is given) that keeps every message it accepts.

    With ``tls_context`` it offers STARTTLS and requires it. Fault injection: ``bounce(address)`` answers 550 at RCPT for that address, ``fail_next(n)`` answers
    451 to the next n recipients, ``go_down_after(n)`` drops every connection and stops listening after
    n more messages; ``stop()`` does the same at once and ``start()`` listens again on the same port.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls_context: ssl.SSLContext | None = None,
        smtputf8: bool = True,
        latency: float = 0.0,
    ) -> None:
        self.host = host
        #: seconds each message waits before it is accepted, like a server across a network
        self.latency = latency
        self.tls_context = tls_context
        #: whether the server offers SMTPUTF8 (RFC 6531: non-ASCII mailboxes)
        self.smtputf8 = smtputf8
        self.port = port or _free_port(host)
        self._lock = threading.Lock()
        self._messages: list[CaughtEmail] = []
        self._bounces: set[str] = set()
        self._temporary_failures = 0
        self._down_after: int | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._connections = 0
        self._controller: _Controller | None = None

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._controller is not None:
            return
        # With a TLS context the catcher offers STARTTLS and refuses mail until the client upgrades.
        tls = {"tls_context": self.tls_context, "require_starttls": True} if self.tls_context else {}
        controller = _Controller(
            self,
            hostname=self.host,
            port=self.port,
            server_hostname="catcher.local",
            enable_SMTPUTF8=self.smtputf8,
            **tls,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Drop every open connection and stop listening, as an SMTP server going down would."""
        controller = self._controller
        if controller is None:
            return
        self._controller = None
        done = threading.Event()

        def go_down() -> None:
            self._go_down(controller)
            done.set()

        controller.loop.call_soon_threadsafe(go_down)
        done.wait(5)
        controller.stop()

    def restart(self) -> None:
        """Come back up on the same port after ``stop()`` or ``go_down_after()``."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> MailCatcher:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what was received ---------------------------------------------------------------------------

    @property
    def messages(self) -> list[CaughtEmail]:
        with self._lock:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """How many SMTP connections were accepted since the catcher was created (or cleared)."""
        with self._lock:
            return self._connections

    def to(self, address: str) -> list[CaughtEmail]:
        return [m for m in self.messages if address in m.rcpt_tos]

    def clear(self) -> None:
        """Forget received messages, connection count and injected faults."""
        with self._lock:
            self._messages.clear()
            self._connections = 0
            self._bounces.clear()
            self._temporary_failures = 0
            self._down_after = None

    # -- fault injection -----------------------------------------------------------------------------

    def bounce(self, *addresses: str) -> None:
        """These recipients are answered 550 (a hard bounce)."""
        with self._lock:
            self._bounces.update(a.lower() for a in addresses)

    def fail_next(self, count: int) -> None:
        """The next ``count`` recipients are answered 451 (try again later)."""
        with self._lock:
            self._temporary_failures = count

    def go_down_after(self, count: int) -> None:
        """After ``count`` more accepted messages, drop all connections and stop listening."""
        with self._lock:
            self._down_after = count

    # -- aiosmtpd handler hooks (run in the catcher's thread) ----------------------------------------

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        # Counted at the greeting, so the probe aiosmtpd makes while starting is not a connection.
        if isinstance(server, _Protocol) and not server.connection_number:
            server.connection_number = self._greeted()
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        with self._lock:
            if address.lower() in self._bounces:
                return f"550 5.1.1 <{address}>: mailbox unavailable"
            if self._temporary_failures > 0:
                self._temporary_failures -= 1
                return "451 4.3.0 Temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)
        number = server.connection_number if isinstance(server, _Protocol) else 0
        caught = _parse(envelope, number)
        with self._lock:
            self._messages.append(caught)
            if self._down_after is not None:
                self._down_after -= 1
                if self._down_after <= 0:
                    self._down_after = None
                    # After the 250 below is written: close() flushes it before the connection drops.
                    asyncio.get_running_loop().call_soon(self._go_down, self._controller)
        return "250 OK: queued"

    def _connected(self, transport: asyncio.BaseTransport) -> None:
        with self._lock:
            self._transports.add(transport)

    def _greeted(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def _disconnected(self, transport: asyncio.BaseTransport | None) -> None:
        with self._lock:
            if transport is not None:
                self._transports.discard(transport)

    def _go_down(self, controller: _Controller | None) -> None:
        server = controller.server if controller is not None else None
        if server is not None:
            server.close()
        with self._lock:
            transports = list(self._transports)
        for transport in transports:
            transport.close()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
