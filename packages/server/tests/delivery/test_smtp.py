"""The SMTP sender against a real SMTP server (aiosmtpd) on 127.0.0.1: plain, STARTTLS and
implicit TLS, with and without logging in."""

# Chinese text is written with its own full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ciam_server.delivery.smtp import SmtpSecurity, SmtpSender
from ciam_server.domain.models import Channel
from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    NoAccountNotice,
    PasswordChangedNotice,
    Sender,
)

from .support import Certificates, free_port

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

CODE = "482916"
USERNAME = "mailer"
PASSWORD = "s3cret-Pa55word"
FROM = "Accounts <no-reply@example.com>"
TO = "user@example.org"
TTL = timedelta(minutes=5)


@dataclass
class Received:
    envelope: Envelope
    authenticated: bool
    encrypted: bool

    @property
    def email(self) -> EmailMessage:
        raw = self.envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.received.append(
            Received(
                envelope=envelope,
                authenticated=bool(session.authenticated),
                encrypted=server.transport is not None
                and server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 Message accepted"


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    accepted = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=accepted, handled=False)


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox


StartServer = Callable[..., SmtpServer]


@pytest.fixture
def start_server(certificates: Certificates) -> Iterator[StartServer]:
    """Starts aiosmtpd on a free port: ``security`` as for the sender; ``auth`` makes logging
    in mandatory."""
    controllers: list[Controller] = []

    def start(security: SmtpSecurity, *, auth: bool = False) -> SmtpServer:
        inbox = Inbox()
        port = free_port()
        options: dict[str, Any] = {}
        if security is SmtpSecurity.STARTTLS:
            options.update(tls_context=certificates.server_context(), require_starttls=True)
        elif security is SmtpSecurity.TLS:
            options.update(ssl_context=certificates.server_context())
        if auth:
            options.update(
                authenticator=authenticator,
                auth_required=True,
                # aiosmtpd only knows of TLS it started itself (STARTTLS); an implicit TLS
                # connection is encrypted all the same.
                auth_require_tls=security is SmtpSecurity.STARTTLS,
            )
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, server_hostname="mx.test", **options
        )
        controller.start()
        controllers.append(controller)
        return SmtpServer(port=port, inbox=inbox)

    yield start
    for controller in controllers:
        controller.stop()


def code_message(*, locale: str = "en", to: str = TO) -> CodeMessage:
    return CodeMessage(
        channel=Channel.EMAIL, to=to, usage="reset_password", code=CODE, locale=locale
    )


def sender_for(
    server: SmtpServer,
    security: SmtpSecurity,
    certificates: Certificates,
    **options: Any,
) -> SmtpSender:
    options.setdefault("tls_context", certificates.client_context())
    return SmtpSender(
        host="127.0.0.1",
        port=server.port,
        security=security,
        from_address=FROM,
        code_ttl=TTL,
        timeout=5,
        **options,
    )


def secrets_absent(error: BaseException) -> None:
    """Neither the code nor the password appears in the error or anything it was raised from."""
    seen: BaseException | None = error
    while seen is not None:
        for text in (str(seen), repr(seen)):
            assert CODE not in text
            assert PASSWORD not in text
        seen = seen.__cause__ or seen.__context__


async def test_a_code_goes_out_over_a_plain_connection(
    start_server: StartServer, certificates: Certificates
) -> None:
    server = start_server(SmtpSecurity.NONE)
    sender: Sender = sender_for(server, SmtpSecurity.NONE, certificates)

    await sender.send_code(code_message())

    [received] = server.inbox.received
    assert received.envelope.mail_from == "no-reply@example.com"
    assert received.envelope.rcpt_tos == [TO]
    assert not received.encrypted
    email = received.email
    assert email["To"] == TO
    assert email["From"] == FROM
    assert email["Subject"] == "Your password reset code"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["Message-ID"].endswith("@example.com>")
    assert email["Date"].datetime.tzinfo is not None
    assert email.get_content_type() == "text/plain"
    assert email.get_content_charset() == "utf-8"
    body = email.get_content()
    assert f"Your password reset code is {CODE}. It expires in 5 minutes." in body


