"""Fan-out benchmark: one urgent bilingual alert to a large community, against same-run baselines.

python -m bench.fanout [--recipients 100000]

Measures planning against a bare INSERT … SELECT of the same delivery rows, push throughput of a worker
process against a bare aiohttp keep-alive loop posting the same payloads to the same loopback FCM endpoint,
email throughput against raw aiosmtplib sending pre-rendered bytes to the same aiosmtpd server, the time
from publish to the last push accepted, and the worker's peak RSS. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import asyncpg

from devtools.embedded import EmbeddedPostgres, EmbeddedRedis
from hub.db import migrate, transaction
from hub.queue import queue_pool
from i18n.content import Bilingual
from messaging.models import Audience
from messaging.push import PushMessage, PushSender
from messaging.service import notify
from server.domains import MIGRATIONS

# The loopback FCM endpoint and the SMTP server each get a process of their own, so that neither slows the
# other down (both are Python servers) and the worker under test is measured alone.
FCM_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from devtools.fcm_local import FcmLocal

async def main():
    fcm = FcmLocal(Path(sys.argv[1]), record_limit=10)
    await fcm.start()
    print(json.dumps({"fcm": fcm.base_url, "credentials": str(fcm.credentials_file)}), flush=True)
    await asyncio.Event().wait()

try:
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""

SMTP_SCRIPT = """
import json, threading
from devtools.smtp_local import MailCatcher

smtp = MailCatcher()
smtp.start()
print(json.dumps({"smtp_port": smtp.port}), flush=True)
threading.Event().wait()
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def seed(conn: asyncpg.Connection, recipients: int) -> uuid.UUID:
    """A community of ``recipients`` members: half French, half German, one device each, email for 20%."""
    community = uuid.uuid4()
    await conn.execute(
        """
        INSERT INTO users (id, email, password_hash, display_name, locale, time_zone)
        SELECT gen_random_uuid(), 'member' || i || '@bench.test', 'x', 'Member ' || i,
               CASE WHEN i % 2 = 0 THEN 'fr' ELSE 'de' END,
               CASE WHEN i % 2 = 0 THEN 'Europe/Paris' ELSE 'Europe/Berlin' END
        FROM generate_series(1, $1) AS i
        """,
        recipients,
    )
    has_communities = await conn.fetchval("SELECT to_regclass('memberships') IS NOT NULL")
    if not has_communities:
        raise SystemExit("the communities schema is missing: run the migrations")
    await conn.execute(
        """
        INSERT INTO communities (id, name_fr, name_de, kind, visibility, join_policy, search_key)
        VALUES ($1, 'Pays de Bitche – alertes', 'Bitscher Land – Warnungen', 'municipal_news', 'public', 'open', '')
        """,
        community,
    )
    await conn.execute(
        "INSERT INTO memberships (community_id, user_id, status) SELECT $1, id, 'active' FROM users "
        "WHERE email LIKE '%@bench.test'",
        community,
    )
    await conn.execute(
        "INSERT INTO devices (user_id, token, platform) SELECT id, 'bench-' || id, 'android' FROM users "
        "WHERE email LIKE '%@bench.test'"
    )
    await conn.execute(
        """
        INSERT INTO notification_preferences (user_id, community_id, push, email)
        SELECT id, $1, true, (row_number() OVER (ORDER BY id)) % 5 = 0 FROM users WHERE email LIKE '%@bench.test'
        """,
        community,
    )
    await conn.execute("ANALYZE")
    return community


async def bare_insert(conn: asyncpg.Connection, community: uuid.UUID) -> tuple[float, int]:
    """Baseline: the same delivery rows written by one plain INSERT … SELECT into an identical table."""
    # The same table: columns, defaults, checks, indexes and foreign keys, but none of the planning logic.
    await conn.execute("CREATE TABLE bare_deliveries (LIKE deliveries INCLUDING ALL)")
    await conn.execute(
        "ALTER TABLE bare_deliveries ADD FOREIGN KEY (notification_id) REFERENCES notifications (id) "
        "ON DELETE CASCADE, ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE"
    )
    notification = await conn.fetchval(
        "INSERT INTO notifications (kind, priority, deep_link) VALUES ('bench', 'urgent', '/') RETURNING id"
    )
    start = time.perf_counter()
    result = await conn.execute(
        """
        INSERT INTO bare_deliveries (notification_id, user_id, channel, locale, municipality_code, status, due_at)
        SELECT $1, m.user_id, c.channel, u.locale, u.municipality_code, 'pending', now()
        FROM memberships m JOIN users u ON u.id = m.user_id
        JOIN notification_preferences p ON p.user_id = m.user_id AND p.community_id = m.community_id
        CROSS JOIN (VALUES ('inbox'), ('push'), ('email')) AS c(channel)
        WHERE m.community_id = $2 AND (c.channel <> 'email' OR p.email)
        """,
        notification,
        community,
    )
    elapsed = time.perf_counter() - start
    await conn.execute("DROP TABLE bare_deliveries")
    return elapsed, int(result.split()[-1])


