"""Feed benchmark: GET /v1/feed for a member of 20 communities against a bare one-query endpoint, same server.

python -m bench.feed [--posts 1000000] [--communities 2000] [--seconds 10] [--concurrency 32]

Loads the posts with INSERT … SELECT generate_series, starts the hub with uvicorn in a subprocess (one
process, one event loop) with an extra bare Litestar route that runs one indexed asyncpg query returning 20
rows, then hits both under the same concurrent keep-alive load for the same duration, alternating. Uses
embedded PostgreSQL and Redis unless HUB_DATABASE_URL / HUB_REDIS_URL are set (then in a fresh database
that is dropped afterwards). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from devtools.embedded import EmbeddedPostgres, EmbeddedRedis
from hub.db import migrate
from server.domains import MIGRATIONS
from territory.loader import load_pilot_region

SERVER_SCRIPT = """
import json, sys
import msgspec, uvicorn
from litestar import get
from litestar.datastructures import State
from server.app import create_app
from hub.settings import load_settings

args = json.loads(sys.argv[1])

class Row(msgspec.Struct):
    id: str
    title_fr: str | None
    title_de: str | None
    published_at: str

@get("/bench/bare", opt={"public": True})
async def bare(state: State, community: str) -> list[Row]:
    rows = await state.db_pool.fetch(
        "SELECT id::text, title_fr, title_de, published_at::text FROM posts "
        "WHERE community_id = $1::uuid AND published_at IS NOT NULL AND hidden_at IS NULL "
        "ORDER BY published_at DESC, id DESC LIMIT 20",
        community,
    )
    return [Row(*r) for r in rows]

