"""Email channel: rendering per language against golden files, and sending to a real SMTP catcher."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devtools.smtp_local import MailCatcher
from i18n.content import Bilingual, pick
from messaging.email import (
    DigestPeriod,
    EmailView,
    Mailer,
    OutgoingEmail,
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


@pytest.fixture(scope="module")
def server() -> Iterator[MailCatcher]:
    with MailCatcher() as catcher:
        yield catcher


@pytest.fixture
def catcher(server: MailCatcher) -> MailCatcher:
    if not server.running:
        server.start()
    server.clear()
    return server


def outgoing(rendered: RenderedEmail, count: int, prefix: str = "user") -> list[OutgoingEmail]:
    messages = []
    for i in range(count):
        address = f"{prefix}{i}@example.org"
        messages.append(
            rendered.for_recipient(address, unsubscribe_url(f"t{i}"), unsubscribe_mailto(f"t{i}"))
        )
    return messages


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


# -- sending -----------------------------------------------------------------------------------------


def mailer(catcher: MailCatcher, **options: object) -> Mailer:
    return Mailer("127.0.0.1", catcher.port, mail_from=MAIL_FROM, timeout=5.0, **options)  # type: ignore[arg-type]


async def test_headers_arrive_as_mail_clients_and_rfc_8058_expect(catcher: MailCatcher) -> None:
    rendered = render_notification("de", view("de"))
    message = rendered.for_recipient("berta@example.org", unsubscribe_url(), unsubscribe_mailto())
    async with mailer(catcher) as sender:
        [outcome] = await sender.send_many([message])
    assert outcome.status == "sent"
    [caught] = catcher.messages
    assert caught.rcpt_tos == ("berta@example.org",)
    assert caught.mail_from == "no-reply@hub.example"
    assert caught.header("From") == MAIL_FROM
    assert caught.to == "berta@example.org"
    assert caught.subject == "Wasserabsperrung in der Saargemünder Straße"
    assert caught.header("List-Unsubscribe") == f"<{unsubscribe_url()}>, <{unsubscribe_mailto()}>"
    assert caught.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert caught.header("Content-Language") == "de"
    assert (caught.header("Message-ID") or "").endswith("@hub.example>")
    assert caught.header("Date")
    assert caught.text is not None
    assert caught.html is not None
    assert unsubscribe_url() in caught.text
    assert "Nachricht von Bürgermeisteramt Bitsch" in caught.text


async def test_two_hundred_messages_share_a_few_reused_connections(catcher: MailCatcher) -> None:
    messages = outgoing(render_notification("fr", view("fr")), 200)
    async with mailer(catcher, pool_size=4) as sender:
        outcomes = await sender.send_many(messages)
        assert [o.status for o in outcomes] == ["sent"] * 200
        assert [o.recipient for o in outcomes] == [m.recipient for m in messages]
        assert 1 <= catcher.connections <= 4
        # A second batch goes over the same connections.
        before = catcher.connections
        outcomes = await sender.send_many(outgoing(render_notification("de", view("de")), 20, "again"))
        assert {o.status for o in outcomes} == {"sent"}
        assert catcher.connections == before
    assert sorted(r for m in catcher.messages for r in m.rcpt_tos) == sorted(
        [m.recipient for m in messages] + [f"again{i}@example.org" for i in range(20)]
    )


async def test_451_is_a_temporary_failure_retried_later(catcher: MailCatcher) -> None:
    catcher.fail_next(2)
    messages = outgoing(render_notification("fr", view("fr")), 5)
    async with mailer(catcher, pool_size=1) as sender:
        outcomes = await sender.send_many(messages)
        assert [o.status for o in outcomes] == ["retry", "retry", "sent", "sent", "sent"]
        assert outcomes[0].smtp_code == 451
        assert outcomes[0].stage == "recipient"
        assert not outcomes[0].hard_bounce
        again = await sender.send_many(messages[:2])
    assert [o.status for o in again] == ["sent", "sent"]
    assert len(catcher.messages) == 5
    assert catcher.connections == 1


async def test_550_is_a_permanent_hard_bounce(catcher: MailCatcher) -> None:
    catcher.bounce("user1@example.org")
    messages = outgoing(render_notification("fr", view("fr")), 3)
    async with mailer(catcher, pool_size=1) as sender:
        outcomes = await sender.send_many(messages)
    assert [o.status for o in outcomes] == ["sent", "permanent", "sent"]
    assert outcomes[1].smtp_code == 550
    assert outcomes[1].hard_bounce
    assert "mailbox unavailable" in (outcomes[1].error or "")
    assert [m.rcpt_tos for m in catcher.messages] == [("user0@example.org",), ("user2@example.org",)]


async def test_server_going_down_mid_batch_leaves_the_rest_for_a_retry(catcher: MailCatcher) -> None:
    catcher.go_down_after(30)
    messages = outgoing(render_notification("fr", view("fr")), 120)
    async with mailer(catcher, pool_size=4) as sender:
        outcomes = await sender.send_many(messages)
        sent = {o.recipient for o in outcomes if o.status == "sent"}
        retry = [m for m, o in zip(messages, outcomes, strict=True) if o.status == "retry"]
        assert {o.status for o in outcomes} == {"sent", "retry"}
        assert {o.stage for o in outcomes if o.status == "retry"} == {"connection"}
        assert sent == {r for m in catcher.messages for r in m.rcpt_tos}
        assert len(sent) + len(retry) == 120
        assert len(retry) >= 80

        catcher.restart()
        outcomes = await sender.send_many(retry)
    assert {o.status for o in outcomes} == {"sent"}
    received = [r for m in catcher.messages for r in m.rcpt_tos]
    assert sorted(received) == sorted(m.recipient for m in messages)


async def test_nothing_is_sent_while_the_server_is_down(catcher: MailCatcher) -> None:
    catcher.stop()
    messages = outgoing(render_notification("fr", view("fr")), 10)
    async with mailer(catcher) as sender:
        outcomes = await sender.send_many(messages)
        assert {(o.status, o.stage) for o in outcomes} == {("retry", "connection")}
        assert [o.recipient for o in outcomes] == [m.recipient for m in messages]
        catcher.start()
        outcomes = await sender.send_many(messages)
    assert {o.status for o in outcomes} == {"sent"}


async def test_connection_closed_by_the_server_between_batches_is_replaced(catcher: MailCatcher) -> None:
    messages = outgoing(render_notification("fr", view("fr")), 3)
    async with mailer(catcher, pool_size=1) as sender:
        assert {o.status for o in await sender.send_many(messages[:1])} == {"sent"}
        catcher.restart()
        assert {o.status for o in await sender.send_many(messages[1:])} == {"sent"}
    assert len(catcher.messages) == 3


async def test_required_starttls_not_offered_sends_nothing_in_clear(catcher: MailCatcher) -> None:
    messages = outgoing(render_notification("fr", view("fr")), 3)
    async with mailer(catcher, starttls=True) as sender:
        outcomes = await sender.send_many(messages)
    assert {(o.status, o.stage) for o in outcomes} == {("retry", "connection")}
    assert "STARTTLS" in (outcomes[0].error or "")
    assert catcher.messages == []


async def test_any_other_message_goes_out_with_the_hubs_sender(catcher: MailCatcher) -> None:
    message = EmailMessage()
    message["From"] = "someone-else@example.org"
    message["To"] = "carla@example.org"
    message["Subject"] = "Réinitialisation du mot de passe"
    message.set_content("Bonjour Carla")
    async with mailer(catcher) as sender:
        [outcome] = await sender.send_many([OutgoingEmail.from_message("carla@example.org", message)])
    assert outcome.status == "sent"
    [caught] = catcher.messages
    assert [value for key, value in caught.headers if key == "From"] == [MAIL_FROM]
    assert caught.subject == "Réinitialisation du mot de passe"
    assert caught.text == "Bonjour Carla\n"


def self_signed(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh certificate for 127.0.0.1, and a client context trusting only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(cert_pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


async def test_required_starttls_is_used_when_offered(tmp_path: Path) -> None:
    server_context, client_context = self_signed(tmp_path)
    messages = outgoing(render_notification("de", view("de")), 3)
    with MailCatcher(tls_context=server_context) as secure:
        async with Mailer(
            "127.0.0.1",
            secure.port,
            mail_from=MAIL_FROM,
            starttls=True,
            tls_context=client_context,
            timeout=5.0,
        ) as sender:
            outcomes = await sender.send_many(messages)
        # The catcher refuses mail before STARTTLS, so arriving at all means it was encrypted.
        assert {o.status for o in outcomes} == {"sent"}
        assert len(secure.messages) == 3
