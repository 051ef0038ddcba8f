"""SQL of official warnings; every function takes the connection first and returns Structs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from official_warnings.models import HistoryEntry, Incident, Normalised, Texts, WarningRow

_WARNING_COLUMNS = (
    "id, source, identifier, sender, sent, status, msg_type, refs, chain_id, incident_id, event_code, hazard, "
    "severity, level, urgency, certainty, onset, effective, expires, texts::text AS texts, area_desc, "
    "municipality_codes, licence, attribution, received_at"
)


def _warning(row: asyncpg.Record) -> WarningRow:
    values = dict(row)
    values["texts"] = msgspec.json.decode(row["texts"], type=dict[str, Texts])
    return WarningRow(**values)


def _incident(row: asyncpg.Record) -> Incident:
    return Incident(**dict(row))


# -- feeds -----------------------------------------------------------------------------------------------


class FeedState(msgspec.Struct, frozen=True):
    feed_key: str
    kind: str
    url: str
    etag: str | None
    last_modified: str | None
    failures: int
    next_poll_at: datetime


async def ensure_feed(conn: asyncpg.Connection, feed_key: str, kind: str, url: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO warning_feeds (feed_key, kind, url, next_poll_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING",
        feed_key,
        kind,
        url,
        now,
    )


async def lock_due_feed(conn: asyncpg.Connection, feed_key: str, now: datetime) -> FeedState | None:
    """The feed, locked for this poll, if it is due (another worker polling it finds None)."""
    row = await conn.fetchrow(
        "SELECT feed_key, kind, url, etag, last_modified, failures, next_poll_at FROM warning_feeds "
        "WHERE feed_key = $1 AND next_poll_at <= $2 FOR UPDATE SKIP LOCKED",
        feed_key,
        now,
    )
    return FeedState(**dict(row)) if row else None


async def feed_polled(
    conn: asyncpg.Connection,
    feed_key: str,
    *,
    now: datetime,
    next_poll_at: datetime,
    failures: int,
    etag: str | None,
    last_modified: str | None,
) -> None:
    await conn.execute(
        "UPDATE warning_feeds SET last_polled_at = $2, next_poll_at = $3, failures = $4, etag = $5, "
        "last_modified = $6 WHERE feed_key = $1",
        feed_key,
        now,
        next_poll_at,
        failures,
        etag,
        last_modified,
    )


async def record_fetch(
    conn: asyncpg.Connection,
    feed_key: str,
    url: str,
    now: datetime,
    http_status: int | None,
    outcome: str,
    alerts: int,
    error: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO warning_fetches (feed_key, url, fetched_at, http_status, outcome, alerts, error) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        feed_key,
        url,
        now,
        http_status,
        outcome,
        alerts,
        (error or "")[:500] or None,
    )


async def document_version(conn: asyncpg.Connection, url: str) -> str | None:
    return await conn.fetchval("SELECT version FROM warning_documents WHERE url = $1", url)  # type: ignore[no-any-return]


async def document_read(conn: asyncpg.Connection, url: str, version: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO warning_documents (url, version, read_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (url) DO UPDATE SET version = EXCLUDED.version, read_at = EXCLUDED.read_at",
        url,
        version,
        now,
    )


# -- warnings --------------------------------------------------------------------------------------------


async def warning_exists(conn: asyncpg.Connection, source: str, identifier: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM warnings WHERE source = $1 AND identifier = $2)", source, identifier
        )
    )


async def referenced(conn: asyncpg.Connection, source: str, identifiers: list[str]) -> list[WarningRow]:
    rows = await conn.fetch(
        f"SELECT {_WARNING_COLUMNS} FROM warnings WHERE source = $1 AND identifier = ANY ($2::text[]) "
        "ORDER BY sent DESC",
        source,
        identifiers,
    )
    return [_warning(r) for r in rows]


async def insert_warning(
    conn: asyncpg.Connection,
    data: Normalised,
    *,
    chain_id: uuid.UUID | None,
    incident_id: uuid.UUID | None,
) -> WarningRow:
    row = await conn.fetchrow(
        f"""
        INSERT INTO warnings (id, source, identifier, sender, sent, status, msg_type, refs, chain_id, incident_id,
                              event_code, hazard, severity, urgency, certainty, onset, effective, expires, texts,
                              area_desc, area, municipality_codes, licence, attribution, level)
        SELECT w.id, $1, $2, $3, $4, $5, $6, $7, coalesce($8, w.id), $9, $10, $11, $12, $13, $14, $15, $16, $17,
               $18::jsonb, $19, $20::jsonb, $21, $22, $23, $24
        FROM (SELECT gen_random_uuid() AS id) w
        RETURNING {_WARNING_COLUMNS}
        """,
        data.source,
        data.identifier,
        data.sender,
        data.sent,
        data.status,
        data.msg_type,
        data.refs,
        chain_id,
        incident_id,
        data.event_code,
        data.hazard,
        data.severity,
        data.urgency,
        data.certainty,
        data.onset,
        data.effective,
        data.expires,
        msgspec.json.encode(data.texts).decode(),
        data.area_desc,
        msgspec.json.encode(data.area).decode(),
        data.municipality_codes,
        data.licence,
        data.attribution,
        data.level,
    )
    assert row is not None
    return _warning(row)


async def warning(conn: asyncpg.Connection, warning_id: uuid.UUID) -> WarningRow | None:
    row = await conn.fetchrow(f"SELECT {_WARNING_COLUMNS} FROM warnings WHERE id = $1", warning_id)
    return _warning(row) if row else None


async def latest_in_chain(conn: asyncpg.Connection, chain_id: uuid.UUID) -> WarningRow | None:
    row = await conn.fetchrow(
        f"SELECT {_WARNING_COLUMNS} FROM warnings WHERE chain_id = $1 ORDER BY sent DESC, received_at DESC LIMIT 1",
        chain_id,
    )
    return _warning(row) if row else None


async def chain_history(conn: asyncpg.Connection, chain_id: uuid.UUID) -> list[HistoryEntry]:
    rows = await conn.fetch(
        "SELECT id, msg_type, sent, severity, expires, municipality_codes FROM warnings WHERE chain_id = $1 "
        "ORDER BY sent, received_at",
        chain_id,
    )
    return [HistoryEntry(**dict(r)) for r in rows]


async def in_force(conn: asyncpg.Connection, codes: list[str] | None, now: datetime) -> list[WarningRow]:
    """The latest public message of each chain, not a cancel, not expired, covering one of ``codes``."""
    rows = await conn.fetch(
        f"""
        SELECT {_WARNING_COLUMNS} FROM (
            SELECT DISTINCT ON (chain_id) * FROM warnings
            WHERE status = 'Actual' AND msg_type IN ('Alert', 'Update', 'Cancel')
            ORDER BY chain_id, sent DESC, received_at DESC
        ) latest
        WHERE msg_type <> 'Cancel' AND (expires IS NULL OR expires > $2)
          AND ($1::text[] IS NULL OR municipality_codes && $1::text[])
        ORDER BY sent DESC, id
        """,
        codes,
        now,
    )
    return [_warning(r) for r in rows]


# -- incidents -------------------------------------------------------------------------------------------

_INCIDENT_COLUMNS = "id, hazard, starts_at, ends_at, municipality_codes, sources, ended_at"


async def matching_incident(
    conn: asyncpg.Connection, hazard: str, codes: list[str], starts_at: datetime, ends_at: datetime | None
) -> Incident | None:
    """An open incident of the same hazard whose places and time overlap (the same storm, another source)."""
    row = await conn.fetchrow(
        f"""
        SELECT {_INCIDENT_COLUMNS} FROM warning_incidents
        WHERE ended_at IS NULL AND hazard = $1 AND municipality_codes && $2::text[]
          AND tstzrange(starts_at, ends_at, '[)') && tstzrange($3, $4, '[)')
        ORDER BY created_at LIMIT 1 FOR UPDATE
        """,
        hazard,
        codes,
        starts_at,
        ends_at,
    )
    return _incident(row) if row else None


async def incident(conn: asyncpg.Connection, incident_id: uuid.UUID) -> Incident | None:
    row = await conn.fetchrow(
        f"SELECT {_INCIDENT_COLUMNS} FROM warning_incidents WHERE id = $1 FOR UPDATE", incident_id
    )
    return _incident(row) if row else None


async def insert_incident(
    conn: asyncpg.Connection,
    hazard: str,
    codes: list[str],
    source: str,
    starts_at: datetime,
    ends_at: datetime | None,
) -> Incident:
    row = await conn.fetchrow(
        f"INSERT INTO warning_incidents (hazard, municipality_codes, sources, starts_at, ends_at) "
        f"VALUES ($1, $2, ARRAY[$3], $4, $5) RETURNING {_INCIDENT_COLUMNS}",
        hazard,
        codes,
        source,
        starts_at,
        ends_at,
    )
    assert row is not None
    return _incident(row)


async def widen_incident(
    conn: asyncpg.Connection, incident_id: uuid.UUID, codes: list[str], source: str, ends_at: datetime | None
) -> Incident:
    row = await conn.fetchrow(
        f"""
        UPDATE warning_incidents SET
            municipality_codes = ARRAY(SELECT DISTINCT unnest(municipality_codes || $2::text[]) ORDER BY 1),
            sources = CASE WHEN $3 = ANY (sources) THEN sources ELSE sources || $3 END,
            ends_at = CASE WHEN ends_at IS NULL OR $4::timestamptz IS NULL THEN NULL ELSE greatest(ends_at, $4) END
        WHERE id = $1 RETURNING {_INCIDENT_COLUMNS}
        """,
        incident_id,
        codes,
        source,
        ends_at,
    )
    assert row is not None
    return _incident(row)


async def open_chains(conn: asyncpg.Connection, incident_id: uuid.UUID, now: datetime) -> int:
    """Chains of an incident whose latest message is still in force."""
    return int(
        await conn.fetchval(
            """
            SELECT count(*) FROM (
                SELECT DISTINCT ON (chain_id) msg_type, expires FROM warnings WHERE incident_id = $1
                ORDER BY chain_id, sent DESC, received_at DESC
            ) latest WHERE msg_type <> 'Cancel' AND (expires IS NULL OR expires > $2)
            """,
            incident_id,
            now,
        )
    )


async def end_incident(conn: asyncpg.Connection, incident_id: uuid.UUID, now: datetime) -> bool:
    """Close an open incident; False when it was closed already (the all-clear goes out once)."""
    return (
        await conn.execute(
            "UPDATE warning_incidents SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL", incident_id, now
        )
        == "UPDATE 1"
    )


async def expire_incidents(conn: asyncpg.Connection, now: datetime) -> int:
    """Incidents whose time is over end quietly (a warning that simply runs out sends no all-clear)."""
    result = await conn.execute(
        "UPDATE warning_incidents SET ended_at = $1 WHERE ended_at IS NULL AND ends_at IS NOT NULL AND ends_at <= $1",
        now,
    )
    return int(result.split()[-1])


# -- recipients ------------------------------------------------------------------------------------------


async def to_tell(
    conn: asyncpg.Connection, incident_id: uuid.UUID, user_ids: list[uuid.UUID], rank: int
) -> list[uuid.UUID]:
    """Of ``user_ids``, those not yet told of the incident at this severity or higher."""
    rows = await conn.fetch(
        """
        SELECT u.id FROM unnest($2::uuid[]) AS u(id)
        LEFT JOIN warning_recipients r ON r.incident_id = $1 AND r.user_id = u.id
        WHERE r.user_id IS NULL OR r.severity < $3
        ORDER BY u.id
        """,
        incident_id,
        user_ids,
        rank,
    )
    return [r["id"] for r in rows]


async def mark_told(
    conn: asyncpg.Connection, incident_id: uuid.UUID, user_ids: list[uuid.UUID], rank: int, now: datetime
) -> None:
    await conn.execute(
        """
        INSERT INTO warning_recipients (incident_id, user_id, severity, told_at)
        SELECT $1, id, $3, $4 FROM unnest($2::uuid[]) AS u(id)
        ON CONFLICT (incident_id, user_id) DO UPDATE SET severity = greatest(warning_recipients.severity, $3),
            told_at = EXCLUDED.told_at
        """,
        incident_id,
        user_ids,
        rank,
        now,
    )


async def told(conn: asyncpg.Connection, incident_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT user_id FROM warning_recipients WHERE incident_id = $1 ORDER BY user_id", incident_id
    )
    return [r["user_id"] for r in rows]


async def record_notification(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    warning_id: uuid.UUID,
    incident_id: uuid.UUID | None,
    kind: str,
    provider_id: uuid.UUID | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO warning_notifications (notification_id, warning_id, incident_id, kind, provider_id) "
        "VALUES ($1, $2, $3, $4, $5)",
        notification_id,
        warning_id,
        incident_id,
        kind,
        provider_id,
    )


async def care_alerted(conn: asyncpg.Connection, incident_id: uuid.UUID) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT provider_id FROM warning_notifications WHERE incident_id = $1 AND kind = 'care'", incident_id
    )
    return {r["provider_id"] for r in rows}


async def incident_sources(
    conn: asyncpg.Connection, incident_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    rows = await conn.fetch(
        "SELECT id, sources FROM warning_incidents WHERE id = ANY ($1::uuid[])", incident_ids
    )
    return {r["id"]: list(r["sources"]) for r in rows}


async def export_rows(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT incident_id, severity, told_at FROM warning_recipients WHERE user_id = $1 ORDER BY told_at",
        user_id,
    )
    return [dict(r) for r in rows]


async def erase_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM warning_recipients WHERE user_id = $1", user_id)
