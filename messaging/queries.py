"""SQL of the messaging package; every function takes the connection first."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

import asyncpg
import msgspec

from messaging.models import Device, Digest, NotificationContent, Priority, decode_content
from messaging.planning import (
    HARD_BOUNCE_LIMIT,
    LEASE_S,
    LONG_LEASE_S,
    RETRY_WINDOW,
    URGENT_RETRY_WINDOW,
    Circuit,
)

# Rows are read into these Structs. Where a function builds them positionally (``T(*record)``, the cheap
# way on the delivery path), its SELECT or RETURNING list is in the Struct's field order.


class Unplanned(msgspec.Struct, frozen=True):
    """A notification due for planning that no job picked up."""

    id: uuid.UUID
    kind: str
    priority: Priority


class Planning(msgspec.Struct, frozen=True):
    """A notification locked for planning."""

    id: uuid.UUID
    not_before: datetime | None
    channels: list[str]
    kind: str
    priority: Priority


class Claimed(msgspec.Struct, frozen=True):
    """A delivery taken for sending."""

    id: int
    user_id: uuid.UUID
    locale: str
    attempts: int
    quiet_override: bool
    retry_until: datetime | None


class Held(msgspec.Struct, frozen=True):
    """A delivery held for a digest, taken for sending."""

    id: int
    user_id: uuid.UUID
    locale: str
    attempts: int
    notification_id: uuid.UUID
    retry_until: datetime


class Sendable(msgspec.Struct, frozen=True):
    """What the channels send of a notification."""

    content: NotificationContent
    id: uuid.UUID
    kind: str
    community_id: uuid.UUID | None
    priority: Priority
    deep_link: str
    ack_requested: bool
    created_at: datetime
    cancelled_at: datetime | None


class DeviceToken(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    token: str


class EmailRecipient(msgspec.Struct, frozen=True):
    """A person's address and unsubscribe token, and whether they unsubscribed since planning."""

    user_id: uuid.UUID
    email: str
    token: str | None
    unsubscribed: bool


class DueWork(msgspec.Struct, frozen=True):
    """A notification and channel with due deliveries that no job was asked to send lately."""

    notification_id: uuid.UUID
    channel: str
    kind: str
    priority: Priority


class PreferenceRow(msgspec.Struct, frozen=True):
    """A stored choice; None where the person left the default."""

    community_id: uuid.UUID
    push: bool | None
    email: bool | None
    digest: Digest


class InboxRow(msgspec.Struct, frozen=True):
    content: NotificationContent
    id: uuid.UUID
    kind: str
    priority: Priority
    deep_link: str
    community_id: uuid.UUID | None
    ack_requested: bool
    created_at: datetime
    received_at: datetime
    read_at: datetime | None
    acknowledged_at: datetime | None


class InboxEntry(msgspec.Struct, frozen=True):
    read_at: datetime | None
    acknowledged_at: datetime | None
    ack_requested: bool


class NotificationSource(msgspec.Struct, frozen=True):
    kind: str
    source_id: uuid.UUID | None


class NotificationSender(msgspec.Struct, frozen=True):
    """Who sent a notification and whether it is planned, for the sender's statistics and retries."""

    id: uuid.UUID
    sender_id: uuid.UUID | None
    planned_at: datetime | None
    recipients: int | None
    priority: Priority
    kind: str


class StatusCount(msgspec.Struct, frozen=True):
    """A grouping set of deliveries: by channel and status, or by one of the quiet-hours flags."""

    channel: str | None
    status: str | None
    quiet_override: bool | None
    deferred_by_quiet_hours: bool | None
    n: int


class ReceiptCount(msgspec.Struct, frozen=True):
    """Inbox receipts by language, by municipality, or in all (both None)."""

    locale: str | None
    municipality_code: str | None
    recipients: int
    read: int
    acknowledged: int


class ChannelCount(msgspec.Struct, frozen=True):
    channel: str
    n: int


class DeliveryCounts(msgspec.Struct, frozen=True):
    deliveries: list[StatusCount]
    receipts: list[ReceiptCount]
    waiting: list[ChannelCount]


class Receipt(msgspec.Struct, frozen=True):
    """One recipient's inbox row of a notification."""

    user_id: uuid.UUID
    locale: str
    municipality_code: str | None
    read_at: datetime | None
    acknowledged_at: datetime | None


