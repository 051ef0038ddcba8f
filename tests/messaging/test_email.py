"""Composing email: rendering per language against golden files, and the message each recipient gets."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.message import EmailMessage

import pytest

from i18n.content import Bilingual, pick
from messaging.email import (
    DigestPeriod,
    EmailView,
    RenderedEmail,
    render_digest,
    render_notification,
)
from tests.conftest import assert_golden

MAIL_FROM = "Hub Pays de Bitche <no-reply@hub.example>"
TOKEN = "tok_" + "A1b2C3d4" * 8


def unsubscribe_url(token: str = TOKEN) -> str:
    return f"https://hub.example/v1/unsubscribe/{token}"


def unsubscribe_mailto(token: str = TOKEN) -> str:
    return f"mailto:unsubscribe@hub.example?subject=unsubscribe-{token}"


def view(
    locale: str,
    *,
    title: Bilingual | None = None,
    body: Bilingual | None = None,
    sender: Bilingual | None = None,
    priority: str = "important",
) -> EmailView:
    title = title or Bilingual(
        fr="Coupure d'eau rue de Sarreguemines", de="Wasserabsperrung in der Saargemünder Straße"
    )
    body = body or Bilingual(
        fr="En raison de travaux, l'eau sera coupée jeudi de 8 h à 12 h.\n"
        "Pensez à remplir quelques bouteilles.\n\nMerci de votre compréhension.",
        de="Wegen Bauarbeiten wird das Wasser am Donnerstag von 8 bis 12 Uhr abgestellt.\n"
        "Denken Sie daran, ein paar Flaschen zu füllen.\n\nVielen Dank für Ihr Verständnis.",
    )
    sender = sender or Bilingual(fr="Mairie de Bitche", de="Bürgermeisteramt Bitsch")
    return EmailView(
        title=pick(title, locale),
        body=pick(body, locale),
        sender=pick(sender, locale),
        sent_at=datetime(2026, 11, 19, 7, 45, tzinfo=UTC),
        link_url="https://hub.example/n/42",
        priority=priority,  # type: ignore[arg-type]
    )


def personal(rendered: RenderedEmail, address: str = "anna@example.org") -> EmailMessage:
    return rendered.for_recipient(address, unsubscribe_url(), unsubscribe_mailto()).parsed(MAIL_FROM)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


# -- rendering ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["fr", "de"])
def test_notification_matches_golden_text_and_html(locale: str) -> None:
    text, html = parts(personal(render_notification(locale, view(locale))))
    assert_golden(f"email/notification.{locale}.txt", text)
    assert_golden(f"email/notification.{locale}.html", html)


def test_german_reader_of_french_only_post_is_told_it_is_french() -> None:
    french_only = Bilingual(fr="Le marché de Noël ouvre samedi.")
    german = personal(render_notification("de", view("de", body=french_only)))
    text, html = parts(german)
    assert "Diese Nachricht gibt es nur auf Französisch." in text
    assert "Le marché de Noël ouvre samedi." in text
    assert '<p lang="fr" ' in html
    assert german["Content-Language"] == "de, fr"

    french_text, _ = parts(personal(render_notification("fr", view("fr", body=french_only))))
    assert "français" not in french_text
    assert (
        "Ce message n'existe qu'en allemand."
        in parts(personal(render_notification("fr", view("fr", body=Bilingual(de="Nur auf Deutsch.")))))[0]
    )


def test_user_content_is_escaped_in_html_and_kept_as_is_in_text() -> None:
    hostile = '<script>alert("x")</script> & <b>bold</b>'
    rendered = render_notification(
        "fr",
        view(
            "fr",
            title=Bilingual(fr=hostile),
            body=Bilingual(fr=hostile + "\n<img src=x onerror=alert(1)>"),
            sender=Bilingual(fr="<i>Mairie</i>"),
        ),
    )
    text, html = parts(personal(rendered))
    assert "<script>" not in html
    assert "<img" not in html
    assert "<i>Mairie" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;i&gt;Mairie&lt;/i&gt;" in html
    assert hostile in text


def test_non_ascii_subject_is_rfc2047_encoded_and_urgent_is_prefixed() -> None:
    title = Bilingual(fr="Alerte canicule – Hitzewarnung ✓", de="Alerte canicule – Hitzewarnung ✓")
    for locale, expected in [("fr", "URGENT : "), ("de", "DRINGEND: ")]:
        rendered = render_notification(locale, view(locale, title=title, priority="urgent"))
        outgoing = rendered.for_recipient("anna@example.org", unsubscribe_url(), unsubscribe_mailto())
        head = outgoing.data.split(b"\r\n\r\n", 1)[0]
        head.decode("ascii")  # every header is 7-bit on the wire
        subject_lines = head.split(b"\r\nSubject: ", 1)[1].split(b"\r\n")
        assert b"=?utf-8?" in subject_lines[0]
        assert outgoing.parsed()["Subject"] == expected + "Alerte canicule – Hitzewarnung ✓"
    info = render_notification("fr", view("fr", title=title, priority="info"))
    assert info.subject == "Alerte canicule – Hitzewarnung ✓"


def test_digest_lists_every_post_with_its_own_fallback_note() -> None:
    long_body = Bilingual(fr="Une très longue annonce. " * 40, de="Eine sehr lange Ankündigung. " * 40)
    items = [
        view("fr", priority="info"),
        view(
            "fr",
            title=Bilingual(de="Konzert in Hornbach"),
            body=Bilingual(de="Am Sonntag um 17 Uhr."),
            priority="info",
        ),
        view("fr", title=Bilingual(fr="Assemblée générale"), body=long_body, priority="urgent"),
    ]
    period = DigestPeriod(kind="weekly", start=date(2026, 11, 16), end=date(2026, 11, 22))
    rendered = render_digest("fr", items, period)
    assert rendered.subject == "Votre résumé de la semaine, du 16 novembre 2026 au 22 novembre 2026"
    assert rendered.content_language == "fr, de"
    text, html = parts(personal(rendered))
    assert "1. Coupure d'eau rue de Sarreguemines" in text
    assert "2. Konzert in Hornbach" in text
    assert "3. [ALERTE URGENTE] Assemblée générale" in text
    assert text.count("Ce message n'existe qu'en allemand.") == 1
    assert "…" in text
    assert len(text) < 3000
    assert html.count("Lire dans l'application") == 3
    assert unsubscribe_url() in text

    daily = render_digest(
        "de", items[:1], DigestPeriod(kind="daily", start=date(2026, 11, 19), end=date(2026, 11, 19))
    )
    assert daily.subject == "Ihre Zusammenfassung vom 19. November 2026"


def test_unsubscribe_link_is_filled_in_per_recipient() -> None:
    rendered = render_notification("fr", view("fr"))
    first = rendered.for_recipient(
        "a@example.org", unsubscribe_url("aaa"), unsubscribe_mailto("aaa")
    ).parsed()
    second = rendered.for_recipient(
        "b@example.org", unsubscribe_url("bbb"), unsubscribe_mailto("bbb")
    ).parsed()
    assert unsubscribe_url("aaa") in parts(first)[0]
    assert f'href="{unsubscribe_url("bbb")}"' in parts(second)[1]
    assert "aaa" not in parts(second)[0] + parts(second)[1]
    with pytest.raises(ValueError, match="header"):
        rendered.for_recipient("a@example.org\r\nBcc: x@example.org", unsubscribe_url(), unsubscribe_mailto())
