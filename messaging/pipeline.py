"""The delivery pipeline: plan a notification into deliveries, dispatch them in batches, sweep and retry."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import asyncpg
import msgspec

from hub.db import connection, enqueue_after_commit, transaction
from hub.logs import bind_batch, get_logger
from hub.partitions import analyze_if_grown
from messaging import queries
from messaging.email import (
    DigestPeriod,
    EmailView,
    OutgoingEmail,
    RenderedEmail,
    render_digest,
    render_notification,
    smtp_address,
)
from messaging.metrics import count_outcomes
from messaging.models import decode_catalog_texts
from messaging.planning import (
    BATCH_SIZE,
    DELIVERIES,
    DISPATCH_BUDGET_S,
    LEASE_S,
    PROBE_S,
    PROBE_SIZE,
    SLICE_SIZE,
    Circuit,
    Outcome,
    RetryPolicy,
    circuit_after,
    digest_periods_due,
    email_outcome,
    gate,
    push_outcome,
    retry_window,
    urgent_lane,
)
from messaging.push import PushMessage, PushSender
from messaging.smtp import Mailer
from messaging.texts import default_sender, email_link, message_text, push_text, texts_for

if TYPE_CHECKING:
    from arq.connections import ArqRedis

logger = logging.getLogger("messaging.pipeline")
log = get_logger("messaging.pipeline")

#: parallel dispatch jobs per notification and channel; each drains batches until nothing is due. Each has
#: one slice of SLICE_SIZE in flight, so 8 keep about 400 pushes in flight: enough for a 40 ms round trip.
DISPATCH_PARALLELISM = 8
#: how long an enqueued job may take to start before a sweep enqueues again
STALE_AFTER_S = 60.0
#: while sending a claim, how often a job looks at the provider's circuit (another job may have opened it)
CIRCUIT_READ_S = 1.0
UNSUBSCRIBE_VALIDITY = timedelta(days=365)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Channels:
    """The senders a worker holds for its whole life (pooled connections, cached OAuth token)."""

    push: PushSender | None
    mailer: Mailer | None
    public_url: str
    mail_from: str
    rng: random.Random = field(default_factory=random.Random)
    #: the clock deliveries are judged due by (tests move it instead of sleeping)
    clock: Callable[[], datetime] = utcnow


# -- planning --------------------------------------------------------------------------------------------


async def plan_notification(
    conn: asyncpg.Connection, notification_id: uuid.UUID, now: datetime
) -> int | None:
    """Create the deliveries of one notification (once) and ask for dispatch after commit.

    Returns the number of recipients, or None when it was planned already, is being planned by another
    worker, or is scheduled for later.
    """
    row = await queries.lock_unplanned(conn, notification_id)
    if row is None or (row.not_before is not None and row.not_before > now):
        return None
    recipients = await queries.plan(conn, notification_id, now)
    # A large fan-out changes its week's statistics: without them its claims and outcomes plan badly.
    await analyze_if_grown(conn, DELIVERIES, now, recipients)
    urgent = urgent_lane(row.priority, row.kind)
    for channel, due in (await queries.due_counts(conn, notification_id, now)).items():
        request_dispatch(conn, notification_id, channel, now, shards=-(-due // BATCH_SIZE), urgent=urgent)
    return recipients


def request_dispatch(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    channel: str,
    now: datetime,
    shards: int = 1,
    *,
    urgent: bool = False,
    label: str | None = None,
) -> None:
    """Enqueue (after commit) jobs that drain the channel's due deliveries: one per batch, at most
    DISPATCH_PARALLELISM, each claiming batches until none is left; urgent work on the urgent queue.
    ``label`` names a single job apart from the shards of the same second (a job's successor)."""
    stamp = int(now.timestamp())
    names = [label] if label is not None else range(max(1, min(shards, DISPATCH_PARALLELISM)))
    for name in names:
        enqueue_after_commit(
            conn,
            f"dispatch_{channel}",
            str(notification_id),
            job_id=f"{channel}:{notification_id}:{stamp}:{name}",
            urgent=urgent,
        )


async def relay_outbox(conn: asyncpg.Connection, now: datetime, limit: int = 500) -> int:
    """Enqueue planning for notifications that are due and that no job took (Redis was down, a job lost)."""
    rows = await queries.due_unplanned(conn, now, STALE_AFTER_S, limit)
    if rows:
        await queries.mark_enqueued(conn, [r.id for r in rows])
        for row in rows:
            enqueue_after_commit(
                conn,
                "plan_notification",
                str(row.id),
                job_id=f"plan:{row.id}:{int(now.timestamp())}",
                urgent=urgent_lane(row.priority, row.kind),
            )
    return len(rows)


async def sweep_deliveries(conn: asyncpg.Connection, now: datetime) -> int:
    """Return deliveries of dead workers to pending, fail those past their retry deadline, ask for a probe
    of every provider whose circuit may be probed, and enqueue dispatch for everything due."""
    expired = await queries.expire_leases(conn, now)
    if expired:
        logger.info("%d deliveries of a stopped worker are pending again", expired)
    overdue = await queries.fail_overdue(conn, now)
    if overdue:
        logger.warning("%d deliveries reached their retry deadline and failed", overdue)
    for channel, circuit in (await queries.circuits(conn)).items():
        if gate(circuit, now) == "probe":
            target = await queries.probe_target(conn, channel, now)
            if target is not None:
                request_dispatch(conn, target, channel, now)
    work = await queries.due_work(conn, now, STALE_AFTER_S)
    for row in work:
        request_dispatch(
            conn,
            row.notification_id,
            row.channel,
            now,
            shards=DISPATCH_PARALLELISM,
            urgent=urgent_lane(row.priority, row.kind),
        )
    direct = await queries.due_direct_emails(conn, now, STALE_AFTER_S)
    for email_id in direct:
        enqueue_after_commit(
            conn,
            "dispatch_direct_email",
            str(email_id),
            job_id=f"direct-email:{email_id}:{int(now.timestamp())}",
        )
    return len(work) + len(direct)


# -- dispatch ----------------------------------------------------------------------------------------------


class _Tally(msgspec.Struct):
    """What the provider made of one slice: answers (sent, or refused for one recipient) and failures of
    its own (unreachable, throttling, 5xx), for the circuit breaker."""

    answered: int = 0
    provider_failures: int = 0
    retry_after: float | None = None
    error: str | None = None

    def add(self, outcome: Outcome, answered: bool, retry_after: float | None = None) -> None:
        if outcome.provider:
            self.provider_failures += 1
            self.error = outcome.error
            if retry_after is not None:
                self.retry_after = max(self.retry_after or 0.0, retry_after)
        elif answered:
            self.answered += 1


#: why a job stopped sending before its claim was done: the provider's circuit opened, or its time is up
Stop = Literal["circuit", "budget"] | None


async def dispatch(
    pool: asyncpg.Pool,
    channels: Channels,
    notification_id: uuid.UUID,
    channel: str,
    *,
    queue: ArqRedis | None = None,
    budget_s: float = DISPATCH_BUDGET_S,
) -> int:
    """Send every due delivery of one notification on one channel; returns how many deliveries this call
    handled. Claims are atomic, so parallel or repeated calls never send twice.

    A claim of up to BATCH_SIZE is sent SLICE_SIZE at a time and each slice's outcomes are recorded before
    the next is sent, while a heartbeat renews the lease of what is still claimed: a worker killed at any
    moment has sent at most one slice without recording it, and the rest is pending again LEASE_S after
    its last heartbeat. Nothing is claimed while the provider's circuit is open; when its pause is over,
    one dispatcher sends a probe of PROBE_SIZE, and a success resumes everything waiting for it.

    After ``budget_s`` (and at least one slice) the call gives back what it has not sent and asks ``queue``
    for a job to go on with it (without a queue, or if Redis is away, the sweep does once the request is
    STALE_AFTER_S old).
    """
    handled = 0
    deadline = time.monotonic() + budget_s
    async with connection(pool) as conn:
        notification = await queries.notification_content(conn, notification_id)
    if notification is None:
        return 0
    while True:
        now = channels.clock()
        if handled and time.monotonic() >= deadline:
            await _hand_over(pool, queue, notification, channel, now)
            return handled
        probe = False
        async with transaction(pool) as conn:
            circuit = await queries.circuit(conn, channel)
            decision = gate(circuit, now)
            if decision == "wait":
                return handled
            if decision == "probe":
                if not await queries.take_probe(conn, channel, now, PROBE_S):
                    return handled
                probe = True
            claimed = await queries.claim(
                conn, notification_id, channel, now, PROBE_SIZE if probe else BATCH_SIZE, probe=probe
            )
            if probe and not claimed:
                await queries.release_probe(conn, channel)
        if not claimed:
            return handled
        # every line logged for this batch (in this job's task) names it: first delivery id and size
        bind_batch(
            notification_id=str(notification_id),
            channel=channel,
            batch_id=f"{claimed[0].id}+{len(claimed)}",
        )
        sent, stop = await _send_claimed(pool, channels, notification, channel, claimed, circuit, deadline)
        handled += sent
        if stop == "circuit":
            return handled


async def _hand_over(
    pool: asyncpg.Pool, queue: ArqRedis | None, notification: queries.Sendable, channel: str, now: datetime
) -> None:
    """Ask for a job that goes on with the notification's channel where this one stopped; it queues behind
    the jobs waiting now. Its id is new: several jobs of the same fan-out hand over in the same second."""
    async with transaction(pool, queue) as conn:
        request_dispatch(
            conn,
            notification.id,
            channel,
            now,
            urgent=urgent_lane(notification.priority, notification.kind),
            label=f"next-{secrets.token_hex(4)}",
        )
    log.info("dispatch handed over", notification_id=str(notification.id), channel=channel)


async def _send_claimed(
    pool: asyncpg.Pool,
    channels: Channels,
    notification: queries.Sendable,
    channel: str,
    claimed: Sequence[queries.Claimed],
    circuit: Circuit,
    deadline: float,
) -> tuple[int, Stop]:
    """Send claimed deliveries a slice at a time under a heartbeat; (how many were handled, why the rest was
    given back if it was: the provider's circuit opened meanwhile, or the job's time is up)."""
    ids = [r.id for r in claimed]
    heartbeat = asyncio.create_task(_heartbeat(pool, channels, ids, notification.id))
    done = 0
    try:
        # What every slice needs is looked up once per claim: devices, addresses, unsubscribe links.
        prepared = _Prepared()
        if notification.cancelled_at is None:
            if channel == "push":
                prepared.devices = await _devices(pool, claimed)
            else:
                prepared.people, prepared.tokens = await _people(pool, channels, notification, claimed)
        read_at = time.monotonic()
        tally = _Tally()
        while done < len(claimed):
            if done and time.monotonic() >= deadline:
                # the job that goes on with them is asked for next: the sweep leaves them to it
                async with transaction(pool) as conn:
                    await queries.release(conn, ids[done:], notification.id, requested_at=channels.clock())
                return done, "budget"
            # Another job may have opened the circuit: look again after a failure, or once a second.
            if done and (tally.provider_failures or time.monotonic() - read_at >= CIRCUIT_READ_S):
                async with connection(pool) as conn:
                    circuit = await queries.circuit(conn, channel)
                read_at = time.monotonic()
                if gate(circuit, channels.clock()) != "send":
                    async with transaction(pool) as conn:
                        await queries.release(conn, ids[done:], notification.id)
                    return done, "circuit"
            part = claimed[done : done + SLICE_SIZE]
            if notification.cancelled_at is not None:
                outcomes: list[queries.OutcomeRow] = [
                    (r.id, "skipped", None, "cancelled", None, False) for r in part
                ]
                async with connection(pool) as conn:
                    await queries.record_outcomes(conn, outcomes, channels.clock(), notification.id)
                _batch_recorded(channel, outcomes)
                tally = _Tally()
            elif channel == "push":
                tally = await _send_push(pool, channels, notification, part, prepared)
            else:
                tally = await _send_email(pool, channels, notification, part, prepared)
            done += len(part)
            circuit = await _update_circuit(pool, channels, channel, circuit, tally)
    except asyncio.CancelledError:
        # The worker is stopping: give back what is not recorded so another worker sends it.
        async with transaction(pool) as conn:
            await asyncio.shield(queries.release(conn, ids[done:], notification.id))
        raise
    except Exception:
        logger.exception("dispatch failed; its unrecorded deliveries return to pending when the lease ends")
        raise
    finally:
        heartbeat.cancel()
    return done, None


def _batch_recorded(channel: str, outcomes: Sequence[queries.OutcomeRow]) -> None:
    """Count a slice's outcomes and write its one log line (counts only: no address, token or text)."""
    statuses = [row[1] for row in outcomes]
    count_outcomes(channel, statuses)
    log.info("batch recorded", **{status: statuses.count(status) for status in sorted(set(statuses))})


@dataclass
class _Prepared:
    """Looked up once per claim, used by each of its slices."""

    devices: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    people: dict[uuid.UUID, queries.EmailRecipient] = field(default_factory=dict)
    tokens: dict[uuid.UUID, str] = field(default_factory=dict)
    push_texts: dict[str, tuple[str, str]] = field(default_factory=dict)
    emails: dict[str, RenderedEmail] = field(default_factory=dict)


async def _devices(pool: asyncpg.Pool, claimed: Sequence[queries.Claimed]) -> dict[uuid.UUID, list[str]]:
    async with connection(pool) as conn:
        devices = await queries.device_tokens(conn, [r.user_id for r in claimed])
    tokens: dict[uuid.UUID, list[str]] = defaultdict(list)
    for device in devices:
        tokens[device.user_id].append(device.token)
    return tokens


async def _people(
    pool: asyncpg.Pool,
    channels: Channels,
    notification: queries.Sendable,
    claimed: Sequence[queries.Claimed],
) -> tuple[dict[uuid.UUID, queries.EmailRecipient], dict[uuid.UUID, str]]:
    """Each recipient's address and unsubscribe token (created for those who have none yet)."""
    community_id = notification.community_id or uuid.UUID(int=0)
    async with connection(pool) as conn:
        people = {
            r.user_id: r
            for r in await queries.email_recipients(conn, [r.user_id for r in claimed], community_id)
        }
    new_tokens = [
        (secrets.token_urlsafe(24), user_id, community_id)
        for user_id, person in people.items()
        if person.token is None
    ]
    tokens = {user_id: person.token for user_id, person in people.items() if person.token}
    tokens.update({user_id: token for token, user_id, _ in new_tokens})
    if new_tokens:
        async with transaction(pool) as conn:
            await queries.create_unsubscribe_tokens(conn, new_tokens, channels.clock() + UNSUBSCRIBE_VALIDITY)
    return people, tokens


async def _heartbeat(
    pool: asyncpg.Pool, channels: Channels, ids: list[int], notification_id: uuid.UUID
) -> None:
    """Renew the lease of claimed deliveries while their job lives (those recorded are left alone)."""
    while True:
        await asyncio.sleep(LEASE_S / 3)
        try:
            async with connection(pool) as conn:
                await queries.renew_leases(conn, ids, channels.clock(), notification_id)
        except (asyncpg.PostgresError, OSError) as exc:
            logger.warning("could not renew delivery leases: %s", exc)


async def _update_circuit(
    pool: asyncpg.Pool, channels: Channels, channel: str, seen: Circuit, tally: _Tally
) -> Circuit:
    """Record what a slice says of the provider in its shared circuit (closing it resumes the work
    waiting for the provider); returns the circuit as it now is."""
    if tally.provider_failures == 0 and (tally.answered == 0 or seen == Circuit()):
        return seen
    now = channels.clock()
    async with transaction(pool) as conn:
        current = await queries.circuit(conn, channel, lock=True)
        after = circuit_after(
            current,
            answered=tally.answered,
            provider_failures=tally.provider_failures,
            retry_after=tally.retry_after,
            error=tally.error,
            now=now,
            rng=channels.rng,
        )
        if after == current:
            return current
        await queries.save_circuit(conn, channel, after, now)
        if current.is_open and not after.is_open:
            resumed = await queries.resume_waiting(conn, channel, now)
            logger.info("%s provider is back: %d deliveries resume", channel, resumed)
        elif after.is_open and not current.is_open:
            logger.warning("%s provider unavailable, deliveries wait for it: %s", channel, after.last_error)
    return after


def _policy(
    notification: queries.Sendable, row: queries.Claimed | queries.Held, now: datetime
) -> RetryPolicy:
    return RetryPolicy(
        now=now,
        retry_until=row.retry_until or now + retry_window(notification.priority, notification.kind),
        urgent=notification.priority == "urgent" or notification.kind.startswith("care."),
    )


async def _send_push(
    pool: asyncpg.Pool,
    channels: Channels,
    notification: queries.Sendable,
    claimed: Sequence[queries.Claimed],
    prepared: _Prepared,
) -> _Tally:
    if channels.push is None:
        raise RuntimeError("push is not configured")
    tokens = prepared.devices
    texts_by_locale = prepared.push_texts
    messages: list[PushMessage] = []
    owners: list[int] = []
    urgent = notification.priority == "urgent"
    # the same for every message of the notification (never changed once sent)
    collapse_key = str(notification.id)
    data = {
        "notification_id": collapse_key,
        "deep_link": notification.deep_link,
        "kind": notification.kind,
        "priority": notification.priority,
    }
    for row in claimed:
        locale = row.locale
        if locale not in texts_by_locale:
            texts_by_locale[locale] = push_text(texts_for(notification.content, locale), locale)
        title, body = texts_by_locale[locale]
        for token in tokens.get(row.user_id, []):
            messages.append(
                PushMessage(
                    token=token, title=title, body=body, data=data, urgent=urgent, collapse_key=collapse_key
                )
            )
            owners.append(row.id)
    results = await channels.push.send_many(messages) if messages else []
    per_delivery: dict[int, list[tuple[str, float | None, str | None]]] = defaultdict(list)
    invalid: list[str] = []
    for owner, message, result in zip(owners, messages, results, strict=True):
        per_delivery[owner].append((result.status, result.retry_after, result.error))
        if result.status == "invalid_token":
            invalid.append(message.token)
    now = channels.clock()
    outcomes: list[queries.OutcomeRow] = []
    tally = _Tally()
    for row in claimed:
        tried = per_delivery.get(row.id, [])
        outcome = push_outcome(tried, row.attempts, _policy(notification, row, now), channels.rng)
        due = now + timedelta(seconds=outcome.retry_in) if outcome.retry_in is not None else None
        outcomes.append((row.id, outcome.status, outcome.error, outcome.skip_reason, due, outcome.provider))
        retry_after = max((ra for s, ra, _ in tried if s == "retry" and ra is not None), default=None)
        tally.add(outcome, answered=any(s != "retry" for s, _, _ in tried), retry_after=retry_after)
    if not invalid:
        async with connection(pool) as conn:  # one statement: its own transaction
            await queries.record_outcomes(conn, outcomes, now, notification.id)
        _batch_recorded("push", outcomes)
        return tally
    async with transaction(pool) as conn:
        await queries.record_outcomes(conn, outcomes, now, notification.id)
        await queries.delete_tokens(conn, invalid)
    _batch_recorded("push", outcomes)
    for owner, result in zip(owners, results, strict=True):
        if result.status == "invalid_token":
            log.info("push token deleted", delivery_id=owner, reason="unregistered")
    return tally


async def _send_email(
    pool: asyncpg.Pool,
    channels: Channels,
    notification: queries.Sendable,
    claimed: Sequence[queries.Claimed],
    prepared: _Prepared,
) -> _Tally:
    if channels.mailer is None:
        raise RuntimeError("email is not configured")
    people, tokens, rendered = prepared.people, prepared.tokens, prepared.emails
    outgoing: list[OutgoingEmail] = []
    owners: list[queries.Claimed] = []
    skipped: list[queries.OutcomeRow] = []
    for row in claimed:
        person = people.get(row.user_id)
        if person is None or person.unsubscribed:
            skipped.append((row.id, "skipped", None, "unsubscribed", None, False))
            continue
        address = smtp_address(person.email)
        if address is None:
            # One address the SMTP path cannot write never holds up the others: it fails, with the reason.
            skipped.append((row.id, "failed", "address not usable in SMTP", None, None, False))
            continue
        locale = row.locale
        if locale not in rendered:
            texts = texts_for(notification.content, locale)
            rendered[locale] = render_notification(
                locale,
                EmailView(
                    title=texts.title,
                    body=texts.body,
                    sender=texts.sender,
                    sent_at=notification.created_at,
                    link_url=email_link(channels.public_url, notification.deep_link),
                    priority=notification.priority,
                ),
            )
        token = tokens[row.user_id]
        try:
            item = rendered[locale].for_recipient(
                address,
                f"{channels.public_url}/v1/unsubscribe/{token}",
                f"mailto:{_mailbox(channels.mail_from)}?subject=unsubscribe%20{token}",
                message_id=f"<delivery-{row.id}@{_domain(channels.mail_from)}>",
            )
        except ValueError as exc:
            skipped.append((row.id, "failed", f"address not usable: {exc}"[:500], None, None, False))
            continue
        outgoing.append(item)
        owners.append(row)
    results = await channels.mailer.send_many(outgoing) if outgoing else []
    now = channels.clock()
    outcomes: list[queries.OutcomeRow] = list(skipped)
    bounces: list[tuple[str, str]] = []
    delivered: list[str] = []
    tally = _Tally()
    for row, item, result in zip(owners, outgoing, results, strict=True):
        outcome = email_outcome(
            result.status,
            result.error,
            row.attempts,
            _policy(notification, row, now),
            channels.rng,
            provider=result.provider_failure,
        )
        due = now + timedelta(seconds=outcome.retry_in) if outcome.retry_in is not None else None
        outcomes.append((row.id, outcome.status, outcome.error, outcome.skip_reason, due, outcome.provider))
        tally.add(outcome, answered=not result.provider_failure)
        if result.hard_bounce:
            bounces.append((item.recipient, result.error or "hard bounce"))
        elif result.status == "sent":
            delivered.append(item.recipient)
    suppressed: list[str] = []
    async with transaction(pool) as conn:
        await queries.record_outcomes(conn, outcomes, now, notification.id)
        if bounces:
            await queries.record_bounces(conn, bounces, now)
            suppressed = await queries.newly_suppressed(conn, [a for a, _ in bounces], now)
        if delivered:
            await queries.clear_bounces(conn, delivered)
    _batch_recorded("email", outcomes)
    for row, item in zip(owners, outgoing, strict=True):
        if item.recipient.lower() in suppressed:
            log.info("email address suppressed", delivery_id=row.id, user_id=str(row.user_id))
    return tally


def _mailbox(mail_from: str) -> str:
    from email.utils import parseaddr

    return parseaddr(mail_from)[1]


def _domain(mail_from: str) -> str:
    return _mailbox(mail_from).rpartition("@")[2] or "hub.localhost"


# -- emails to addresses without an account --------------------------------------------------------------


async def send_direct_email(pool: asyncpg.Pool, channels: Channels, email_id: uuid.UUID) -> str | None:
    """Send one email to an address without an account; returns its new status (None: nothing to do)."""
    now = channels.clock()
    async with transaction(pool) as conn:
        row = await queries.claim_direct_email(conn, email_id, now)
        if row is None:
            return None
        if row.suppressed:
            await queries.record_direct_outcome(
                conn, email_id, (0, "skipped", None, "address_suppressed", None, False), now
            )
            return "skipped"
        token = row.token or await queries.create_optout_token(
            conn, row.address, secrets.token_urlsafe(24), now + UNSUBSCRIBE_VALIDITY
        )
    if channels.mailer is None:
        raise RuntimeError("email is not configured")
    locale = row.locale
    stored = decode_catalog_texts(row.message)
    rendered = render_notification(
        locale,
        EmailView(
            title=message_text(locale, stored.title),
            body=message_text(locale, stored.body),
            sender=default_sender(locale),
            sent_at=row.created_at,
            link_url=email_link(channels.public_url, row.deep_link),
            reason=row.reason,
        ),
    )
    address = smtp_address(row.address)
    try:
        if address is None:
            raise ValueError("address not usable in SMTP")
        outgoing = rendered.for_recipient(
            address,
            f"{channels.public_url}/v1/unsubscribe/{token}",
            f"mailto:{_mailbox(channels.mail_from)}?subject=unsubscribe%20{token}",
            message_id=f"<direct-{email_id}@{_domain(channels.mail_from)}>",
        )
    except ValueError as exc:
        async with transaction(pool) as conn:
            await queries.record_direct_outcome(
                conn, email_id, (0, "failed", f"address not usable: {exc}"[:500], None, None, False), now
            )
        return "failed"
    try:
        [result] = await channels.mailer.send_many([outgoing])
    except asyncio.CancelledError:
        async with transaction(pool) as conn:
            await asyncio.shield(
                queries.record_direct_outcome(
                    conn, email_id, (0, "pending", "worker stopped", None, None, False), now
                )
            )
        raise
    done = channels.clock()
    outcome = email_outcome(
        result.status,
        result.error,
        row.attempts,
        RetryPolicy(now=done, retry_until=row.retry_until or done),
        channels.rng,
        provider=result.provider_failure,
    )
    due = done + timedelta(seconds=outcome.retry_in) if outcome.retry_in is not None else None
    async with transaction(pool) as conn:
        await queries.record_direct_outcome(
            conn, email_id, (0, outcome.status, outcome.error, None, due, outcome.provider), done
        )
        if result.hard_bounce:
            await queries.record_bounces(conn, [(row.address, result.error or "hard bounce")], done)
    return outcome.status


# -- digests -------------------------------------------------------------------------------------------------


async def send_digests(pool: asyncpg.Pool, channels: Channels, now: datetime) -> int:
    """Send the daily (and on Saturdays the weekly) digest once per local day: one email per person with
    every non-urgent notification they chose to get that way, in their language."""
    sent = 0
    for period, run_date in digest_periods_due(now):
        async with transaction(pool) as conn:
            if not await queries.claim_digest_run(conn, period, run_date):
                continue
            held = await queries.claim_held(conn, period, now)
        if not held:
            continue
        if channels.mailer is None:
            raise RuntimeError("email is not configured")
        by_user: dict[uuid.UUID, list[queries.Held]] = defaultdict(list)
        for row in held:
            by_user[row.user_id].append(row)
        notifications: dict[uuid.UUID, queries.Sendable] = {}
        async with connection(pool) as conn:
            for notification_id in {row.notification_id for row in held}:
                notification = await queries.notification_content(conn, notification_id)
                if notification is not None:
                    notifications[notification_id] = notification
            people = {
                r.user_id: r for r in await queries.email_recipients(conn, list(by_user), uuid.UUID(int=0))
            }
        new_tokens = [
            (secrets.token_urlsafe(24), user_id, uuid.UUID(int=0))
            for user_id, person in people.items()
            if person.token is None
        ]
        tokens = {user_id: person.token for user_id, person in people.items() if person.token}
        tokens.update({user_id: token for token, user_id, _ in new_tokens})
        if new_tokens:
            async with transaction(pool) as conn:
                await queries.create_unsubscribe_tokens(conn, new_tokens, now + UNSUBSCRIBE_VALIDITY)
        outgoing: list[OutgoingEmail] = []
        groups: list[list[queries.Held]] = []
        unusable: list[queries.OutcomeRow] = []
        for user_id, rows in by_user.items():
            person = people.get(user_id)
            if person is None:
                continue
            locale = rows[0].locale
            views = []
            for row in sorted(rows, key=lambda r: notifications[r.notification_id].created_at):
                notification = notifications[row.notification_id]
                texts = texts_for(notification.content, locale)
                views.append(
                    EmailView(
                        title=texts.title,
                        body=texts.body,
                        sender=texts.sender,
                        sent_at=notification.created_at,
                        link_url=email_link(channels.public_url, notification.deep_link),
                        priority=notification.priority,
                    )
                )
            start = run_date - timedelta(days=6 if period == "weekly" else 0)
            rendered = render_digest(locale, views, DigestPeriod(kind=period, start=start, end=run_date))
            token = tokens[user_id]
            try:
                address = smtp_address(person.email)
                if address is None:
                    raise ValueError("address not usable in SMTP")
                item = rendered.for_recipient(
                    address,
                    f"{channels.public_url}/v1/unsubscribe/{token}",
                    f"mailto:{_mailbox(channels.mail_from)}?subject=unsubscribe%20{token}",
                    message_id=f"<digest-{period}-{run_date}-{user_id}@{_domain(channels.mail_from)}>",
                )
            except ValueError as exc:
                unusable.extend((row.id, "failed", str(exc)[:500], None, None, False) for row in rows)
                continue
            outgoing.append(item)
            groups.append(rows)
        results = await channels.mailer.send_many(outgoing)
        outcomes: list[queries.OutcomeRow] = unusable
        later = now + timedelta(days=1)
        for rows, result in zip(groups, results, strict=True):
            for row in rows:
                if result.status == "sent":
                    outcomes.append((row.id, "sent", None, None, None, False))
                elif result.status == "retry" and row.retry_until > now:
                    # back to held: the next run includes it (once more, if that is past a day)
                    outcomes.append((row.id, "held", result.error, None, later, False))
                else:
                    outcomes.append((row.id, "failed", result.error, None, None, False))
            sent += 1 if result.status == "sent" else 0
        async with transaction(pool) as conn:
            await queries.record_outcomes(conn, outcomes, now)
    return sent
