"""Community jobs: publish scheduled posts when their time comes."""

from __future__ import annotations

from typing import Any

from communities import service
from hub.db import transaction


async def publish_due_posts(ctx: dict[str, Any]) -> int:
    """Publish due posts with their notifications; safe with several workers (each post is claimed once)."""
    async with transaction(ctx["pool"], ctx.get("redis")) as conn:
        return await service.publish_due(conn)
