"""Sending email: batches of composed messages over a small pool of reused SMTP connections, one outcome each."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import Sequence
from email.utils import parseaddr
from typing import Literal

import aiosmtplib
import msgspec

from messaging.email import OutgoingEmail, encoded_header
from messaging.metrics import observe_send

SendStatus = Literal["sent", "retry", "permanent"]
#: where a send failed: reaching the server (connect, TLS, login, dropped line), answering one command, or
#: an address this server cannot take (non-ASCII without SMTPUTF8)
SendStage = Literal["connection", "sender", "recipient", "data", "address"]

#: a pooled connection idle longer than this is checked with NOOP before a batch uses it (always, by
#: default: a round trip per batch is cheaper than a message failing on a line the server has closed)
IDLE_CHECK_SECONDS = 0.0
#: messages a batch gives each connection before it opens another one (up to the pool size)
MESSAGES_PER_CONNECTION = 50


class EmailOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one message: sent, to be retried later, or refused for good."""

    recipient: str
    status: SendStatus
    error: str | None = None
    smtp_code: int | None = None
    stage: SendStage | None = None

    @property
    def hard_bounce(self) -> bool:
        """The server refused this recipient for good (e.g. 550 no such mailbox)."""
        return self.status == "permanent" and self.stage == "recipient"

    @property
    def provider_failure(self) -> bool:
        """The server could not be reached or used (or is closing: 421), whoever the recipient was."""
        return self.status == "retry" and (self.stage == "connection" or self.smtp_code == 421)


class _Pooled:
    """An SMTP connection and when it was last used."""

    __slots__ = ("client", "last_used")

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self.client = client
        self.last_used = time.monotonic()


class _Batch:
    """Shared state of one ``send_many`` call across its connections."""

    __slots__ = ("live", "outcomes", "pending", "unreachable")

    def __init__(self, size: int) -> None:
        self.pending: deque[int] = deque(range(size))
        self.outcomes: list[EmailOutcome | None] = [None] * size
        self.live = 0
        self.unreachable: EmailOutcome | None = None


def _status_for(code: int | None) -> SendStatus:
    return "permanent" if code is not None and 500 <= code < 600 else "retry"


def _outcome(recipient: str, exc: BaseException, stage: SendStage) -> EmailOutcome:
    """Classify a failure: 5xx is permanent; 4xx, lost connections and timeouts are retried later."""
    code: int | None = None
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        code, text, stage = refused.code, refused.message, "recipient"
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        code, text = exc.code, exc.message
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            stage = "sender"
    else:
        text = str(exc) or type(exc).__name__
    # A server that cannot be reached or that we may not use (TLS, login) is not the recipient's fault.
    status = "retry" if stage == "connection" else _status_for(code)
    return EmailOutcome(recipient=recipient, status=status, error=text, smtp_code=code, stage=stage)


_CONNECTION_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)