class UnsubscribeTarget(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    community_id: uuid.UUID
    locale: str


class ExportedPreference(msgspec.Struct, frozen=True):
    community_id: uuid.UUID
    push: bool | None
    email: bool | None
    digest: Digest
    updated_at: datetime


class ExportedDelivery(msgspec.Struct, frozen=True):
    notification_id: uuid.UUID
    channel: str
    locale: str
    status: str
    attempts: int
    sent_at: datetime | None
    skip_reason: str | None
    read_at: datetime | None
    acknowledged_at: datetime | None


class Export(msgspec.Struct, frozen=True):
    """What messaging holds of one person, for their data export."""

    devices: list[Device]
    preferences: list[ExportedPreference]
    deliveries: list[ExportedDelivery]


class DirectEmail(msgspec.Struct, frozen=True):
    """An email to an address without an account, taken for sending."""

    id: uuid.UUID
    kind: str
    address: str
    locale: str
    message: str
    deep_link: str
    reason: Literal["invited", "account"]
    attempts: int
    created_at: datetime
    retry_until: datetime | None
    suppressed: bool
    token: str | None


class AudienceRow(msgspec.Struct, frozen=True):
    """People sharing a language, a municipality and whether their quiet hours are in force."""

    locale: str
    municipality_code: str | None
    quiet: bool
    n: int


async def insert_notification(conn: asyncpg.Connection, values: dict[str, Any]) -> uuid.UUID:
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await conn.fetchval(  # type: ignore[no-any-return]
        f"INSERT INTO notifications ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id",
        *values.values(),
    )


async def mark_enqueued(conn: asyncpg.Connection, notification_ids: list[uuid.UUID]) -> None:
    await conn.execute(
        "UPDATE notifications SET enqueued_at = now() WHERE id = ANY($1::uuid[])", notification_ids
    )


async def due_unplanned(
    conn: asyncpg.Connection, now: datetime, stale_after_s: float, limit: int
) -> list[Unplanned]:
    """Notifications due for planning that no job has picked up (or whose job was lost), locked."""
    rows = await conn.fetch(
        """
        SELECT id, kind, priority FROM notifications
        WHERE planned_at IS NULL AND cancelled_at IS NULL
          AND coalesce(not_before, created_at) <= $1
          AND (enqueued_at IS NULL OR enqueued_at < $1 - make_interval(secs => $2))
        ORDER BY created_at
        LIMIT $3
        FOR UPDATE SKIP LOCKED
        """,
        now,
        stale_after_s,
        limit,
    )
    return [Unplanned(**r) for r in rows]


# One statement per notification: recipients (named people and the community's active members, minus
# exclusions), their language and municipality, an inbox row each, and one delivery per channel they get,
# honouring preferences, devices, suppressed addresses, digests and quiet hours (see planning.plan_channels
# for the same rules as a pure function). It runs once per notification: the notification row is locked
# and marked planned in the same transaction (the unique key would refuse a second run's rows anyway).
PLAN_SQL = """
WITH n AS (
    SELECT * FROM notifications WHERE id = $1
),
recipients AS (
    SELECT DISTINCT r.user_id
    FROM (
        SELECT unnest(n.audience_user_ids) AS user_id FROM n
        UNION ALL
        SELECT ca.user_id FROM community_audience ca JOIN n ON ca.community_id = n.audience_community_id
    ) r, n
    WHERE r.user_id IS NOT NULL AND NOT (r.user_id = ANY (n.exclude_user_ids))
),
inserted AS (
    INSERT INTO deliveries (notification_id, user_id, channel, locale, municipality_code, status, skip_reason,
                            due_at, quiet_override, deferred_by_quiet_hours, digest, sent_at, enqueued_at,
                            retry_until, planned_at)
    SELECT $1, u.id, c.channel, u.locale, u.municipality_code, c.status, c.skip_reason, c.due_at,
           c.quiet_override, c.deferred, c.digest,
           CASE WHEN c.channel = 'inbox' THEN $2::timestamptz END,
           -- what is due now is handed to dispatch jobs right after planning commits
           CASE WHEN c.status = 'pending' AND c.due_at <= $2 THEN $2::timestamptz END,
           -- retried until this deadline (planning.retry_window: urgent and care alerts $3, others $4)
           CASE WHEN c.status = 'pending'
                THEN c.due_at + CASE WHEN n.priority = 'urgent' OR starts_with(n.kind, 'care.') THEN $3::interval
                                     ELSE $4::interval END
           END,
           -- the partition key: every row of the notification in the week it was planned
           $2::timestamptz
    FROM recipients r
    JOIN users u ON u.id = r.user_id
    CROSS JOIN n
    LEFT JOIN notification_preferences p ON p.user_id = u.id AND p.community_id = n.community_id
    CROSS JOIN LATERAL (
        SELECT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = u.id) AS has_device,
               EXISTS (SELECT 1 FROM email_bounces b WHERE b.address = lower(u.email) AND b.suppressed_at IS NOT NULL)
                   AS suppressed,
               quiet_hours_end($2, u.quiet_hours_start, u.quiet_hours_end, u.time_zone) AS quiet_until,
               (n.respect_preferences AND coalesce(p.digest, 'off') <> 'off' AND n.priority <> 'urgent')
                   AS to_digest
    ) f
    CROSS JOIN LATERAL (
        VALUES
        ('inbox', 'sent', NULL, $2::timestamptz, false, false, NULL, true),
        ('push',
         CASE WHEN f.has_device THEN 'pending' ELSE 'skipped' END,
         CASE WHEN f.has_device THEN NULL ELSE 'no_device' END,
         CASE WHEN f.quiet_until IS NOT NULL AND n.priority <> 'urgent' THEN f.quiet_until ELSE $2 END,
         f.quiet_until IS NOT NULL AND n.priority = 'urgent',
         f.quiet_until IS NOT NULL AND n.priority <> 'urgent',
         NULL,
         'push' = ANY (n.channels) AND (NOT n.respect_preferences OR coalesce(p.push, true))),
        ('email',
         CASE WHEN f.suppressed THEN 'skipped' WHEN f.to_digest THEN 'held' ELSE 'pending' END,
         CASE WHEN f.suppressed THEN 'address_suppressed' END,
         $2,
         false,
         false,
         CASE WHEN f.to_digest AND NOT f.suppressed THEN p.digest END,
         'email' = ANY (n.channels)
           AND (NOT n.respect_preferences OR coalesce(p.email, NOT f.has_device) OR f.to_digest))
    ) AS c(channel, status, skip_reason, due_at, quiet_override, deferred, digest, wanted)
    WHERE c.wanted
)
SELECT count(*) FROM recipients
"""


async def lock_unplanned(conn: asyncpg.Connection, notification_id: uuid.UUID) -> Planning | None:
    """The notification, locked, if it still needs planning (a second job finds None)."""
    row = await conn.fetchrow(
        "SELECT id, not_before, channels, kind, priority FROM notifications WHERE id = $1 AND planned_at IS NULL "
        "AND cancelled_at IS NULL FOR UPDATE SKIP LOCKED",
        notification_id,
    )
    return None if row is None else Planning(**row)


async def plan(conn: asyncpg.Connection, notification_id: uuid.UUID, now: datetime) -> int:
    recipients = await conn.fetchval(PLAN_SQL, notification_id, now, URGENT_RETRY_WINDOW, RETRY_WINDOW)
    await conn.execute(
        "UPDATE notifications SET planned_at = $2, recipients = $3 WHERE id = $1",
        notification_id,
        now,
        recipients,
    )
    return int(recipients)


async def due_counts(conn: asyncpg.Connection, notification_id: uuid.UUID, now: datetime) -> dict[str, int]:
    """How many deliveries of each channel planning found due now (they were marked enqueued at ``now``)."""
    rows = await conn.fetch(
        "SELECT channel, count(*) AS n FROM deliveries WHERE notification_id = $1 AND status = 'pending' "
        "AND enqueued_at = $2 GROUP BY channel",
        notification_id,
        now,
    )
    return {channel: n for channel, n in rows}


# The partitions holding a notification's deliveries: the week it was planned in, and the DEFAULT partition
# (rows written outside planning carry '-infinity'). PostgreSQL prunes every other week when the statement
# runs, so a claim or an outcome walks the indexes of one week, not of the whole retention period.
def weeks_of(notification: str) -> str:
    return f"planned_at IN ((SELECT planned_at FROM notifications WHERE id = {notification}), '-infinity')"


def weeks_of_some(notification: str, given: bool) -> str:
    """``weeks_of`` when a notification is given; every week otherwise (a digest's deliveries belong to many
    notifications). Two statement texts rather than one with ``$n IS NULL OR``, whose generic plan would
    read every week."""
    return weeks_of(notification) if given else f"{notification}::uuid IS NULL"


async def claim(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    channel: str,
    now: datetime,
    limit: int,
    *,
    probe: bool = False,
) -> list[Claimed]:
    """Atomically take up to ``limit`` due deliveries: only rows still pending are taken, so a job that
    runs twice (or two workers) never take the same row; the lease returns rows of a dead worker unless
    the sending job renews it. A probe of a provider also takes deliveries waiting for it, due or not."""
    rows = await conn.fetch(
        f"""
        UPDATE deliveries d
        SET status = 'sending', attempts = d.attempts + 1, lease_until = $3::timestamptz + interval '{LEASE_S} seconds',
            updated_at = $3
        WHERE d.{weeks_of("$1")} AND d.id IN (
            SELECT id FROM deliveries
            WHERE notification_id = $1 AND channel = $2 AND status = 'pending'
              AND (due_at <= $3 OR ($5 AND waiting_provider)) AND {weeks_of("$1")}
            ORDER BY id
            LIMIT $4
            FOR UPDATE SKIP LOCKED
        )
        RETURNING d.id, d.user_id, d.locale, d.attempts, d.quiet_override, d.retry_until
        """,
        notification_id,
        channel,
        now,
        limit,
        probe,
    )
    return [Claimed(*r) for r in rows]  # RETURNING in Claimed's field order


async def renew_leases(
    conn: asyncpg.Connection, delivery_ids: list[int], now: datetime, notification_id: uuid.UUID | None = None
) -> None:
    """The heartbeat of a sending job: its deliveries stay leased while it lives.

    Rows locked right now are the slice whose outcomes the same job is recording: they are skipped, not
    waited for, because two statements locking the same rows in different orders deadlock.
    """
    await conn.execute(
        f"""
        UPDATE deliveries SET lease_until = $2::timestamptz + interval '{LEASE_S} seconds'
        WHERE {weeks_of_some("$3", notification_id is not None)} AND id IN (
            SELECT id FROM deliveries WHERE id = ANY ($1::bigint[]) AND status = 'sending'
              AND {weeks_of_some("$3", notification_id is not None)}
            FOR UPDATE SKIP LOCKED
        )
        """,
        delivery_ids,
        now,
        notification_id,
    )


async def notification_content(conn: asyncpg.Connection, notification_id: uuid.UUID) -> Sendable | None:
    row = await conn.fetchrow(
        """
        SELECT content::text, id, kind, community_id, priority, deep_link, ack_requested, created_at, cancelled_at
        FROM notifications WHERE id = $1
        """,
        notification_id,
    )
    if row is None:
        return None
    content, *rest = row  # SELECT in Sendable's field order
    return Sendable(decode_content(content), *rest)


async def device_tokens(conn: asyncpg.Connection, user_ids: list[uuid.UUID]) -> list[DeviceToken]:
    rows = await conn.fetch(
        "SELECT user_id, token FROM devices WHERE user_id = ANY ($1::uuid[]) ORDER BY user_id, created_at",
        user_ids,
    )
    return [DeviceToken(*r) for r in rows]  # SELECT in DeviceToken's field order


async def delete_tokens(conn: asyncpg.Connection, tokens: list[str]) -> None:
    await conn.execute("DELETE FROM devices WHERE token = ANY ($1::text[])", tokens)


async def email_recipients(
    conn: asyncpg.Connection, user_ids: list[uuid.UUID], community_id: uuid.UUID | None
) -> list[EmailRecipient]:
    """Address and unsubscribe token of each person, and whether they unsubscribed since planning."""
    rows = await conn.fetch(
        """
        SELECT u.id AS user_id, u.email, t.token,
               (p.email IS FALSE AND coalesce(p.digest, 'off') = 'off') AS unsubscribed
        FROM users u
        LEFT JOIN unsubscribe_tokens t ON t.user_id = u.id AND t.community_id = $2
        LEFT JOIN notification_preferences p ON p.user_id = u.id AND p.community_id = $2
        WHERE u.id = ANY ($1::uuid[])
        """,
        user_ids,
        community_id,
    )
    return [EmailRecipient(*r) for r in rows]  # SELECT in EmailRecipient's field order


async def create_unsubscribe_tokens(
    conn: asyncpg.Connection, rows: list[tuple[str, uuid.UUID, uuid.UUID]], expires_at: datetime
) -> None:
    await conn.executemany(
        """
        INSERT INTO unsubscribe_tokens (token, user_id, community_id, expires_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (user_id, community_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
        """,
        [(token, user_id, community_id, expires_at) for token, user_id, community_id in rows],
    )


#: (delivery id, status, error, skip reason, next due time, waiting for the provider)
OutcomeRow = tuple[int, str, str | None, str | None, datetime | None, bool]


async def record_outcomes(
    conn: asyncpg.Connection,
    outcomes: Sequence[OutcomeRow],
    now: datetime,
    notification_id: uuid.UUID | None = None,
) -> None:
    """Write many outcomes at once (see OutcomeRow), of one notification's deliveries when it is given."""
    if not outcomes:
        return
    ids, statuses, errors, reasons, dues, waiting = (list(column) for column in zip(*outcomes, strict=True))
    await conn.execute(
        f"""
        UPDATE deliveries d
        SET status = v.status,
            last_error = coalesce(v.error, CASE WHEN v.status = 'sent' THEN NULL ELSE d.last_error END),
            skip_reason = v.reason,
            due_at = coalesce(v.due_at, d.due_at),
            sent_at = CASE WHEN v.status = 'sent' THEN $6 ELSE d.sent_at END,
            waiting_provider = v.waiting,
            lease_until = NULL,
            enqueued_at = NULL,
            updated_at = $6
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $7::boolean[])
             AS v(id, status, error, reason, due_at, waiting)
        WHERE d.id = v.id AND d.status = 'sending' AND {weeks_of_some("$8", notification_id is not None)}
        """,
        ids,
        statuses,
        errors,
        reasons,
        dues,
        now,
        waiting,
        notification_id,
    )


async def release(
    conn: asyncpg.Connection,
    delivery_ids: list[int],
    notification_id: uuid.UUID | None = None,
    *,
    requested_at: datetime | None = None,
) -> None:
    """Give claimed deliveries back (the worker is stopping, the provider's circuit opened, or the job hands
    over): they are pending again, attempt not counted. ``requested_at``: when a job was asked to go on with
    them, so the sweep leaves them to it until it is stale; None, the next sweep asks for one."""
    await conn.execute(
        f"""
        UPDATE deliveries SET status = 'pending', attempts = greatest(attempts - 1, 0), lease_until = NULL,
               enqueued_at = $3
        WHERE id = ANY ($1::bigint[]) AND status = 'sending' AND {weeks_of_some("$2", notification_id is not None)}
        """,
        delivery_ids,
        notification_id,
        requested_at,
    )


async def record_bounces(conn: asyncpg.Connection, addresses: list[tuple[str, str]], now: datetime) -> None:
    await conn.executemany(
        f"""
        INSERT INTO email_bounces (address, hard_bounces, last_error, updated_at) VALUES (lower($1), 1, $2, $3)
        ON CONFLICT (address) DO UPDATE SET
            hard_bounces = email_bounces.hard_bounces + 1,
            last_error = EXCLUDED.last_error,
            updated_at = EXCLUDED.updated_at,
            suppressed_at = CASE WHEN email_bounces.hard_bounces + 1 >= {HARD_BOUNCE_LIMIT}
                                 THEN coalesce(email_bounces.suppressed_at, EXCLUDED.updated_at) END
        """,
        [(address, error[:500], now) for address, error in addresses],
    )


async def newly_suppressed(conn: asyncpg.Connection, addresses: list[str], now: datetime) -> list[str]:
    """Which of ``addresses`` (lower-cased) ``record_bounces`` suppressed at ``now``."""
    rows = await conn.fetch(
        "SELECT address FROM email_bounces WHERE address = ANY ($1::text[]) AND suppressed_at = $2",
        [a.lower() for a in addresses],
        now,
    )
    return [address for (address,) in rows]


async def clear_bounces(conn: asyncpg.Connection, addresses: list[str]) -> None:
    await conn.execute(
        "DELETE FROM email_bounces WHERE address = ANY ($1::text[]) AND suppressed_at IS NULL",
        [a.lower() for a in addresses],
    )


async def expire_leases(conn: asyncpg.Connection, now: datetime) -> int:
    """Deliveries claimed by a worker that died: pending again (held again for a digest's). A row locked
    right now is being recorded or renewed by a living worker: skipped (waiting for it could deadlock)."""
    result = await conn.execute(
        """
        UPDATE deliveries SET status = CASE WHEN digest IS NULL THEN 'pending' ELSE 'held' END,
                              lease_until = NULL, enqueued_at = NULL
        WHERE id IN (
            SELECT id FROM deliveries WHERE status = 'sending' AND lease_until < $1 FOR UPDATE SKIP LOCKED
        )
        """,
        now,
    )
    return int(result.split()[-1])


async def fail_overdue(conn: asyncpg.Connection, now: datetime) -> int:
    """Deliveries still pending past their retry deadline end ``failed`` (never retried without end)."""
    result = await conn.execute(
        """
        UPDATE deliveries
        SET status = 'failed', waiting_provider = false, enqueued_at = NULL, updated_at = $1,
            last_error = left('gave up at the retry deadline: ' || coalesce(last_error, 'not sent'), 500)
        WHERE status = 'pending' AND retry_until < $1
        """,
        now,
    )
    return int(result.split()[-1])


# -- circuit breakers ----------------------------------------------------------------------------------------


def _circuit(row: asyncpg.Record | None) -> Circuit:
    return Circuit() if row is None else Circuit(**row)


async def circuit(conn: asyncpg.Connection, channel: str, *, lock: bool = False) -> Circuit:
    """The provider's circuit (locked for an update when asked)."""
    row = await conn.fetchrow(
        "SELECT failures, trips, opened_at, open_until, probe_until, last_error FROM delivery_circuits "
        f"WHERE channel = $1{' FOR UPDATE' if lock else ''}",
        channel,
    )
    return _circuit(row)


async def circuits(conn: asyncpg.Connection) -> dict[str, Circuit]:
    rows = await conn.fetch(
        "SELECT channel, failures, trips, opened_at, open_until, probe_until, last_error FROM delivery_circuits"
    )
    found: dict[str, Circuit] = {}
    for r in rows:
        values = dict(r)
        channel = values.pop("channel")
        found[channel] = Circuit(**values)
    return found


async def save_circuit(conn: asyncpg.Connection, channel: str, value: Circuit, now: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO delivery_circuits (channel, failures, trips, opened_at, open_until, probe_until, last_error,
                                       updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, left($7, 500), $8)
        ON CONFLICT (channel) DO UPDATE SET failures = EXCLUDED.failures, trips = EXCLUDED.trips,
            opened_at = EXCLUDED.opened_at, open_until = EXCLUDED.open_until,
            probe_until = EXCLUDED.probe_until, last_error = EXCLUDED.last_error, updated_at = EXCLUDED.updated_at
        """,
        channel,
        value.failures,
        value.trips,
        value.opened_at,
        value.open_until,
        value.probe_until,
        value.last_error,
        now,
    )


async def take_probe(conn: asyncpg.Connection, channel: str, now: datetime, probe_s: float) -> bool:
    """True for the one dispatcher that may probe the open circuit now (its pause is over)."""
    row = await conn.fetchrow(
        """
        UPDATE delivery_circuits SET probe_until = $2 + make_interval(secs => $3), updated_at = $2
        WHERE channel = $1 AND open_until <= $2 AND (probe_until IS NULL OR probe_until <= $2)
        RETURNING channel
        """,
        channel,
        now,
        probe_s,
    )
    return row is not None


async def release_probe(conn: asyncpg.Connection, channel: str) -> None:
    """A probe that found nothing to send: another dispatcher may probe at once."""
    await conn.execute("UPDATE delivery_circuits SET probe_until = NULL WHERE channel = $1", channel)


async def resume_waiting(conn: asyncpg.Connection, channel: str, now: datetime) -> int:
    """The provider is back: every delivery waiting for it is due now and handed to the next sweep."""
    result = await conn.execute(
        """
        UPDATE deliveries SET due_at = least(due_at, $2), enqueued_at = NULL
        WHERE channel = $1 AND status = 'pending' AND waiting_provider
        """,
        channel,
        now,
    )
    return int(result.split()[-1])


async def probe_target(conn: asyncpg.Connection, channel: str, now: datetime) -> uuid.UUID | None:
    """A notification with deliveries on this channel that a probe can send (waiting, or due)."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        (SELECT notification_id FROM deliveries WHERE channel = $1 AND status = 'pending' AND waiting_provider
         LIMIT 1)
        UNION ALL
        (SELECT notification_id FROM deliveries WHERE channel = $1 AND status = 'pending' AND due_at <= $2 LIMIT 1)
        LIMIT 1
        """,
        channel,
        now,
    )


async def retry_failed(
    conn: asyncpg.Connection, notification_id: uuid.UUID, now: datetime, retry_until: datetime
) -> dict[str, int]:
    """Failed push and email deliveries of a notification are pending again, due now, with a new deadline."""
    rows = await conn.fetch(
        """
        UPDATE deliveries
        SET status = 'pending', due_at = $2, retry_until = $3, enqueued_at = $2, waiting_provider = false,
            lease_until = NULL, updated_at = $2
        WHERE notification_id = $1 AND status = 'failed' AND channel IN ('push', 'email')
        RETURNING channel
        """,
        notification_id,
        now,
        retry_until,
    )
    counts: dict[str, int] = {}
    for (channel,) in rows:
        counts[channel] = counts.get(channel, 0) + 1
    return counts


async def due_work(conn: asyncpg.Connection, now: datetime, stale_after_s: float) -> list[DueWork]:
    """Notifications and channels of due pending deliveries that no job has been asked to send lately.

    A notification's channel that a job is sending right now (a lease still running) is left to that job,
    which claims batches until nothing is due: marking its fan-out's remaining rows (up to 50,000 updates
    each sweep) and asking for more jobs would only compete with it for the database."""
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT id FROM deliveries d
            WHERE status = 'pending' AND due_at <= $1
              AND (enqueued_at IS NULL OR enqueued_at < $1 - make_interval(secs => $2))
              AND NOT EXISTS (
                SELECT 1 FROM deliveries s
                WHERE s.lease_until > $1 AND s.notification_id = d.notification_id AND s.channel = d.channel
              )
            LIMIT 50000
            FOR UPDATE SKIP LOCKED
        ),
        marked AS (
            UPDATE deliveries d SET enqueued_at = $1 FROM due WHERE d.id = due.id
            RETURNING d.notification_id, d.channel
        )
        SELECT w.notification_id, w.channel, n.kind, n.priority
        FROM (SELECT DISTINCT notification_id, channel FROM marked) w
        JOIN notifications n ON n.id = w.notification_id
        """,
        now,
        stale_after_s,
    )
    return [DueWork(**r) for r in rows]


