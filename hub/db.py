"""PostgreSQL: the asyncpg pool, one connection per request (in a transaction or not), dbmate migrations."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import asyncpg
from arq.connections import ArqRedis
from asyncpg.pool import PoolConnectionProxy
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from hub.logs import current_request_id
from hub.queue import lane_queue
from hub.settings import environment

logger = logging.getLogger("hub.db")

Connection = asyncpg.Connection  # re-exported so domain code annotates without importing asyncpg everywhere


def _dbmate() -> str:
    candidate = Path(sys.executable).parent / "dbmate"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dbmate")
    if not found:
        raise RuntimeError("dbmate executable not found")
    return found


class MigrationError(RuntimeError):
    """dbmate failed; the message carries its output."""


def _dbmate_url(database_url: str) -> str:
    # dbmate needs an explicit sslmode for local servers without TLS.
    if "sslmode=" in database_url:
        return database_url
    return database_url + ("&" if "?" in database_url else "?") + "sslmode=disable"


def run_dbmate(database_url: str, migrations: Sequence[Path], *args: str) -> str:
    """Run a dbmate command (``up``, ``status``…) over the given migration folders, with the lock held."""
    command = [_dbmate(), "--url", _dbmate_url(database_url), "--no-dump-schema", "--migration-lock"]
    for folder in migrations:
        command += ["--migrations-dir", str(folder)]
    command += list(args)
    # The URL is passed as an argument; dbmate would also read DATABASE_URL from the environment.
    env = {k: v for k, v in environment().items() if k != "DATABASE_URL"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise MigrationError((result.stdout + result.stderr).strip())
    return result.stdout


def migrate(database_url: str, migrations: Sequence[Path]) -> str:
    """Create the database if needed and apply pending migrations of ``migrations`` (folders, applied
    together in timestamp order); a no-op when up to date."""
    return run_dbmate(database_url, migrations, "up")


class PooledConnection(asyncpg.Connection):
    """A pooled connection released without a reset query.

    asyncpg's default reset (advisory unlock, ``CLOSE ALL``, ``UNLISTEN *``, ``RESET ALL``) is one round
    trip per release. The hub leaves no session state behind: it never LISTENs, takes no session-level
    advisory locks, opens cursors only inside transactions (closed with them) and sets nothing outside
    ``server_settings``. Open transactions and listener callbacks are still cleared by asyncpg on release.
    """

    def get_reset_query(self) -> str:
        return ""


async def create_pool(
    database_url: str, *, min_size: int = 2, max_size: int = 10, statement_cache_size: int = 100
) -> asyncpg.Pool:
    """The pool of one process. ``statement_cache_size`` 0 is for a connection pooler in transaction mode
    that does not track prepared statements (PgBouncer before 1.21, or without max_prepared_statements)."""
    # A startup parameter rather than SET in ``init``: a reset query would undo a SET on the first release.
    return await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        statement_cache_size=statement_cache_size,
        connection_class=PooledConnection,
        server_settings={"timezone": "UTC"},
        command_timeout=60,
    )


def update_set(
    table: str, allowed: frozenset[str], changes: dict[str, Any], *, key: str = "id"
) -> tuple[str, list[Any]]:
    """``UPDATE <table> SET …`` for the changed columns (each one in ``allowed``; the names come from code,
    the values are parameters) and ``updated_at``; the row's key is ``$1``, then the values in order."""
    assignments = []
    values: list[Any] = []
    for column, value in changes.items():
        if column not in allowed:
            raise ValueError(column)
        values.append(value)
        assignments.append(f"{column} = ${len(values) + 1}")
    assignments.append("updated_at = now()")
    return f"UPDATE {table} SET {', '.join(assignments)} WHERE {key} = $1", values


class _Pending:
    """Work waiting for a transaction to commit: jobs to enqueue."""

    def __init__(self, queue: ArqRedis | None) -> None:
        self.queue = queue
        #: (function, ids, job id, id of the request the job is done for, whether it is urgent)
        self.jobs: list[tuple[str, tuple[Any, ...], str | None, str | None, bool]] = []


#: keyed by the identity of the connection whose transaction the work waits for
_pending: dict[int, _Pending] = {}


def enqueue_after_commit(
    conn: asyncpg.Connection, function: str, *args: Any, job_id: str | None = None, urgent: bool = False
) -> bool:
    """Enqueue an ARQ job once the transaction of ``conn`` commits (jobs carry ids only); ``urgent`` puts it
    on the urgent queue, which workers serve apart from bulk work.

    If Redis is unreachable then, the job is not lost: the state it refers to is committed, and the
    sweep that owns that state enqueues it again.
    """
    pending = _pending.get(id(conn))
    if pending is None or pending.queue is None:
        return False
    pending.jobs.append((function, args, job_id, current_request_id(), urgent))
    return True


@asynccontextmanager
async def transaction(pool: asyncpg.Pool, queue: ArqRedis | None = None) -> AsyncIterator[asyncpg.Connection]:
    """One transaction on a pooled connection, committed at the end of the block unless it raised."""
    async with pool.acquire() as proxy:
        # A pooled connection proxies every Connection method; domain code is typed against Connection.
        conn = cast(asyncpg.Connection, proxy)
        async with in_transaction(conn, queue):
            yield conn


