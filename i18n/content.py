"""Bilingual user content: stored as {fr, de}, read in one language with a marked fallback."""

from __future__ import annotations

import msgspec


class Bilingual(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Text written in French, German or both (at least one is checked by ``require_text``)."""

    fr: str | None = None
    de: str | None = None
    fr_simple: str | None = None
    de_simple: str | None = None

    def is_empty(self) -> bool:
        return not ((self.fr or "").strip() or (self.de or "").strip())

    def longest(self) -> int:
        return max(len(v or "") for v in (self.fr, self.de, self.fr_simple, self.de_simple))

    def stripped(self) -> Bilingual:
        """The same text with surrounding blanks removed and blank variants dropped."""

        def clean(value: str | None) -> str | None:
            value = (value or "").strip()
            return value or None

        return Bilingual(
            fr=clean(self.fr),
            de=clean(self.de),
            fr_simple=clean(self.fr_simple),
            de_simple=clean(self.de_simple),
        )


class Localized(msgspec.Struct, frozen=True):
    """Text as one reader gets it: ``fallback`` is true when it is not in the language asked for."""

    text: str
    lang: str
    fallback: bool
    simple: str | None = None


def pick(content: Bilingual, lang: str) -> Localized:
    """The reader's language if written, else the other one marked as a fallback."""
    return localize(lang, content.fr, content.de, content.fr_simple, content.de_simple)


def localize(
    lang: str, fr: str | None, de: str | None, fr_simple: str | None = None, de_simple: str | None = None
) -> Localized:
    """``pick`` straight from the stored columns, for lists that render every row without a ``Bilingual``.

    French comes first for a reader of neither content language (and is then a fallback too).
    """
    if lang == "de":
        if de:
            return Localized(de, "de", False, de_simple)
        if fr:
            return Localized(fr, "fr", True, fr_simple)
    else:
        if fr:
            return Localized(fr, "fr", lang != "fr", fr_simple)
        if de:
            return Localized(de, "de", True, de_simple)
    return Localized("", lang, False)


_FOLD_SPECIAL = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d"})


def fold(text: str) -> str:
    """Case- and accent-insensitive form for search: 'Saargemünd' → 'saargemund', 'Bärenthal' → 'barenthal'.

    Hyphens, apostrophes and repeated blanks become single spaces, so 'lès-Bitche' matches 'les bitche'.
    """
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD_SPECIAL))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() else " " for c in stripped)
    return " ".join(cleaned.split())
