"""SQL of partners, their keys, submissions, community settings and the audit log; connection first."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from communities.partners.models import AuditEntry, KeyInfo, Partner, PartnerKey, Submission


def _partner(row: asyncpg.Record) -> Partner:
    return Partner(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        language=row["language"],
        created_at=row["created_at"],
    )


async def insert_partner(
    conn: asyncpg.Connection, *, name: str, kind: str, language: str, created_by: uuid.UUID
) -> Partner:
    row = await conn.fetchrow(
        """
        INSERT INTO partners (name, kind, language, created_by) VALUES ($1, $2, $3, $4)
        RETURNING id, name, kind, language, created_at
        """,
        name,
        kind,
        language,
        created_by,
    )
    assert row is not None
    return _partner(row)


async def partner_by_id(conn: asyncpg.Connection, partner_id: uuid.UUID) -> Partner | None:
    row = await conn.fetchrow(
        "SELECT id, name, kind, language, created_at FROM partners WHERE id = $1", partner_id
    )
    return _partner(row) if row else None


async def partners(conn: asyncpg.Connection) -> list[Partner]:
    rows = await conn.fetch(
        "SELECT id, name, kind, language, created_at FROM partners ORDER BY lower(name), id"
    )
    return [_partner(r) for r in rows]


_KEY_COLUMNS = """id, partner_id, label, prefix, scopes, community_ids, expires_at, revoked_at, last_used_at,
    created_at"""


def _key(row: asyncpg.Record) -> KeyInfo:
    return KeyInfo(
        id=row["id"],
        partner_id=row["partner_id"],
        label=row["label"],
        prefix=row["prefix"],
        scopes=list(row["scopes"]),
        community_ids=list(row["community_ids"]),
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        created_at=row["created_at"],
    )


async def insert_key(
    conn: asyncpg.Connection,
    *,
    partner_id: uuid.UUID,
    label: str,
    prefix: str,
    secret_hash: bytes,
    scopes: list[str],
    community_ids: list[uuid.UUID],
    expires_at: datetime,
) -> KeyInfo:
    row = await conn.fetchrow(
        f"""
        INSERT INTO partner_keys (partner_id, label, prefix, secret_hash, scopes, community_ids, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_KEY_COLUMNS}
        """,
        partner_id,
        label,
        prefix,
        secret_hash,
        scopes,
        community_ids,
        expires_at,
    )
    assert row is not None
    return _key(row)


async def keys_of(conn: asyncpg.Connection, partner_id: uuid.UUID) -> list[KeyInfo]:
    rows = await conn.fetch(
        f"SELECT {_KEY_COLUMNS} FROM partner_keys WHERE partner_id = $1 ORDER BY created_at, id", partner_id
    )
    return [_key(r) for r in rows]


async def revoke_key(conn: asyncpg.Connection, partner_id: uuid.UUID, key_id: uuid.UUID) -> bool:
    result: str = await conn.execute(
        """
        UPDATE partner_keys SET revoked_at = coalesce(revoked_at, now())
        WHERE id = $1 AND partner_id = $2
        """,
        key_id,
        partner_id,
    )
    return result != "UPDATE 0"


async def live_key(conn: asyncpg.Connection, secret_hash: bytes) -> PartnerKey | None:
    """The unrevoked, unexpired key with this hash, marked as used now."""
    row = await conn.fetchrow(
        """
        UPDATE partner_keys k SET last_used_at = now()
        FROM partners p
        WHERE k.secret_hash = $1 AND k.revoked_at IS NULL AND k.expires_at > now() AND p.id = k.partner_id
        RETURNING k.id, k.partner_id, p.name, p.language, k.scopes, k.community_ids
        """,
        secret_hash,
    )
    if row is None:
        return None
    return PartnerKey(
        id=row["id"],
        partner_id=row["partner_id"],
        partner_name=row["name"],
        partner_language=row["language"],
        scopes=list(row["scopes"]),
        community_ids=list(row["community_ids"]),
    )


async def requires_approval(conn: asyncpg.Connection, community_id: uuid.UUID) -> bool:
    value: bool | None = await conn.fetchval(
        "SELECT require_approval FROM community_partner_settings WHERE community_id = $1", community_id
    )
    return bool(value)


async def set_requires_approval(conn: asyncpg.Connection, community_id: uuid.UUID, value: bool) -> None:
    await conn.execute(
        """
        INSERT INTO community_partner_settings (community_id, require_approval) VALUES ($1, $2)
        ON CONFLICT (community_id) DO UPDATE SET require_approval = EXCLUDED.require_approval, updated_at = now()
        """,
        community_id,
        value,
    )


_SUBMISSION_COLUMNS = """s.id, s.partner_id, p.name AS partner_name, s.community_id, s.kind, s.status, s.payload,
    s.result_id, s.created_at, s.decided_at, s.key_id"""


def _submission(row: asyncpg.Record) -> Submission:
    return Submission(
        id=row["id"],
        partner_id=row["partner_id"],
        partner_name=row["partner_name"],
        community_id=row["community_id"],
        kind=row["kind"],
        status=row["status"],
        payload=json.loads(row["payload"]),
        result_id=row["result_id"],
        created_at=row["created_at"],
        decided_at=row["decided_at"],
    )


async def insert_submission(
    conn: asyncpg.Connection,
    *,
    partner_id: uuid.UUID,
    key_id: uuid.UUID,
    community_id: uuid.UUID,
    kind: str,
    payload: str,
) -> uuid.UUID:
    submission_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO partner_submissions (partner_id, key_id, community_id, kind, payload)
        VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id
        """,
        partner_id,
        key_id,
        community_id,
        kind,
        payload,
    )
    return submission_id