async def claim_digest_run(conn: asyncpg.Connection, period: str, run_date: date) -> bool:
    """True once per digest period and local date, whichever worker asks first."""
    row = await conn.fetchrow(
        "INSERT INTO digest_runs (period, run_date) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING period",
        period,
        run_date,
    )
    return row is not None


async def claim_held(conn: asyncpg.Connection, period: str, now: datetime) -> list[Held]:
    """Every email held for this digest period, taken for sending, with what the digest shows of it."""
    rows = await conn.fetch(
        f"""
        UPDATE deliveries d
        SET status = 'sending', attempts = d.attempts + 1,
            lease_until = $2::timestamptz + interval '{LONG_LEASE_S} seconds', updated_at = $2,
            retry_until = coalesce(d.retry_until, $2::timestamptz + $3::interval)
        FROM notifications n
        WHERE d.notification_id = n.id AND d.status = 'held' AND d.digest = $1 AND d.channel = 'email'
          AND n.cancelled_at IS NULL
        RETURNING d.id, d.user_id, d.locale, d.attempts, d.notification_id, d.retry_until
        """,
        period,
        now,
        RETRY_WINDOW,
    )
    return [Held(*r) for r in rows]  # RETURNING in Held's field order


# -- devices, preferences, inbox, statistics, unsubscribe --------------------------------------------------