class Mailer:
    """Sends batches of messages over a small pool of reused SMTP connections.

    Nothing here waits or retries: every message gets an outcome and the pipeline schedules retries.
    With ``starttls`` the connection must be upgraded (certificates checked against ``tls_context`` or the
    system's); a server that does not offer STARTTLS gets nothing.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        mail_from: str,
        pool_size: int = 4,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        envelope_from = parseaddr(mail_from)[1]
        if "@" not in envelope_from:
            raise ValueError(f"mail_from has no address: {mail_from!r}")
        self.host = host
        self.port = port
        self.mail_from = mail_from
        self.envelope_from = envelope_from
        self.pool_size = max(1, pool_size)
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._tls_context = tls_context
        self._helo_name = envelope_from.rsplit("@", 1)[1]
        self._from_header = encoded_header("From", mail_from)
        self._idle: list[_Pooled] = []
        self._slots: asyncio.Semaphore | None = None
        #: connections opened since start, for monitoring and tests
        self.connections_opened = 0

    async def start(self) -> None:
        """Get ready to send; connections are opened on first use, so a mail server that is down
        does not keep the hub from starting."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.pool_size)

    async def close(self) -> None:
        """Say goodbye on every idle connection."""
        idle, self._idle = self._idle, []
        for pooled in idle:
            await self._discard(pooled, polite=True)

    async def __aenter__(self) -> Mailer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def send_many(self, messages: Sequence[OutgoingEmail]) -> list[EmailOutcome]:
        """Send every message once; the outcomes are in the same order as the messages."""
        if not messages:
            return []
        await self.start()
        batch = _Batch(len(messages))
        share = -(-len(messages) // MESSAGES_PER_CONNECTION)
        workers = min(self.pool_size, max(share, min(len(self._idle), len(messages))))
        await asyncio.gather(*(self._work(messages, batch) for _ in range(workers)))
        return [
            outcome
            or EmailOutcome(recipient=item.recipient, status="retry", error="not sent", stage="connection")
            for item, outcome in zip(messages, batch.outcomes, strict=True)
        ]

    async def _work(self, messages: Sequence[OutgoingEmail], batch: _Batch) -> None:
        assert self._slots is not None
        async with self._slots:
            pooled: _Pooled | None = None
            try:
                while batch.pending:
                    index = batch.pending.popleft()
                    item = messages[index]
                    if batch.unreachable is not None:
                        batch.outcomes[index] = msgspec.structs.replace(
                            batch.unreachable, recipient=item.recipient
                        )
                        continue
                    if pooled is None:
                        try:
                            pooled = await self._checkout()
                        except _CONNECTION_ERRORS as exc:
                            if batch.live > 0:
                                # Other connections work (this one may have hit a connection limit):
                                # leave the message to them.
                                batch.pending.appendleft(index)
                                return
                            batch.unreachable = _outcome(item.recipient, exc, "connection")
                            batch.outcomes[index] = batch.unreachable
                            continue
                        batch.live += 1
                    started = time.perf_counter()
                    batch.outcomes[index] = outcome = await self._send_one(pooled, item)
                    observe_send("email", time.perf_counter() - started, outcome.status)
                    if not pooled.client.is_connected:
                        batch.live -= 1
                        await self._discard(pooled, polite=False)
                        pooled = None
            finally:
                if pooled is not None:
                    batch.live -= 1
                    pooled.last_used = time.monotonic()
                    self._idle.append(pooled)

    async def _send_one(self, pooled: _Pooled, item: OutgoingEmail) -> EmailOutcome:
        # A non-ASCII mailbox (RFC 6531) goes only to a server that offers SMTPUTF8.
        options = [] if item.recipient.isascii() else ["SMTPUTF8"]
        try:
            await pooled.client.sendmail(
                self.envelope_from, [item.recipient], self._from_header + item.data, mail_options=options
            )
        except ValueError as exc:  # an address that cannot be written in an SMTP envelope
            return EmailOutcome(recipient=item.recipient, status="permanent", error=str(exc), stage="address")
        except aiosmtplib.SMTPNotSupported as exc:  # e.g. a non-ASCII address and no SMTPUTF8
            return EmailOutcome(recipient=item.recipient, status="permanent", error=str(exc), stage="address")
        except aiosmtplib.SMTPHeloError as exc:
            pooled.client.close()
            return _outcome(item.recipient, exc, "connection")
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
            if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421:
                pooled.client.close()  # 421: the server is closing this connection
            return _outcome(item.recipient, exc, "data")
        except _CONNECTION_ERRORS as exc:
            # After a timeout or a dropped line the state of the session is unknown: start afresh.
            pooled.client.close()
            return _outcome(item.recipient, exc, "connection")
        return EmailOutcome(recipient=item.recipient, status="sent", smtp_code=250)

    async def _checkout(self) -> _Pooled:
        """An idle connection that still answers, or a new one."""
        while self._idle:
            pooled = self._idle.pop()
            if not pooled.client.is_connected:
                continue
            if time.monotonic() - pooled.last_used < IDLE_CHECK_SECONDS:
                return pooled
            try:
                await pooled.client.noop()
                return pooled
            except _CONNECTION_ERRORS:
                await self._discard(pooled, polite=False)
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self._username,
            password=self._password,
            start_tls=self._starttls,
            timeout=self._timeout,
            local_hostname=self._helo_name,
            tls_context=self._tls_context,
        )
        await client.connect()
        self.connections_opened += 1
        return _Pooled(client)

    async def _discard(self, pooled: _Pooled, *, polite: bool) -> None:
        if polite and pooled.client.is_connected:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await pooled.client.quit()
        pooled.client.close()
