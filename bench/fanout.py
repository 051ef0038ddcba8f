"""Fan-out benchmark: one urgent bilingual alert to a large community, against same-run baselines.

python -m bench.fanout [--recipients 100000] [--rtt-ms 40] [--workers 2] [--push-concurrency 256]

Measures planning against a bare INSERT … SELECT of the same delivery rows, push throughput of the worker
processes against a bare aiohttp keep-alive loop posting the same payloads to the same loopback FCM endpoint
with as many requests in flight, email throughput against raw aiosmtplib sending one of the hub's messages
pre-rendered to the same aiosmtpd server over as many connections (the push loop beside emails sent at the
rate the workers sent theirs during their pushes, the email loop alone), the time from publish to the last
push accepted, the workers' peak RSS, and how long a care alert published in the middle of the fan-out takes
to reach FCM.
Both servers answer after ``--rtt-ms``, for the workers and the baselines alike. The last line is one JSON
object.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import asyncpg

from devtools.embedded import EmbeddedPostgres, EmbeddedRedis
from hub.db import migrate, transaction
from hub.queue import queue_pool
from i18n.content import Bilingual, Localized
from messaging.email import EmailView, render_notification
from messaging.models import Audience
from messaging.push import PushMessage, PushSender
from messaging.service import notify
from messaging.texts import default_sender
from server.domains import MIGRATIONS

# The loopback FCM endpoint and the SMTP server each get a process of their own, so that neither slows the
# other down (both are Python servers) and the worker under test is measured alone.
FCM_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from devtools.fcm_local import FcmLocal

async def main():
    fcm = FcmLocal(Path(sys.argv[1]), record_limit=10, latency=float(sys.argv[2]))
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
import json, sys, threading
from devtools.smtp_local import MailCatcher

smtp = MailCatcher(latency=float(sys.argv[2]))
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
    # The daughter of someone who missed a check-in: not a member, one device of her own.
    await conn.execute(
        "INSERT INTO users (id, email, password_hash, display_name, locale, time_zone) "
        "VALUES (gen_random_uuid(), 'daughter@care.test', 'x', 'Tochter', 'de', 'Europe/Berlin')"
    )
    await conn.execute(
        "INSERT INTO devices (user_id, token, platform) SELECT id, 'bench-care-daughter', 'android' FROM users "
        "WHERE email = 'daughter@care.test'"
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
        "INSERT INTO notifications (kind, priority, deep_link, content) VALUES ('bench', 'urgent', '/', '{}') RETURNING id"
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


def hub_email() -> bytes:
    """One of the post's emails byte for byte as the hub writes it (its templates: text and HTML parts,
    unsubscribe headers), for the bare senders to send pre-rendered: the mail server reads each message,
    so the baselines' messages must cost it what the workers' cost it."""
    rendered = render_notification(
        "de",
        EmailView(
            title=Localized("Hitzewarnung", "de", False),
            body=Localized("Trinken Sie Wasser.", "de", False),
            sender=default_sender("de"),
            sent_at=datetime.now(UTC),
            link_url="http://127.0.0.1:8000/open/alerts/heat",
            priority="urgent",
        ),
    )
    token = secrets.token_urlsafe(24)
    message = rendered.for_recipient(
        "member1@bench.test",
        f"http://127.0.0.1:8000/v1/unsubscribe/{token}",
        f"mailto:hub@bench.test?subject=unsubscribe%20{token}",
        message_id="<delivery-1@bench.test>",
    )
    return b"From: hub@bench.test\r\n" + message.data


#: one message as a bare sender writes it: pre-rendered bytes, no templates, no database
BARE_EMAIL = hub_email()


async def bare_email(port: int, count: int, connections: int) -> float:
    """Baseline: raw aiosmtplib sending one pre-rendered message over ``connections`` connections."""
    numbers = iter(range(count))

    async def sender() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await smtp.connect()
        for i in numbers:
            await smtp.sendmail("hub@bench.test", [f"bare{i}@bench.test"], BARE_EMAIL)
        await smtp.quit()

    start = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(connections)))
    return count / (time.perf_counter() - start)


# While the workers sent the fan-out's pushes they also sent its emails, and the mail server took its share
# of the cores. The push baseline meets the same: this process sends emails at the rate the workers did
# while their pushes went out, over as many connections, until it is stopped. (Run in the benchmark's own event loop instead, the emails
# starved behind the push loop, and the baseline met almost no competition.)
PACED_EMAIL_SCRIPT = """
import asyncio, sys, time
import aiosmtplib

