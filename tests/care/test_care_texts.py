"""Care texts as sent, per language: the FCM body and the email text against reviewed golden files."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from care import common
from devtools.fcm_local import FcmLocal
from i18n.content import Bilingual
from messaging.email import EmailView, render_notification
from messaging.models import Message, NotificationContent, stored_text
from messaging.push import PushMessage, PushSender
from messaging.texts import Texts, email_link, push_text, texts_for
from tests.conftest import assert_golden

NOTIFICATION_ID = uuid.UUID("3b0c7a52-6d1e-4c55-9a57-0f8f5d2e8c11")
CIRCLE = "/care/circles/5d6f0e7a-1b2c-4d3e-8f90-a1b2c3d4e5f6"
ESCALATION = f"{CIRCLE}/escalations/9e8d7c6b-5a49-4382-a170-6f5e4d3c2b1a"
SENT_AT = datetime(2027, 2, 10, 9, 31, tzinfo=UTC)
PUBLIC_URL = "https://hub.example.test"
TOKEN = "tok_" + "Z9y8X7w6" * 8

#: case → (texts in care.common.TEXTS, the parameters the service passes, priority, deep link)
CASES: dict[str, tuple[str, dict[str, str], str, str]] = {
    "invitation": ("invitation", {"senior": "Marie Muller"}, "important", "/care/invitations/1"),
    "invitation_email": ("invitation_email", {"senior": "Marie Muller"}, "info", "/care/invitations"),
    "circle_requested": (
        "circle_requested",
        {"proxy": "Anna Muller", "code": "K7QPM-3XWRT"},
        "important",
        CIRCLE,
    ),
    "circle_confirmed": ("circle_confirmed", {"senior": "Marie Muller"}, "important", CIRCLE),
    "staff_invitation": (
        "staff_invitation",
        {"provider": "Soins à domicile"},
        "important",
        "/care/providers/4f3e2d1c-0b9a-4877-8665-544332211000/staff/me",
    ),
    "client_invitation": (
        "client_invitation",
        {"provider": "Soins à domicile"},
        "info",
        "/care/providers/4f3e2d1c-0b9a-4877-8665-544332211000/clients/me",
    ),
    "plan_changed": ("plan_changed", {"proxy": "Anna Muller"}, "important", CIRCLE),
    "checkin_reminder": ("checkin_reminder", {}, "urgent", "/care/checkin"),
    "checkin_missed": ("checkin_missed", {"name": "Marie Muller"}, "urgent", ESCALATION),
    "checkin_missed_provider": ("checkin_missed_provider", {"name": "Marie Muller"}, "urgent", ESCALATION),
    "escalation_claimed": (
        "escalation_claimed",
        {"caregiver": "Anna Muller", "name": "Marie Muller"},
        "urgent",
        CIRCLE,
    ),
    "checkin_resolved": ("checkin_resolved", {"name": "Marie Muller"}, "important", CIRCLE),
}


def row(case: str) -> dict[str, Any]:
    """The notification row as the pipeline reads it, with the content the service stores."""
    values: dict[str, Any] = {"id": NOTIFICATION_ID, "kind": f"care.{case}", "created_at": SENT_AT}
    if case == "provider_alert_reminder":
        # the alert's own (bilingual) title, with the catalog reminder as body
        return values | {
            "content": NotificationContent(
                title=stored_text(Bilingual(fr="Canicule", de="Hitzewelle")),
                body=stored_text(Message(common.ALERT_REMINDER_BODY, {"provider": "Soins à domicile"})),
            ),
            "priority": "urgent",
            "deep_link": "/care/alerts/4f3e2d1c-0b9a-4877-8665-544332211000",
        }
    texts, params, priority, link = CASES[case]
    title, body = common.TEXTS[texts]
    return values | {
        "content": NotificationContent(
            title=stored_text(Message(title, dict(params))), body=stored_text(Message(body, dict(params)))
        ),
        "priority": priority,
        "deep_link": link,
    }


def texts_of(stored: dict[str, Any], locale: str) -> Texts:
    """What the pipeline says of this row to a reader of ``locale``."""
    return texts_for(stored["content"], locale)


ALL = sorted([*CASES, "provider_alert_reminder"])
#: the invitation email goes to an address without an account: it is never a push
PUSHED = [case for case in ALL if case != "invitation_email"]


def test_every_care_text_has_a_golden_case() -> None:
    assert {texts for texts, *_ in CASES.values()} == set(common.TEXTS)


@pytest.mark.parametrize("locale", ["fr", "de"])
@pytest.mark.parametrize("case", PUSHED)
def test_care_push_matches_golden(fcm: FcmLocal, case: str, locale: str) -> None:
    stored = row(case)
    title, body = push_text(texts_of(stored, locale), locale)
    payload = PushSender(fcm.credentials_file, fcm.base_url).payload(
        PushMessage(
            token="device-token-of-the-reader",
            title=title,
            body=body,
            data={
                "notification_id": str(NOTIFICATION_ID),
                "deep_link": stored["deep_link"],
                "kind": stored["kind"],
            },
            urgent=stored["priority"] == "urgent",
            collapse_key=str(NOTIFICATION_ID),
        )
    )
    pretty = json.dumps(json.loads(payload), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    assert_golden(f"care/push/{case}.{locale}.json", pretty)


@pytest.mark.parametrize("locale", ["fr", "de"])
@pytest.mark.parametrize("case", ALL)
def test_care_email_text_matches_golden(case: str, locale: str) -> None:
    stored = row(case)
    texts = texts_of(stored, locale)
    rendered = render_notification(
        locale,
        EmailView(
            title=texts.title,
            body=texts.body,
            sender=texts.sender,
            sent_at=SENT_AT,
            link_url=email_link(PUBLIC_URL, stored["deep_link"]),  # as the pipeline builds it
            priority=stored["priority"],
            # sent to an address without an account, as messaging.pipeline.send_direct_email does
            reason="invited" if case == "invitation_email" else "settings",
        ),
    )
    parsed = rendered.for_recipient(
        "anna@example.org",
        f"{PUBLIC_URL}/v1/unsubscribe/{TOKEN}",
        f"mailto:no-reply@hub.example.test?subject=unsubscribe%20{TOKEN}",
        message_id="<care-golden@hub.example.test>",
        sent=SENT_AT,
    ).parsed()
    text = parsed.get_body(("plain",))
    assert isinstance(text, EmailMessage)
    content = f"Subject: {parsed['Subject']}\n\n" + text.get_content().replace("\r\n", "\n")
    assert_golden(f"care/email/{case}.{locale}.txt", content)
