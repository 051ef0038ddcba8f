"""From a parsed CAP alert of one source to one normalised warning (hazard, severity, texts, places)."""

from __future__ import annotations

from typing import Any

from official_warnings import catalog
from official_warnings.areas import Place, codes_from_geocodes, codes_from_geometry
from official_warnings.models import Normalised, Severity, Texts
from official_warnings.parsing import SEVERITIES, Alert

#: licence and attribution each source asks for, shown with every warning of it
LICENCES = {
    "dwd": ("GeoNutzV", "Datenbasis: Deutscher Wetterdienst"),
    "meteoalarm": ("CC BY 4.0", "MeteoAlarm (EUMETNET)"),
    "nina": (
        "Datenlizenz Deutschland – Namensnennung – 2.0",
        "Bundesamt für Bevölkerungsschutz und Katastrophenhilfe (NINA)",
    ),
}

#: feed kind → source
SOURCE_OF_KIND = {"cap-atom": "meteoalarm", "dwd": "dwd", "nina": "nina"}


def _number(value: str) -> str:
    return value.split(";")[0].strip()


def normalise(alert: Alert, source: str, places: list[Place]) -> Normalised:
    """One warning from one source; the municipalities from its codes, else from its geometry."""
    infos = alert.infos
    first = infos[0] if infos else None
    texts: dict[str, Texts] = {}
    for info in infos:
        lang = info.language[:2].lower()
        if lang in texts or not (info.headline or info.description or info.event):
            continue
        texts[lang] = Texts(
            event=info.event,
            headline=info.headline or info.event,
            description=info.description,
            instruction=info.instruction,
            web=info.web,
        )
    codes = first.event_codes if first else {}
    params = first.parameters if first else {}
    severity: Severity = SEVERITIES.get(first.severity if first else "", "minor")  # type: ignore[assignment]
    level: str | None = None
    event_code: str | None = None
    if source == "dwd" or (source == "nina" and "II" in codes):
        event_code = codes.get("II") or None
        hazard = catalog.DWD_EVENTS.get(event_code or "", "other")
    elif source == "meteoalarm":
        awareness_type = params.get("awareness_type", "")
        event_code = awareness_type or None
        hazard = catalog.METEOALARM_TYPES.get(_number(awareness_type), "other")
        level = catalog.METEOALARM_LEVELS.get(_number(params.get("awareness_level", "")))
    else:
        event_code = next(iter(codes.values()), None) or None
        words = [i.event for i in infos] + [i.headline for i in infos]
        hazard = catalog.hazard_from_words(*words)
    geocodes = [g for info in infos for g in info.geocodes]
    polygons = [p for info in infos for p in info.polygons]
    circles = [c for info in infos for c in info.circles]
    covered = codes_from_geocodes(geocodes, places)
    if not covered:
        covered = codes_from_geometry(polygons, circles, places)
    area: dict[str, Any] = {
        "geocodes": sorted({(n, v) for n, v in geocodes})[:2000],
        "polygons": polygons[:50],
        "circles": circles[:50],
    }
    licence, attribution = LICENCES[source]
    licence_note = codes.get("LICENSE")
    if licence_note:
        attribution = f"{attribution}; {licence_note[:200]}"
    return Normalised(
        source=source,
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.sent,
        status=alert.status,
        msg_type=alert.msg_type,
        refs=alert.references,
        event_code=event_code[:100] if event_code else None,
        hazard=hazard,
        severity=severity,
        level=level or catalog.LEVEL_OF_SEVERITY[severity],
        urgency=first.urgency if first else "Unknown",
        certainty=first.certainty if first else "Unknown",
        onset=(first.onset or first.effective) if first else None,
        effective=first.effective if first else None,
        expires=first.expires if first else None,
        texts=texts,
        area_desc=(first.area_desc if first else "")[:500],
        area=area,
        municipality_codes=sorted(covered),
        licence=licence,
        attribution=attribution,
    )
