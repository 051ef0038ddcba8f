"""SQL of accounts and sessions; every function takes the connection first."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

import asyncpg
import msgspec

from accounts.models import QuietHours, SessionInfo, User, wall_clock
from hub.db import update_set

_USER_COLUMNS = (
    "id, email, display_name, locale, municipality_code, quiet_hours_start, quiet_hours_end, time_zone, "
    "created_at, email_verified_at"
)


def _user(row: asyncpg.Record) -> User:
    quiet = None
    if row["quiet_hours_start"] is not None:
        quiet = QuietHours(start=wall_clock(row["quiet_hours_start"]), end=wall_clock(row["quiet_hours_end"]))
    return User(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        locale=row["locale"],
        municipality_code=row["municipality_code"],
        quiet_hours=quiet,
        time_zone=row["time_zone"],
        created_at=row["created_at"],
        email_verified=row["email_verified_at"] is not None,
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
) -> User:
    """The new user, whose address is not proven yet (another account may have proven it)."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO users (email, password_hash, display_name, locale, municipality_code, time_zone)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING {_USER_COLUMNS}
        """,
        email,
        password_hash,
        display_name,
        locale,
        municipality_code,
        time_zone,
    )
    assert row is not None
    return _user(row)


async def user_by_id(conn: asyncpg.Connection, user_id: uuid.UUID) -> User | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)
    return _user(row) if row else None


#: accounts naming one address whose passwords a sign-in tries (the proven one first, then the oldest)
SIGN_IN_CANDIDATES = 3


async def credentials_by_email(conn: asyncpg.Connection, email: str) -> list[tuple[uuid.UUID, str]]:
    """The accounts that name an address, the one that proved it first; at most SIGN_IN_CANDIDATES."""
    rows = await conn.fetch(
        "SELECT id, password_hash FROM users WHERE lower(email) = lower($1) "
        "ORDER BY email_verified_at IS NULL, created_at, id LIMIT $2",
        email,
        SIGN_IN_CANDIDATES,
    )
    return [(r["id"], r["password_hash"]) for r in rows]


async def owner_of_address(conn: asyncpg.Connection, email: str) -> User | None:
    """The account that proved an address, else the oldest that names it (who a reset link goes to)."""
    row = await conn.fetchrow(
        f"SELECT {_USER_COLUMNS} FROM users WHERE lower(email) = lower($1) "
        "ORDER BY email_verified_at IS NULL, created_at, id LIMIT 1",
        email,
    )
    return _user(row) if row else None


async def address_named_by_other(conn: asyncpg.Connection, email: str, user_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1) AND id <> $2)", email, user_id
        )
    )


async def address_proven_by_other(conn: asyncpg.Connection, email: str, user_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1) AND id <> $2 "
            "AND email_verified_at IS NOT NULL)",
            email,
            user_id,
        )
    )


async def update_password_hash(conn: asyncpg.Connection, user_id: uuid.UUID, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def password_hash_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> str | None:
    return await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", user_id)  # type: ignore[no-any-return]


async def set_email(conn: asyncpg.Connection, user_id: uuid.UUID, email: str) -> None:
    """A new address, not proven yet; tokens sent to the old one are void."""
    await conn.execute(
        "UPDATE users SET email = $2, email_verified_at = NULL, updated_at = now() WHERE id = $1",
        user_id,
        email,
    )
    await conn.execute("DELETE FROM account_tokens WHERE user_id = $1 AND used_at IS NULL", user_id)


async def set_email_case(conn: asyncpg.Connection, user_id: uuid.UUID, email: str) -> None:
    """The same address written differently: it stays proven (addresses compare without case)."""
    await conn.execute("UPDATE users SET email = $2, updated_at = now() WHERE id = $1", user_id, email)


async def mark_verified(conn: asyncpg.Connection, user_id: uuid.UUID, email: str) -> bool:
    """Prove the account's address, if it still is the one the token was sent to."""
    done = await conn.fetchval(
        "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) "
        "WHERE id = $1 AND lower(email) = lower($2) RETURNING id",
        user_id,
        email,
    )
    return done is not None


async def insert_token(
    conn: asyncpg.Connection,
    token_hash: bytes,
    user_id: uuid.UUID,
    purpose: str,
    email: str,
    expires_at: datetime,
) -> None:
    """A new token; earlier unused ones of the same purpose are void (only the last link works)."""
    await conn.execute(
        "DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL", user_id, purpose
    )
    await conn.execute(
        "INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at) VALUES ($1, $2, $3, $4, $5)",
        token_hash,
        user_id,
        purpose,
        email,
        expires_at,
    )


async def use_token(
    conn: asyncpg.Connection, token_hash: bytes, purpose: str, now: datetime
) -> tuple[uuid.UUID, str] | None:
    """Spend a token once: its account and address, or None when unknown, used or expired."""
    row = await conn.fetchrow(
        "UPDATE account_tokens SET used_at = $3 "
        "WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 "
        "RETURNING user_id, email",
        token_hash,
        purpose,
        now,
    )
    return (row["user_id"], row["email"]) if row else None


async def revoke_sessions(conn: asyncpg.Connection, user_id: uuid.UUID, keep: uuid.UUID | None = None) -> int:
    """End every open session of a person (but ``keep``); the number ended."""
    rows = await conn.fetch(
        "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL "
        "AND ($2::uuid IS NULL OR id <> $2) RETURNING id",
        user_id,
        keep,
    )
    return len(rows)


# -- hub administrators ------------------------------------------------------------------------------------


async def set_admin(conn: asyncpg.Connection, email: str, is_admin: bool) -> uuid.UUID | None:
    """Make or unmake the account that proved an address (else the only one naming it) an administrator."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        UPDATE users SET is_admin = $2, updated_at = now()
        WHERE id = (SELECT id FROM users WHERE lower(email) = lower($1)
                    ORDER BY email_verified_at IS NULL, created_at, id LIMIT 1)
        RETURNING id
        """,
        email,
        is_admin,
    )


async def admin_flags(conn: asyncpg.Connection, user_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT is_admin FROM users WHERE id = $1", user_id))


async def prove_address(conn: asyncpg.Connection, email: str) -> None:
    """Mark the only account of an address as having proven it (a seeded account, in development)."""
    await conn.execute(
        "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE lower(email) = lower($1) "
        "AND (SELECT count(*) FROM users WHERE lower(email) = lower($1)) = 1",
        email,
    )


async def insert_admin_audit(
    conn: asyncpg.Connection, action: str, user_id: uuid.UUID | None, email: str, operator: str
) -> None:
    await conn.execute(
        "INSERT INTO admin_audit (action, user_id, email, operator) VALUES ($1, $2, $3, $4)",
        action,
        user_id,
        email,
        operator,
    )


class AdminRow(msgspec.Struct, frozen=True):
    email: str
    display_name: str
    email_verified: bool
    since: datetime | None


async def admins(conn: asyncpg.Connection) -> list[AdminRow]:
    rows = await conn.fetch(
        """
        SELECT u.email, u.display_name, u.email_verified_at IS NOT NULL AS email_verified,
               (SELECT max(a.at) FROM admin_audit a WHERE a.user_id = u.id AND a.action = 'grant') AS since
        FROM users u WHERE u.is_admin ORDER BY lower(u.email), u.id
        """
    )
    return [AdminRow(**dict(r)) for r in rows]


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
    start, end = quiet.times() if quiet else (None, None)
    return {"quiet_hours_start": start, "quiet_hours_end": end}


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
