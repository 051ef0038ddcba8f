"""The closed catalogue of hazards and severities, and the texts the hub renders from it (never a translation)."""

from __future__ import annotations

from datetime import datetime

from i18n import N_, translate
from i18n.formatting import format_datetime

SEVERITY_RANK = {"minor": 1, "moderate": 2, "severe": 3, "extreme": 4}

#: what a reader is told of the level: the colour the source itself gave (DWD's violet is its extreme level)
LEVELS = {
    "yellow": N_("Yellow warning"),
    "orange": N_("Orange warning"),
    "red": N_("Red warning"),
    "violet": N_("Extreme danger warning"),
}

#: DWD's (and NINA's) scale: the CAP severity gives the colour
LEVEL_OF_SEVERITY = {"minor": "yellow", "moderate": "orange", "severe": "red", "extreme": "violet"}

HAZARDS = {
    "thunderstorm": N_("thunderstorms"),
    "wind": N_("gales"),
    "rain": N_("heavy rain"),
    "snow": N_("snow"),
    "ice": N_("black ice"),
    "cold": N_("frost and cold"),
    "fog": N_("fog"),
    "heat": N_("heat"),
    "uv": N_("strong UV radiation"),
    "thaw": N_("thaw"),
    "flood": N_("flooding"),
    "fire": N_("fire"),
    "hazmat": N_("hazardous substances"),
    "civil": N_("danger to the population"),
    "other": N_("other danger"),
}

SOURCE_NAMES = {"dwd": "DWD", "meteoalarm": "MeteoAlarm", "nina": "NINA (BBK)"}

#: DWD "II" event codes (closed list of the DWD CAP profile) → hazard
DWD_EVENTS: dict[str, str] = {
    **dict.fromkeys(["22", "82"], "cold"),
    **dict.fromkeys(["24", "84", "85", "87"], "ice"),
    **dict.fromkeys(
        ["31", "33", "34", "36", "38", "40", "41", "42", "44", "45", "46", "48", "49"], "thunderstorm"
    ),
    **dict.fromkeys(["90", "91", "92", "93", "95", "96"], "thunderstorm"),
    **dict.fromkeys(["11", "12", "13", "51", "52", "53", "54", "55", "56", "57", "58", "79"], "wind"),
    "59": "fog",
    **dict.fromkeys(["61", "62", "63", "64", "65", "66"], "rain"),
    **dict.fromkeys(["70", "71", "72", "73", "74", "75", "76", "77", "78"], "snow"),
    **dict.fromkeys(["88", "89"], "thaw"),
    "246": "uv",
    **dict.fromkeys(["247", "248"], "heat"),
    **dict.fromkeys(["98", "99"], "other"),
}

#: MeteoAlarm ``awareness_type`` numbers → hazard
METEOALARM_TYPES = {
    "1": "wind",
    "2": "snow",
    "3": "thunderstorm",
    "4": "fog",
    "5": "heat",
    "6": "cold",
    "7": "flood",
    "8": "fire",
    "9": "snow",
    "10": "rain",
    "12": "flood",
    "13": "flood",
}

#: MeteoAlarm ``awareness_level`` numbers → colour (1 green is no warning, shown as yellow)
METEOALARM_LEVELS = {"1": "yellow", "2": "yellow", "3": "orange", "4": "red"}

#: words of German civil-protection event names → hazard (NINA: MoWaS, KATWARN, BIWAPP, floods)
_KEYWORDS = (
    ("hochwasser", "flood"),
    ("überschwemmung", "flood"),
    ("pegel", "flood"),
    ("brand", "fire"),
    ("feuer", "fire"),
    ("rauch", "fire"),
    ("gefahrstoff", "hazmat"),
    ("chemie", "hazmat"),
    ("gas", "hazmat"),
    ("gewitter", "thunderstorm"),
    ("sturm", "wind"),
    ("orkan", "wind"),
    ("hitze", "heat"),
    ("frost", "cold"),
    ("kälte", "cold"),
    ("glätte", "ice"),
    ("glatteis", "ice"),
    ("schnee", "snow"),
    ("starkregen", "rain"),
    ("regen", "rain"),
    ("nebel", "fog"),
)


def hazard_from_words(*texts: str) -> str:
    folded = " ".join(texts).casefold()
    for word, hazard in _KEYWORDS:
        if word in folded:
            return hazard
    return "civil"


def level_name(locale: str, level: str) -> str:
    return translate(locale, LEVELS.get(level, LEVELS["yellow"]))


def hazard_name(locale: str, hazard: str) -> str:
    return translate(locale, HAZARDS.get(hazard, HAZARDS["other"]))


TITLE_UNTIL = N_("{level} – {hazard} – {area} – until {until}")
TITLE = N_("{level} – {hazard} – {area}")
DESCRIPTION_UNTIL = N_(
    "{source} warns of {hazard} for {area} from {onset} until {until}. Level: {level}. "
    "The warning itself is below, as published, in {language}."
)
DESCRIPTION = N_(
    "{source} warns of {hazard} for {area} from {onset}. Level: {level}. "
    "The warning itself is below, as published, in {language}."
)
INSTRUCTION = N_("Follow the instructions of the authorities and the original warning below.")
LANGUAGE_NAMES = {"de": N_("German"), "fr": N_("French"), "en": N_("English")}
ORIGINAL_NOTE = N_("Original in {language}:")
SOURCES_NOTE = N_("Source: {sources}")
ALL_CLEAR_TITLE = N_("All clear – {hazard} – {area}")
ALL_CLEAR_BODY = N_("The warning of {hazard} for {area} has been lifted by {source}.")
EXERCISE_TITLE = N_("EXERCISE – not a real warning: {headline}")
EXERCISE_BODY = N_(
    "This is an exercise or test message from {source}. It was sent only to hub administrators and "
    "care provider staff; residents were not notified."
)
CARE_TITLE = N_("{level} – {hazard}: {count} of your clients concerned")
CARE_BODY = N_(
    "{source} has issued a warning of {hazard} for {area}. {count} of your clients with a daily check-in "
    "live there or follow these places. Please think of them."
)


def _time(locale: str, when: datetime) -> str:
    return format_datetime(when, locale, "short")


def rendered_title(locale: str, *, level: str, hazard: str, area: str, expires: datetime | None) -> str:
    """'Orange warning – thunderstorms – Saarpfalz-Kreis – until …' in the reader's language."""
    params = {"level": level_name(locale, level), "hazard": hazard_name(locale, hazard), "area": area}
    if expires is not None:
        return translate(locale, TITLE_UNTIL, until=_time(locale, expires), **params)
    return translate(locale, TITLE, **params)


def rendered_description(
    locale: str,
    *,
    source: str,
    level: str,
    hazard: str,
    area: str,
    onset: datetime,
    expires: datetime | None,
    original_lang: str,
) -> str:
    params = {
        "source": SOURCE_NAMES.get(source, source),
        "hazard": hazard_name(locale, hazard),
        "area": area,
        "onset": _time(locale, onset),
        "level": level_name(locale, level),
        "language": translate(locale, LANGUAGE_NAMES.get(original_lang, LANGUAGE_NAMES["de"])),
    }
    if expires is not None:
        return translate(locale, DESCRIPTION_UNTIL, until=_time(locale, expires), **params)
    return translate(locale, DESCRIPTION, **params)