async def bare_push(endpoint: str, credentials: Path, count: int, concurrency: int) -> float:
    """Baseline: a plain aiohttp keep-alive loop posting the same payloads to the same endpoint."""
    sender = PushSender(credentials, endpoint, concurrency=concurrency)
    await sender.start()
    payloads = [
        sender.payload(
            PushMessage(
                token=f"bare-{i}",
                title="Hitzewarnung",
                body="Trinken Sie Wasser.",
                data={"notification_id": "x"},
                urgent=True,
            )
        )
        for i in range(count)
    ]
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_file(
        str(credentials), scopes=["https://www.googleapis.com/auth/firebase.messaging"]
    )
    import google.auth.transport.requests

    await asyncio.to_thread(creds.refresh, google.auth.transport.requests.Request())
    project = json.loads(credentials.read_text())["project_id"]
    url = f"{endpoint}/v1/projects/{project}/messages:send"
    headers = {"Authorization": f"Bearer {creds.token}", "Content-Type": "application/json"}
    await sender.close()
    queue = iter(payloads)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            for payload in queue:
                async with session.post(url, data=payload, headers=headers) as response:
                    await response.read()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - start)


async def bare_email(port: int, count: int) -> float:
    """Baseline: raw aiosmtplib sending one pre-rendered message over one connection."""
    raw = (
        b"From: hub@bench.test\r\nTo: someone@bench.test\r\nSubject: =?utf-8?q?Hitzewarnung?=\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nTrinken Sie Wasser und bleiben Sie im Kuehlen.\r\n"
        * 1
    )
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
    await smtp.connect()
    start = time.perf_counter()
    for i in range(count):
        await smtp.sendmail("hub@bench.test", [f"bare{i}@bench.test"], raw)
    elapsed = time.perf_counter() - start
    await smtp.quit()
    return count / elapsed


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(recipients: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-", dir="/tmp"))
    os.chmod(workdir, 0o755)
    stoppers: list[Any] = []
    try:
        database_url = os.environ.get("HUB_DATABASE_URL")
        redis_url = os.environ.get("HUB_REDIS_URL")
        if database_url:
            name = f"hub_bench_{secrets.token_hex(4)}"
            admin = await asyncpg.connect(database_url)
            await admin.execute(f'CREATE DATABASE "{name}"')
            await admin.close()
            database_url = database_url.rsplit("/", 1)[0] + f"/{name}"
        else:
            pg = EmbeddedPostgres(workdir)
            database_url = pg.start()
            stoppers.append(pg.stop)
        if not redis_url:
            redis = EmbeddedRedis(workdir, persistent=False)
            redis_url = redis.start()
            stoppers.append(redis.stop)
        migrate(database_url, MIGRATIONS)
        endpoints: dict[str, Any] = {}
        for script in (FCM_SCRIPT, SMTP_SCRIPT):
            server = subprocess.Popen(
                [sys.executable, "-c", script, str(workdir)], stdout=subprocess.PIPE, text=True
            )
            stoppers.append(server.terminate)
            assert server.stdout is not None
            endpoints.update(json.loads(server.stdout.readline()))
        log(f"seeding {recipients} members…")
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        async with pool.acquire() as conn:
            community = await seed(conn, recipients)
            bare_insert_s, rows = await bare_insert(conn, community)
        queue_name = f"bench-{secrets.token_hex(4)}"
        env = {
            **os.environ,
            "HUB_DATABASE_URL": database_url,
            "HUB_REDIS_URL": redis_url,
            "HUB_SECRET_KEY": secrets.token_urlsafe(48),
            "HUB_DATA_DIR": str(workdir),
            "HUB_QUEUE_NAME": queue_name,
            "HUB_FCM_ENDPOINT": endpoints["fcm"],
            "HUB_FCM_CREDENTIALS_FILE": endpoints["credentials"],
            "HUB_SMTP_HOST": "127.0.0.1",
            "HUB_SMTP_PORT": str(endpoints["smtp_port"]),
            "HUB_LOG_LEVEL": "WARNING",
        }
        hub = shutil.which("hub") or str(Path(sys.executable).parent / "hub")
        worker = subprocess.Popen([hub, "worker"], env=env)
        stoppers.append(lambda: worker.send_signal(signal.SIGTERM))
        await asyncio.sleep(3)  # the worker connects and starts polling
        arq = await queue_pool(redis_url, queue_name)
        log("publishing the alert…")
        start = time.perf_counter()
        async with transaction(pool, arq) as conn:
            notification_id = await notify(
                conn,
                kind="post",
                audience=Audience(community_id=community),
                title=Bilingual(fr="Alerte canicule", de="Hitzewarnung"),
                body=Bilingual(fr="Buvez de l'eau et restez au frais.", de="Trinken Sie Wasser."),
                priority="urgent",
                deep_link="/alerts/heat",
            )
        expected_push = recipients
        while True:
            await asyncio.sleep(0.2)
            row = await pool.fetchrow(
                "SELECT count(*) FILTER (WHERE channel = 'push' AND status IN ('sent', 'failed', 'skipped')) AS push, "
                "count(*) FILTER (WHERE channel = 'email' AND status IN ('sent', 'failed', 'skipped')) AS email, "
                "count(*) FILTER (WHERE channel = 'email') AS email_total FROM deliveries WHERE notification_id = $1",
                notification_id,
            )
            if row["push"] >= expected_push and row["email"] >= row["email_total"] > 0:
                break
            if time.perf_counter() - start > 900:
                raise SystemExit("timed out waiting for the fan-out")
        timing = await pool.fetchrow(
            """
            SELECT
              (SELECT planned_at - created_at FROM notifications WHERE id = $1) AS plan_latency,
              (SELECT extract(epoch FROM max(sent_at) - min(sent_at)) FROM deliveries
                WHERE notification_id = $1 AND channel = 'push' AND status = 'sent') AS push_span,
              (SELECT count(*) FROM deliveries WHERE notification_id = $1 AND channel = 'push' AND status = 'sent')
                AS pushes,
              (SELECT extract(epoch FROM max(sent_at) - min(sent_at)) FROM deliveries
                WHERE notification_id = $1 AND channel = 'email' AND status = 'sent') AS email_span,
              (SELECT count(*) FROM deliveries WHERE notification_id = $1 AND channel = 'email' AND status = 'sent')
                AS emails,
              (SELECT extract(epoch FROM max(sent_at) - (SELECT created_at FROM notifications WHERE id = $1))
                FROM deliveries WHERE notification_id = $1 AND channel = 'push') AS e2e
            """,
            notification_id,
        )
        rss = peak_rss_mb(worker.pid)
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        # planning measured alone, on a second identical notification planned in-process
        async with transaction(pool) as conn:
            second = await notify(
                conn,
                kind="post",
                audience=Audience(community_id=community),
                title=Bilingual(fr="Alerte", de="Warnung"),
                body=Bilingual(fr="Texte", de="Text"),
                priority="urgent",
                deep_link="/alerts/2",
            )
        from messaging import pipeline

        async with transaction(pool) as conn:
            plan_start = time.perf_counter()
            await pipeline.plan_notification(conn, second, pipeline.utcnow())
            plan_s = time.perf_counter() - plan_start
        await arq.aclose()
        log("baselines…")
        # The worker sends both channels at once; so do the baselines, with the same volumes, so that
        # each meets the same competition for the machine's cores as the worker did.
        bare_push_per_s, bare_email_per_s = await asyncio.gather(
            bare_push(endpoints["fcm"], Path(endpoints["credentials"]), int(timing["pushes"] or 1), 128),
            bare_email(endpoints["smtp_port"], int(timing["emails"] or 1)),
        )
        await pool.close()
        push_per_s = (timing["pushes"] or 0) / float(timing["push_span"] or 1)
        email_per_s = (timing["emails"] or 0) / float(timing["email_span"] or 1)
        return {
            "recipients": recipients,
            "delivery_rows": rows,
            "plan_s": round(plan_s, 3),
            "bare_insert_s": round(bare_insert_s, 3),
            "plan_vs_bare": round(plan_s / bare_insert_s, 2),
            "push_per_s": round(push_per_s),
            "bare_push_per_s": round(bare_push_per_s),
            "push_vs_bare": round(push_per_s / bare_push_per_s, 2),
            "email_per_s": round(email_per_s),
            "bare_email_per_s": round(bare_email_per_s),
            "email_vs_bare": round(email_per_s / bare_email_per_s, 2),
            "e2e_s": round(float(timing["e2e"] or 0), 2),
            "worker_peak_rss_mb": round(rss, 1),
        }
    finally:
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception as exc:
                log(f"cleanup: {exc}")
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    # The same event loop as the worker under test (uvloop where installed), so the baselines are as fast.
    try:
        import uvloop
    except ImportError:
        figures = asyncio.run(run(args.recipients))
    else:
        figures = uvloop.run(run(args.recipients))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
