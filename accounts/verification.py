"""Proven addresses and passwords: welcome and verification links, reset by email, change, end all sessions."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from accounts import queries
from accounts.errors import AddressProvenElsewhere, InvalidAccountToken
from accounts.models import (
    Accepted,
    ChangePasswordRequest,
    EmailVerified,
    ResetPasswordRequest,
    SessionsEnded,
    User,
)
from hub import auth
from hub.errors import InvalidField
from i18n import N_
from messaging import service as messaging
from messaging.models import Message

#: how long a verification link and a password reset link stay valid
VERIFY_VALIDITY = timedelta(hours=48)
RESET_VALIDITY = timedelta(minutes=30)

WELCOME_TITLE = N_("Welcome to the hub, {name}")
WELCOME_BODY = N_(
    "Your account is ready. Please confirm that this email address is yours by opening the link below "
    "within 48 hours. Until you do, nobody can invite you or find you by this address."
)
VERIFY_TITLE = N_("Confirm your email address")
VERIFY_BODY = N_(
    "{name}, please confirm that this email address is yours by opening the link below within 48 hours. "
    "Until you do, nobody can invite you or find you by this address."
)
SIGN_UP_AGAIN_TITLE = N_("Someone tried to create an account with your address")
SIGN_UP_AGAIN_BODY = N_(
    "Someone tried to create a new account with this email address, which already has an account with "
    "us. If it was you, sign in instead, or reset your password if you have forgotten it. If it was not "
    "you, you do not need to do anything."
)
RESET_TITLE = N_("Reset your password")
RESET_BODY = N_(
    "Someone asked to reset the password of the account with this email address. If it was you, open "
    "the link below within 30 minutes and choose a new password. If it was not you, ignore this email: "
    "your password stays as it is."
)
REASON_WRONG_PASSWORD = N_("this is not your current password.")
REASON_SAME_PASSWORD = N_("the new password must differ from the current one.")


async def _send_token(
    conn: asyncpg.Connection,
    user: User,
    *,
    purpose: str,
    validity: timedelta,
    title: Message,
    body: Message,
    link: str,
    now: datetime,
) -> None:
    """A single-use token (only its hash is kept) mailed to the account's address as a link to the hub."""
    token = secrets.token_urlsafe(32)
    await queries.insert_token(conn, auth.hash_secret(token), user.id, purpose, user.email, now + validity)
    await messaging.email_address(
        conn,
        kind=f"accounts.{purpose}",
        address=user.email,
        locale=user.locale,
        title=title,
        body=body,
        deep_link=f"{link}?token={token}",
        reason="account",
    )


async def welcome(conn: asyncpg.Connection, user: User, now: datetime | None = None) -> None:
    """After sign-up: a welcome with a verification link, in the person's language.

    When another account already names the address, its owner is told instead that someone tried to sign
    up with it (no link): the answer to the sign-up is the same either way, so it tells nobody whether an
    address has an account, and the new account can never prove an address it does not control.
    """
    now = now or datetime.now(UTC)
    if await queries.address_named_by_other(conn, user.email, user.id):
        owner = await queries.owner_of_address(conn, user.email)
        await messaging.email_address(
            conn,
            kind="accounts.sign_up_again",
            address=user.email,
            locale=owner.locale if owner else user.locale,
            title=Message(SIGN_UP_AGAIN_TITLE),
            body=Message(SIGN_UP_AGAIN_BODY),
            deep_link="/sign-in",
            reason="account",
        )
        return
    await _send_token(
        conn,
        user,
        purpose="verify_email",
        validity=VERIFY_VALIDITY,
        title=Message(WELCOME_TITLE, {"name": user.display_name}),
        body=Message(WELCOME_BODY),
        link="/verify-email",
        now=now,
    )


async def send_verification(conn: asyncpg.Connection, user: User, now: datetime | None = None) -> Accepted:
    """A (new) verification link to the account's current address, unless it is proven already."""
    if not user.email_verified and not await queries.address_proven_by_other(conn, user.email, user.id):
        await _send_token(
            conn,
            user,
            purpose="verify_email",
            validity=VERIFY_VALIDITY,
            title=Message(VERIFY_TITLE),
            body=Message(VERIFY_BODY, {"name": user.display_name}),
            link="/verify-email",
            now=now or datetime.now(UTC),
        )
    return Accepted()


async def verify_email(conn: asyncpg.Connection, token: str, now: datetime | None = None) -> EmailVerified:
    """Prove an address with the token of the link sent to it (once, before it expires)."""
    used = await queries.use_token(conn, auth.hash_secret(token), "verify_email", now or datetime.now(UTC))
    if used is None:
        raise InvalidAccountToken()
    user_id, email = used
    if await queries.address_proven_by_other(conn, email, user_id):
        raise AddressProvenElsewhere()
    if not await queries.mark_verified(conn, user_id, email):
        raise InvalidAccountToken()  # the account has changed its address since
    return EmailVerified(email_verified=True)


async def forgot_password(conn: asyncpg.Connection, email: str, now: datetime | None = None) -> Accepted:
    """Mail a reset link to the account of an address, if there is one; the answer is the same either way."""
    owner = await queries.owner_of_address(conn, email.strip())
    if owner is not None:
        await _send_token(
            conn,
            owner,
            purpose="password_reset",
            validity=RESET_VALIDITY,
            title=Message(RESET_TITLE),
            body=Message(RESET_BODY),
            link="/reset-password",
            now=now or datetime.now(UTC),
        )
    return Accepted()


async def reset_password(
    conn: asyncpg.Connection, data: ResetPasswordRequest, now: datetime | None = None
) -> SessionsEnded:
    """A new password from a reset link: every session ends; the link also proves the address."""
    used = await queries.use_token(
        conn, auth.hash_secret(data.token), "password_reset", now or datetime.now(UTC)
    )
    if used is None:
        raise InvalidAccountToken()
    user_id, email = used
    await queries.update_password_hash(conn, user_id, await auth.hash_password(data.password))
    ended = await queries.revoke_sessions(conn, user_id)
    if not await queries.address_proven_by_other(conn, email, user_id):
        await queries.mark_verified(conn, user_id, email)
    return SessionsEnded(sessions_ended=ended)


async def change_password(
    conn: asyncpg.Connection, user: auth.CurrentUser, data: ChangePasswordRequest
) -> SessionsEnded:
    """A new password, given the current one; every other session ends (this one goes on)."""
    current = await queries.password_hash_of(conn, user.id)
    if current is None or not await auth.verify_password(current, data.current_password):
        raise InvalidField("current_password", REASON_WRONG_PASSWORD)
    if data.new_password == data.current_password:
        raise InvalidField("new_password", REASON_SAME_PASSWORD)
    await queries.update_password_hash(conn, user.id, await auth.hash_password(data.new_password))
    return SessionsEnded(sessions_ended=await queries.revoke_sessions(conn, user.id, keep=user.session_id))


async def logout_all(conn: asyncpg.Connection, user_id: uuid.UUID) -> SessionsEnded:
    """End every session of the person, this one included (a lost phone, a shared computer)."""
    return SessionsEnded(sessions_ended=await queries.revoke_sessions(conn, user_id))
