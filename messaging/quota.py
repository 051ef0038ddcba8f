"""The push provider's quota, shared by every worker: a token bucket and a pause in Redis."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis

logger = logging.getLogger("messaging.quota")

# Takes up to ARGV[1] tokens from the bucket (capacity ARGV[3], refilled at ARGV[2] per second, by Redis's
# own clock so that workers on different machines agree). Answers {granted, wait_ms}: while a pause set
# after a 429 runs, nothing is granted and wait_ms is what is left of it; when the bucket is short, only
# what it holds is granted and wait_ms says when the rest will be there.
_TAKE = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then
  return {0, paused - now}
end
local want = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / 1000.0
local capacity = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 60000)
local wait = 0
if granted < want then
  wait = math.ceil((math.min(want - granted, capacity) - tokens) / rate)
end
return {granted, wait}
"""

# Pauses every worker until now + ARGV[1] ms, unless a longer pause is already set.
_PAUSE = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], tostring(until_ms), 'PX', tonumber(ARGV[1]) + 1000)
  return 1
end
return 0
"""

#: when FCM answers 429 without Retry-After, every worker waits this long before sending again
DEFAULT_PAUSE_S = 10.0
#: the longest pause a Retry-After can impose (a wrong header must not stop pushes for hours)
MAX_PAUSE_S = 300.0


class Quota:
    """Messages per minute for one provider, across all workers of a hub (one Redis).

    ``take(n)`` waits until n sends are allowed; ``pause(seconds)`` (after a 429 with Retry-After) holds
    every worker's sends for that long. The bucket holds one second of the rate, so a burst never exceeds
    the per-minute quota by more than a second's worth.
    """

    def __init__(self, redis: Redis, key: str, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.redis = redis
        self.per_minute = per_minute
        self._bucket = f"{key}:bucket"
        self._pause = f"{key}:pause"
        self._rate = per_minute / 60.0
        self._capacity = max(1, int(self._rate))
        self._take: Any = redis.register_script(_TAKE)
        self._set_pause: Any = redis.register_script(_PAUSE)

    async def take(self, count: int) -> float:
        """Wait until ``count`` sends are allowed; returns the seconds waited."""
        waited = 0.0
        while count > 0:
            granted, wait_ms = await self._take(
                keys=[self._bucket, self._pause], args=[count, self._rate, self._capacity]
            )
            count -= int(granted)
            if count > 0:
                delay = max(int(wait_ms), 1) / 1000
                waited += delay
                await asyncio.sleep(delay)
        return waited

    async def pause(self, seconds: float | None) -> None:
        """Hold every worker's sends for ``seconds`` (the provider's Retry-After, else DEFAULT_PAUSE_S)."""
        delay = min(MAX_PAUSE_S, DEFAULT_PAUSE_S if seconds is None else max(seconds, 0.001))
        if await self._set_pause(keys=[self._pause], args=[int(delay * 1000)]):
            logger.warning("push quota exceeded: every worker waits %.1f s", delay)
