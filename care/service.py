"""Care as the other domains call it: providers and their alerts, the staff to reach, export and erasure."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec

from care.common import access_provider
from care.providers import (
    alert_audience,
    alert_notification,
    alert_report,
    provider_alerts,
    providers_to_verify,
    send_alert,
    staff_providers,
    staff_serving,
    verify_provider,
)
from care.queries import common as common_queries
from care.queries import providers as provider_queries
from hub.domain import UserData

__all__ = [
    "access_provider",
    "alert_audience",
    "alert_notification",
    "alert_report",
    "erase_user",
    "export_user",
    "provider_alerts",
    "provider_staff",
    "providers_of_seniors",
    "providers_to_verify",
    "send_alert",
    "staff_providers",
    "staff_serving",
    "user_data",
    "verify_provider",
]


# -- export and erasure ------------------------------------------------------------------------------------


async def export_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any]:
    return msgspec.to_builtins(await common_queries.export_rows(conn, user_id))  # type: ignore[no-any-return]


async def erase_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await common_queries.erase_rows(conn, user_id)


user_data = UserData("care", export_user, erase_user)


# -- for other domains -----------------------------------------------------------------------------------------


async def providers_of_seniors(
    conn: asyncpg.Connection, user_ids: list[uuid.UUID]
) -> list[provider_queries.ProviderConcern]:
    """Verified providers whose consenting clients with a daily check-in are among ``user_ids``: each with
    its staff and how many of its clients are concerned (counts only, no names or care details)."""
    if not user_ids:
        return []
    return await provider_queries.providers_of_seniors(conn, user_ids)


async def provider_staff(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Everyone who accepted a staff seat at a care provider (the audience of end-to-end exercises)."""
    return await provider_queries.all_staff(conn)
