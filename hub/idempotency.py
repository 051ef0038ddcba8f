"""Idempotency-Key on POST: a signed-in caller's replay gets the first response instead of a second action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from hub.auth import CurrentUser
from hub.errors import Conflict, InvalidField
from i18n import N_

MAX_KEY_LENGTH = 200
#: how long a key is remembered; a replay after that acts again
KEPT_FOR = timedelta(hours=24)
REASON_BAD_KEY = N_("use 1 to {max} visible ASCII characters.")


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    title = N_("Request already in progress")
    detail = N_("A request with this Idempotency-Key is still being processed. Try again in a moment.")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _reserve(pool: asyncpg.Pool, user_id: Any, key: str, route: str) -> asyncpg.Record | None:
    """Reserve the key for this request; the stored answer (or the in-progress marker) if it is taken."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND route = $3 AND created_at < now() - $4::interval",
            user_id,
            key,
            route,
            KEPT_FOR,
        )
        inserted = await conn.fetchval(
            "INSERT INTO idempotency_keys (user_id, key, route, status, body) VALUES ($1, $2, $3, 0, '') "
            "ON CONFLICT DO NOTHING RETURNING true",
            user_id,
            key,
            route,
        )
        if inserted:
            return None
        return await conn.fetchrow(
            "SELECT status, body, content_type FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND route = $3",
            user_id,
            key,
            route,
        )


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    """Remember the first successful answer to a POST that carried ``Idempotency-Key`` (per person, key and
    path) and replay it, marked ``Idempotent-Replayed: true``; failures are not remembered, so the same key
    can be used again once the request is corrected."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == ScopeType.HTTP else None
        user = scope.get("user")
        if key is None or scope.get("method") != "POST" or not isinstance(user, CurrentUser):
            await app(scope, receive, send)
            return
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise InvalidField("Idempotency-Key", REASON_BAD_KEY, max=MAX_KEY_LENGTH)
        pool: asyncpg.Pool = scope["litestar_app"].state.db_pool
        route = scope["path"]
        stored = await _reserve(pool, user.id, key, route)
        if stored is not None:
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
            await send({"type": "http.response.body", "body": bytes(stored["body"]), "more_body": False})
            return

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
            await app(scope, receive, capture)
        finally:
            async with pool.acquire() as conn:
                if 200 <= status < 300:
                    await conn.execute(
                        "UPDATE idempotency_keys SET status = $4, body = $5, content_type = $6 "
                        "WHERE user_id = $1 AND key = $2 AND route = $3",
                        user.id,
                        key,
                        route,
                        status,
                        b"".join(chunks),
                        content_type,
                    )
                else:
                    await conn.execute(
                        "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND route = $3 AND status = 0",
                        user.id,
                        key,
                        route,
                    )

    return middleware