async def test_a_chinese_code_arrives_as_utf8_over_starttls(
    start_server: StartServer, certificates: Certificates
) -> None:
    server = start_server(SmtpSecurity.STARTTLS)
    sender = sender_for(server, SmtpSecurity.STARTTLS, certificates)

    await sender.send_code(code_message(locale="zh"))

    [received] = server.inbox.received
    assert received.encrypted
    email = received.email
    assert email["Subject"] == "密码重置验证码"
    assert email.get_content_charset() == "utf-8"
    assert f"您的密码重置验证码是 {CODE}，5 分钟内有效。" in email.get_content()


async def test_starttls_with_login(start_server: StartServer, certificates: Certificates) -> None:
    server = start_server(SmtpSecurity.STARTTLS, auth=True)
    sender = sender_for(
        server, SmtpSecurity.STARTTLS, certificates, username=USERNAME, password=PASSWORD
    )

    await sender.send_code(code_message())

    [received] = server.inbox.received
    assert received.authenticated
    assert received.encrypted
    assert CODE in received.email.get_content()


async def test_implicit_tls_with_login_and_a_ca_file(
    start_server: StartServer, certificates: Certificates
) -> None:
    server = start_server(SmtpSecurity.TLS, auth=True)
    sender = sender_for(
        server,
        SmtpSecurity.TLS,
        certificates,
        tls_context=None,
        ca_file=certificates.ca_file,
        username=USERNAME,
        password=PASSWORD,
    )

    await sender.send_code(code_message())

    [received] = server.inbox.received
    assert received.authenticated
    assert received.encrypted
    assert CODE in received.email.get_content()


async def test_implicit_tls_without_login(
    start_server: StartServer, certificates: Certificates
) -> None:
    server = start_server(SmtpSecurity.TLS)
    sender = sender_for(server, SmtpSecurity.TLS, certificates)

    await sender.send_code(code_message())

    [received] = server.inbox.received
    assert not received.authenticated
    assert received.encrypted


async def test_a_login_without_tls_works_but_is_logged(
    start_server: StartServer, certificates: Certificates, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(SmtpSecurity.NONE, auth=True)
    with caplog.at_level(logging.WARNING, logger="ciam_server.delivery.smtp"):
        sender = sender_for(
            server, SmtpSecurity.NONE, certificates, username=USERNAME, password=PASSWORD
        )
    assert "without TLS" in caplog.text
    assert PASSWORD not in caplog.text

    await sender.send_code(code_message())

    [received] = server.inbox.received
    assert received.authenticated


@pytest.mark.parametrize("locale", ["en", "zh"])
async def test_the_password_changed_notice(
    start_server: StartServer, certificates: Certificates, locale: str
) -> None:
    server = start_server(SmtpSecurity.TLS)
    sender = sender_for(server, SmtpSecurity.TLS, certificates)
    changed_at = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)

    await sender.send_password_changed(
        PasswordChangedNotice(channel=Channel.EMAIL, to=TO, changed_at=changed_at, locale=locale)
    )

    [received] = server.inbox.received
    email = received.email
    assert email["To"] == TO
    assert "2025-03-04 05:06 UTC" in email.get_content()
    expected = {"en": "Your password was changed", "zh": "您的密码已修改"}[locale]
    assert email["Subject"] == expected


@pytest.mark.parametrize(
    ("locale", "subject"), [("en", "Password reset request"), ("zh", "密码重置请求")]
)
async def test_the_no_account_notice(
    start_server: StartServer, certificates: Certificates, locale: str, subject: str
) -> None:
    server = start_server(SmtpSecurity.STARTTLS)
    sender = sender_for(server, SmtpSecurity.STARTTLS, certificates)

    await sender.send_no_account_notice(
        NoAccountNotice(channel=Channel.EMAIL, to=TO, locale=locale)
    )

    [received] = server.inbox.received
    assert received.envelope.rcpt_tos == [TO]
    assert received.email["Subject"] == subject


async def test_a_refused_login_fails_without_revealing_the_code_or_password(
    start_server: StartServer, certificates: Certificates
) -> None:
    server = start_server(SmtpSecurity.STARTTLS, auth=True)
    sender = sender_for(
        server, SmtpSecurity.STARTTLS, certificates, username=USERNAME, password=PASSWORD + "x"
    )

    with pytest.raises(DeliveryFailedError, match="SMTPAuthenticationError") as failure:
        await sender.send_code(code_message())

    secrets_absent(failure.value)
    assert server.inbox.received == []


