"""SQL of care providers and their alerts: the directory, staff seats, clients, alerts and reminders."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from care.models import AlertSummary, ClientOut, ClientRegistration, Contact, Person, Provider, Rate
from care.queries.common import PROVIDER_SELECT, provider_from, row_as
from i18n.content import Bilingual


class AlertRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    provider_id: uuid.UUID
    priority: str
    ack_requested: bool
    created_at: datetime
    reminded_at: datetime | None
    title: Bilingual


# -- providers ---------------------------------------------------------------------------------------------


async def insert_provider(
    conn: asyncpg.Connection,
    *,
    kind: str,
    name: str,
    description: Bilingual,
    languages: list[str],
    codes: list[str],
    contact: Contact,
    created_by: uuid.UUID,
) -> uuid.UUID:
    provider_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO care_providers (kind, name, description_fr, description_de, languages, municipality_codes,
                                    phone, email, website, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id
        """,
        kind,
        name,
        description.fr,
        description.de,
        languages,
        codes,
        contact.phone,
        contact.email,
        contact.website,
        created_by,
    )
    await conn.execute(
        "INSERT INTO care_provider_staff (provider_id, user_id, accepted_at) VALUES ($1, $2, now())",
        provider_id,
        created_by,
    )
    return provider_id


async def verify_provider(conn: asyncpg.Connection, provider_id: uuid.UUID, admin_id: uuid.UUID) -> bool:
    found = await conn.fetchval(
        """
        UPDATE care_providers SET verified_at = coalesce(verified_at, now()),
                                  verified_by = coalesce(verified_by, $2)
        WHERE id = $1 RETURNING id
        """,
        provider_id,
        admin_id,
    )
    return found is not None