async def pending_submissions(
    conn: asyncpg.Connection, community_id: uuid.UUID, limit: int
) -> list[Submission]:
    rows = await conn.fetch(
        f"""
        SELECT {_SUBMISSION_COLUMNS} FROM partner_submissions s JOIN partners p ON p.id = s.partner_id
        WHERE s.community_id = $1 AND s.status = 'pending'
        ORDER BY s.created_at, s.id LIMIT $2
        """,
        community_id,
        limit,
    )
    return [_submission(r) for r in rows]


async def lock_submission(
    conn: asyncpg.Connection, community_id: uuid.UUID, submission_id: uuid.UUID
) -> tuple[Submission, uuid.UUID | None] | None:
    """A submission of this community, locked for a decision, with the key it came with."""
    row = await conn.fetchrow(
        f"""
        SELECT {_SUBMISSION_COLUMNS} FROM partner_submissions s JOIN partners p ON p.id = s.partner_id
        WHERE s.id = $1 AND s.community_id = $2
        FOR UPDATE OF s
        """,
        submission_id,
        community_id,
    )
    return (_submission(row), row["key_id"]) if row else None


async def decide_submission(
    conn: asyncpg.Connection,
    submission_id: uuid.UUID,
    *,
    status: str,
    decided_by: uuid.UUID,
    result_id: uuid.UUID | None,
) -> None:
    await conn.execute(
        """
        UPDATE partner_submissions SET status = $2, decided_by = $3, decided_at = now(), result_id = $4
        WHERE id = $1
        """,
        submission_id,
        status,
        decided_by,
        result_id,
    )


async def audit(
    conn: asyncpg.Connection,
    *,
    partner_id: uuid.UUID,
    action: str,
    key_id: uuid.UUID | None = None,
    actor_user_id: uuid.UUID | None = None,
    community_id: uuid.UUID | None = None,
    object_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO partner_audit (partner_id, key_id, actor_user_id, action, community_id, object_id, detail)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
        """,
        partner_id,
        key_id,
        actor_user_id,
        action,
        community_id,
        object_id,
        json.dumps(detail or {}),
    )


async def audit_of(conn: asyncpg.Connection, partner_id: uuid.UUID, limit: int) -> list[AuditEntry]:
    rows = await conn.fetch(
        """
        SELECT id, partner_id, key_id, actor_user_id, action, community_id, object_id, detail, created_at
        FROM partner_audit WHERE partner_id = $1 ORDER BY id DESC LIMIT $2
        """,
        partner_id,
        limit,
    )
    return [
        AuditEntry(
            id=r["id"],
            partner_id=r["partner_id"],
            key_id=r["key_id"],
            actor_user_id=r["actor_user_id"],
            action=r["action"],
            community_id=r["community_id"],
            object_id=r["object_id"],
            detail=json.loads(r["detail"]),
            created_at=r["created_at"],
        )
        for r in rows
    ]
