"""Strict readers of untrusted feed documents: CAP 1.2 XML, Atom feeds of CAP links, NINA JSON, DWD zips."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

import msgspec
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
MAX_TEXT = 8000  # characters kept of one free-text element
MAX_INFOS = 12
MAX_AREAS = 200
MAX_ZIP_MEMBERS = 2000
MAX_ZIP_MEMBER_BYTES = 512 * 1024
MAX_ZIP_TOTAL_BYTES = 32 * 1024 * 1024

STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SEVERITIES = {"Minor": "minor", "Moderate": "moderate", "Severe": "severe", "Extreme": "extreme"}


class FeedError(Exception):
    """A document that is not what its feed promises (garbage, hostile XML, missing required parts)."""


class Info(msgspec.Struct, frozen=True, kw_only=True):
    """One CAP ``info`` block: the texts in one language and what they say."""

    language: str
    event: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    severity: str = "Unknown"
    urgency: str = "Unknown"
    certainty: str = "Unknown"
    event_codes: dict[str, str] = {}
    parameters: dict[str, str] = {}
    onset: datetime | None = None
    effective: datetime | None = None
    expires: datetime | None = None
    web: str | None = None
    area_desc: str = ""
    geocodes: list[tuple[str, str]] = []
    polygons: list[str] = []
    circles: list[str] = []


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """A CAP alert as read: the envelope and its info blocks (one per language)."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    references: list[str] = []
    infos: list[Info] = []


def _text(element: Element | None, limit: int = MAX_TEXT) -> str:
    if element is None or element.text is None:
        return ""
    return element.text.strip()[:limit]


