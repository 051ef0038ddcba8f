"""Care through the real worker: invitation emails to addresses without an account, the ladder job, batches."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import pytest
from arq.connections import ArqRedis
from arq.worker import Worker, func
from litestar import Litestar
from litestar.testing import AsyncTestClient

from care import checkins, jobs
from devtools.fcm_local import FcmLocal
from devtools.smtp_local import MailCatcher
from hub.db import transaction
from hub.queue import queue_pool
from hub.settings import Settings
from tests.care.test_care import CONSENT_DE, create_circle, family, morning_plan, step_events
from tests.conftest import Servers, SignedIn, UserFactory, emailed_token
from tests.messaging.test_delivery import drain
from workers.main import run_burst

Client = AsyncTestClient[Litestar]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
async def queue(servers: Servers, settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await queue_pool(servers.redis_url, settings.queue_name)
    try:
        yield pool
    finally:
        await pool.aclose()


async def device(client: Client, user: SignedIn) -> str:
    token = f"token-{uuid.uuid4().hex}"
    r = await client.post(
        "/v1/me/devices", json={"token": token, "platform": "android"}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return token


LADDER_TITLES = {
    "Votre appel du jour",
    "Ihre tägliche Rückmeldung",
    "Marie Muller hat sich nicht gemeldet",
    "Marie Muller n'a pas donné de nouvelles",
}


def titles(fcm: FcmLocal, token: str) -> list[str]:
    return [m.title for m in fcm.messages(token) if m.title in LADDER_TITLES]


async def run_ladder_job(settings: Settings, servers: Servers, queue: ArqRedis, now: datetime) -> None:
    """Enqueue the ladder job by name and run a burst worker (the real one, with that job and a clock)."""

    def prepare(worker: Worker) -> None:
        # Crons are off in tests: the job is registered under its own name so it can be enqueued.
        worker.functions["advance_checkins"] = func(jobs.advance_checkins, name="advance_checkins")
        worker.ctx["clock"] = lambda: now

    await queue.enqueue_job("advance_checkins", batch=2)
    await run_burst(settings, database_url=servers.database_url, redis_url=servers.redis_url, prepare=prepare)


# -- invitations to addresses without an account ---------------------------------------------------------


async def test_invitation_email_reaches_a_german_invitee_who_then_signs_up_and_accepts(
    client: Client,
    db: asyncpg.Pool,
    make_user: UserFactory,
    settings: Settings,
    servers: Servers,
    smtp: MailCatcher,
) -> None:
    senior = await make_user(locale="fr", display_name="Marie Muller")
    circle_id = await create_circle(client, senior)
    address = f"{uuid.uuid4().hex[:10]}@example.test"
    invited = await client.post(
        f"/v1/care/circles/{circle_id}/invitations",
        json={"email": address, "role": "family", "locale": "de"},
        headers=senior.headers,
    )
    assert invited.status_code == 200, invited.text
    await drain(settings, servers)
    await drain(settings, servers)  # a second run sends nothing more

    [mail] = smtp.to(address)
    # the subject carries nothing an inviter wrote (not even a display name); the body names the senior
    assert mail.subject == "Eine Einladung in einen Kreis von Helfenden"
    assert mail.header("Content-Language") == "de"
    assert mail.text is not None
    assert "Marie Muller" in mail.text
    assert "legen Sie in der App ein Konto mit dieser E-Mail-Adresse an" in " ".join(mail.text.split())
    assert "https://hub.example.test/open/care/invitations" in mail.text  # a page the hub answers
    assert mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"

    registered = await client.post(
        "/v1/auth/register",
        json={"email": address, "password": "correct horse battery", "display_name": "Lena", "locale": "de"},
    )
    assert registered.status_code == 201, registered.text
    headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
    token = await emailed_token(db, address, "/verify-email")
    assert (await client.post("/v1/auth/verify-email", json={"token": token})).status_code == 200
    [invitation] = (await client.get("/v1/care/invitations", headers=headers)).json()["items"]
    assert invitation["senior_name"] == "Marie Muller"
    accepted = await client.post(
        f"/v1/care/invitations/{invitation['id']}/accept", json=CONSENT_DE, headers=headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["my_role"] == "member"


async def test_invitation_email_defaults_to_the_seniors_language(
    client: Client, make_user: UserFactory, settings: Settings, servers: Servers, smtp: MailCatcher
) -> None:
    senior = await make_user(locale="fr", display_name="Marie Muller")
    circle_id = await create_circle(client, senior)
    address = f"{uuid.uuid4().hex[:10]}@example.test"
    invited = await client.post(
        f"/v1/care/circles/{circle_id}/invitations",
        json={"email": address, "role": "neighbour"},
        headers=senior.headers,
    )
    assert invited.status_code == 200, invited.text
    await drain(settings, servers)
    [mail] = smtp.to(address)
    assert mail.subject == "Une invitation à rejoindre un cercle d'aidants"
    assert mail.header("Content-Language") == "fr"


async def test_registered_invitee_gets_no_email_to_the_address(
    client: Client, db: asyncpg.Pool, make_user: UserFactory
) -> None:
    senior = await make_user(display_name="Marie Muller")
    daughter = await make_user(locale="de")
    circle_id = await create_circle(client, senior)
    invited = await client.post(
        f"/v1/care/circles/{circle_id}/invitations",
        json={"email": daughter.email, "role": "family", "locale": "fr"},
        headers=senior.headers,
    )
    assert invited.status_code == 200
    direct = await db.fetchval(
        "SELECT count(*) FROM direct_emails WHERE lower(address) = lower($1) AND kind = 'care.invitation'",
        daughter.email,
    )
    assert direct == 0


# -- the ladder through the worker -------------------------------------------------------------------


async def test_ladder_runs_through_the_worker_job_and_its_pushes_go_out(
    client: Client,
    db: asyncpg.Pool,
    make_user: UserFactory,
    settings: Settings,
    servers: Servers,
    queue: ArqRedis,
    fcm: FcmLocal,
) -> None:
    f = await family(client, db, make_user)
    daughter_token = await device(client, f.daughter)
    staff_token = await device(client, f.staff)
    senior_token = await device(client, f.senior)
    day = date(2027, 5, 12)  # summer time: the 10:00 window end in Bitche is 08:00 UTC

    await run_ladder_job(settings, servers, queue, utc(2027, 5, 12, 8, 1))
    assert await step_events(db, f.circle_id, day) == ["reminder_sent"]
    # (earlier notifications, such as the invitations, are planned by the same worker: only ladder ones count)
    assert titles(fcm, senior_token) == ["Votre appel du jour"]

    await run_ladder_job(settings, servers, queue, utc(2027, 5, 12, 8, 31))
    await run_ladder_job(settings, servers, queue, utc(2027, 5, 12, 8, 31))  # a repeated run does nothing
    assert await step_events(db, f.circle_id, day) == ["reminder_sent", "circle_alerted"]
    assert titles(fcm, daughter_token) == ["Marie Muller hat sich nicht gemeldet"]

    await run_ladder_job(settings, servers, queue, utc(2027, 5, 12, 9, 1))
    assert await step_events(db, f.circle_id, day) == ["reminder_sent", "circle_alerted", "provider_alerted"]
    assert titles(fcm, staff_token) == ["Marie Muller n'a pas donné de nouvelles"]
    assert titles(fcm, daughter_token) == ["Marie Muller hat sich nicht gemeldet"]


# -- batches --------------------------------------------------------------------------------------------


async def test_a_run_handles_every_plan_in_batches(
    client: Client,
    db: asyncpg.Pool,
    make_user: UserFactory,
    settings: Settings,
    servers: Servers,
    queue: ArqRedis,
) -> None:
    seniors = [await make_user(display_name=f"Senior {i}") for i in range(5)]
    circles = []
    for senior in seniors:
        circles.append(await create_circle(client, senior))
        await morning_plan(client, senior)
    total = await db.fetchval("SELECT count(*) FROM care_checkin_plans")
    assert total > 4  # more plans than two batches of two

    async with transaction(db) as conn:
        taken = await checkins.advance_checkins(conn, utc(2027, 6, 14, 8, 5), batch=2)
    assert taken >= len(seniors)
    for circle_id in circles:
        assert await step_events(db, circle_id, date(2027, 6, 14)) == ["reminder_sent"]

    # the worker job commits each batch on its own and reaches every plan too
    await run_ladder_job(settings, servers, queue, utc(2027, 6, 15, 8, 5))
    for circle_id in circles:
        assert await step_events(db, circle_id, date(2027, 6, 15)) == ["reminder_sent"]
