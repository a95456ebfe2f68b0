"""Live delivery through the real server: codes and password-changed notices by email (SMTP) and
by SMS (the signed webhook), in the language the request asks for or the server's default, and
what the caller gets when delivery fails.

Two production servers: ``english`` delivers over plain SMTP and to a webhook, with the default
language; ``chinese`` has ``CIAM_DEFAULT_LOCALE=zh`` and a mail server requiring STARTTLS (its
certificate checked against ``CIAM_SMTP_CA_FILE``), and its mail server and gateway are made to
fail.
"""

# Chinese text is written with its own full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest

from ciam_client import TemporarilyUnavailableError

from .conftest import NEW_PASSWORD, App, User, api_error
from .production_support import (
    FROM_ADDRESS,
    Mailbox,
    ProductionServer,
    SmsGateway,
    code_in,
    mailbox,
    make_certificates,
    production_servers,
    query,
    sdk,
    sms_gateway,
)

CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


@dataclass(frozen=True)
class Deployment:
    server: ProductionServer
    mail: Mailbox
    sms: SmsGateway
    app: App


@dataclass(frozen=True)
class Deployments:
    english: Deployment
    chinese: Deployment


@pytest.fixture(scope="module")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployments]:
    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    with (
        mailbox() as plain_mail,
        mailbox(tls=certificates) as tls_mail,
        sms_gateway() as english_sms,
        sms_gateway() as chinese_sms,
        production_servers(
            (
                tmp_path_factory.mktemp("english"),
                plain_mail.settings() | english_sms.settings(),
            ),
            (
                tmp_path_factory.mktemp("chinese"),
                tls_mail.settings() | chinese_sms.settings() | {"CIAM_DEFAULT_LOCALE": "zh"},
            ),
        ) as (english, chinese),
    ):
        yield Deployments(
            english=Deployment(english, plain_mail, english_sms, english.create_app("web")),
            chinese=Deployment(chinese, tls_mail, chinese_sms, chinese.create_app("web")),
        )


@pytest.fixture(scope="module")
def english(deployments: Deployments) -> Deployment:
    return deployments.english


@pytest.fixture(scope="module")
def chinese(deployments: Deployments) -> Deployment:
    return deployments.chinese


def test_a_code_by_email_resets_the_password_and_a_notice_follows(english: Deployment) -> None:
    user = english.server.create_user()
    with sdk(english.server, english.app) as ciam:
        sent = ciam.send_otp(email=user.email)
        [mail] = english.mail.to(user.email)
        assert mail.recipients == [user.email]
        assert mail.message["From"] == FROM_ADDRESS
        assert not mail.encrypted  # CIAM_SMTP_SECURITY=none
        assert mail.subject == "Your password reset code"
        code = code_in(mail.body)
        assert f"Your password reset code is {code}. It expires in 5 minutes." in mail.body

        ciam.reset_user_password(
            email=user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )

    assert english.server.password_matches(user, NEW_PASSWORD)
    [_, notice] = english.mail.to(user.email)
    assert notice.subject == "Your password was changed"
    assert "The password of your account was changed on" in notice.body
    assert english.sms.to(user.phone_number) == []  # by the channel the code went to only


def test_a_code_by_sms_resets_the_password_and_a_notice_follows(english: Deployment) -> None:
    user = english.server.create_user()
    with sdk(english.server, english.app) as ciam:
        sent = ciam.send_otp(phone_number=user.phone_number)
        [message] = english.sms.to(user.phone_number)
        assert (message.kind, message.locale) == ("code", "en")
        code = code_in(message.text)
        assert message.text.startswith(f"Your password reset code is {code}.")

        ciam.reset_user_password(
            phone_number=user.phone_number,
            otp=code,
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )

    assert english.server.password_matches(user, NEW_PASSWORD)
    [_, notice] = english.sms.to(user.phone_number)
    assert (notice.kind, notice.locale) == ("password_changed", "en")
    assert "password" in notice.text
    assert english.mail.to(user.email) == []
    assert english.sms.refused == 0  # every request the server made was signed right


def test_accept_language_zh_cn_gets_chinese_email_and_sms(english: Deployment) -> None:
    user = english.server.create_user()
    with sdk(english.server, english.app, headers=CHINESE) as ciam:
        sent = ciam.send_otp(email=user.email)
        [mail] = english.mail.to(user.email)
        assert mail.subject == "密码重置验证码"
        code = code_in(mail.body)
        assert f"您的密码重置验证码是 {code}，5 分钟内有效。" in mail.body
        ciam.reset_user_password(
            email=user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )
        [_, notice] = english.mail.to(user.email)
        assert notice.subject == "您的密码已修改"

        ciam.send_otp(phone_number=user.phone_number)
        [message] = english.sms.to(user.phone_number)
        assert message.locale == "zh"
        assert message.text.startswith(f"您的密码重置验证码是 {code_in(message.text)}，")


