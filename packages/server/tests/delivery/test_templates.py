"""Message texts in both languages for both channels, and choosing the language."""

# Chinese text is written with its own full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ciam_server.delivery.templates import (
    EmailText,
    code_email,
    code_sms,
    no_account_email,
    no_account_sms,
    password_changed_email,
    password_changed_sms,
    pick_locale,
)

CODE = "123456"
FIVE_MINUTES = timedelta(minutes=5)
CHANGED_AT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_the_english_code_text_message() -> None:
    assert code_sms(CODE, FIVE_MINUTES, "en") == (
        "Your password reset code is 123456. It expires in 5 minutes. "
        "If you did not ask for it, ignore this message."
    )


def test_the_chinese_code_text_message() -> None:
    assert code_sms(CODE, FIVE_MINUTES, "zh") == (
        "您的密码重置验证码是 123456，5 分钟内有效。如非本人操作，请忽略本短信。"
    )


def test_the_english_code_email() -> None:
    email = code_email(CODE, FIVE_MINUTES, "en")

    assert email.subject == "Your password reset code"
    assert email.body.startswith("Your password reset code is 123456. It expires in 5 minutes.\n")
    assert "If you did not ask for it, ignore this message" in email.body


def test_the_chinese_code_email() -> None:
    email = code_email(CODE, FIVE_MINUTES, "zh")

    assert email.subject == "密码重置验证码"
    assert email.body.startswith("您的密码重置验证码是 123456，5 分钟内有效。\n")
    assert "如果您没有申请重置密码，请忽略此邮件" in email.body


@pytest.mark.parametrize(
    ("ttl", "english", "chinese"),
    [
        (timedelta(minutes=5), "5 minutes", "5 分钟"),
        (timedelta(minutes=1), "1 minute", "1 分钟"),
        (timedelta(minutes=15), "15 minutes", "15 分钟"),
        (timedelta(seconds=90), "90 seconds", "90 秒"),
        (timedelta(seconds=1), "1 second", "1 秒"),
    ],
)
def test_the_code_lifetime_is_stated(ttl: timedelta, english: str, chinese: str) -> None:
    assert f"It expires in {english}." in code_sms(CODE, ttl, "en")
    assert f"It expires in {english}." in code_email(CODE, ttl, "en").body
    assert f"，{chinese}内有效。" in code_sms(CODE, ttl, "zh")
    assert f"，{chinese}内有效。" in code_email(CODE, ttl, "zh").body


def test_the_password_changed_messages() -> None:
    english = password_changed_email(CHANGED_AT, "en")
    chinese = password_changed_email(CHANGED_AT, "zh")

    assert english == EmailText(
        subject="Your password was changed",
        body=(
            "The password of your account was changed on 2025-03-04 05:06 UTC.\n"
            "\n"
            "If you made this change, there is nothing to do. If you did not, reset your "
            "password now and contact us.\n"
        ),
    )
    assert chinese.subject == "您的密码已修改"
    assert chinese.body.startswith("您账户的密码已于 2025-03-04 05:06 UTC 修改。\n")
    assert password_changed_sms(CHANGED_AT, "en") == (
        "Your password was changed on 2025-03-04 05:06 UTC. "
        "If this was not you, reset your password now and contact us."
    )
    assert password_changed_sms(CHANGED_AT, "zh") == (
        "您账户的密码已于 2025-03-04 05:06 UTC 修改。如非本人操作，请立即重置密码并联系我们。"
    )


