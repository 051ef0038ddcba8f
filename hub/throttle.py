"""Throttles that hold: the client's real address (X-Forwarded-For only from trusted proxies) and counted failures."""

from __future__ import annotations

import hashlib
import ipaddress
from functools import lru_cache
from typing import Any

from redis.asyncio import Redis

from hub.errors import HubError
from i18n import N_

#: failed sign-ins per account, and failed partner keys per client address, in each window
SIGN_IN_FAILURES = 10
SIGN_IN_WINDOW_S = 15 * 60
PARTNER_KEY_FAILURES = 10
PARTNER_KEY_WINDOW_S = 10 * 60


class TooManyAttempts(HubError):
    code = "rate_limited"
    status = 429
    title = N_("Too many requests")
    detail = N_("Too many attempts. Please wait {seconds} seconds and try again.")


@lru_cache(maxsize=64)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in trusted)


def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(trusted))


def client_address(scope: Any, trusted: tuple[str, ...]) -> str:
    """The caller's address: the peer, unless the peer is a trusted proxy; then the nearest address in
    ``X-Forwarded-For`` that is not one of ours. Without trusted proxies the header is ignored."""
    client = scope.get("client")
    peer = str(client[0]) if client else "127.0.0.1"
    if not trusted or not _trusted(peer, trusted):
        return peer
    forwarded = ""
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded += ("," if forwarded else "") + bytes(value).decode("latin-1")
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not _trusted(hop, trusted):
            return hop
    return peer


class Failures:
    """Failures counted per subject in Redis over a fixed window; past the limit, a 429 with Retry-After."""

    def __init__(self, redis: Redis, namespace: str, *, limit: int, window_s: int) -> None:
        self.redis = redis
        self.namespace = namespace
        self.limit = limit
        self.window_s = window_s

    def _key(self, subject: str) -> str:
        return f"{self.namespace}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"

    async def check(self, subject: str) -> None:
        key = self._key(subject)
        count = await self.redis.get(key)
        if count is not None and int(count) >= self.limit:
            ttl = await self.redis.ttl(key)
            seconds = str(max(1, int(ttl)))
            raise TooManyAttempts(headers={"Retry-After": seconds}, seconds=seconds)

    async def failed(self, subject: str) -> None:
        key = self._key(subject)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=self.window_s, nx=True)  # the window starts with the first failure
            pipe.incr(key)
            await pipe.execute()

    async def clear(self, subject: str) -> None:
        await self.redis.delete(self._key(subject))