@asynccontextmanager
async def in_transaction(conn: asyncpg.Connection, queue: ArqRedis | None = None) -> AsyncIterator[None]:
    """One transaction on ``conn``, committed at the end of the block unless it raised."""
    pending = _Pending(queue)
    _pending[id(conn)] = pending
    kept: BaseException | None = None
    try:
        async with conn.transaction():
            try:
                yield
            except Exception as exc:
                # Some refusals must leave a trace (a revoked session): those errors commit first.
                if not getattr(exc, "commit_changes", False):
                    raise
                kept = exc
    finally:
        _pending.pop(id(conn), None)
    await _run_pending(pending)
    if kept is not None:
        raise kept


async def _run_pending(pending: _Pending) -> None:
    if pending.queue is not None:
        for function, args, job_id, request_id, urgent in pending.jobs:
            lane = lane_queue(pending.queue.default_queue_name, urgent)
            # the worker binds the request id to the job's log lines (workers.main.job_functions)
            extra: dict[str, Any] = {"request_id": request_id} if request_id else {}
            try:
                await pending.queue.enqueue_job(function, *args, _job_id=job_id, _queue_name=lane, **extra)
            except Exception as exc:
                logger.warning("could not enqueue %s after commit (a sweep will): %s", function, exc)


@asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection outside any transaction of ours (each statement commits by itself)."""
    async with pool.acquire() as proxy:
        yield cast(asyncpg.Connection, proxy)


class _RequestConnection:
    """A request's pooled connection: acquired on first use (authentication, the viewer, the route's
    dependency), released by whoever finishes first: the dependency, else the request itself."""

    __slots__ = ("pool", "proxy")

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.proxy: PoolConnectionProxy | None = None

    async def get(self) -> asyncpg.Connection:
        if self.proxy is None:
            proxy = await self.pool.acquire()
            # another user of this request may have acquired one meanwhile: one connection per request
            if self.held() is not None:
                await self.pool.release(proxy)
            else:
                self.proxy = proxy
        return cast(asyncpg.Connection, self.proxy)

    def held(self) -> PoolConnectionProxy | None:
        return self.proxy

    def take(self) -> PoolConnectionProxy | None:
        """The connection, now the caller's to release (None if there is none left to take)."""
        proxy, self.proxy = self.proxy, None
        return proxy

    async def release(self) -> None:
        if (proxy := self.take()) is not None:
            # asyncpg rolls back an open transaction, waits out a cancelled query, or closes the connection
            await self.pool.release(proxy)


_SCOPE_KEY = "hub.db.request_connection"


def request_connection_middleware(app: ASGIApp) -> ASGIApp:
    """Give each request one connection, owned by the request and released when it ends, whatever happens.

    Authentication, the optional viewer and the route's connection dependency share it (one acquire per
    request). The dependency releases it as soon as the handler is done; this releases it in every other
    case (a refused session, a route without a connection dependency, an error before or while the
    dependencies ran, a cancelled request).
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        shared = _RequestConnection(scope["litestar_app"].state.db_pool)
        scope.setdefault("state", {})[_SCOPE_KEY] = shared
        try:
            await app(scope, receive, send)
        finally:
            await shared.release()

    return middleware


async def fetchrow_for_request(
    scope: Scope | None, pool: asyncpg.Pool, query: str, *args: Any
) -> asyncpg.Record | None:
    """One row through a connection left for the request's connection dependency to take over.

    Only for code that runs before the dependencies are resolved (middleware): they may be resolved
    concurrently, and a connection runs one statement at a time. Without ``scope``, a pooled connection
    for this one statement.
    """
    state = scope.get("state") if scope is not None else None
    shared: _RequestConnection | None = state.get(_SCOPE_KEY) if state else None
    if shared is None:
        return await pool.fetchrow(query, *args)
    conn = await shared.get()
    return await conn.fetchrow(query, *args)


@asynccontextmanager
async def _request_connection(scope: Scope, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """The request's connection (the one authentication may already hold), released at the end.

    The request owns it, not this block: ``request_connection_middleware`` releases it on every path, so a
    dependency that is cancelled or never finalised (a sibling dependency raised while this one was
    opening its transaction) cannot keep it; releasing a connection left inside a transaction rolls it back.
    """
    state = scope.get("state")
    shared: _RequestConnection | None = state.get(_SCOPE_KEY) if state else None
    if shared is None:
        async with pool.acquire() as proxy:
            yield cast(asyncpg.Connection, proxy)
        return
    conn = await shared.get()
    try:
        yield conn
    finally:
        # back to the pool before the response is serialised and sent, as before
        await shared.release()


async def provide_transaction(state: State, scope: Scope) -> AsyncGenerator[asyncpg.Connection, None]:
    """Litestar dependency: a connection inside one transaction, committed when the handler returns.

    A handler that raises rolls everything back, so a request never leaves half its changes behind.
    Jobs to enqueue once it has committed are registered with ``enqueue_after_commit``. The connection
    is the request's own, the one authentication looked the session up with.
    """
    async with _request_connection(scope, state.db_pool) as conn, in_transaction(conn, state.arq):
        yield conn


async def provide_read_connection(state: State, scope: Scope) -> AsyncGenerator[asyncpg.Connection, None]:
    """Litestar dependency for routes that only read: the request's connection without BEGIN/COMMIT.

    Under READ COMMITTED every statement sees its own snapshot either way, so reads lose nothing; the
    request saves two round trips. Nothing may write through it, and ``enqueue_after_commit`` refuses
    it (there is no commit to wait for).
    """
    async with _request_connection(scope, state.db_pool) as conn:
        yield conn