async def upsert_device(conn: asyncpg.Connection, user_id: uuid.UUID, token: str, platform: str) -> Device:
    """Register a token; a token seen on another account moves to this one (the phone changed hands)."""
    row = await conn.fetchrow(
        """
        INSERT INTO devices (user_id, token, platform) VALUES ($1, $2, $3)
        ON CONFLICT (token) DO UPDATE SET user_id = EXCLUDED.user_id, platform = EXCLUDED.platform,
                                          last_seen_at = now()
        RETURNING id, platform, created_at, last_seen_at
        """,
        user_id,
        token,
        platform,
    )
    assert row is not None
    return Device(**row)


async def drop_oldest_devices(conn: asyncpg.Connection, user_id: uuid.UUID, keep: int) -> int:
    """Keep the ``keep`` devices of a person seen most recently; the others are deleted."""
    status = await conn.execute(
        """
        DELETE FROM devices WHERE id IN (
            SELECT id FROM devices WHERE user_id = $1
            ORDER BY last_seen_at DESC, created_at DESC OFFSET $2
        )
        """,
        user_id,
        keep,
    )
    return int(status.rsplit(" ", 1)[-1])


async def devices_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[Device]:
    rows = await conn.fetch(
        "SELECT id, platform, created_at, last_seen_at FROM devices WHERE user_id = $1 ORDER BY created_at",
        user_id,
    )
    return [Device(**r) for r in rows]