async def test_mail_without_the_required_login_is_refused(
    start_server: StartServer, certificates: Certificates
) -> None:
    server = start_server(SmtpSecurity.TLS, auth=True)
    sender = sender_for(server, SmtpSecurity.TLS, certificates)

    with pytest.raises(DeliveryFailedError, match="reply code 530") as failure:
        await sender.send_code(code_message())

    secrets_absent(failure.value)


async def test_an_unreachable_port_fails(certificates: Certificates) -> None:
    sender = SmtpSender(
        host="127.0.0.1",
        port=free_port(),
        security=SmtpSecurity.NONE,
        from_address=FROM,
        code_ttl=TTL,
        timeout=5,
        username=USERNAME,
        password=PASSWORD,
    )

    with pytest.raises(DeliveryFailedError, match="SMTP delivery failed") as failure:
        await sender.send_code(code_message())

    secrets_absent(failure.value)


async def test_a_server_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # waits for the client to go away, answering nothing
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = SmtpSender(
        host="127.0.0.1",
        port=port,
        security=SmtpSecurity.NONE,
        from_address=FROM,
        code_ttl=TTL,
        timeout=0.3,
    )
    try:
        with pytest.raises(DeliveryFailedError, match="Timeout") as failure:
            await sender.send_code(code_message())
    finally:
        server.close()
        await server.wait_closed()
    secrets_absent(failure.value)


async def test_an_untrusted_certificate_is_refused(
    start_server: StartServer, certificates: Certificates
) -> None:
    server = start_server(SmtpSecurity.STARTTLS)
    sender = sender_for(server, SmtpSecurity.STARTTLS, certificates, tls_context=None)

    with pytest.raises(DeliveryFailedError, match="SSLCertVerificationError") as failure:
        await sender.send_code(code_message())

    secrets_absent(failure.value)
    assert server.inbox.received == []


async def test_starttls_never_falls_back_to_plain_text(
    start_server: StartServer, certificates: Certificates
) -> None:
    server = start_server(SmtpSecurity.NONE)
    sender = sender_for(server, SmtpSecurity.STARTTLS, certificates)

    with pytest.raises(DeliveryFailedError, match="SMTPException"):
        await sender.send_code(code_message())

    assert server.inbox.received == []


async def test_a_recipient_that_would_inject_headers_is_refused(
    start_server: StartServer, certificates: Certificates
) -> None:
    server = start_server(SmtpSecurity.NONE)
    sender = sender_for(server, SmtpSecurity.NONE, certificates)

    with pytest.raises(DeliveryFailedError, match="recipient") as failure:
        await sender.send_code(code_message(to="user@example.org\r\nBcc: spy@example.net"))

    secrets_absent(failure.value)
    assert server.inbox.received == []


async def test_text_messages_are_not_its_business(certificates: Certificates) -> None:
    sender = SmtpSender(host="127.0.0.1", from_address=FROM, code_ttl=TTL)

    with pytest.raises(DeliveryFailedError, match="channel sms"):
        await sender.send_code(
            CodeMessage(channel=Channel.SMS, to="+8613800138000", usage="reset_password", code=CODE)
        )


def test_the_password_never_shows_in_its_repr() -> None:
    sender = SmtpSender(
        host="smtp.example.com",
        security="tls",
        from_address=FROM,
        code_ttl=TTL,
        username=USERNAME,
        password=PASSWORD,
    )

    assert PASSWORD not in repr(sender)
    assert PASSWORD not in str(vars(sender))
    assert "smtp.example.com" in repr(sender)
    assert sender.port == 465


@pytest.mark.parametrize(
    "options",
    [
        {"username": USERNAME},
        {"timeout": 0},
        {"from_address": "not an address"},
        {"security": "ssl"},
        {"tls_context": object(), "ca_file": "ca.pem"},
    ],
)
def test_unusable_settings_are_refused(options: dict[str, Any]) -> None:
    settings: dict[str, Any] = {"host": "smtp.example.com", "from_address": FROM, "code_ttl": TTL}
    with pytest.raises(ValueError):  # noqa: PT011
        SmtpSender(**(settings | options))
