"""The email channel: notifications and digests rendered once per language, sent over pooled SMTP connections."""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import copy
import functools
import html
import io
import secrets
import ssl
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import aiosmtplib
import idna
import jinja2
import msgspec

import i18n
from i18n.content import Localized
from i18n.formatting import format_date, format_time
from messaging.metrics import observe_send

Priority = Literal["info", "important", "urgent"]
DigestKind = Literal["daily", "weekly"]
SendStatus = Literal["sent", "retry", "permanent"]
#: where a send failed: reaching the server (connect, TLS, login, dropped line), answering one command, or
#: an address this server cannot take (non-ASCII without SMTPUTF8)
SendStage = Literal["connection", "sender", "recipient", "data", "address"]

TEMPLATES = Path(__file__).parent / "templates" / "email"
#: how much of each post a digest shows before "Read it in the app"
DIGEST_EXCERPT = 400
#: a pooled connection idle longer than this is checked with NOOP before a batch uses it (always, by
#: default: a round trip per batch is cheaper than a message failing on a line the server has closed)
IDLE_CHECK_SECONDS = 0.0
#: messages a batch gives each connection before it opens another one (up to the pool size)
MESSAGES_PER_CONNECTION = 50

# SMTP line endings and folding, except that headers we store pre-folded (List-Unsubscribe) stay as
# they are: folding would turn a long URL into an encoded word that mail clients cannot follow.
_POLICY = policy.SMTP.clone(refold_source="none")

# Random per process, so no text written by a user can contain it and be replaced.
_UNSUBSCRIBE_MARK = f"hub-unsubscribe-{secrets.token_hex(8)}"


class EmailView(msgspec.Struct, frozen=True, kw_only=True):
    """One notification as a reader of one language sees it (content already picked for that language)."""

    title: Localized
    body: Localized
    sender: Localized
    sent_at: datetime
    link_url: str
    priority: Priority = "info"
    #: why this address gets email: its owner's settings, someone invited an address without an account,
    #: or the address was given for an account (welcome, verification, password reset)
    reason: Literal["settings", "invited", "account"] = "settings"


class DigestPeriod(msgspec.Struct, frozen=True, kw_only=True):
    """The days a digest covers (``start`` = ``end`` for a daily one), as dates of the reader's zone."""

    kind: DigestKind
    start: date
    end: date


class OutgoingEmail(msgspec.Struct, frozen=True):
    """One person's message as it goes on the wire (CRLF, 7-bit), without ``From``, which the Mailer adds."""

    recipient: str
    data: bytes

    @classmethod
    def from_message(cls, recipient: str, message: EmailMessage) -> OutgoingEmail:
        """Any other message (its ``From`` is replaced by the Mailer's)."""
        message = copy.copy(message)
        del message["From"]
        with io.BytesIO() as out:
            BytesGenerator(out, policy=_POLICY).flatten(message)
            return cls(recipient, out.getvalue())

    def parsed(self, mail_from: str = "") -> EmailMessage:
        """The message as a mail client reads it, for checks and previews."""
        head = f"From: {mail_from}\r\n".encode() if mail_from else b""
        message = message_from_bytes(head + self.data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


def _header(name: str, value: str) -> bytes:
    """One header, RFC 2047-encoded and folded by the standard library."""
    return _POLICY.fold_binary(name, _POLICY.header_store_parse(name, value)[1])


def _quoted_printable(value: str) -> bytes:
    encoded = binascii.b2a_qp(value.replace("\r\n", "\n").encode(), istext=True)
    return encoded.replace(b"\n", b"\r\n")


def smtp_address(address: str) -> str | None:
    """The address as it goes into an SMTP envelope: an internationalised domain in its ASCII (IDNA) form;
    a non-ASCII local part stays as it is and needs a server that offers SMTPUTF8. None if it cannot be
    written at all."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain or any(c in address for c in "\r\n<> \t"):
        return None
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
    return f"{local}@{domain}"


def _safe_in_header(*values: str) -> None:
    for value in values:
        if not value.isascii() or any(c in value for c in "\r\n<> "):
            raise ValueError(f"not usable in a header: {value!r}")


class RenderedEmail(msgspec.Struct, frozen=True, kw_only=True):
    """An email rendered for every reader of one language; ``for_recipient`` fills in the per-person parts.

    The costly work (templates, translations, subject encoding) is done once; a recipient costs a few
    string replacements and a quoted-printable pass, a few tens of microseconds.
    """

    locale: str
    subject: str
    text: str
    html: str
    content_language: str
    head: bytes
    boundary: str

    @classmethod
    def build(
        cls, *, locale: str, subject: str, text: str, html: str, content_language: str
    ) -> RenderedEmail:
        boundary = f"=_hub_{secrets.token_hex(12)}"  # "=" never occurs in quoted-printable text
        head = b"".join(
            [
                _header("Subject", subject),
                _header("Content-Language", content_language),
                b"Auto-Submitted: auto-generated\r\n",
                b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                b"MIME-Version: 1.0\r\n",
                f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode(),
            ]
        )
        return cls(
            locale=locale,
            subject=subject,
            text=text,
            html=html,
            content_language=content_language,
            head=head,
            boundary=boundary,
        )

    def shown(self, unsubscribe_url: str) -> tuple[str, str]:
        """The text and HTML parts as a reader sees them, with ``unsubscribe_url`` filled in (for previews)."""
        return (
            self.text.replace(_UNSUBSCRIBE_MARK, unsubscribe_url),
            self.html.replace(_UNSUBSCRIBE_MARK, html.escape(unsubscribe_url, quote=True)),
        )

    def for_recipient(
        self,
        address: str,
        unsubscribe_url: str,
        unsubscribe_mailto: str,
        *,
        message_id: str | None = None,
        sent: datetime | None = None,
    ) -> OutgoingEmail:
        """The message for one person. Pass a stable ``message_id`` (from the delivery id) so a message
        sent again after a retry keeps its id; the default is a new one."""
        _safe_in_header(unsubscribe_url, unsubscribe_mailto)
        if any(c in address for c in "\r\n<> \t"):
            raise ValueError(f"not usable in a header: {address!r}")
        if "@" not in address:
            raise ValueError(f"not an email address: {address!r}")
        message_id = message_id or make_msgid(domain=urlsplit(unsubscribe_url).hostname or "localhost")
        if not message_id.isascii() or "\r" in message_id or "\n" in message_id:
            raise ValueError(f"not usable as a Message-ID: {message_id!r}")
        text = self.text.replace(_UNSUBSCRIBE_MARK, unsubscribe_url)
        page = self.html.replace(_UNSUBSCRIBE_MARK, html.escape(unsubscribe_url, quote=True))
        boundary = self.boundary.encode()
        data = b"".join(
            [
                f"To: {address}\r\n".encode(),
                f"Date: {format_datetime(sent or datetime.now(UTC))}\r\n".encode(),
                f"Message-ID: {message_id}\r\n".encode(),
                f"List-Unsubscribe: <{unsubscribe_url}>,\r\n <{unsubscribe_mailto}>\r\n".encode(),
                self.head,
                b"\r\n--",
                boundary,
                b'\r\nContent-Type: text/plain; charset="utf-8"\r\n',
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                _quoted_printable(text),
                b"\r\n--",
                boundary,
                b'\r\nContent-Type: text/html; charset="utf-8"\r\n',
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                _quoted_printable(page),
                b"\r\n--",
                boundary,
                b"--\r\n",
            ]
        )
        return OutgoingEmail(address, data)


class _Item(msgspec.Struct, frozen=True, kw_only=True):
    """What the templates show of one notification."""

    title: str
    title_lang: str
    body: str
    body_lang: str
    excerpt: str
    sender: str
    date: str
    time: str
    link_url: str
    priority: Priority
    fallback_lang: str | None


def _paragraphs(value: str) -> list[list[str]]:
    """Plain text as paragraphs of lines, for the HTML part (each line is escaped by the template)."""
    blocks = value.replace("\r\n", "\n").replace("\r", "\n").split("\n\n")
    return [lines for block in blocks if (lines := [line.rstrip() for line in block.strip("\n").split("\n")])]


def _excerpt(value: str) -> str:
    value = value.strip()
    if len(value) <= DIGEST_EXCERPT:
        return value
    cut = value[:DIGEST_EXCERPT].rsplit(None, 1)[0]
    return f"{cut.rstrip(' .,;:')} …"


@functools.cache
def _environment(locale: str) -> jinja2.Environment:
    """One template environment per locale with that locale's catalogs; text templates are not escaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=("txt.j2",), default=True
        ),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["paragraphs"] = _paragraphs
    return env