async def delete_device(conn: asyncpg.Connection, user_id: uuid.UUID, device_id: uuid.UUID) -> bool:
    result = await conn.execute("DELETE FROM devices WHERE id = $1 AND user_id = $2", device_id, user_id)
    return result.endswith(" 1")


async def preferences_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[PreferenceRow]:
    rows = await conn.fetch(
        "SELECT community_id, push, email, digest FROM notification_preferences WHERE user_id = $1 "
        "ORDER BY community_id",
        user_id,
    )
    return [PreferenceRow(**r) for r in rows]


async def has_device(conn: asyncpg.Connection, user_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = $1)", user_id))


async def upsert_preferences(
    conn: asyncpg.Connection, user_id: uuid.UUID, rows: list[tuple[uuid.UUID, bool, bool, str]]
) -> None:
    await conn.executemany(
        """
        INSERT INTO notification_preferences (user_id, community_id, push, email, digest, updated_at)
        VALUES ($1, $2, $3, $4, $5, now())
        ON CONFLICT (user_id, community_id) DO UPDATE SET push = EXCLUDED.push, email = EXCLUDED.email,
            digest = EXCLUDED.digest, updated_at = now()
        """,
        [(user_id, *row) for row in rows],
    )


async def inbox_page(
    conn: asyncpg.Connection, user_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[InboxRow]:
    rows = await conn.fetch(
        """
        SELECT n.content::text, n.id, n.kind, n.priority, n.deep_link, n.community_id, n.ack_requested, n.created_at,
               i.sent_at AS received_at, i.read_at, i.acknowledged_at
        FROM deliveries i JOIN notifications n ON n.id = i.notification_id
        WHERE i.user_id = $1 AND i.channel = 'inbox' AND n.cancelled_at IS NULL
          AND ($2::timestamptz IS NULL OR (i.sent_at, i.notification_id) < ($2, $3))
        ORDER BY i.sent_at DESC, i.notification_id DESC
        LIMIT $4
        """,
        user_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    # SELECT in InboxRow's field order
    return [InboxRow(decode_content(content), *rest) for content, *rest in rows]


async def inbox_entry(
    conn: asyncpg.Connection, user_id: uuid.UUID, notification_id: uuid.UUID
) -> InboxEntry | None:
    row = await conn.fetchrow(
        """
        SELECT i.read_at, i.acknowledged_at, n.ack_requested
        FROM deliveries i JOIN notifications n ON n.id = i.notification_id
        WHERE i.user_id = $1 AND i.notification_id = $2 AND i.channel = 'inbox'
        FOR UPDATE OF i
        """,
        user_id,
        notification_id,
    )
    return None if row is None else InboxEntry(**row)


async def mark_read(conn: asyncpg.Connection, user_id: uuid.UUID, notification_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE deliveries SET read_at = coalesce(read_at, now()) "
        "WHERE user_id = $1 AND notification_id = $2 AND channel = 'inbox'",
        user_id,
        notification_id,
    )


async def mark_acknowledged(conn: asyncpg.Connection, user_id: uuid.UUID, notification_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE deliveries SET acknowledged_at = coalesce(acknowledged_at, now()), read_at = coalesce(read_at, now()) "
        "WHERE user_id = $1 AND notification_id = $2 AND channel = 'inbox'",
        user_id,
        notification_id,
    )


async def mark_acknowledged_by_source(
    conn: asyncpg.Connection, user_id: uuid.UUID, kinds: list[str], source_id: uuid.UUID
) -> None:
    """Acknowledge a person's inbox entries of the notifications of one source (an alert and its reminder)."""
    await conn.execute(
        """
        UPDATE deliveries SET acknowledged_at = coalesce(acknowledged_at, now()), read_at = coalesce(read_at, now())
        WHERE user_id = $1 AND channel = 'inbox' AND notification_id IN (
            SELECT id FROM notifications WHERE kind = ANY($2::text[]) AND source_id = $3 AND ack_requested)
        """,
        user_id,
        kinds,
        source_id,
    )


async def notification_source(
    conn: asyncpg.Connection, notification_id: uuid.UUID
) -> NotificationSource | None:
    row = await conn.fetchrow("SELECT kind, source_id FROM notifications WHERE id = $1", notification_id)
    return None if row is None else NotificationSource(**row)


async def notification_of(conn: asyncpg.Connection, kind: str, source_id: uuid.UUID) -> uuid.UUID | None:
    """The first notification that carried a source (a post is notified once, when it is published)."""
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM notifications WHERE kind = $1 AND source_id = $2 ORDER BY created_at, id LIMIT 1",
        kind,
        source_id,
    )
    return found


async def notification_sender(
    conn: asyncpg.Connection, notification_id: uuid.UUID
) -> NotificationSender | None:
    row = await conn.fetchrow(
        "SELECT id, sender_id, planned_at, recipients, priority, kind FROM notifications WHERE id = $1",
        notification_id,
    )
    return None if row is None else NotificationSender(**row)


async def delivery_counts(conn: asyncpg.Connection, notification_id: uuid.UUID) -> DeliveryCounts:
    """Counts by channel and status, by language and by municipality, and those waiting for a provider."""
    rows = await conn.fetch(
        """
        SELECT channel, status, quiet_override, deferred_by_quiet_hours, count(*) AS n
        FROM deliveries WHERE notification_id = $1 AND channel <> 'inbox'
        GROUP BY GROUPING SETS ((channel, status), (quiet_override), (deferred_by_quiet_hours))
        """,
        notification_id,
    )
    waiting = await conn.fetch(
        """
        SELECT d.channel, count(*) AS n
        FROM deliveries d LEFT JOIN delivery_circuits c ON c.channel = d.channel
        WHERE d.notification_id = $1 AND d.status = 'pending' AND d.channel <> 'inbox'
          AND (d.waiting_provider OR c.open_until IS NOT NULL)
        GROUP BY d.channel
        """,
        notification_id,
    )
    receipts = await conn.fetch(
        """
        SELECT locale, municipality_code, count(*) AS recipients, count(read_at) AS read,
               count(acknowledged_at) AS acknowledged
        FROM deliveries WHERE notification_id = $1 AND channel = 'inbox'
        GROUP BY GROUPING SETS ((locale), (municipality_code), ())
        """,
        notification_id,
    )
    return DeliveryCounts(
        deliveries=[StatusCount(**r) for r in rows],
        receipts=[ReceiptCount(**r) for r in receipts],
        waiting=[ChannelCount(**r) for r in waiting],
    )


async def acknowledgement_rows(conn: asyncpg.Connection, notification_id: uuid.UUID) -> list[Receipt]:
    rows = await conn.fetch(
        "SELECT user_id, locale, municipality_code, read_at, acknowledged_at FROM deliveries "
        "WHERE notification_id = $1 AND channel = 'inbox'",
        notification_id,
    )
    return [Receipt(**r) for r in rows]


async def unsubscribe_target(conn: asyncpg.Connection, token: str, now: datetime) -> UnsubscribeTarget | None:
    row = await conn.fetchrow(
        """
        SELECT t.user_id, t.community_id, u.locale FROM unsubscribe_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.token = $1 AND t.expires_at > $2
        """,
        token,
        now,
    )
    return None if row is None else UnsubscribeTarget(**row)


async def unsubscribe(conn: asyncpg.Connection, user_id: uuid.UUID, community_id: uuid.UUID) -> None:
    """No more email (nor digest) for this community; the nil id stands for every digest."""
    if community_id.int == 0:
        await conn.execute(
            "UPDATE notification_preferences SET digest = 'off', updated_at = now() WHERE user_id = $1",
            user_id,
        )
        await conn.execute(
            """
            UPDATE deliveries SET status = 'skipped', skip_reason = 'unsubscribed', updated_at = now()
            WHERE user_id = $1 AND status = 'held'
            """,
            user_id,
        )
        return
    await conn.execute(
        """
        INSERT INTO notification_preferences (user_id, community_id, push, email, digest)
        VALUES ($1, $2, NULL, false, 'off')
        ON CONFLICT (user_id, community_id) DO UPDATE SET email = false, digest = 'off', updated_at = now()
        """,
        user_id,
        community_id,
    )


async def cancel_notifications(conn: asyncpg.Connection, kind: str, source_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE notifications SET cancelled_at = coalesce(cancelled_at, now()) WHERE kind = $1 AND source_id = $2",
        kind,
        source_id,
    )


async def export_rows(conn: asyncpg.Connection, user_id: uuid.UUID) -> Export:
    devices = await conn.fetch(
        "SELECT id, platform, created_at, last_seen_at FROM devices WHERE user_id = $1", user_id
    )
    preferences = await conn.fetch(
        "SELECT community_id, push, email, digest, updated_at FROM notification_preferences WHERE user_id = $1",
        user_id,
    )
    deliveries = await conn.fetch(
        "SELECT notification_id, channel, locale, status, attempts, sent_at, skip_reason, read_at, "
        "acknowledged_at FROM deliveries WHERE user_id = $1 ORDER BY id",
        user_id,
    )
    return Export(
        devices=[Device(**r) for r in devices],
        preferences=[ExportedPreference(**r) for r in preferences],
        deliveries=[ExportedDelivery(**r) for r in deliveries],
    )


async def erase_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """What does not go with the account row by itself: the bounce record of the person's address."""
    await conn.execute(
        "DELETE FROM email_bounces WHERE address = (SELECT lower(email) FROM users WHERE id = $1)", user_id
    )


async def withdraw_recipient(conn: asyncpg.Connection, user_id: uuid.UUID, link_prefix: str) -> None:
    await conn.execute(
        """
        UPDATE deliveries d SET status = 'skipped', skip_reason = 'withdrawn', updated_at = now()
        FROM notifications n
        WHERE d.notification_id = n.id AND d.user_id = $1 AND d.status IN ('pending', 'held')
          AND d.channel <> 'inbox' AND starts_with(n.deep_link, $2)
        """,
        user_id,
        link_prefix,
    )
    await conn.execute(
        """
        UPDATE notifications SET exclude_user_ids = array_append(exclude_user_ids, $1)
        WHERE planned_at IS NULL AND starts_with(deep_link, $2) AND NOT ($1 = ANY (exclude_user_ids))
        """,
        user_id,
        link_prefix,
    )


async def cancel_by_link_prefix(conn: asyncpg.Connection, link_prefix: str) -> None:
    await conn.execute(
        "UPDATE notifications SET cancelled_at = coalesce(cancelled_at, now()) WHERE starts_with(deep_link, $1)",
        link_prefix,
    )


# -- emails to addresses without an account ---------------------------------------------------------------


async def insert_direct_email(
    conn: asyncpg.Connection,
    *,
    kind: str,
    address: str,
    locale: str,
    message: str,
    deep_link: str,
    reason: str = "invited",
) -> uuid.UUID:
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        INSERT INTO direct_emails (kind, address, locale, message, deep_link, reason, enqueued_at)
        VALUES ($1, $2, $3, $4::jsonb, $5, $6, now()) RETURNING id
        """,
        kind,
        address,
        locale,
        message,
        deep_link,
        reason,
    )


async def claim_direct_email(
    conn: asyncpg.Connection, email_id: uuid.UUID, now: datetime
) -> DirectEmail | None:
    """The email, taken for sending if still pending and due, with whether its address opted out."""
    row = await conn.fetchrow(
        f"""
        UPDATE direct_emails e
        SET status = 'sending', attempts = e.attempts + 1,
            lease_until = $2::timestamptz + interval '{LONG_LEASE_S} seconds',
            retry_until = coalesce(e.retry_until, $2::timestamptz + $3::interval)
        WHERE e.id = $1 AND e.status = 'pending' AND e.due_at <= $2
        RETURNING e.id, e.kind, e.address, e.locale, e.message::text AS message, e.deep_link, e.reason, e.attempts,
                  e.created_at, e.retry_until,
                  EXISTS (SELECT 1 FROM email_bounces b WHERE b.address = lower(e.address)
                          AND b.suppressed_at IS NOT NULL) AS suppressed,
                  (SELECT token FROM address_optout_tokens t WHERE t.address = lower(e.address)) AS token
        """,
        email_id,
        now,
        RETRY_WINDOW,
    )
    return None if row is None else DirectEmail(**row)


async def create_optout_token(
    conn: asyncpg.Connection, address: str, token: str, expires_at: datetime
) -> str:
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        INSERT INTO address_optout_tokens (token, address, expires_at) VALUES ($1, lower($2), $3)
        ON CONFLICT (address) DO UPDATE SET expires_at = EXCLUDED.expires_at
        RETURNING token
        """,
        token,
        address,
        expires_at,
    )


