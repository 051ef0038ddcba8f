"""Polling the configured feeds: conditional requests, size limits, per-feed backoff, a record of each fetch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from official_warnings import queries, service
from official_warnings.models import PollReport
from official_warnings.normalise import SOURCE_OF_KIND
from official_warnings.parsing import (
    FeedError,
    dwd_documents,
    parse_atom,
    parse_cap,
    parse_nina_dashboard,
    parse_nina_detail,
)

logger = logging.getLogger("warnings.poller")

MAX_BYTES = 8 * 1024 * 1024
MAX_DOCUMENTS_PER_POLL = 300
MAX_BACKOFF_S = 3600
TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)


@dataclass
class Response:
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None


class TooLarge(Exception):
    """The server sent more than MAX_BYTES."""


async def fetch(
    session: aiohttp.ClientSession, url: str, *, etag: str | None = None, last_modified: str | None = None
) -> Response:
    headers = {"User-Agent": "hub-pays-de-bitche/1.0 (official warnings)"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    async with session.get(url, headers=headers, allow_redirects=True, max_redirects=3) as response:
        body = b""
        if response.status == 200:
            chunks, size = [], 0
            async for chunk in response.content.iter_chunked(65536):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise TooLarge(url)
                chunks.append(chunk)
            body = b"".join(chunks)
        return Response(
            response.status, body, response.headers.get("ETag"), response.headers.get("Last-Modified")
        )


def feed_key(kind: str, url: str) -> str:
    return f"{kind} {url}"


def _backoff(poll_seconds: int, failures: int) -> timedelta:
    return timedelta(seconds=min(MAX_BACKOFF_S, poll_seconds * 2 ** min(failures, 12)))


def _nina_detail_url(dashboard_url: str, warning_id: str) -> str:
    base, sep, _rest = dashboard_url.partition("/dashboard/")
    if not sep:
        raise FeedError("NINA feed URL is not a dashboard URL")
    return f"{base}/warnings/{warning_id}.json"


Link = tuple[str, str, bytes | None]


def _links(kind: str, url: str, body: bytes) -> list[Link]:
    """What a feed answer leads to: (url, version, data) with data already there for DWD deliveries."""
    if kind == "dwd":
        return [(url, "", data) for data in dwd_documents(body)]
    links: list[Link] = []
    if kind == "cap-atom":
        links.extend((e.url, e.version, None) for e in parse_atom(body, url))
    else:
        links.extend((_nina_detail_url(url, i.id), i.version, None) for i in parse_nina_dashboard(body))
    return links[:MAX_DOCUMENTS_PER_POLL]


async def _take_in(
    conn: asyncpg.Connection,
    session: aiohttp.ClientSession,
    kind: str,
    links: list[Link],
    now: datetime,
) -> tuple[int, list[str]]:
    """Read each new document and take in its message, each in a savepoint: one bad document is refused
    (and tried again next time) without holding back the others. Returns (messages taken, refusals)."""
    region = await service.region(conn)
    taken, refused = 0, []
    for link, version, data in links:
        if version and await queries.document_version(conn, link) == version:
            continue
        try:
            async with conn.transaction():
                if data is None:
                    response = await fetch(session, link)
                    if response.status != 200:
                        raise FeedError(f"document answered {response.status}")
                    data = response.body
                alert = parse_nina_detail(data) if kind == "nina" else parse_cap(data)
                if await service.ingest(conn, alert, SOURCE_OF_KIND[kind], now, region) is not None:
                    taken += 1
                if version:
                    await queries.document_read(conn, link, version, now)
        except (
            FeedError,
            TooLarge,
            aiohttp.ClientError,
            TimeoutError,
            UnicodeError,
            # values the database refuses (an impossible time range): that document only, in its savepoint
            asyncpg.DataError,
        ) as exc:
            refused.append(f"{type(exc).__name__}: {exc}"[:120])
    return taken, refused


async def poll_feed(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    kind: str,
    url: str,
    *,
    now: datetime,
    poll_seconds: int,
    transaction: Any,
) -> PollReport | None:
    """Poll one feed if it is due: take in its new messages, or back off; None when it was not due.

    Everything of one poll commits together (messages, notifications, the feed's state and its record);
    a feed that answers garbage or an error changes nothing but its own backoff and record.
    """
    key = feed_key(kind, url)
    async with transaction(pool) as conn:
        await queries.ensure_feed(conn, key, kind, url, now)
    async with transaction(pool) as conn:
        state = await queries.lock_due_feed(conn, key, now)
        if state is None:
            return None
        status: int | None = None
        try:
            response = await fetch(session, url, etag=state.etag, last_modified=state.last_modified)
            status = response.status
            refused: list[str] = []
            if response.status == 304:
                outcome, alerts = "not_modified", 0
            elif response.status != 200:
                raise FeedError(f"feed answered {response.status}")
            else:
                links = _links(kind, url, response.body)
                alerts, refused = await _take_in(conn, session, kind, links, now)
                outcome = "ok"
        except (FeedError, TooLarge, aiohttp.ClientError, TimeoutError, UnicodeError) as exc:
            failures = state.failures + 1
            outcome = (
                "unreachable"
                if status is None and not isinstance(exc, FeedError)
                else ("http_error" if status not in (None, 200) else "garbage")
            )
            await queries.record_fetch(
                conn, key, url, now, status, outcome, 0, f"{type(exc).__name__}: {exc}"
            )
            await queries.feed_polled(
                conn,
                key,
                now=now,
                next_poll_at=now + _backoff(poll_seconds, failures),
                failures=failures,
                etag=state.etag,
                last_modified=state.last_modified,
            )
            logger.warning("warning feed %s: %s (failure %d, backing off)", kind, outcome, failures)
            return PollReport(key, outcome, status, 0)
        refusals = (
            f"{len(refused)} documents refused: " + "; ".join(refused[:3])
            if outcome == "ok" and refused
            else None
        )
        await queries.record_fetch(conn, key, url, now, status, outcome, alerts, refusals)
        await queries.feed_polled(
            conn,
            key,
            now=now,
            next_poll_at=now + timedelta(seconds=poll_seconds),
            failures=0,
            etag=response.etag or state.etag,
            last_modified=response.last_modified or state.last_modified,
        )
        logger.info("warning feed %s: %s, %d new messages", kind, outcome, alerts)
        return PollReport(key, outcome, status, alerts)
