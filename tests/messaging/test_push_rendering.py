"""What a push looks like per language: the FCM v1 body against reviewed golden files."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from devtools.fcm_local import FcmLocal
from i18n.content import Bilingual
from messaging.models import Message, NotificationContent, WrittenText, stored_text
from messaging.push import PushMessage, PushSender
from messaging.texts import push_text, texts_for
from tests.conftest import assert_golden

NOTIFICATION_ID = uuid.UUID("7d1f6b7e-3f7c-4f0e-9b1a-2a2f4c1b9e10")


def stored(
    title: Bilingual | Message, body: Bilingual | Message, *, kind: str = "post", priority: str = "urgent"
) -> dict[str, object]:
    """A notification row as the pipeline reads it, its content as the service stores it."""
    return {
        "id": NOTIFICATION_ID,
        "kind": kind,
        "priority": priority,
        "content": NotificationContent(
            title=stored_text(title),
            body=stored_text(body),
            sender_name=WrittenText(fr="Mairie de Bitche", de="Rathaus Bitsch"),
        ),
        "deep_link": "/communities/1/posts/2",
        "created_at": datetime(2026, 7, 14, 9, 30, tzinfo=UTC),
    }


CASES = {
    "alert": stored(
        Bilingual(fr="Alerte canicule", de="Hitzewarnung"),
        Bilingual(
            fr="Buvez de l'eau et restez au frais. Le centre de Bitche est ouvert jusqu'à 19 h.",
            de="Trinken Sie Wasser und bleiben Sie im Kühlen. Das Zentrum in Bitsch ist bis 19 Uhr geöffnet.",
        ),
    ),
    "german_only": stored(
        Bilingual(de="Chorprobe fällt aus"),
        Bilingual(de="Die Probe am Donnerstag fällt aus."),
        priority="info",
    ),
    "catalog_message": stored(Message("Too many requests"), Message("Conflict"), kind="test"),
}


@pytest.mark.parametrize("locale", ["fr", "de"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_push_body_matches_golden(fcm: FcmLocal, case: str, locale: str) -> None:
    row = CASES[case]
    content = row["content"]
    assert isinstance(content, NotificationContent)
    title, body = push_text(texts_for(content, locale), locale)
    sender = PushSender(fcm.credentials_file, fcm.base_url)
    payload = sender.payload(
        PushMessage(
            token="device-token-of-the-reader",
            title=title,
            body=body,
            data={
                "notification_id": str(NOTIFICATION_ID),
                "deep_link": str(row["deep_link"]),
                "kind": str(row["kind"]),
            },
            urgent=row["priority"] == "urgent",
            collapse_key=str(NOTIFICATION_ID),
        )
    )
    pretty = json.dumps(json.loads(payload), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    assert_golden(f"push/{case}.{locale}.json", pretty)