async def main(port, per_s, connections):
    interval = connections / per_s

    async def sender(k):
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await smtp.connect()
        next_at = time.monotonic() + k * interval / connections
        while True:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            await smtp.sendmail("hub@bench.test", ["paced@bench.test"], MESSAGE)

    await asyncio.gather(*(sender(k) for k in range(connections)))

try:
    import uvloop
    uvloop.run(main(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
except ImportError:
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
"""
PACED_EMAIL_SCRIPT = f"MESSAGE = {BARE_EMAIL!r}\n{PACED_EMAIL_SCRIPT}"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


#: SMTP connections per worker process that send the post's emails (the bulk queue's mailer)
SMTP_CONNECTIONS_PER_WORKER = 4


async def care_alert(pool: asyncpg.Pool, arq: Any) -> uuid.UUID:
    """A missed check-in told to a daughter, as the care ladder does: urgent, care kind, push only."""
    daughter = await pool.fetchval("SELECT id FROM users WHERE email = 'daughter@care.test'")
    async with transaction(pool, arq) as conn:
        return await notify(
            conn,
            kind="care.checkin_missed",
            audience=Audience(user_ids=(daughter,)),
            title=Bilingual(fr="Pas de nouvelles", de="Keine Rückmeldung"),
            body=Bilingual(fr="Appelez votre mère.", de="Rufen Sie Ihre Mutter an."),
            priority="urgent",
            deep_link="/care",
            respect_preferences=False,
            channels=("push",),
        )


async def run(recipients: int, rtt_ms: float, workers: int, push_concurrency: int) -> dict[str, Any]:
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
                [sys.executable, "-c", script, str(workdir), str(rtt_ms / 1000)],
                stdout=subprocess.PIPE,
                text=True,
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
            "HUB_PUSH_CONCURRENCY": str(push_concurrency),
        }
        hub = shutil.which("hub") or str(Path(sys.executable).parent / "hub")
        processes = [subprocess.Popen([hub, "worker"], env=env) for _ in range(workers)]
        for process in processes:
            stoppers.append(lambda process=process: process.send_signal(signal.SIGTERM))
        await asyncio.sleep(3 + workers)  # the workers connect and start polling
        arq = await queue_pool(redis_url, queue_name)
        load_before = os.getloadavg()
        log("publishing the post…")
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
        care_id: uuid.UUID | None = None
        care_sent = False
        while True:
            # Once a second, and only through the partial indexes of unsent deliveries: counting the sent
            # rows read the whole week's partition each time, on the cores the workers use. The figures
            # come from the rows' timestamps, not from when this loop saw them.
            await asyncio.sleep(1.0)
            if care_id is None:
                waiting = await pool.fetchval(
                    "SELECT count(*) FROM deliveries WHERE notification_id = $1 AND channel = 'push' "
                    "AND status = 'pending'",
                    notification_id,
                )
                planned = await pool.fetchval(
                    "SELECT planned_at IS NOT NULL FROM notifications WHERE id = $1", notification_id
                )
                if planned and waiting <= expected_push - expected_push // 2:
                    log(f"{expected_push - waiting} pushes taken: a care alert in the middle of the fan-out…")
                    care_id = await care_alert(pool, arq)
            elif not care_sent:
                care_sent = bool(
                    await pool.fetchval(
                        "SELECT count(*) FROM deliveries WHERE notification_id = $1 AND channel = 'push' "
                        "AND status IN ('sent', 'failed')",
                        care_id,
                    )
                )
            unfinished = await pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE notification_id = $1 AND channel <> 'inbox' "
                "AND status = 'pending') OR EXISTS (SELECT 1 FROM deliveries WHERE lease_until IS NOT NULL "
                "AND notification_id = $1)",
                notification_id,
            )
            if care_sent and not unfinished:
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
                FROM deliveries WHERE notification_id = $1 AND channel = 'push') AS e2e,
              (SELECT count(*) FROM deliveries e, (
                  SELECT min(sent_at) AS first, max(sent_at) AS last FROM deliveries
                  WHERE notification_id = $1 AND channel = 'push' AND status = 'sent') p
                WHERE e.notification_id = $1 AND e.channel = 'email' AND e.status = 'sent'
                  AND e.sent_at BETWEEN p.first AND p.last) AS emails_during_push
            """,
            notification_id,
        )
        care = await pool.fetchrow(
            "SELECT d.status, extract(epoch FROM d.sent_at - n.created_at) AS latency, "
            "(SELECT count(*) FROM deliveries p WHERE p.notification_id = $2 AND p.channel = 'push' "
            " AND p.status = 'pending') AS post_pending "
            "FROM deliveries d JOIN notifications n ON n.id = d.notification_id "
            "WHERE d.notification_id = $1 AND d.channel = 'push'",
            care_id,
            notification_id,
        )
        load_after = os.getloadavg()
        rss = max(peak_rss_mb(process.pid) for process in processes)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)
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
        push_per_s = (timing["pushes"] or 0) / float(timing["push_span"] or 1)
        email_per_s = (timing["emails"] or 0) / float(timing["email_span"] or 1)
        connections = SMTP_CONNECTIONS_PER_WORKER * workers
        # The push loop beside emails at the rate the workers sent theirs while their pushes went out.
        email_beside_push = (timing["emails_during_push"] or 0) / float(timing["push_span"] or 1)
        competitor = None
        if email_beside_push > 0:
            competitor = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    PACED_EMAIL_SCRIPT,
                    str(endpoints["smtp_port"]),
                    str(email_beside_push),
                    str(connections),
                ]
            )
        try:
            bare_push_per_s = await bare_push(
                endpoints["fcm"],
                Path(endpoints["credentials"]),
                int(timing["pushes"] or 1),
                push_concurrency * workers,
            )
        finally:
            if competitor is not None:
                competitor.terminate()
                competitor.wait(10)
        # The email loop alone, with the fan-out's volume: the workers' emails met the pushes only during
        # their first part, so this baseline is, if anything, the harder one to match.
        bare_email_per_s = await bare_email(endpoints["smtp_port"], int(timing["emails"] or 1), connections)
        await pool.close()
        return {
            "recipients": recipients,
            "rtt_ms": rtt_ms,
            "workers": workers,
            "push_concurrency": push_concurrency,
            "delivery_rows": rows,
            "plan_s": round(plan_s, 3),
            "bare_insert_s": round(bare_insert_s, 3),
            "plan_vs_bare": round(plan_s / bare_insert_s, 2),
            "push_per_s": round(push_per_s),
            "bare_push_per_s": round(bare_push_per_s),
            "emails_per_s_beside_pushes": round(email_beside_push),
            "push_vs_bare": round(push_per_s / bare_push_per_s, 2),
            "email_per_s": round(email_per_s),
            "bare_email_per_s": round(bare_email_per_s),
            "email_vs_bare": round(email_per_s / bare_email_per_s, 2),
            "e2e_s": round(float(timing["e2e"] or 0), 2),
            "worker_peak_rss_mb": round(rss, 1),
            "care_alert_s": round(float(care["latency"]), 3) if care and care["status"] == "sent" else None,
            "care_alert_target_met": bool(care and care["status"] == "sent" and care["latency"] < 2),
            "load_avg_1m": [round(load_before[0], 1), round(load_after[0], 1)],
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
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="FCM and SMTP answer after this delay")
    parser.add_argument("--workers", type=int, default=1, help="`hub worker` processes")
    parser.add_argument("--push-concurrency", type=int, default=256, help="pushes in flight per worker")
    args = parser.parse_args()
    job = run(args.recipients, args.rtt_ms, args.workers, args.push_concurrency)
    # The same event loop as the worker under test (uvloop where installed), so the baselines are as fast.
    try:
        import uvloop
    except ImportError:
        figures = asyncio.run(job)
    else:
        figures = uvloop.run(job)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