def test_the_no_account_messages() -> None:
    assert no_account_email("en").subject == "Password reset request"
    assert no_account_email("en").body.startswith(
        "Someone asked to reset the password of an account with this email address, but no "
        "account uses this address.\n"
    )
    assert no_account_email("zh").subject == "密码重置请求"
    assert no_account_email("zh").body.startswith(
        "有人请求重置使用此邮箱地址的账户密码，但没有任何账户使用此邮箱地址。\n"
    )
    assert no_account_sms("en") == (
        "Someone asked to reset the password of an account with this phone number, but no "
        "account uses it. If it was not you, ignore this message."
    )
    assert no_account_sms("zh") == (
        "有人请求重置使用此手机号的账户密码，但没有任何账户使用此手机号。如非本人操作，请忽略本短信。"
    )
    assert len(no_account_sms("zh")) <= 70
    assert no_account_sms("fr") == no_account_sms("en")
    assert no_account_email("fr") == no_account_email("en")


def test_the_change_time_is_told_in_utc() -> None:
    beijing = CHANGED_AT.astimezone(timezone(timedelta(hours=8)))

    assert "2025-03-04 05:06 UTC" in password_changed_sms(beijing, "zh")
    assert "2025-03-04 05:06 UTC" in password_changed_sms(CHANGED_AT.replace(tzinfo=None), "en")


@pytest.mark.parametrize("locale", ["fr", "", "EN", "zh-CN"])
def test_an_unknown_locale_is_written_in_english(locale: str) -> None:
    assert code_sms(CODE, FIVE_MINUTES, locale) == code_sms(CODE, FIVE_MINUTES, "en")
    assert code_email(CODE, FIVE_MINUTES, locale) == code_email(CODE, FIVE_MINUTES, "en")
    assert password_changed_sms(CHANGED_AT, locale) == password_changed_sms(CHANGED_AT, "en")


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_the_code_appears_once_and_texts_stay_short(locale: str) -> None:
    assert code_sms(CODE, FIVE_MINUTES, locale).count(CODE) == 1
    assert code_email(CODE, FIVE_MINUTES, locale).body.count(CODE) == 1
    # One SMS segment holds 70 UCS-2 characters; English stays within three GSM segments.
    limit = 70 if locale == "zh" else 153 * 3
    assert len(code_sms(CODE, FIVE_MINUTES, locale)) <= limit
    assert CODE not in code_email(CODE, FIVE_MINUTES, locale).subject


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hans", "zh"),
        ("zh-Hans-CN", "zh"),
        ("zh-TW", "zh"),
        ("ZH-cn", "zh"),
        ("en", "en"),
        ("en-US", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR", "en"),
        ("fr-FR,fr;q=0.9", "en"),
        ("fr-FR,fr;q=0.9,zh-CN;q=0.8", "zh"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en;q=0.5,zh;q=0.8", "zh"),
        ("zh;q=0.8,en;q=0.8", "zh"),
        ("en;q=0.8,zh;q=0.8", "en"),
        ("zh;q=0,en;q=0.1", "en"),
        ("zh;q=0", "en"),
        ("zh;q=0.000", "en"),
        ("*", "en"),
        ("*;q=0.5,zh;q=0.4", "en"),
        (" zh-cn ; q=1.0 , en ; q=0.2", "zh"),
        ("en;q=2,zh;q=0.5", "zh"),
        ("en;q=abc,zh;q=0.5", "zh"),
        ("en;q=0.1234,zh;q=0.5", "zh"),
        ("en;q=1.001,zh;q=0.5", "zh"),
        ("en;q=0.\u0665,zh;q=0.1", "zh"),
        ("en;level=1,zh;q=0.9", "en"),
        ("english", "en"),
        ("zhx", "en"),
        (",,;;,", "en"),
    ],
)
def test_pick_locale(header: str | None, expected: str) -> None:
    assert pick_locale(header, "en") == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, "zh"), ("de", "zh"), ("*", "zh"), ("en-US", "en"), ("en;q=0", "zh")],
)
def test_pick_locale_falls_back_to_the_default(header: str | None, expected: str) -> None:
    assert pick_locale(header, "zh") == expected


def test_pick_locale_reads_a_bounded_part_of_a_huge_header() -> None:
    header = ",".join(["fr"] * 10_000 + ["zh"])

    assert pick_locale(header, "en") == "en"