def parse_time(value: str) -> datetime:
    """An ISO 8601 time with an offset, as CAP requires (a time without one is refused)."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FeedError(f"bad time {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise FeedError("time without offset")
    return parsed


def _optional_time(element: Element | None) -> datetime | None:
    text = _text(element, 64)
    return parse_time(text) if text else None


def parse_xml(data: bytes) -> Element:
    """Parse untrusted XML refusing entities, DTDs and external references (XML bombs, XXE)."""
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise FeedError(f"not well-formed or hostile XML: {type(exc).__name__}") from None
    return root


def reference_identifiers(references: str) -> list[str]:
    """CAP ``references``: space-separated ``sender,identifier,sent`` triples; the identifiers."""
    found = []
    for triple in references.split():
        parts = triple.split(",")
        if len(parts) >= 2 and parts[1]:
            found.append(parts[1])
    return found


def parse_cap(data: bytes) -> Alert:
    """Read one CAP 1.2 document (namespace required); raises FeedError for anything else."""
    root = parse_xml(data)
    if root.tag != f"{{{CAP_NS}}}alert":
        raise FeedError("not a CAP 1.2 alert")
    ns = {"c": CAP_NS}
    identifier = _text(root.find("c:identifier", ns), 300)
    sender = _text(root.find("c:sender", ns), 300)
    sent = _text(root.find("c:sent", ns), 64)
    status = _text(root.find("c:status", ns), 20)
    msg_type = _text(root.find("c:msgType", ns), 20)
    if not identifier or not sender or not sent:
        raise FeedError("CAP alert without identifier, sender or sent")
    if status not in STATUSES or msg_type not in MSG_TYPES:
        raise FeedError("CAP alert with an unknown status or msgType")
    infos = []
    for info in root.findall("c:info", ns)[:MAX_INFOS]:
        event_codes = {
            _text(ec.find("c:valueName", ns), 100): _text(ec.find("c:value", ns), 200)
            for ec in info.findall("c:eventCode", ns)
        }
        parameters = {
            _text(p.find("c:valueName", ns), 100): _text(p.find("c:value", ns), 500)
            for p in info.findall("c:parameter", ns)
        }
        area_descs: list[str] = []
        geocodes: list[tuple[str, str]] = []
        polygons: list[str] = []
        circles: list[str] = []
        for area in info.findall("c:area", ns)[:MAX_AREAS]:
            desc = _text(area.find("c:areaDesc", ns), 300)
            if desc and desc not in area_descs:
                area_descs.append(desc)
            for geocode in area.findall("c:geocode", ns):
                geocodes.append(
                    (_text(geocode.find("c:valueName", ns), 100), _text(geocode.find("c:value", ns), 100))
                )
            polygons.extend(_text(p, 100_000) for p in area.findall("c:polygon", ns))
            circles.extend(_text(c, 200) for c in area.findall("c:circle", ns))
        infos.append(
            Info(
                language=(_text(info.find("c:language", ns), 20) or "en-US"),
                event=_text(info.find("c:event", ns), 300),
                headline=_text(info.find("c:headline", ns), 500),
                description=_text(info.find("c:description", ns)),
                instruction=_text(info.find("c:instruction", ns)),
                severity=_text(info.find("c:severity", ns), 20) or "Unknown",
                urgency=_text(info.find("c:urgency", ns), 20) or "Unknown",
                certainty=_text(info.find("c:certainty", ns), 20) or "Unknown",
                event_codes=event_codes,
                parameters=parameters,
                onset=_optional_time(info.find("c:onset", ns)),
                effective=_optional_time(info.find("c:effective", ns)),
                expires=_optional_time(info.find("c:expires", ns)),
                web=_text(info.find("c:web", ns), 500) or None,
                area_desc=", ".join(area_descs)[:500],
                geocodes=geocodes,
                polygons=[p for p in polygons if p],
                circles=[c for c in circles if c],
            )
        )
    return Alert(
        identifier=identifier,
        sender=sender,
        sent=parse_time(sent),
        status=status,
        msg_type=msg_type,
        references=reference_identifiers(_text(root.find("c:references", ns), 20_000)),
        infos=infos,
    )


class AtomEntry(msgspec.Struct, frozen=True):
    """An Atom entry pointing at a CAP document; ``version`` changes when the document does."""

    url: str
    version: str


def parse_atom(data: bytes, base_url: str) -> list[AtomEntry]:
    """The CAP links of an Atom feed (MeteoAlarm's per-country feeds), each once.

    Only links to the feed's own host are followed: a feed must not send the hub to other addresses.
    """
    from urllib.parse import urljoin, urlsplit

    host = urlsplit(base_url).hostname
    root = parse_xml(data)
    if root.tag != f"{{{ATOM_NS}}}feed":
        raise FeedError("not an Atom feed")
    ns = {"a": ATOM_NS}
    entries: dict[str, AtomEntry] = {}
    for entry in root.findall("a:entry", ns):
        version = _text(entry.find("a:updated", ns), 64) or _text(entry.find("a:id", ns), 300)
        for link in entry.findall("a:link", ns):
            href = (link.get("href") or "").strip()
            kind = (link.get("type") or "").strip()
            if not href or kind not in {"application/cap+xml", "application/xml", "text/xml"}:
                continue
            url = urljoin(base_url, href)
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or parts.hostname != host:
                continue
            entries[url] = AtomEntry(url=url, version=version)
    return list(entries.values())


def dwd_documents(data: bytes) -> list[bytes]:
    """The CAP documents of a DWD delivery: one XML file, or a zip of them (sizes and counts bounded)."""
    if not data.startswith(b"PK"):
        return [data]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise FeedError("bad zip") from None
    members = [m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(".xml")]
    if len(members) > MAX_ZIP_MEMBERS:
        raise FeedError("too many files in zip")
    documents, total = [], 0
    for member in members:
        if member.file_size > MAX_ZIP_MEMBER_BYTES:
            raise FeedError("zip member too large")
        total += member.file_size
        if total > MAX_ZIP_TOTAL_BYTES:
            raise FeedError("zip too large")
        with archive.open(member) as handle:
            content = handle.read(MAX_ZIP_MEMBER_BYTES + 1)
        if len(content) > MAX_ZIP_MEMBER_BYTES:
            raise FeedError("zip member larger than announced")
        documents.append(content)
    return documents


class NinaItem(msgspec.Struct, frozen=True):
    """A NINA dashboard entry: the warning id and the version that changes with its content."""

    id: str
    version: str


def parse_nina_dashboard(data: bytes) -> list[NinaItem]:
    try:
        items = msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise FeedError("NINA dashboard is not JSON") from None
    if not isinstance(items, list):
        raise FeedError("NINA dashboard is not a list")
    found = []
    for item in items[:1000]:
        if not isinstance(item, dict):
            raise FeedError("NINA dashboard entry is not an object")
        payload = _dict(item.get("payload"))
        ident = item.get("id") or payload.get("id")
        if not isinstance(ident, str) or not ident or "/" in ident or len(ident) > 200:
            raise FeedError("NINA dashboard entry without a usable id")
        version = payload.get("hash") or payload.get("version") or item.get("sent") or ""
        found.append(NinaItem(id=ident, version=str(version)[:100]))
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _s(value: Any, limit: int = MAX_TEXT) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def parse_nina_detail(data: bytes) -> Alert:
    """A NINA warning detail: CAP rendered as JSON (lists for info, area, geocode, eventCode)."""
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise FeedError("NINA detail is not JSON") from None
    if not isinstance(doc, dict):
        raise FeedError("NINA detail is not an object")
    identifier, sender, sent = (
        _s(doc.get("identifier"), 300),
        _s(doc.get("sender"), 300),
        _s(doc.get("sent"), 64),
    )
    status, msg_type = _s(doc.get("status"), 20), _s(doc.get("msgType"), 20)
    if not identifier or not sender or not sent or status not in STATUSES or msg_type not in MSG_TYPES:
        raise FeedError("NINA detail without a valid envelope")
    infos = []
    raw_infos = _list(doc.get("info"))
    for info in raw_infos[:MAX_INFOS]:
        if not isinstance(info, dict):
            continue

        def pairs(key: str, entry: dict[str, Any] = info) -> dict[str, str]:
            values = _list(entry.get(key))
            return {
                _s(v.get("valueName"), 100): _s(v.get("value"), 500) for v in values if isinstance(v, dict)
            }

        descs: list[str] = []
        geocodes: list[tuple[str, str]] = []
        polygons: list[str] = []
        areas = _list(info.get("area"))
        for area in areas[:MAX_AREAS]:
            if not isinstance(area, dict):
                continue
            desc = _s(area.get("areaDesc"), 300)
            if desc and desc not in descs:
                descs.append(desc)
            codes = _list(area.get("geocode"))
            geocodes.extend(
                (_s(g.get("valueName"), 100), _s(g.get("value"), 100)) for g in codes if isinstance(g, dict)
            )
            raw_polygons = _list(area.get("polygon"))
            polygons.extend(_s(p, 100_000) for p in raw_polygons)

        def when(key: str, entry: dict[str, Any] = info) -> datetime | None:
            value = _s(entry.get(key), 64)
            return parse_time(value) if value else None

        infos.append(
            Info(
                language=_s(info.get("language"), 20) or "de-DE",
                event=_s(info.get("event"), 300),
                headline=_s(info.get("headline"), 500),
                description=_s(info.get("description")),
                instruction=_s(info.get("instruction")),
                severity=_s(info.get("severity"), 20) or "Unknown",
                urgency=_s(info.get("urgency"), 20) or "Unknown",
                certainty=_s(info.get("certainty"), 20) or "Unknown",
                event_codes=pairs("eventCode"),
                parameters=pairs("parameter"),
                onset=when("onset"),
                effective=when("effective"),
                expires=when("expires"),
                web=_s(info.get("web"), 500) or None,
                area_desc=", ".join(descs)[:500],
                geocodes=geocodes,
                polygons=[p for p in polygons if p],
            )
        )
    return Alert(
        identifier=identifier,
        sender=sender,
        sent=parse_time(sent),
        status=status,
        msg_type=msg_type,
        references=reference_identifiers(_s(doc.get("references"), 20_000)),
        infos=infos,
    )
