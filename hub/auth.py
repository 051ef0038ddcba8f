"""Authentication: argon2id passwords off the event loop, short-lived JWTs tied to revocable sessions."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from litestar.connection import ASGIConnection, Request
from litestar.security.jwt import JWTAuth, Token

from hub import db
from hub.settings import Settings

ISSUER = "hub"
AUDIENCE = "hub-app"
PUBLIC_PATHS = [
    "^/schema",
    "^/swagger",
    "^/health/",
    "^/v1/auth/(register|login|refresh)$",
    "^/v1/municipalities",
    "^/v1/unsubscribe/",
    "^/v1/partner/",
    "^/v1/care/services",
    "^/v1/calendar/",
    "^/v1/communities/[^/]+/events\\.ics$",
    "^/v1/events/open-data",
    "^/dev/",
]

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class CurrentUser(msgspec.Struct, frozen=True):
    """The signed-in person as a request sees them."""

    id: uuid.UUID
    session_id: uuid.UUID
    email: str
    display_name: str
    locale: str
    is_admin: bool


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


_DUMMY_HASH = _hasher.hash("not a real password, only equalises timing")


async def burn_password_check(password: str) -> None:
    """Spend the same time as a real check, so unknown emails cannot be told apart by timing."""
    await verify_password(_DUMMY_HASH, password)


def new_refresh_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def _retrieve_user(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    # Authentication middleware: the route's connection dependency takes over the lookup's connection.
    return await _session_user(token, connection, keep_connection=True)


async def _session_user(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any], *, keep_connection: bool
) -> CurrentUser | None:
    """The token's user if its session is still open; looked up on every request, so revocation is immediate."""
    extras = token.extras or {}
    try:
        user_id = uuid.UUID(token.sub)
        session_id = uuid.UUID(str(extras.get("sid")))
    except (ValueError, TypeError):
        return None
    pool = connection.app.state.db_pool
    row = await db.fetchrow_for_request(
        connection.scope if keep_connection else None,
        pool,
        """
        SELECT u.id, u.email, u.display_name, u.locale, u.is_admin
        FROM users u JOIN sessions s ON s.user_id = u.id
        WHERE u.id = $1 AND s.id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()
        """,
        user_id,
        session_id,
    )
    if row is None:
        return None
    return CurrentUser(
        id=row["id"],
        session_id=session_id,
        email=row["email"],
        display_name=row["display_name"],
        locale=row["locale"],
        is_admin=row["is_admin"],
    )


#: access tokens whose signature and claims were verified, oldest first, at most ``_VERIFIED_MAX``
_verified: dict[tuple[object, ...], Token] = {}
_VERIFIED_MAX = 10_000


def _frozen(value: str | Sequence[str] | None) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())


@dataclasses.dataclass
class AccessToken(Token):
    """An access token verified once per process: later uses of the same token only check its expiry.

    Signature, audience, issuer and claims are properties of the token's exact text, so checking them again
    changes nothing; only ``exp`` depends on the time (``nbf`` and ``iat`` only ever become valid). The
    session behind the token is still looked up on every request, so a revoked session is refused at once.
    """

    @classmethod
    def decode(
        cls,
        encoded_token: str,
        secret: str,
        algorithm: str,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        require_claims: Sequence[str] | None = None,
        verify_exp: bool = True,
        verify_nbf: bool = True,
        strict_audience: bool = False,
    ) -> Self:
        key = (
            encoded_token,
            secret,
            algorithm,
            _frozen(audience),
            _frozen(issuer),
            tuple(require_claims or ()),
            verify_exp,
            verify_nbf,
            strict_audience,
        )
        known = _verified.get(key)
        if isinstance(known, cls) and known.exp > datetime.now(UTC):
            return known
        _verified.pop(key, None)
        token = super().decode(
            encoded_token,
            secret,
            algorithm,
            audience=audience,
            issuer=issuer,
            require_claims=require_claims,
            verify_exp=verify_exp,
            verify_nbf=verify_nbf,
            strict_audience=strict_audience,
        )
        if verify_exp:
            if len(_verified) >= _VERIFIED_MAX:
                del _verified[next(iter(_verified))]
            _verified[key] = token
        return token


def build_jwt_auth(settings: Settings) -> JWTAuth[CurrentUser, Token]:
    return JWTAuth[CurrentUser, Token](
        token_secret=settings.secret_key,
        token_cls=AccessToken,
        retrieve_user_handler=_retrieve_user,
        default_token_expiration=timedelta(minutes=settings.access_token_minutes),
        accepted_issuers=[ISSUER],
        accepted_audiences=[AUDIENCE],
        require_claims=["exp", "iss", "aud", "jti"],
        exclude=PUBLIC_PATHS,
        exclude_opt_key="public",
        description="Access token from /v1/auth/login or /v1/auth/register",
    )


class TokenIssuer:
    """Signs access tokens naming a user and their session."""

    def __init__(self, jwt_auth: JWTAuth[CurrentUser, Token]) -> None:
        self._jwt_auth = jwt_auth

    def access_token(self, user_id: uuid.UUID, session_id: uuid.UUID) -> str:
        return self._jwt_auth.create_token(
            identifier=str(user_id),
            token_issuer=ISSUER,
            token_audience=AUDIENCE,
            token_unique_jwt_id=secrets.token_hex(16),
            token_extras={"sid": str(session_id)},
        )


_VIEWER_KEY = "hub.auth.viewer"


def has_viewer(handler: Any) -> bool:
    """Whether a route takes the optional ``viewer`` (anonymous callers welcome, a bad token is a 401)."""
    return "viewer" in handler.resolve_dependencies()


async def resolve_viewer(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: resolve the optional viewer before any dependency runs.

    A bad token is refused here, before the route's connection dependency opens a transaction; resolved
    beside it, the refusal would cancel that dependency half-way through ``BEGIN``. The session is looked
    up on the request's own connection, which the route's dependency then uses.
    """
    if not has_viewer(request.scope["route_handler"]):
        return
    user = await _optional_user(request, keep_connection=True)
    request.scope.setdefault("state", {})[_VIEWER_KEY] = user


async def optional_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    """The signed-in person on a route that anonymous callers may also use (``opt={"public": True}``).

    A missing token means anonymous; a token that is present but invalid or revoked is still a 401, so a
    client never silently sees the anonymous view because its session ended.
    """
    state = connection.scope.get("state") or {}
    if _VIEWER_KEY in state:
        resolved: CurrentUser | None = state[_VIEWER_KEY]
        return resolved
    return await _optional_user(connection, keep_connection=False)


async def _optional_user(
    connection: ASGIConnection[Any, Any, Any, Any], *, keep_connection: bool
) -> CurrentUser | None:
    from litestar.exceptions import NotAuthorizedException

    header = connection.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "bearer" or not encoded or encoded.startswith("hubp_"):
        return None
    jwt_auth: JWTAuth[CurrentUser, Token] = connection.app.state.jwt_auth
    try:
        token = AccessToken.decode(
            encoded,
            secret=jwt_auth.token_secret,
            algorithm=jwt_auth.algorithm,
            audience=AUDIENCE,
            issuer=ISSUER,
            require_claims=["exp", "iss", "aud", "jti"],
        )
    except NotAuthorizedException:
        raise
    except Exception as exc:
        raise NotAuthorizedException() from exc
    user = await _session_user(token, connection, keep_connection=keep_connection)
    if user is None:
        raise NotAuthorizedException()
    connection.scope["user"] = user
    return user
