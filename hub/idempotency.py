"""Idempotency-Key on POST: a caller's replay of the same request gets the first answer instead of a second action."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from datetime import timedelta

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from hub.auth import CurrentUser
from hub.errors import Conflict, InvalidField
from i18n import N_

MAX_KEY_LENGTH = 200
#: how long a key is remembered; a replay after that acts again, and the retention job purges it
KEPT_FOR = timedelta(hours=24)
#: how long a first request holds its key; past that it is taken for dead (a crashed or killed worker)
HELD_FOR = timedelta(seconds=90)
REASON_BAD_KEY = N_("use 1 to {max} visible ASCII characters.")
REASON_KEY_REUSED = N_("this key was already used for a different request; use a new key for each request.")


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    title = N_("Request already in progress")
    detail = N_("A request with this Idempotency-Key is still being processed. Try again in a moment.")


class IdempotencyKeyReused(InvalidField):
    code = "idempotency_key_reused"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _caller(scope: Scope) -> tuple[bytes, uuid.UUID | None] | None:
    """Who the key belongs to: the signed-in person, else the partner key presented (by its digest)."""
    user = scope.get("user")
    if isinstance(user, CurrentUser):
        return hashlib.sha256(b"user:" + user.id.bytes).digest(), user.id
    authorization = _header(scope, b"authorization") or ""
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() == "bearer" and secret.startswith("hubp_"):
        return hashlib.sha256(b"partner:" + secret.encode()).digest(), None
    return None


def _fingerprint(scope: Scope, body: bytes) -> bytes:
    digest = hashlib.sha256()
    method = str(scope.get("method", "")).encode()
    for part in (method, scope["path"].encode(), scope.get("query_string", b""), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


class _Sealer:
    """AES-GCM with a key derived from the hub's secret: stored answers are never readable at rest."""

    def __init__(self, secret_key: str) -> None:
        self._aead = AESGCM(hmac.new(secret_key.encode(), b"hub idempotency v1", hashlib.sha256).digest())

    def seal(self, body: bytes, bound_to: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, body, bound_to)

    def open(self, sealed: bytes, bound_to: bytes) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], bound_to)


_sealers: dict[str, _Sealer] = {}


def _sealer(scope: Scope) -> _Sealer:
    secret: str = scope["litestar_app"].state.settings.secret_key
    if secret not in _sealers:
        _sealers[secret] = _Sealer(secret)
    return _sealers[secret]


async def _reserve(
    pool: asyncpg.Pool, caller: bytes, user_id: uuid.UUID | None, key: str, fingerprint: bytes
) -> asyncpg.Record | None:
    """Reserve the key for this request; the stored row if another request holds or answered it.

    An expired key, or one whose first request died before answering, is taken over.
    """
    async with pool.acquire() as conn:
        inserted = await conn.fetchval(
            """
            INSERT INTO idempotency_keys AS k
                (caller, key, user_id, fingerprint, status, body, locked_until, expires_at)
            VALUES ($1, $2, $3, $4, 0, '', now() + $5::interval, now() + $6::interval)
            ON CONFLICT (caller, key) DO UPDATE
                SET fingerprint = EXCLUDED.fingerprint, status = 0, body = '', created_at = now(),
                    locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at
                WHERE k.expires_at <= now() OR (k.status = 0 AND k.locked_until <= now())
            RETURNING true
            """,
            caller,
            key,
            user_id,
            fingerprint,
            HELD_FOR,
            KEPT_FOR,
        )
        if inserted:
            return None
        return await conn.fetchrow(
            "SELECT fingerprint, status, body, content_type FROM idempotency_keys WHERE caller = $1 AND key = $2",
            caller,
            key,
        )


async def _read_body(receive: Receive) -> tuple[bytes, list[ReceiveMessage]]:
    messages: list[ReceiveMessage] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    """Remember the first successful answer to a POST that carried ``Idempotency-Key`` (per caller and key,
    for that exact request) and replay it, marked ``Idempotent-Replayed: true``. The same key with another
    request is a 422; failures are not remembered, so a corrected request may use the key again."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == ScopeType.HTTP else None
        caller = _caller(scope) if key is not None and scope.get("method") == "POST" else None
        if key is None or caller is None:
            await app(scope, receive, send)
            return
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise InvalidField("Idempotency-Key", REASON_BAD_KEY, max=MAX_KEY_LENGTH)
        caller_id, user_id = caller
        body, messages = await _read_body(receive)
        fingerprint = _fingerprint(scope, body)
        pool: asyncpg.Pool = scope["litestar_app"].state.db_pool
        sealer = _sealer(scope)
        bound_to = caller_id + key.encode()
        stored = await _reserve(pool, caller_id, user_id, key, fingerprint)
        if stored is not None:
            if not hmac.compare_digest(bytes(stored["fingerprint"]), fingerprint):
                raise IdempotencyKeyReused("Idempotency-Key", REASON_KEY_REUSED)
            if stored["status"] == 0:
                raise IdempotencyKeyInUse()
            await send(
                {
                    "type": "http.response.start",
                    "status": stored["status"],
                    "headers": [
                        (b"content-type", stored["content_type"].encode()),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            answer = sealer.open(bytes(stored["body"]), bound_to)
            await send({"type": "http.response.body", "body": answer, "more_body": False})
            return

        async def replay_body() -> ReceiveMessage:
            if messages:
                return messages.pop(0)
            return await receive()

        status = 0
        content_type = "application/json"
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = MutableScopeHeaders.from_message(message).get("content-type") or content_type
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await app(scope, replay_body, capture)
        finally:
            await _settle(pool, caller_id, key, status, sealer.seal(b"".join(chunks), bound_to), content_type)

    return middleware


async def _settle(
    pool: asyncpg.Pool, caller: bytes, key: str, status: int, sealed: bytes, content_type: str
) -> None:
    async with pool.acquire() as conn:
        if 200 <= status < 300:
            await conn.execute(
                "UPDATE idempotency_keys SET status = $3, body = $4, content_type = $5 WHERE caller = $1 AND key = $2",
                caller,
                key,
                status,
                sealed,
                content_type,
            )
        else:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2 AND status = 0", caller, key
            )
