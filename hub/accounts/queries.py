"""SQL of accounts and sessions; every function takes the connection first."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

import asyncpg

from hub.accounts.models import QuietHours, SessionInfo, User
from hub.db import update_set

_USER_COLUMNS = "id, email, display_name, locale, municipality_code, quiet_hours_start, quiet_hours_end, time_zone, created_at"


def _user(row: asyncpg.Record) -> User:
    quiet = None
    if row["quiet_hours_start"] is not None:
        quiet = QuietHours(start=row["quiet_hours_start"], end=row["quiet_hours_end"])
    return User(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        locale=row["locale"],
        municipality_code=row["municipality_code"],
        quiet_hours=quiet,
        time_zone=row["time_zone"],
        created_at=row["created_at"],
    )


async def insert_user(
    conn: asyncpg.Connection,
    *,
    email: str,
    password_hash: str,
    display_name: str,
    locale: str,
    municipality_code: str | None,
    time_zone: str,
) -> User | None:
    """The new user, or None when the email is taken."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO users (email, password_hash, display_name, locale, municipality_code, time_zone)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT ((lower(email))) DO NOTHING
        RETURNING {_USER_COLUMNS}
        """,
        email,
        password_hash,
        display_name,
        locale,
        municipality_code,
        time_zone,
    )
    return _user(row) if row else None


async def user_by_id(conn: asyncpg.Connection, user_id: uuid.UUID) -> User | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)
    return _user(row) if row else None


async def credentials_by_email(conn: asyncpg.Connection, email: str) -> tuple[uuid.UUID, str] | None:
    row = await conn.fetchrow("SELECT id, password_hash FROM users WHERE lower(email) = lower($1)", email)
    return (row["id"], row["password_hash"]) if row else None


async def update_password_hash(conn: asyncpg.Connection, user_id: uuid.UUID, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


_USERS_UPDATABLE = frozenset(
    {"display_name", "locale", "municipality_code", "quiet_hours_start", "quiet_hours_end", "time_zone"}
)


async def update_profile(conn: asyncpg.Connection, user_id: uuid.UUID, changes: dict[str, Any]) -> User:
    sql, values = update_set("users", _USERS_UPDATABLE, changes)
    row = await conn.fetchrow(f"{sql} RETURNING {_USER_COLUMNS}", user_id, *values)
    assert row is not None, "the signed-in user exists"
    return _user(row)


async def delete_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM users WHERE id = $1", user_id)


async def insert_session(
    conn: asyncpg.Connection, user_id: uuid.UUID, refresh_hash: bytes, expires_at: datetime
) -> uuid.UUID:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO sessions (user_id, refresh_hash, expires_at) VALUES ($1, $2, $3) RETURNING id",
        user_id,
        refresh_hash,
        expires_at,
    )


async def session_for_refresh(conn: asyncpg.Connection, session_id: uuid.UUID) -> asyncpg.Record | None:
    """The session row, locked, so two refreshes with the same token cannot both rotate it."""
    return await conn.fetchrow(
        "SELECT id, user_id, refresh_hash, previous_hash, expires_at, revoked_at FROM sessions "
        "WHERE id = $1 FOR UPDATE",
        session_id,
    )


async def rotate_session(
    conn: asyncpg.Connection, session_id: uuid.UUID, new_hash: bytes, old_hash: bytes, expires_at: datetime
) -> None:
    await conn.execute(
        "UPDATE sessions SET refresh_hash = $2, previous_hash = $3, refreshed_at = now(), expires_at = $4 "
        "WHERE id = $1",
        session_id,
        new_hash,
        old_hash,
        expires_at,
    )


async def revoke_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", session_id
    )


async def sessions_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[SessionInfo]:
    rows = await conn.fetch(
        "SELECT id, created_at, refreshed_at, expires_at, revoked_at FROM sessions WHERE user_id = $1 "
        "ORDER BY created_at",
        user_id,
    )
    return [SessionInfo(**dict(r)) for r in rows]


def quiet_columns(quiet: QuietHours | None) -> dict[str, time | None]:
    return {
        "quiet_hours_start": quiet.start if quiet else None,
        "quiet_hours_end": quiet.end if quiet else None,
    }


async def open_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> asyncpg.Record | None:
    """An open session with its person (for sessions held in a browser cookie)."""
    return await conn.fetchrow(
        """
        SELECT s.refresh_hash, u.id, u.email, u.display_name, u.locale, u.is_admin
        FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
        """,
        session_id,
    )