async def record_direct_outcome(
    conn: asyncpg.Connection, email_id: uuid.UUID, outcome: OutcomeRow, now: datetime
) -> None:
    _, status, error, reason, due, _ = outcome
    await conn.execute(
        """
        UPDATE direct_emails SET status = $2::text, last_error = $3::text, skip_reason = $4::text,
               due_at = coalesce($5::timestamptz, due_at),
               sent_at = CASE WHEN $2::text = 'sent' THEN $6::timestamptz END, lease_until = NULL, enqueued_at = NULL
        WHERE id = $1 AND status = 'sending'
        """,
        email_id,
        status,
        error,
        reason,
        due,
        now,
    )


async def due_direct_emails(conn: asyncpg.Connection, now: datetime, stale_after_s: float) -> list[uuid.UUID]:
    """Emails due and not handed to a job lately (or whose worker died: their lease ran out), marked."""
    rows = await conn.fetch(
        """
        UPDATE direct_emails SET status = 'pending', lease_until = NULL, enqueued_at = $1
        WHERE id IN (
            SELECT id FROM direct_emails
            WHERE (status = 'pending' AND due_at <= $1
                   AND (enqueued_at IS NULL OR enqueued_at < $1 - make_interval(secs => $2)))
               OR (status = 'sending' AND lease_until < $1)
            LIMIT 1000
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id
        """,
        now,
        stale_after_s,
    )
    return [email_id for (email_id,) in rows]


