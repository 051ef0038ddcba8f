"""Event jobs: reminders 24 hours before an event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from communities.events import service
from hub.db import transaction


async def send_event_reminders(ctx: dict[str, Any]) -> int:
    """Remind attendees of events starting within a day; safe with several workers."""
    async with transaction(ctx["pool"], ctx.get("redis")) as conn:
        return await service.send_due_reminders(conn, datetime.now(UTC))
