"""Sending email: the SMTP pool against a real SMTP catcher (reused connections, failures, STARTTLS)."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devtools.smtp_local import MailCatcher
from messaging.email import OutgoingEmail, RenderedEmail, render_notification
from messaging.smtp import Mailer
from tests.messaging.test_email import MAIL_FROM, unsubscribe_mailto, unsubscribe_url, view


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