async def optout_address(conn: asyncpg.Connection, token: str, now: datetime) -> str | None:
    """Suppress the address a valid opt-out token names; its address, or None for an unknown token."""
    address = await conn.fetchval(
        "SELECT address FROM address_optout_tokens WHERE token = $1 AND expires_at > $2", token, now
    )
    if address is None:
        return None
    await conn.execute(
        """
        INSERT INTO email_bounces (address, last_error, suppressed_at) VALUES ($1, 'opted out', $2)
        ON CONFLICT (address) DO UPDATE SET suppressed_at = coalesce(email_bounces.suppressed_at, $2),
                                            last_error = 'opted out', updated_at = $2
        """,
        address,
        now,
    )
    await conn.execute(
        "UPDATE direct_emails SET status = 'skipped', skip_reason = 'unsubscribed' "
        "WHERE lower(address) = $1 AND status = 'pending'",
        address,
    )
    return str(address)


async def optout_known(conn: asyncpg.Connection, token: str, now: datetime) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM address_optout_tokens WHERE token = $1 AND expires_at > $2)",
            token,
            now,
        )
    )


class Lag(msgspec.Struct, frozen=True):
    """Seconds the oldest due work has waited: pending deliveries by channel, unplanned notifications."""

    oldest_due: dict[str, float]
    oldest_unplanned: float


