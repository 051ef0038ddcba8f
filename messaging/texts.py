"""What a notification says to one reader: title, body and sender in their language, the push text, email links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from i18n import N_, translate
from i18n.content import Bilingual, Localized, pick
from i18n.formatting import format_datetime

#: shown before a push text that is not in the reader's language, by the language it is in
FALLBACK_NOTE = {"fr": N_("(in French only)"), "de": N_("(in German only)")}
DEFAULT_SENDER = N_("Hub Pays de Bitche")

#: paths the hub serves as pages itself (the account links); every other deep link is a path of the app,
#: which the hub's landing page under ``OPEN_PREFIX`` offers to open in the app
HUB_PAGES = ("/verify-email", "/reset-password")
OPEN_PREFIX = "/open"


class StoredTexts(msgspec.Struct, frozen=True):
    """A notification's texts as stored: bilingual user content, or catalog messages (``message``, JSON)."""

    title_fr: str | None = None
    title_de: str | None = None
    body_fr: str | None = None
    body_de: str | None = None
    message: str | None = None
    sender_name_fr: str | None = None
    sender_name_de: str | None = None


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


def message_text(locale: str, message: dict[str, Any]) -> Localized:
    """A catalog message (msgid and params) translated for the reader; dates formatted in their locale."""
    params: dict[str, object] = {}
    for key, value in message.get("params", {}).items():
        if isinstance(value, dict) and "datetime" in value:
            params[key] = format_datetime(datetime.fromisoformat(value["datetime"]), locale, "short")
        else:
            params[key] = value
    return Localized(text=translate(locale, message["msgid"], **params), lang=locale, fallback=False)


def default_sender(locale: str) -> Localized:
    """The sender named when a notification names none: the hub itself."""
    return Localized(text=translate(locale, DEFAULT_SENDER), lang=locale, fallback=False)


def texts_for(stored: StoredTexts, locale: str) -> Texts:
    """Title, body and sender name in the reader's language (or the other one, marked as fallback)."""
    messages = msgspec.json.decode(stored.message) if stored.message else {}
    title = (
        message_text(locale, messages["title"])
        if "title" in messages
        else pick(Bilingual(fr=stored.title_fr, de=stored.title_de), locale)
    )
    body = (
        message_text(locale, messages["body"])
        if "body" in messages
        else pick(Bilingual(fr=stored.body_fr, de=stored.body_de), locale)
    )
    sender = pick(Bilingual(fr=stored.sender_name_fr, de=stored.sender_name_de), locale)
    if not sender.text:
        sender = default_sender(locale)
    return Texts(title=title, body=body, sender=sender)


def push_text(texts: Texts, locale: str) -> tuple[str, str]:
    """The push title and body; text shown in the other language says so."""
    body = texts.body.text
    if texts.body.fallback or texts.title.fallback:
        note = translate(locale, FALLBACK_NOTE[texts.body.lang if texts.body.lang in FALLBACK_NOTE else "fr"])
        body = f"{note} {body}"
    if len(body) > 240:
        body = body[:239] + "…"
    return texts.title.text[:120], body
