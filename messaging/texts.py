"""What a notification says to one reader: title, body and sender in their language, the push text, email links."""

from __future__ import annotations

import msgspec

from i18n import N_, translate
from i18n.content import Bilingual, Localized, pick
from i18n.formatting import format_datetime
from messaging.models import CatalogText, Moment, NotificationContent, StoredText

#: shown before a push text that is not in the reader's language, by the language it is in
FALLBACK_NOTE = {"fr": N_("(in French only)"), "de": N_("(in German only)")}
DEFAULT_SENDER = N_("Hub Pays de Bitche")

#: paths the hub serves as pages itself (the account links); every other deep link is a path of the app,
#: which the hub's landing page under ``OPEN_PREFIX`` offers to open in the app
HUB_PAGES = ("/verify-email", "/reset-password")
OPEN_PREFIX = "/open"


class Texts(msgspec.Struct, frozen=True):
    title: Localized
    body: Localized
    sender: Localized


def email_link(public_url: str, deep_link: str) -> str:
    """The address an email's button points to: always a page the hub answers, never an app-only path."""
    path = deep_link.split("?", 1)[0]
    if path in HUB_PAGES:
        return f"{public_url}{deep_link}"
    return f"{public_url}{OPEN_PREFIX}{deep_link if deep_link.startswith('/') else '/' + deep_link}"


def message_text(locale: str, message: CatalogText) -> Localized:
    """A catalog sentence translated for the reader, its dates and times formatted in their locale."""
    params = {
        key: format_datetime(value.at, locale, "short") if isinstance(value, Moment) else value
        for key, value in message.params.items()
    }
    return Localized(text=translate(locale, message.msgid, **params), lang=locale, fallback=False)


def text_for(text: StoredText, locale: str) -> Localized:
    """A stored title or body in the reader's language (or the other one, marked as fallback)."""
    if isinstance(text, CatalogText):
        return message_text(locale, text)
    return pick(Bilingual(fr=text.fr, de=text.de), locale)


def default_sender(locale: str) -> Localized:
    """The sender named when a notification names none: the hub itself."""
    return Localized(text=translate(locale, DEFAULT_SENDER), lang=locale, fallback=False)


def texts_for(content: NotificationContent, locale: str) -> Texts:
    """Title, body and sender name in the reader's language (or the other one, marked as fallback)."""
    sender = text_for(content.sender_name, locale) if content.sender_name is not None else None
    if sender is None or not sender.text:
        sender = default_sender(locale)
    return Texts(title=text_for(content.title, locale), body=text_for(content.body, locale), sender=sender)


def push_text(texts: Texts, locale: str) -> tuple[str, str]:
    """The push title and body; text shown in the other language says so."""
    body = texts.body.text
    if texts.body.fallback or texts.title.fallback:
        note = translate(locale, FALLBACK_NOTE[texts.body.lang if texts.body.lang in FALLBACK_NOTE else "fr"])
        body = f"{note} {body}"
    if len(body) > 240:
        body = body[:239] + "…"
    return texts.title.text[:120], body
