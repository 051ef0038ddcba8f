"""Translations (gettext catalogs per package domain), locale negotiation and bilingual content."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES: tuple[str, ...] = ("fr", "de", "en")
CONTENT_LANGUAGES: tuple[str, ...] = ("fr", "de")
DEFAULT_LOCALE = "fr"
LOCALE_DIR = Path(__file__).parent / "locale"

#: the time zone in which a reader of each language is shown times (both are the same offset today,
#: but the choice belongs to the reader, not to the server).
TIME_ZONES: dict[str, str] = {"fr": "Europe/Paris", "de": "Europe/Berlin", "en": "Europe/Paris"}


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, at render time, for its reader."""
    return message


@functools.cache
def translations(locale: str) -> Translations:
    """Every catalog of one locale merged, compiled in memory from the .po files (no .mo to drift).

    Every ``.po`` file present is loaded, so a new domain adds its catalog file and nothing else here.
    """
    merged = Translations()
    for po_path in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        domain = po_path.stem
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=locale, domain=domain)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        merged.merge(Translations(fp=buffer, domain=domain))
    return merged


def gettext_for(locale: str) -> Callable[[str], str]:
    """The gettext function of one locale (unknown locales fall back to French)."""
    return translations(locale if locale in LOCALES else DEFAULT_LOCALE).gettext


def ngettext_for(locale: str) -> Callable[[str, str, int], str]:
    """The plural-aware gettext function of one locale."""
    return translations(locale if locale in LOCALES else DEFAULT_LOCALE).ngettext


def translate(locale: str, message: str, **params: object) -> str:
    """Translate a whole sentence for its reader and fill its named placeholders."""
    text = gettext_for(locale)(message)
    return text.format(**params) if params else text


def negotiate(
    lang: str | None = None, user_locale: str | None = None, accept_language: str | None = None
) -> str:
    """The reader's language: ``lang`` parameter, else the user's locale, else Accept-Language, else fr."""
    for candidate in (lang, user_locale):
        if candidate:
            code = candidate.strip().lower().replace("_", "-").split("-")[0]
            if code in LOCALES:
                return code
    if accept_language:
        preferred: list[tuple[float, str]] = []
        for index, part in enumerate(accept_language.split(",")):
            pieces = part.strip().split(";")
            tag = pieces[0].strip().replace("-", "_")
            quality = 1.0
            for param in pieces[1:]:
                name, _, value = param.strip().partition("=")
                if name == "q":
                    try:
                        quality = float(value)
                    except ValueError:
                        quality = 0.0
            if tag and quality > 0:
                preferred.append((-quality + index * 1e-6, tag))
        ordered = [tag for _, tag in sorted(preferred)]
        found = negotiate_locale(ordered, list(LOCALES), sep="_")
        if found:
            return found
    return DEFAULT_LOCALE


@functools.cache
def babel_locale(locale: str) -> Locale:
    """The Babel Locale for formatting dates and numbers for a reader (one per language and process: a
    new Locale loads its data again, which tripled the cost of a date in every email)."""
    return Locale.parse({"fr": "fr_FR", "de": "de_DE", "en": "en_GB"}.get(locale, "fr_FR"))
