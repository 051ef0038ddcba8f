"""Messaging use cases other domains call: record a notification in the caller's transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from hub.db import enqueue_after_commit
from i18n.content import Bilingual
from messaging import queries
from messaging.models import Audience, Message, Priority

logger = logging.getLogger("messaging")


def _message_json(message: Message) -> dict[str, Any]:
    return {
        "msgid": message.msgid,
        "params": {
            k: ({"datetime": v.isoformat()} if isinstance(v, datetime) else v)
            for k, v in message.params.items()
        },
    }


async def notify(
    conn: asyncpg.Connection,
    *,
    kind: str,
    audience: Audience,
    title: Bilingual | Message,
    body: Bilingual | Message,
    deep_link: str,
    priority: Priority = "info",
    source_id: uuid.UUID | None = None,
    community_id: uuid.UUID | None = None,
    sender_id: uuid.UUID | None = None,
    sender_name: Bilingual | None = None,
    ack_requested: bool = False,
    respect_preferences: bool = True,
    channels: tuple[str, ...] = ("push", "email"),
    not_before: datetime | None = None,
) -> uuid.UUID:
    """Record a notification in the caller's transaction; it is delivered only if that transaction commits.

    ``title``/``body`` are either bilingual user content or catalog messages translated per reader.
    Push and email texts must never carry care or health details: name the person and the action only.
    ``community_id`` selects the preferences that apply (and groups statistics); ``respect_preferences``
    False is for alerts a person cannot opt out of (a missed check-in for their circle).
    """
    values: dict[str, Any] = {
        "kind": kind,
        "source_id": source_id,
        "community_id": community_id if community_id is not None else audience.community_id,
        "sender_id": sender_id,
        "priority": priority,
        "deep_link": deep_link,
        "ack_requested": ack_requested,
        "respect_preferences": respect_preferences,
        "channels": list(channels),
        "audience_community_id": audience.community_id,
        "audience_user_ids": list(audience.user_ids),
        "exclude_user_ids": list(audience.exclude_user_ids),
        "not_before": not_before,
    }
    message: dict[str, Any] = {}
    if isinstance(title, Message):
        message["title"] = _message_json(title)
    else:
        values["title_fr"], values["title_de"] = title.fr, title.de
    if isinstance(body, Message):
        message["body"] = _message_json(body)
    else:
        values["body_fr"], values["body_de"] = body.fr, body.de
    if message:
        values["message"] = msgspec.json.encode(message).decode()
    if sender_name is not None:
        values["sender_name_fr"], values["sender_name_de"] = sender_name.fr, sender_name.de
    notification_id = await queries.insert_notification(conn, values)
    if not_before is None:
        enqueue_after_commit(
            conn, "plan_notification", str(notification_id), job_id=f"plan:{notification_id}"
        )
    return notification_id