async def services(
    conn: asyncpg.Connection,
    *,
    municipality: str | None,
    kind: str | None,
    language: str | None,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> list[Provider]:
    rows = await conn.fetch(
        f"""
        {PROVIDER_SELECT}
        WHERE verified_at IS NOT NULL
          AND ($1::text IS NULL OR municipality_codes @> ARRAY[$1::text])
          AND ($2::text IS NULL OR kind = $2)
          AND ($3::text IS NULL OR languages @> ARRAY[$3::text])
          AND ($4::text IS NULL OR (lower(name), id) > (lower($4::text), $5::uuid))
        ORDER BY lower(name), id
        LIMIT $6
        """,
        municipality,
        kind,
        language,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [provider_from(r) for r in rows]


async def withdraw_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID
) -> ClientRegistration | None:
    record = await conn.fetchrow(
        """
        UPDATE care_provider_clients SET withdrawn_at = coalesce(withdrawn_at, now())
        WHERE provider_id = $1 AND user_id = $2
        RETURNING provider_id, consented_at, withdrawn_at, status
        """,
        provider_id,
        user_id,
    )
    return row_as(ClientRegistration, record)  # type: ignore[no-any-return]


# -- provider alerts -----------------------------------------------------------------------------------------


async def insert_alert(
    conn: asyncpg.Connection,
    *,
    provider_id: uuid.UUID,
    author_id: uuid.UUID,
    title: Bilingual,
    body: Bilingual,
    priority: str,
    ack_requested: bool,
    remind_after_minutes: int,
    now: datetime,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """The alert and one recipient row per active client, with their language and municipality now."""
    alert_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO care_alerts (provider_id, author_id, title_fr, title_de, body_fr, body_de, priority,
                                 ack_requested, remind_after_minutes, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id
        """,
        provider_id,
        author_id,
        title.fr,
        title.de,
        body.fr,
        body.de,
        priority,
        ack_requested,
        remind_after_minutes,
        now,
    )
    rows = await conn.fetch(
        """
        INSERT INTO care_alert_recipients (alert_id, user_id, locale, municipality_code)
        SELECT $1, u.id, u.locale, u.municipality_code
        FROM care_provider_clients c JOIN users u ON u.id = c.user_id
        WHERE c.provider_id = $2 AND c.withdrawn_at IS NULL AND c.status = 'approved'
        RETURNING user_id
        """,
        alert_id,
        provider_id,
    )
    return alert_id, [r["user_id"] for r in rows]


async def set_alert_notification(
    conn: asyncpg.Connection, alert_id: uuid.UUID, notification_id: uuid.UUID
) -> None:
    await conn.execute("UPDATE care_alerts SET notification_id = $2 WHERE id = $1", alert_id, notification_id)


async def alert(conn: asyncpg.Connection, alert_id: uuid.UUID) -> AlertRow | None:
    r = await conn.fetchrow(
        """
        SELECT id, provider_id, priority, ack_requested, created_at, reminded_at, title_fr, title_de
        FROM care_alerts WHERE id = $1
        """,
        alert_id,
    )
    if r is None:
        return None
    return AlertRow(
        id=r["id"],
        provider_id=r["provider_id"],
        priority=r["priority"],
        ack_requested=r["ack_requested"],
        created_at=r["created_at"],
        reminded_at=r["reminded_at"],
        title=Bilingual(fr=r["title_fr"], de=r["title_de"]),
    )


async def acknowledge(
    conn: asyncpg.Connection, alert_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> datetime | None:
    """When the recipient acknowledged (the first time counts); None if they are not a recipient."""
    at: datetime | None = await conn.fetchval(
        """
        UPDATE care_alert_recipients SET acknowledged_at = coalesce(acknowledged_at, $3)
        WHERE alert_id = $1 AND user_id = $2 RETURNING acknowledged_at
        """,
        alert_id,
        user_id,
        now,
    )
    return at


async def alert_rates(conn: asyncpg.Connection, alert_id: uuid.UUID, column: str) -> list[Rate]:
    assert column in {"locale", "municipality_code"}
    rows = await conn.fetch(
        f"""
        SELECT coalesce({column}, '') AS key, count(*) AS recipients,
               count(acknowledged_at) AS acknowledged
        FROM care_alert_recipients WHERE alert_id = $1 GROUP BY 1 ORDER BY 1
        """,
        alert_id,
    )
    return [
        Rate(
            key=r["key"],
            recipients=r["recipients"],
            acknowledged=r["acknowledged"],
            rate=round(r["acknowledged"] / r["recipients"], 4) if r["recipients"] else 0.0,
        )
        for r in rows
    ]


async def not_acknowledged(conn: asyncpg.Connection, alert_id: uuid.UUID) -> list[Person]:
    rows = await conn.fetch(
        """
        SELECT u.id AS user_id, u.display_name FROM care_alert_recipients r JOIN users u ON u.id = r.user_id
        WHERE r.alert_id = $1 AND r.acknowledged_at IS NULL ORDER BY u.display_name, u.id
        """,
        alert_id,
    )
    return [Person(**dict(r)) for r in rows]


async def claim_due_reminders(conn: asyncpg.Connection, now: datetime, limit: int) -> list[AlertRow]:
    """Alerts whose reminder is due, marked as reminded in this transaction (each is claimed once)."""
    rows = await conn.fetch(
        """
        UPDATE care_alerts SET reminded_at = $1
        WHERE id IN (
            SELECT id FROM care_alerts
            WHERE ack_requested AND reminded_at IS NULL
              AND created_at + make_interval(mins => remind_after_minutes) <= $1
            ORDER BY created_at LIMIT $2
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id, provider_id, priority, ack_requested, created_at, reminded_at, title_fr, title_de
        """,
        now,
        limit,
    )
    return [
        AlertRow(
            id=r["id"],
            provider_id=r["provider_id"],
            priority=r["priority"],
            ack_requested=r["ack_requested"],
            created_at=r["created_at"],
            reminded_at=r["reminded_at"],
            title=Bilingual(fr=r["title_fr"], de=r["title_de"]),
        )
        for r in rows
    ]


async def mark_reminded(
    conn: asyncpg.Connection, alert_id: uuid.UUID, notification_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """Flag the recipients still silent as reminded; they are the reminder's audience."""
    rows = await conn.fetch(
        """
        UPDATE care_alert_recipients SET reminded = true
        WHERE alert_id = $1 AND acknowledged_at IS NULL AND NOT reminded RETURNING user_id
        """,
        alert_id,
    )
    return [r["user_id"] for r in rows]


async def set_reminder_notification(
    conn: asyncpg.Connection, alert_id: uuid.UUID, notification_id: uuid.UUID
) -> None:
    await conn.execute(
        "UPDATE care_alerts SET reminder_notification_id = $2 WHERE id = $1", alert_id, notification_id
    )


# -- clients approved by a provider, staff who accepted ---------------------------------------------------------


async def request_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID, text_version: str, locale: str
) -> ClientRegistration:
    """A person asks to be a client (with their consent): approved at once only when the provider's staff
    invited them or approved them before; otherwise the request waits for the staff."""
    record = await conn.fetchrow(
        """
        INSERT INTO care_provider_clients (provider_id, user_id, text_version, consent_locale, consented_at,
                                           status)
        VALUES ($1, $2, $3, $4, now(), 'requested')
        ON CONFLICT (provider_id, user_id) DO UPDATE
            SET text_version = $3, consent_locale = $4, consented_at = now(), withdrawn_at = NULL,
                status = CASE WHEN care_provider_clients.status IN ('invited', 'approved') THEN 'approved'
                              ELSE 'requested' END
        RETURNING provider_id, consented_at, withdrawn_at, status
        """,
        provider_id,
        user_id,
        text_version,
        locale,
    )
    return ClientRegistration(**dict(record))  # type: ignore[arg-type]


async def invite_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID, staff_id: uuid.UUID
) -> bool:
    """Staff invite a person (who then accepts by registering); an approved client stays approved."""
    done = await conn.fetchval(
        """
        INSERT INTO care_provider_clients (provider_id, user_id, text_version, consent_locale, consented_at,
                                           status, decided_by, decided_at)
        VALUES ($1, $2, '', '', now(), 'invited', $3, now())
        ON CONFLICT (provider_id, user_id) DO UPDATE
            SET status = CASE WHEN care_provider_clients.status = 'requested'
                                   AND care_provider_clients.withdrawn_at IS NULL THEN 'approved'
                              WHEN care_provider_clients.status = 'approved'
                                   AND care_provider_clients.withdrawn_at IS NULL THEN 'approved'
                              ELSE 'invited' END,
                decided_by = $3, decided_at = now()
        RETURNING true
        """,
        provider_id,
        user_id,
        staff_id,
    )
    return bool(done)


async def decide_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID, staff_id: uuid.UUID, approve: bool
) -> ClientRegistration | None:
    record = await conn.fetchrow(
        """
        UPDATE care_provider_clients SET status = $4, decided_by = $3, decided_at = now()
        WHERE provider_id = $1 AND user_id = $2 AND status IN ('requested', 'approved') AND withdrawn_at IS NULL
        RETURNING provider_id, consented_at, withdrawn_at, status
        """,
        provider_id,
        user_id,
        staff_id,
        "approved" if approve else "declined",
    )
    return row_as(ClientRegistration, record)  # type: ignore[no-any-return]


async def client_requests(conn: asyncpg.Connection, provider_id: uuid.UUID, status: str) -> list[ClientOut]:
    rows = await conn.fetch(
        """
        SELECT k.user_id, u.display_name, k.status, k.consented_at, k.decided_at
        FROM care_provider_clients k JOIN users u ON u.id = k.user_id
        WHERE k.provider_id = $1 AND k.status = $2 AND k.withdrawn_at IS NULL
        ORDER BY k.consented_at, k.user_id
        """,
        provider_id,
        status,
    )
    return [ClientOut(**dict(r)) for r in rows]


async def invite_staff(
    conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID, invited_by: uuid.UUID
) -> bool:
    """A staff seat offered to a person, waiting for their acceptance; False when they have one already."""
    added = await conn.fetchval(
        """
        INSERT INTO care_provider_staff (provider_id, user_id, invited_by, accepted_at) VALUES ($1, $2, $3, NULL)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        provider_id,
        user_id,
        invited_by,
    )
    return bool(added)


async def accept_staff(conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    done = await conn.fetchval(
        "UPDATE care_provider_staff SET accepted_at = coalesce(accepted_at, now()) "
        "WHERE provider_id = $1 AND user_id = $2 RETURNING true",
        provider_id,
        user_id,
    )
    return bool(done)


async def leave_staff(conn: asyncpg.Connection, provider_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    done = await conn.fetchval(
        "DELETE FROM care_provider_staff WHERE provider_id = $1 AND user_id = $2 RETURNING true",
        provider_id,
        user_id,
    )
    return bool(done)


async def staff_count(conn: asyncpg.Connection, provider_id: uuid.UUID) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM care_provider_staff WHERE provider_id = $1 AND accepted_at IS NOT NULL",
            provider_id,
        )
    )


# -- for other domains and the console -----------------------------------------------------------------------


class ProviderConcern(msgspec.Struct, frozen=True):
    provider_id: uuid.UUID
    name: str
    staff_ids: list[uuid.UUID]
    clients: int


async def providers_of_seniors(conn: asyncpg.Connection, user_ids: list[uuid.UUID]) -> list[ProviderConcern]:
    """Verified providers with approved clients among ``user_ids`` who have a check-in plan, with the count
    and the staff who accepted their seat."""
    rows = await conn.fetch(
        """
        SELECT p.id AS provider_id, p.name, count(DISTINCT c.user_id)::int AS clients,
               ARRAY(SELECT s.user_id FROM care_provider_staff s
                     WHERE s.provider_id = p.id AND s.accepted_at IS NOT NULL ORDER BY s.user_id)
                   AS staff_ids
        FROM care_provider_clients c
        JOIN care_providers p ON p.id = c.provider_id AND p.verified_at IS NOT NULL
        JOIN care_checkin_plans plan ON plan.senior_id = c.user_id
        WHERE c.withdrawn_at IS NULL AND c.status = 'approved' AND c.user_id = ANY ($1::uuid[])
        GROUP BY p.id, p.name
        ORDER BY p.name, p.id
        """,
        user_ids,
    )
    return [ProviderConcern(**dict(r)) for r in rows]


async def all_staff(conn: asyncpg.Connection) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT DISTINCT user_id FROM care_provider_staff WHERE accepted_at IS NOT NULL ORDER BY user_id"
    )
    return [r["user_id"] for r in rows]


async def staff_serving(conn: asyncpg.Connection, municipality_code: str) -> list[uuid.UUID]:
    """Staff who accepted their seat at a verified provider whose area includes a municipality, each once."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT s.user_id FROM care_providers p
        JOIN care_provider_staff s ON s.provider_id = p.id AND s.accepted_at IS NOT NULL
        WHERE p.verified_at IS NOT NULL AND $1 = ANY (p.municipality_codes)
        ORDER BY s.user_id
        """,
        municipality_code,
    )
    return [r["user_id"] for r in rows]


async def staff_providers(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[Provider]:
    rows = await conn.fetch(
        f"{PROVIDER_SELECT} WHERE id IN (SELECT provider_id FROM care_provider_staff WHERE user_id = $1 "
        "AND accepted_at IS NOT NULL) ORDER BY name",
        user_id,
    )
    return [provider_from(r) for r in rows]


async def alerts_of(conn: asyncpg.Connection, provider_id: uuid.UUID, limit: int) -> list[AlertSummary]:
    rows = await conn.fetch(
        """
        SELECT a.id, a.title_fr, a.title_de, a.priority, a.ack_requested, a.created_at,
               count(r.user_id) AS recipients, count(r.acknowledged_at) AS acknowledged
        FROM care_alerts a LEFT JOIN care_alert_recipients r ON r.alert_id = a.id
        WHERE a.provider_id = $1
        GROUP BY a.id ORDER BY a.created_at DESC, a.id LIMIT $2
        """,
        provider_id,
        limit,
    )
    return [
        AlertSummary(
            id=r["id"],
            title=Bilingual(fr=r["title_fr"], de=r["title_de"]),
            priority=r["priority"],
            ack_requested=r["ack_requested"],
            created_at=r["created_at"],
            recipients=r["recipients"],
            acknowledged=r["acknowledged"],
        )
        for r in rows
    ]


async def active_clients(conn: asyncpg.Connection, provider_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT user_id FROM care_provider_clients WHERE provider_id = $1 AND withdrawn_at IS NULL "
        "AND status = 'approved'",
        provider_id,
    )
    return [r["user_id"] for r in rows]


async def alert_notification_id(conn: asyncpg.Connection, alert_id: uuid.UUID) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT notification_id FROM care_alerts WHERE id = $1", alert_id
    )
    return found


async def unverified_providers(conn: asyncpg.Connection) -> list[Provider]:
    rows = await conn.fetch(f"{PROVIDER_SELECT} WHERE verified_at IS NULL ORDER BY created_at, id")
    return [provider_from(r) for r in rows]