settings = load_settings(args["env"])
app = create_app(settings, database_url=args["database_url"], redis_url=args["redis_url"], extra_routes=[bare])
uvicorn.run(app, host="127.0.0.1", port=args["port"], log_level="warning", access_log=False, loop="uvloop",
            http="httptools")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def load(database_url: str, posts: int, communities: int) -> dict[str, Any]:
    """Communities, an author and posts spread evenly; returns the ids the load phase needs."""
    conn = await asyncpg.connect(database_url)
    try:
        await load_pilot_region(conn)
        author = await conn.fetchval(
            "INSERT INTO users (email, password_hash, display_name, locale) "
            "VALUES ('bench-author@example.test', 'x', 'Auteur', 'fr') RETURNING id"
        )
        await conn.execute(
            """
            INSERT INTO communities (name_fr, name_de, kind, visibility, join_policy, search_key, created_by)
            SELECT 'Communauté ' || i, 'Gemeinschaft ' || i, 'association', 'public', 'open',
                   'communaute ' || i || ' gemeinschaft ' || i, $1
            FROM generate_series(1, $2) AS i
            """,
            author,
            communities,
        )
        await conn.execute(
            "INSERT INTO community_municipalities SELECT id, '57089' FROM communities; "
            "INSERT INTO memberships (community_id, user_id, role, status) "
            "SELECT id, (SELECT id FROM users WHERE email = 'bench-author@example.test'), 'admin', 'active' "
            "FROM communities"
        )
        started = time.perf_counter()
        await conn.execute(
            """
            WITH c AS (SELECT array_agg(id ORDER BY id) AS ids FROM communities)
            INSERT INTO posts (community_id, author_id, title_fr, title_de, body_fr, body_de, priority,
                               published_at, created_at)
            SELECT c.ids[1 + i % $2], $1, 'Annonce ' || i, 'Mitteilung ' || i,
                   'Texte de l''annonce numéro ' || i || ' pour les habitants des deux côtés de la frontière.',
                   CASE WHEN i % 3 = 0 THEN NULL ELSE 'Text der Mitteilung Nummer ' || i || '.' END,
                   'info', now() - i * interval '1 second', now() - i * interval '1 second'
            FROM c, generate_series(1, $3) AS i
            """,
            author,
            communities,
            posts,
        )
        load_seconds = time.perf_counter() - started
        await conn.execute("ANALYZE")
        chosen = await conn.fetch(
            "SELECT id FROM communities ORDER BY id LIMIT 20 OFFSET $1", max(0, communities // 2 - 10)
        )
        return {"community_ids": [str(r["id"]) for r in chosen], "load_seconds": load_seconds}
    finally:
        await conn.close()


async def hammer(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    base: str, community_ids: list[str], database_url: str, args: argparse.Namespace, server_pid: int
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(300):
            try:
                async with session.get(f"{base}/health/live") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        register = {
            "email": f"bench-{secrets.token_hex(4)}@example.test",
            "password": "correct horse battery",
            "display_name": "Lecteur",
            "locale": "fr",
        }
        async with session.post(f"{base}/v1/auth/register", json=register) as response:
            assert response.status == 201, await response.text()
            account = await response.json()
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "INSERT INTO memberships (community_id, user_id, role, status) "
                "SELECT unnest($1::uuid[]), $2::uuid, 'member', 'active'",
                community_ids,
                account["user"]["id"],
            )
        finally:
            await conn.close()
        auth = {"Authorization": f"Bearer {account['access_token']}"}
        feed_url = f"{base}/v1/feed?limit=20"
        bare_url = f"{base}/bench/bare?community={community_ids[0]}"
        async with session.get(feed_url, headers=auth) as response:
            page = await response.json()
            assert len(page["items"]) == 20, page
        # warm-up, then alternate so that both see the same machine state
        await hammer(session, bare_url, {}, 2, args.concurrency)
        await hammer(session, feed_url, auth, 2, args.concurrency)
        runs: dict[str, list[dict[str, float]]] = {"bare": [], "feed": []}
        targets = {"bare": (bare_url, {}), "feed": (feed_url, auth)}
        for _ in range(2):
            for label, (url, headers) in targets.items():
                # server CPU per request: what bounds a one-event-loop server, and steadier than req/s on a
                # machine that is busy with other work
                cpu = _cpu_seconds(server_pid)
                run = await hammer(session, url, headers, args.seconds / 2, args.concurrency)
                run["cpu_us"] = (_cpu_seconds(server_pid) - cpu) / run["requests"] * 1e6
                runs[label].append(run)

    def combine(parts: list[dict[str, float]]) -> dict[str, float]:
        return {
            "rps": round(sum(p["rps"] for p in parts) / len(parts), 1),
            "p50_ms": round(max(p["p50_ms"] for p in parts), 2),
            "p99_ms": round(max(p["p99_ms"] for p in parts), 2),
            "errors": sum(p["errors"] for p in parts),
            "server_cpu_us": round(sum(p["cpu_us"] for p in parts) / len(parts)),
        }

    return {"bare": combine(runs["bare"]), "feed": combine(runs["feed"])}


async def explain(database_url: str, community_ids: list[str]) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        user_id = await conn.fetchval(
            "SELECT user_id FROM memberships WHERE community_id = $1::uuid AND role = 'member'",
            community_ids[0],
        )
        started = time.perf_counter()
        from communities import queries

        for _ in range(20):
            await queries.feed(conn, user_id, after=None, limit=21, lang="fr")
        return f"{(time.perf_counter() - started) / 20 * 1000:.2f}"
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--communities", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-feed-", dir="/tmp"))
    workdir.chmod(0o755)
    stoppers = []
    external_db = os.environ.get("HUB_DATABASE_URL")
    redis_url = os.environ.get("HUB_REDIS_URL")
    name = f"hub_bench_feed_{secrets.token_hex(4)}"
    try:
        if external_db:

            async def admin(sql: str) -> None:
                conn = await asyncpg.connect(external_db)
                try:
                    await conn.execute(sql)
                finally:
                    await conn.close()

            asyncio.run(admin(f'CREATE DATABASE "{name}"'))
            stoppers.append(lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
            database_url = _with_database(external_db, name)
        else:
            pg = EmbeddedPostgres(workdir)
            database_url = pg.start()
            stoppers.append(pg.stop)
        if not redis_url:
            redis = EmbeddedRedis(workdir, persistent=False)
            redis_url = redis.start()
            stoppers.append(redis.stop)
        migrate(database_url, MIGRATIONS)
        loaded = asyncio.run(load(database_url, args.posts, args.communities))

        port = _free_port()
        env = {
            "HUB_DATA_DIR": str(workdir),
            "HUB_SECRET_KEY": secrets.token_urlsafe(48),
            "HUB_QUEUE_NAME": f"hub-bench-{secrets.token_hex(4)}",
            "HUB_AUTH_RATE_PER_MINUTE": "100000",
            "HUB_LOG_LEVEL": "WARNING",
        }
        server_args = {"env": env, "database_url": database_url, "redis_url": redis_url, "port": port}
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER_SCRIPT, json.dumps(server_args)],
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            figures = asyncio.run(
                measure(f"http://127.0.0.1:{port}", loaded["community_ids"], database_url, args, server.pid)
            )
            query_ms = asyncio.run(explain(database_url, loaded["community_ids"]))
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        for stop in reversed(stoppers):
            stop()
        shutil.rmtree(workdir, ignore_errors=True)

    ratio = figures["feed"]["rps"] / figures["bare"]["rps"] if figures["bare"]["rps"] else 0.0
    print(f"posts {args.posts}, communities {args.communities}, loaded in {loaded['load_seconds']:.1f} s")
    print(f"feed query alone (20 communities, 21 rows): {query_ms} ms")
    for label in ("bare", "feed"):
        f = figures[label]
        print(
            f"{label:5} {f['rps']:8.1f} req/s  p50 {f['p50_ms']:6.2f} ms  p99 {f['p99_ms']:6.2f} ms  "
            f"server CPU {f['server_cpu_us']:5} µs/request  errors {f['errors']}"
        )
    print(f"feed / bare = {ratio:.2f} (target ≥ 0.6)")
    result = {
        "benchmark": "feed",
        "posts": args.posts,
        "communities": args.communities,
        "member_of": 20,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "load_seconds": round(loaded["load_seconds"], 1),
        "feed_query_ms": float(query_ms),
        "bare": figures["bare"],
        "feed": figures["feed"],
        "ratio": round(ratio, 3),
        "target_met": ratio >= 0.6,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
