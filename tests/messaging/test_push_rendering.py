"""What a push looks like per language: the FCM v1 body against reviewed golden files."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from devtools.fcm_local import FcmLocal
from messaging.push import PushMessage, PushSender
from messaging.texts import StoredTexts, push_text, texts_for
from tests.conftest import assert_golden

NOTIFICATION_ID = uuid.UUID("7d1f6b7e-3f7c-4f0e-9b1a-2a2f4c1b9e10")


def stored(**values: object) -> dict[str, object]:
    """A notification row as the pipeline reads it."""
    row: dict[str, object] = {
        "id": NOTIFICATION_ID,
        "kind": "post",
        "priority": "urgent",
        "title_fr": None,
        "title_de": None,
        "body_fr": None,
        "body_de": None,
        "message": None,
        "sender_name_fr": "Mairie de Bitche",
        "sender_name_de": "Rathaus Bitsch",
        "deep_link": "/communities/1/posts/2",
        "created_at": datetime(2026, 7, 14, 9, 30, tzinfo=UTC),
    }
    row.update(values)
    return row


CASES = {
    "alert": stored(
        title_fr="Alerte canicule",
        title_de="Hitzewarnung",
        body_fr="Buvez de l'eau et restez au frais. Le centre de Bitche est ouvert jusqu'à 19 h.",
        body_de="Trinken Sie Wasser und bleiben Sie im Kühlen. Das Zentrum in Bitsch ist bis 19 Uhr geöffnet.",
    ),
    "german_only": stored(
        priority="info", title_de="Chorprobe fällt aus", body_de="Die Probe am Donnerstag fällt aus."
    ),
    "catalog_message": stored(
        kind="test",
        message=json.dumps(
            {
                "title": {"msgid": "Too many requests", "params": {}},
                "body": {"msgid": "Conflict", "params": {}},
            }
        ),
    ),
}


@pytest.mark.parametrize("locale", ["fr", "de"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_push_body_matches_golden(fcm: FcmLocal, case: str, locale: str) -> None:
    row = CASES[case]
    stored_texts = StoredTexts(**{name: row[name] for name in StoredTexts.__struct_fields__})  # type: ignore[arg-type]
    title, body = push_text(texts_for(stored_texts, locale), locale)
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
