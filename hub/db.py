"""PostgreSQL: the asyncpg pool, a transaction or a read connection per request, dbmate migrations."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import asyncpg
from arq.connections import ArqRedis
from litestar.datastructures import State

logger = logging.getLogger("hub.db")

#: the packages whose ``migrations/`` folders hold the schema, applied together in timestamp order.
MIGRATION_PACKAGES = ("hub", "communities", "messaging", "care")

Connection = asyncpg.Connection  # re-exported so domain code annotates without importing asyncpg everywhere


def migration_dirs() -> list[Path]:
    root = Path(__file__).resolve().parent.parent
    return [root / pkg / "migrations" for pkg in MIGRATION_PACKAGES if (root / pkg / "migrations").is_dir()]


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


def run_dbmate(database_url: str, *args: str) -> str:
    """Run a dbmate command (``up``, ``status``…) with the migration lock held."""
    command = [_dbmate(), "--url", _dbmate_url(database_url), "--no-dump-schema", "--migration-lock"]
    for folder in migration_dirs():
        command += ["--migrations-dir", str(folder)]
    command += list(args)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise MigrationError((result.stdout + result.stderr).strip())
    return result.stdout


def migrate(database_url: str) -> str:
    """Create the database if needed and apply pending migrations; a no-op when up to date."""
    return run_dbmate(database_url, "up")


async def create_pool(database_url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60
    )


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.execute("SET TIME ZONE 'UTC'")


class _Pending:
    """Work waiting for a transaction to commit: jobs to enqueue and callbacks to run."""

    def __init__(self, queue: ArqRedis | None) -> None:
        self.queue = queue
        self.jobs: list[tuple[str, tuple[Any, ...], str | None]] = []
        self.hooks: list[Callable[[], Awaitable[None]]] = []


#: keyed by the identity of the connection whose transaction the work waits for
_pending: dict[int, _Pending] = {}


def after_commit(conn: asyncpg.Connection, hook: Callable[[], Awaitable[None]]) -> bool:
    """Run ``hook`` after the transaction that ``conn`` is in commits; dropped if it rolls back.

    Returns False when ``conn`` is not in a transaction opened by ``transaction`` (nothing will run;
    the periodic sweeps exist for exactly this kind of miss).
    """
    pending = _pending.get(id(conn))
    if pending is None:
        return False
    pending.hooks.append(hook)
    return True


def enqueue_after_commit(
    conn: asyncpg.Connection, function: str, *args: Any, job_id: str | None = None
) -> bool:
    """Enqueue an ARQ job once the transaction of ``conn`` commits (jobs carry ids only).

    If Redis is unreachable then, the job is not lost: the state it refers to is committed, and the
    sweep that owns that state enqueues it again.
    """
    pending = _pending.get(id(conn))
    if pending is None or pending.queue is None:
        return False
    pending.jobs.append((function, args, job_id))
    return True


@asynccontextmanager
async def transaction(pool: asyncpg.Pool, queue: ArqRedis | None = None) -> AsyncIterator[asyncpg.Connection]:
    """One transaction on a pooled connection, committed at the end of the block unless it raised."""
    async with pool.acquire() as proxy:
        # A pooled connection proxies every Connection method; domain code is typed against Connection.
        conn = cast(asyncpg.Connection, proxy)
        pending = _Pending(queue)
        _pending[id(conn)] = pending
        kept: BaseException | None = None
        try:
            async with conn.transaction():
                try:
                    yield conn
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
        for function, args, job_id in pending.jobs:
            try:
                await pending.queue.enqueue_job(function, *args, _job_id=job_id)
            except Exception as exc:
                logger.warning("could not enqueue %s after commit (a sweep will): %s", function, exc)
    for hook in pending.hooks:
        try:
            await hook()
        except Exception:
            logger.exception("after-commit hook failed")


@asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection outside any transaction of ours (each statement commits by itself)."""
    async with pool.acquire() as proxy:
        yield cast(asyncpg.Connection, proxy)


async def provide_transaction(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """Litestar dependency: a connection inside one transaction, committed when the handler returns.

    A handler that raises rolls everything back, so a request never leaves half its changes behind.
    Jobs to enqueue once it has committed are registered with ``enqueue_after_commit``.
    """
    async with transaction(state.db_pool, state.arq) as conn:
        yield conn


async def provide_read_connection(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """Litestar dependency for routes that only read: a pooled connection without BEGIN/COMMIT.

    Under READ COMMITTED every statement sees its own snapshot either way, so reads lose nothing; the
    request saves two round trips. Nothing may write through it, and ``enqueue_after_commit`` and
    ``after_commit`` refuse it (there is no commit to wait for).
    """
    async with connection(state.db_pool) as conn:
        yield conn