def _reader_locale(locale: str) -> str:
    return locale if locale in i18n.LOCALES else i18n.DEFAULT_LOCALE


def _item(locale: str, view: EmailView) -> _Item:
    fallback = view.body if view.body.fallback else view.title if view.title.fallback else None
    return _Item(
        title=" ".join(view.title.text.split()),
        title_lang=view.title.lang,
        body=view.body.text.strip(),
        body_lang=view.body.lang,
        excerpt=_excerpt(view.body.text),
        sender=view.sender.text,
        date=format_date(view.sent_at, locale, "full"),
        time=format_time(view.sent_at, locale),
        link_url=view.link_url,
        priority=view.priority,
        fallback_lang=fallback.lang if fallback is not None else None,
    )


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _content_language(locale: str, items: Sequence[_Item]) -> str:
    languages = [locale]
    for item in items:
        for lang in (item.title_lang, item.body_lang):
            if lang not in languages:
                languages.append(lang)
    return ", ".join(languages)


def render_notification(locale: str, view: EmailView) -> RenderedEmail:
    """Render one notification for every reader of ``locale`` (fr, de or en)."""
    locale = _reader_locale(locale)
    env = _environment(locale)
    item = _item(locale, view)
    context = {
        "locale": locale,
        "item": item,
        "priority": view.priority,
        "title": item.title,
        "reason": view.reason,
    }
    subject = _one_line(env.get_template("notification_subject.txt.j2").render(context))
    context |= {"subject": subject, "unsubscribe_url": _UNSUBSCRIBE_MARK}
    return RenderedEmail.build(
        locale=locale,
        subject=subject,
        text=env.get_template("notification.txt.j2").render(context),
        html=env.get_template("notification.html.j2").render(context),
        content_language=_content_language(locale, [item]),
    )


def render_digest(locale: str, items: Sequence[EmailView], period: DigestPeriod) -> RenderedEmail:
    """Render a daily or weekly digest of several notifications for every reader of ``locale``."""
    locale = _reader_locale(locale)
    env = _environment(locale)
    shown = [_item(locale, view) for view in items]
    subject = _one_line(
        env.get_template("digest_subject.txt.j2").render(
            kind=period.kind,
            start=format_date(period.start, locale, "long"),
            end=format_date(period.end, locale, "long"),
        )
    )
    context = {
        "locale": locale,
        "items": shown,
        "subject": subject,
        "unsubscribe_url": _UNSUBSCRIBE_MARK,
        "reason": "settings",
    }
    return RenderedEmail.build(
        locale=locale,
        subject=subject,
        text=env.get_template("digest.txt.j2").render(context),
        html=env.get_template("digest.html.j2").render(context),
        content_language=_content_language(locale, shown),
    )


# -- sending -----------------------------------------------------------------------------------------


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
        self._from_header = _header("From", mail_from)
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