def test_the_default_locale_applies_without_accept_language(chinese: Deployment) -> None:
    user = chinese.server.create_user()
    with sdk(chinese.server, chinese.app) as ciam:
        sent = ciam.send_otp(email=user.email)
        [mail] = chinese.mail.to(user.email)
        assert mail.encrypted  # CIAM_SMTP_SECURITY=starttls, checked with CIAM_SMTP_CA_FILE
        assert mail.subject == "密码重置验证码"
        ciam.reset_user_password(
            email=user.email,
            otp=code_in(mail.body),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )
        [_, notice] = chinese.mail.to(user.email)
        assert notice.subject == "您的密码已修改"

        ciam.send_otp(phone_number=user.phone_number)
        [message] = chinese.sms.to(user.phone_number)
        assert message.locale == "zh"

    with sdk(chinese.server, chinese.app, headers={"Accept-Language": "en"}) as ciam:
        ciam.send_otp(email=user.email)
    assert chinese.mail.to(user.email)[-1].subject == "Your password reset code"


@dataclass(frozen=True)
class ChallengeRow:
    id: int
    created_at: datetime
    retired_at: datetime | None
    consumed_at: datetime | None


def challenges(server: ProductionServer, identifier: str) -> list[ChallengeRow]:
    """The ``otp_challenges`` rows of ``identifier``, oldest first."""
    rows = query(
        server,
        "SELECT id, created_at, retired_at, consumed_at FROM otp_challenges "
        "WHERE identifier = :identifier ORDER BY id",
        identifier=identifier,
    )
    return [ChallengeRow(*row) for row in rows]


def usable(rows: list[ChallengeRow]) -> list[ChallengeRow]:
    return [row for row in rows if row.retired_at is None and row.consumed_at is None]


def check_failed_send_leaves_nothing_usable(
    deployment: Deployment, user: User, *, email: str | None, phone_number: str | None
) -> None:
    identifier = email or phone_number
    assert identifier is not None
    with (
        sdk(deployment.server, deployment.app) as ciam,
        api_error(TemporarilyUnavailableError, status=503, code="temporarily_unavailable") as info,
    ):
        ciam.send_otp(email=email, phone_number=phone_number)
    assert info.value.retry_after is not None
    assert info.value.retry_after > 0
    assert info.value.response.headers["Retry-After"] == str(int(info.value.retry_after))
    [failed] = challenges(deployment.server, identifier)
    assert failed.retired_at is not None  # retired by the failure itself, not by a later send
    assert failed.consumed_at is None


def test_a_stopped_mail_server_gives_503_and_leaves_no_usable_code(chinese: Deployment) -> None:
    user = chinese.server.create_user()
    chinese.mail.stop()
    try:
        check_failed_send_leaves_nothing_usable(chinese, user, email=user.email, phone_number=None)
    finally:
        chinese.mail.start()
    assert chinese.mail.to(user.email) == []

    with sdk(chinese.server, chinese.app) as ciam:
        sent = ciam.send_otp(email=user.email)
        [failed, issued] = challenges(chinese.server, user.email)
        assert usable([failed, issued]) == [issued]
        [mail] = chinese.mail.to(user.email)
        ciam.reset_user_password(
            email=user.email,
            otp=code_in(mail.body),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )
    assert chinese.server.password_matches(user, NEW_PASSWORD)
    assert usable(challenges(chinese.server, user.email)) == []


def test_a_webhook_answering_500_gives_503_and_leaves_no_usable_code(
    chinese: Deployment,
) -> None:
    user = chinese.server.create_user()
    chinese.sms.status = 500
    try:
        check_failed_send_leaves_nothing_usable(
            chinese, user, email=None, phone_number=user.phone_number
        )
    finally:
        chinese.sms.status = None
    assert [message.kind for message in chinese.sms.failed if message.to == user.phone_number] == [
        "code"
    ]

    with sdk(chinese.server, chinese.app) as ciam:
        sent = ciam.send_otp(phone_number=user.phone_number)
        [failed, issued] = challenges(chinese.server, user.phone_number)
        assert usable([failed, issued]) == [issued]
        [message] = chinese.sms.to(user.phone_number)
        ciam.reset_user_password(
            phone_number=user.phone_number,
            otp=code_in(message.text),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )
    assert chinese.server.password_matches(user, NEW_PASSWORD)
    assert chinese.sms.refused == 0
