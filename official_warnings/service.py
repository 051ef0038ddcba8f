"""Warnings use cases: take in a source's message, tell the people concerned once, answer readers."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from accounts.places import service as places
from care import service as care
from hub.domain import UserData
from hub.errors import NotFound
from i18n import translate
from i18n.content import Bilingual, Localized
from messaging import service as messaging
from messaging.models import Audience, Message, Priority
from official_warnings import catalog, queries
from official_warnings.areas import places_of
from official_warnings.models import (
    HistoryEntry,
    Incident,
    Normalised,
    Original,
    WarningDetail,
    WarningOut,
    WarningPage,
    WarningRow,
)
from official_warnings.normalise import normalise
from official_warnings.parsing import Alert
from territory import service as municipalities

logger = logging.getLogger("warnings")

#: how each severity reaches people: priority and channels (urgent passes quiet hours, recorded)
ROUTING: dict[str, tuple[Priority, tuple[str, ...]]] = {
    "extreme": ("urgent", ("push", "email")),
    "severe": ("urgent", ("push", "email")),
    "moderate": ("important", ("push",)),
    "minor": ("info", ()),
}
NOT_PUBLIC = {"Exercise", "Test", "Draft", "System"}
CARE_HAZARDS = {"heat", "cold"}


def _now() -> datetime:
    return datetime.now(UTC)


# -- texts -----------------------------------------------------------------------------------------------


def _original_lang(row: WarningRow) -> str:
    for lang in ("de", "fr", "en"):
        if lang in row.texts:
            return lang
    return next(iter(row.texts), "de")


def texts_for(
    row: WarningRow, locale: str
) -> tuple[Localized, Localized, Localized | None, Original | None, bool]:
    """The reader's text: the source's own in their language, else one rendered from the catalogue with
    the original attached (never a machine translation). Returns headline, description, instruction,
    original and whether the text was rendered."""
    own = row.texts.get(locale)
    if own is not None and own.headline:
        instruction = Localized(own.instruction, locale, False) if own.instruction else None
        return (
            Localized(own.headline, locale, False),
            Localized(own.description, locale, False),
            instruction,
            None,
            False,
        )
    lang = _original_lang(row)
    source_text = row.texts.get(lang)
    onset = row.onset or row.effective or row.sent
    headline = catalog.rendered_title(
        locale, level=row.level, hazard=row.hazard, area=row.area_desc, expires=row.expires
    )
    description = catalog.rendered_description(
        locale,
        source=row.source,
        level=row.level,
        hazard=row.hazard,
        area=row.area_desc,
        onset=onset,
        expires=row.expires,
        original_lang=lang,
    )
    original = (
        Original(
            lang=lang,
            headline=source_text.headline,
            description=source_text.description,
            instruction=source_text.instruction or None,
        )
        if source_text is not None
        else None
    )
    return (
        Localized(headline, locale, False),
        Localized(description, locale, False),
        Localized(translate(locale, catalog.INSTRUCTION), locale, False),
        original,
        True,
    )


def _state(row: WarningRow, now: datetime) -> str:
    if row.msg_type == "Cancel":
        return "cancelled"
    if row.expires is not None and row.expires <= now:
        return "expired"
    return "active"


def _out(row: WarningRow, locale: str, now: datetime, sources: list[str]) -> WarningOut:
    headline, description, instruction, original, rendered = texts_for(row, locale)
    return WarningOut(
        id=row.id,
        source=row.source,
        sources=sources or [row.source],
        sender=row.sender,
        status=_state(row, now),  # type: ignore[arg-type]
        msg_type=row.msg_type,
        event_code=row.event_code,
        hazard=row.hazard,
        severity=row.severity,
        level=row.level,
        urgency=row.urgency,
        certainty=row.certainty,
        headline=headline,
        description=description,
        instruction=instruction,
        original=original,
        rendered=rendered,
        sent=row.sent,
        onset=row.onset,
        effective=row.effective,
        expires=row.expires,
        area_desc=row.area_desc,
        municipality_codes=row.municipality_codes,
        licence=row.licence,
        attribution=row.attribution,
    )


def _push_text(row: WarningRow, lang: str, sources: list[str]) -> tuple[str, str]:
    """Title and body of the notification in one content language (fr or de)."""
    headline, description, instruction, original, _rendered = texts_for(row, lang)
    parts = [description.text]
    if instruction is not None and original is None:
        parts.append(instruction.text)
    if original is not None:
        language = translate(lang, catalog.LANGUAGE_NAMES.get(original.lang, catalog.LANGUAGE_NAMES["de"]))
        parts.append(
            "\n".join(
                [
                    translate(lang, catalog.ORIGINAL_NOTE, language=language),
                    original.headline,
                    original.description,
                ]
            ).strip()
        )
    names = ", ".join(catalog.SOURCE_NAMES.get(s, s) for s in sources)
    parts.append(translate(lang, catalog.SOURCES_NOTE, sources=names))
    return headline.text[:200], "\n\n".join(p for p in parts if p)[:3000]


def _bilingual(row: WarningRow, sources: list[str]) -> tuple[Bilingual, Bilingual]:
    fr_title, fr_body = _push_text(row, "fr", sources)
    de_title, de_body = _push_text(row, "de", sources)
    return Bilingual(fr=fr_title, de=de_title), Bilingual(fr=fr_body, de=de_body)


# -- taking in a message ---------------------------------------------------------------------------------


async def region(conn: asyncpg.Connection) -> list[Any]:
    return places_of(await municipalities.all_municipalities(conn))


async def ingest(
    conn: asyncpg.Connection, alert: Alert, source: str, now: datetime, region_places: list[Any] | None = None
) -> WarningRow | None:
    """Store one message of a source (once) and tell whom it concerns; None when it was known already."""
    if await queries.warning_exists(conn, source, alert.identifier):
        return None
    data = normalise(alert, source, region_places if region_places is not None else await region(conn))
    previous = await queries.referenced(conn, source, data.refs) if data.refs else []
    chain_id = previous[0].chain_id if previous else None
    if data.status in NOT_PUBLIC:
        row = await queries.insert_warning(conn, data, chain_id=chain_id, incident_id=None)
        if data.status in {"Exercise", "Test"} and data.msg_type in {"Alert", "Update"}:
            await _exercise(conn, row)
        logger.info("warning %s kept out of public delivery (status %s)", row.id, data.status)
        return row
    if data.msg_type not in {"Alert", "Update", "Cancel"}:
        return await queries.insert_warning(conn, data, chain_id=chain_id, incident_id=None)
    incident = None
    if previous and previous[0].incident_id is not None:
        incident = await queries.incident(conn, previous[0].incident_id)
    if data.msg_type == "Cancel":
        row = await queries.insert_warning(
            conn, data, chain_id=chain_id, incident_id=incident.id if incident else None
        )
        if incident is not None:
            await _maybe_all_clear(conn, incident, row, now)
        return row
    early_end = data.msg_type == "Update" and data.expires is not None and data.expires <= now
    if not data.municipality_codes and incident is None:
        return await queries.insert_warning(conn, data, chain_id=chain_id, incident_id=None)
    starts_at = data.onset or data.sent
    if data.expires is not None and data.expires < starts_at:
        starts_at = data.expires
    if incident is None or incident.ended_at is not None:
        incident = await queries.matching_incident(
            conn, data.hazard, data.municipality_codes, starts_at, data.expires
        )
    if incident is None:
        incident = await queries.insert_incident(
            conn, data.hazard, data.municipality_codes, source, starts_at, data.expires
        )
    elif not early_end:
        incident = await queries.widen_incident(
            conn, incident.id, data.municipality_codes, source, data.expires
        )
    row = await queries.insert_warning(conn, data, chain_id=chain_id, incident_id=incident.id)
    if early_end:
        await _maybe_all_clear(conn, incident, row, now)
        return row
    await _tell(conn, incident, row, now)
    return row


async def _tell(conn: asyncpg.Connection, incident: Incident, row: WarningRow, now: datetime) -> None:
    """Tell the people of the area not yet told at this severity (new places, or a higher level)."""
    rank = catalog.SEVERITY_RANK[row.severity]
    concerned = await places.people_in_municipalities(conn, row.municipality_codes)
    recipients = await queries.to_tell(conn, incident.id, concerned, rank) if concerned else []
    if recipients:
        priority, channels = ROUTING[row.severity]
        title, body = _bilingual(row, incident.sources)
        notification_id = await messaging.notify(
            conn,
            kind="warning",
            audience=Audience(user_ids=tuple(recipients)),
            title=title,
            body=body,
            deep_link=f"/warnings/{row.id}",
            priority=priority,
            source_id=row.id,
            sender_name=Bilingual(fr=catalog.SOURCE_NAMES[row.source], de=catalog.SOURCE_NAMES[row.source]),
            respect_preferences=priority != "urgent",
            channels=channels,
        )
        await queries.mark_told(conn, incident.id, recipients, rank, now)
        await queries.record_notification(conn, notification_id, row.id, incident.id, "alert")
        logger.info("warning %s: %d people told (%s)", row.id, len(recipients), row.severity)
    if row.hazard in CARE_HAZARDS and rank >= catalog.SEVERITY_RANK["severe"]:
        await _tell_care_providers(conn, incident, row, concerned)


async def _tell_care_providers(
    conn: asyncpg.Connection, incident: Incident, row: WarningRow, concerned: list[uuid.UUID]
) -> None:
    """One alert per care provider with clients (with a daily check-in) in the area, with their count."""
    done = await queries.care_alerted(conn, incident.id)
    for provider in await care.providers_of_seniors(conn, concerned):
        if provider.provider_id in done or not provider.staff_ids:
            continue

        def care_text(lang: str, msgid: str, provider: Any = provider) -> str:
            return translate(
                lang,
                msgid,
                level=catalog.level_name(lang, row.level),
                hazard=catalog.hazard_name(lang, row.hazard),
                count=provider.clients,
                area=row.area_desc,
                source=catalog.SOURCE_NAMES[row.source],
            )

        notification_id = await messaging.notify(
            conn,
            kind="warning.care",
            audience=Audience(user_ids=tuple(provider.staff_ids)),
            title=Bilingual(fr=care_text("fr", catalog.CARE_TITLE), de=care_text("de", catalog.CARE_TITLE)),
            body=Bilingual(fr=care_text("fr", catalog.CARE_BODY), de=care_text("de", catalog.CARE_BODY)),
            deep_link=f"/warnings/{row.id}",
            priority="urgent",
            source_id=row.id,
            respect_preferences=False,
        )
        await queries.record_notification(
            conn, notification_id, row.id, incident.id, "care", provider.provider_id
        )


async def _maybe_all_clear(
    conn: asyncpg.Connection, incident: Incident, row: WarningRow, now: datetime
) -> None:
    """When no chain of the incident is in force any more, one all-clear to everyone who was told."""
    if await queries.open_chains(conn, incident.id, now) > 0:
        return
    if not await queries.end_incident(conn, incident.id, now):
        return
    told = await queries.told(conn, incident.id)
    if not told:
        return
    sources = ", ".join(catalog.SOURCE_NAMES.get(s, s) for s in incident.sources)

    def text(lang: str, msgid: str) -> str:
        return translate(
            lang, msgid, hazard=catalog.hazard_name(lang, incident.hazard), area=row.area_desc, source=sources
        )

    notification_id = await messaging.notify(
        conn,
        kind="warning.all_clear",
        audience=Audience(user_ids=tuple(told)),
        title=Bilingual(fr=text("fr", catalog.ALL_CLEAR_TITLE), de=text("de", catalog.ALL_CLEAR_TITLE)),
        body=Bilingual(fr=text("fr", catalog.ALL_CLEAR_BODY), de=text("de", catalog.ALL_CLEAR_BODY)),
        deep_link=f"/warnings/{row.id}",
        priority="important",
        source_id=row.id,
        channels=("push",),
    )
    await queries.record_notification(conn, notification_id, row.id, incident.id, "all_clear")
    logger.info("warning incident %s ended: all-clear to %d people", incident.id, len(told))


async def _exercise(conn: asyncpg.Connection, row: WarningRow) -> None:
    """An exercise or test goes end to end, but only to hub administrators and care provider staff."""
    audience = sorted(set(await places.hub_administrators(conn)) | set(await care.provider_staff(conn)))
    if not audience:
        return
    headline = next((t.headline for t in row.texts.values() if t.headline), row.identifier)
    params: dict[str, str | datetime] = {"headline": headline, "source": catalog.SOURCE_NAMES[row.source]}
    notification_id = await messaging.notify(
        conn,
        kind="warning.exercise",
        audience=Audience(user_ids=tuple(audience)),
        title=Message(catalog.EXERCISE_TITLE, params),
        body=Message(catalog.EXERCISE_BODY, params),
        deep_link=f"/warnings/{row.id}",
        priority="info",
        source_id=row.id,
        channels=("push",),
    )
    await queries.record_notification(conn, notification_id, row.id, None, "exercise")


async def expire(conn: asyncpg.Connection, now: datetime) -> int:
    return await queries.expire_incidents(conn, now)


# -- reading ---------------------------------------------------------------------------------------------


async def warnings_in_force(
    conn: asyncpg.Connection, *, municipality: str | None, locale: str, now: datetime | None = None
) -> WarningPage:
    now = now or _now()
    if municipality is not None:
        await municipalities.check_known(conn, [municipality], field="municipality")
    rows = await queries.in_force(conn, [municipality] if municipality else None, now)
    sources = await queries.incident_sources(conn, [r.incident_id for r in rows if r.incident_id])
    return WarningPage(
        items=[_out(r, locale, now, sources.get(r.incident_id, []) if r.incident_id else []) for r in rows]
    )


async def warning_detail(
    conn: asyncpg.Connection, warning_id: uuid.UUID, *, locale: str, now: datetime | None = None
) -> WarningDetail:
    """One public warning with its chain (alert → updates → cancel); the latest state is shown."""
    now = now or _now()
    row = await queries.warning(conn, warning_id)
    if row is None or row.status != "Actual":
        raise NotFound()
    latest = await queries.latest_in_chain(conn, row.chain_id) or row
    sources = await queries.incident_sources(conn, [latest.incident_id] if latest.incident_id else [])
    out = _out(row, locale, now, sources.get(latest.incident_id, []) if latest.incident_id else [])
    if latest.id != row.id:
        out = msgspec.structs.replace(out, status=_state(latest, now))
    history: list[HistoryEntry] = await queries.chain_history(conn, row.chain_id)
    return WarningDetail(warning=out, history=history)


async def open_data(conn: asyncpg.Connection, now: datetime | None = None) -> dict[str, Any]:
    """Warnings in force as GeoJSON: one point per covered municipality, at its centroid."""
    now = now or _now()
    rows = await queries.in_force(conn, None, now)
    known = {m.code: m for m in await municipalities.all_municipalities(conn)}
    features = []
    for row in rows:
        for code in row.municipality_codes:
            place = known.get(code)
            if place is None or place.lat is None or place.lon is None:
                continue
            lang = _original_lang(row)
            text = row.texts.get(lang)
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [place.lon, place.lat]},
                    "properties": {
                        "warning_id": str(row.id),
                        "municipality_code": code,
                        "source": row.source,
                        "hazard": row.hazard,
                        "severity": row.severity,
                        "onset": (row.onset or row.sent).isoformat(),
                        "expires": row.expires.isoformat() if row.expires else None,
                        "headline": text.headline if text else "",
                        "lang": lang,
                        "licence": row.licence,
                        "attribution": row.attribution,
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


async def export_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    return await queries.export_rows(conn, user_id)


async def erase_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await queries.erase_user(conn, user_id)


USER_DATA = UserData("warnings", export_user, erase_user)

__all__ = ["USER_DATA", "Normalised", "ingest", "open_data", "warning_detail", "warnings_in_force"]
