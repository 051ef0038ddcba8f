"""Composing email: notifications and digests rendered once per language, then per recipient as wire bytes."""

from __future__ import annotations

import binascii
import copy
import functools
import html
import io
import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import idna
import jinja2
import msgspec

import i18n
from i18n.content import Localized
from i18n.formatting import format_date, format_time

Priority = Literal["info", "important", "urgent"]
DigestKind = Literal["daily", "weekly"]

TEMPLATES = Path(__file__).parent / "templates" / "email"
#: how much of each post a digest shows before "Read it in the app"
DIGEST_EXCERPT = 400

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


def encoded_header(name: str, value: str) -> bytes:
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
                encoded_header("Subject", subject),
                encoded_header("Content-Language", content_language),
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