async def lag(conn: asyncpg.Connection, channels: Sequence[str]) -> Lag:
    """The age of the oldest due work, by index: one short scan per channel (pending rows by due time)."""
    rows = await conn.fetch(
        """
        SELECT c.channel, extract(epoch FROM now() - d.due_at)::float8 AS age
        FROM unnest($1::text[]) AS c(channel)
        CROSS JOIN LATERAL (
            SELECT due_at FROM deliveries
            WHERE status = 'pending' AND channel = c.channel AND due_at <= now()
            ORDER BY due_at
            LIMIT 1
        ) d
        """,
        list(channels),
    )
    unplanned = await conn.fetchval(
        """
        SELECT extract(epoch FROM now() - min(coalesce(not_before, created_at)))::float8
        FROM notifications
        WHERE planned_at IS NULL AND cancelled_at IS NULL AND coalesce(not_before, created_at) <= now()
        """
    )
    return Lag(
        oldest_due={channel: max(0.0, age) for channel, age in rows},
        oldest_unplanned=max(0.0, unplanned or 0.0),
    )


async def audience_rows(
    conn: asyncpg.Connection, user_ids: list[uuid.UUID], now: datetime
) -> list[AudienceRow]:
    """People by language, municipality and whether their quiet hours are in force at ``now``."""
    rows = await conn.fetch(
        """
        SELECT locale, municipality_code,
               quiet_hours_end($2, quiet_hours_start, quiet_hours_end, time_zone) IS NOT NULL AS quiet,
               count(*) AS n
        FROM users WHERE id = ANY ($1::uuid[])
        GROUP BY 1, 2, 3
        """,
        user_ids,
        now,
    )
    return [AudienceRow(**r) for r in rows]
