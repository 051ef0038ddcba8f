"""Account use cases: register, sign in, rotate refresh tokens, sign out, profile, export, erase."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from accounts import queries, verification
from accounts.errors import InvalidRefreshToken, RefreshTokenReused
from accounts.models import (
    AuthResponse,
    Export,
    LoginRequest,
    ProfileUpdate,
    RegisterRequest,
    TokenPair,
    User,
)
from hub import auth
from hub.domain import UserData
from hub.errors import (
    REASON_CONTROL_CHARACTERS,
    InvalidCredentials,
    InvalidField,
    NotFound,
    has_unsafe_characters,
)
from hub.logs import get_logger
from hub.settings import Settings
from hub.throttle import Failures
from i18n import N_
from territory import service as municipalities

log = get_logger("accounts")


async def _start_session(
    conn: asyncpg.Connection, issuer: auth.TokenIssuer, settings: Settings, user_id: uuid.UUID
) -> TokenPair:
    secret = auth.new_refresh_secret()
    expires = datetime.now(UTC) + timedelta(days=settings.refresh_token_days)
    session_id = await queries.insert_session(conn, user_id, auth.hash_secret(secret), expires)
    return TokenPair(
        access_token=issuer.access_token(user_id, session_id),
        refresh_token=f"{session_id}.{secret}",
        expires_in=settings.access_token_minutes * 60,
    )


async def register(
    conn: asyncpg.Connection,
    issuer: auth.TokenIssuer,
    settings: Settings,
    data: RegisterRequest,
) -> AuthResponse:
    """A new account, whatever the address: the answer never tells whether the address has an account
    already (its owner is told by email instead, and the new account cannot prove it)."""
    _check_display_name(data.display_name)
    time_zone = await municipalities.time_zone_of(conn, data.municipality_code)
    password_hash = await auth.hash_password(data.password)
    user = await queries.insert_user(
        conn,
        email=data.email.strip(),
        password_hash=password_hash,
        display_name=data.display_name.strip(),
        locale=data.locale,
        municipality_code=data.municipality_code,
        time_zone=time_zone,
    )
    await verification.welcome(conn, user)
    tokens = await _start_session(conn, issuer, settings, user.id)
    return AuthResponse(user=user, **msgspec.structs.asdict(tokens))


async def login(
    conn: asyncpg.Connection,
    issuer: auth.TokenIssuer,
    settings: Settings,
    data: LoginRequest,
    failures: Failures | None = None,
) -> AuthResponse:
    account = data.email.strip().lower()
    if failures is not None:
        await failures.check(account)
    candidates = await queries.credentials_by_email(conn, data.email.strip())
    if not candidates:
        await auth.burn_password_check(data.password)
        if failures is not None:
            await failures.failed(account)
        log.info("sign-in failed", reason="unknown_account")
        raise InvalidCredentials()
    matched: uuid.UUID | None = None
    for candidate_id, password_hash in candidates:
        if await auth.verify_password(password_hash, data.password):
            matched = candidate_id
            break
    if matched is None:
        if failures is not None:
            await failures.failed(account)
        log.info("sign-in failed", reason="wrong_password", candidates=len(candidates))
        raise InvalidCredentials()
    if failures is not None:
        await failures.clear(account)
    user_id = matched
    user = await queries.user_by_id(conn, user_id)
    assert user is not None
    tokens = await _start_session(conn, issuer, settings, user_id)
    return AuthResponse(user=user, **msgspec.structs.asdict(tokens))


async def refresh(
    conn: asyncpg.Connection, issuer: auth.TokenIssuer, settings: Settings, refresh_token: str
) -> TokenPair:
    """Rotate the refresh token. Presenting an already rotated one ends the session (it was copied)."""
    session_part, _, secret = refresh_token.partition(".")
    try:
        session_id = uuid.UUID(session_part)
    except ValueError:
        raise InvalidRefreshToken() from None
    row = await queries.session_for_refresh(conn, session_id)
    now = datetime.now(UTC)
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
        raise InvalidRefreshToken()
    presented = auth.hash_secret(secret)
    if row["previous_hash"] is not None and presented == bytes(row["previous_hash"]):
        await queries.revoke_session(conn, session_id)
        raise RefreshTokenReused(extra={"session_revoked": True})
    if presented != bytes(row["refresh_hash"]):
        raise InvalidRefreshToken()
    new_secret = auth.new_refresh_secret()
    expires = now + timedelta(days=settings.refresh_token_days)
    await queries.rotate_session(conn, session_id, auth.hash_secret(new_secret), presented, expires)
    return TokenPair(
        access_token=issuer.access_token(row["user_id"], session_id),
        refresh_token=f"{session_id}.{new_secret}",
        expires_in=settings.access_token_minutes * 60,
    )


async def logout(conn: asyncpg.Connection, user: auth.CurrentUser) -> None:
    await queries.revoke_session(conn, user.session_id)


async def session_user(conn: asyncpg.Connection, session_token: str) -> auth.CurrentUser | None:
    """The person of a browser session (``session_id.secret``, as a refresh token reads), if still open.

    Sign-out, ``logout-all`` and a reused refresh token revoke the same session rows as the API's tokens.
    """
    session_part, _, secret = session_token.partition(".")
    try:
        session_id = uuid.UUID(session_part)
    except ValueError:
        return None
    row = await queries.open_session(conn, session_id)
    if (
        row is None
        or not secret
        or not hmac.compare_digest(bytes(row["refresh_hash"]), auth.hash_secret(secret))
    ):
        return None
    return auth.CurrentUser(
        id=row["id"],
        session_id=session_id,
        email=row["email"],
        display_name=row["display_name"],
        locale=row["locale"],
        is_admin=row["is_admin"],
    )


async def profile(conn: asyncpg.Connection, user_id: uuid.UUID) -> User:
    found = await queries.user_by_id(conn, user_id)
    if found is None:
        raise NotFound()
    return found


def _check_display_name(name: str) -> None:
    if has_unsafe_characters(name, single_line=True):
        raise InvalidField("display_name", REASON_CONTROL_CHARACTERS)


async def update_profile(conn: asyncpg.Connection, user_id: uuid.UUID, data: ProfileUpdate) -> User:
    changes: dict[str, Any] = {}
    if data.display_name is not msgspec.UNSET:
        _check_display_name(data.display_name)
        changes["display_name"] = data.display_name.strip()
    if data.email is not msgspec.UNSET:
        current = await profile(conn, user_id)
        if data.email.strip().lower() != current.email.lower():
            await queries.set_email(conn, user_id, data.email.strip())
            await verification.send_verification(conn, await profile(conn, user_id))
        elif data.email.strip() != current.email:
            await queries.set_email_case(conn, user_id, data.email.strip())
    if data.locale is not msgspec.UNSET:
        changes["locale"] = data.locale
    if data.municipality_code is not msgspec.UNSET:
        changes["time_zone"] = await municipalities.time_zone_of(conn, data.municipality_code)
        changes["municipality_code"] = data.municipality_code
    if data.quiet_hours is not msgspec.UNSET:
        if data.quiet_hours is not None and len(set(data.quiet_hours.times())) == 1:
            raise InvalidField("quiet_hours", N_("the start and the end must differ."))
        changes.update(queries.quiet_columns(data.quiet_hours))
    if not changes:
        return await profile(conn, user_id)
    return await queries.update_profile(conn, user_id, changes)


async def export(conn: asyncpg.Connection, user_id: uuid.UUID, user_data: Sequence[UserData]) -> Export:
    """A person's data: the account, its sessions, and each domain's section in ``user_data`` order."""
    user = await profile(conn, user_id)
    sections: dict[str, object] = {}
    for section in user_data:
        sections[section.name] = await section.export(conn, user_id)
    return Export(
        exported_at=datetime.now(UTC),
        user=user,
        sessions=await queries.sessions_of(conn, user_id),
        sections=sections,
    )


async def erase(conn: asyncpg.Connection, user_id: uuid.UUID, user_data: Sequence[UserData]) -> None:
    """Erase a person: each domain removes its share (in reverse order), then the account and sessions go."""
    for section in reversed(user_data):
        await section.erase(conn, user_id)
    await queries.delete_user(conn, user_id)
