"""The texts of the messages sent to users, in English and Simplified Chinese.

Every text is fixed wording around values the server made itself (the code, its lifetime, the
time of a password change): nothing a client sent is ever copied into a message.
"""

# Chinese text is written with its own full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ENGLISH = "en"
CHINESE = "zh"
LOCALES = (ENGLISH, CHINESE)
"""The languages messages are written in."""

MAX_ACCEPT_LANGUAGE_LENGTH = 1024
"""Longer ``Accept-Language`` values are cut before they are read."""

MAX_ACCEPT_LANGUAGE_RANGES = 32
"""Language ranges read from one ``Accept-Language`` value; the rest are ignored."""

_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?", re.ASCII)
"""RFC 9110: ``qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )``."""


@dataclass(frozen=True, kw_only=True)
class EmailText:
    """The subject and plain-text body of an email."""

    subject: str
    body: str


def _locale(locale: str) -> str:
    return locale if locale in LOCALES else ENGLISH


def _lifetime(ttl: timedelta, locale: str) -> str:
    seconds = max(1, int(ttl.total_seconds()))
    minutes, rest = divmod(seconds, 60)
    if locale == CHINESE:
        return f"{minutes} 分钟" if rest == 0 else f"{seconds} 秒"
    if rest == 0:
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} second" if seconds == 1 else f"{seconds} seconds"


def _when(changed_at: datetime) -> str:
    if changed_at.tzinfo is None:
        changed_at = changed_at.replace(tzinfo=UTC)
    return changed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def code_email(code: str, code_ttl: timedelta, locale: str) -> EmailText:
    """The email carrying a password reset code that lives ``code_ttl``."""
    lifetime = _lifetime(code_ttl, _locale(locale))
    if _locale(locale) == CHINESE:
        return EmailText(
            subject="密码重置验证码",
            body=(
                f"您的密码重置验证码是 {code}，{lifetime}内有效。\n"
                "\n"
                "请勿将验证码告诉任何人。如果您没有申请重置密码，请忽略此邮件，"
                "您的密码不会改变。\n"
            ),
        )
    return EmailText(
        subject="Your password reset code",
        body=(
            f"Your password reset code is {code}. It expires in {lifetime}.\n"
            "\n"
            "Do not share this code with anyone. If you did not ask for it, ignore this "
            "message: your password will not change.\n"
        ),
    )


def code_sms(code: str, code_ttl: timedelta, locale: str) -> str:
    """The text message carrying a password reset code that lives ``code_ttl``."""
    lifetime = _lifetime(code_ttl, _locale(locale))
    if _locale(locale) == CHINESE:
        return f"您的密码重置验证码是 {code}，{lifetime}内有效。如非本人操作，请忽略本短信。"
    return (
        f"Your password reset code is {code}. It expires in {lifetime}. "
        "If you did not ask for it, ignore this message."
    )


def password_changed_email(changed_at: datetime, locale: str) -> EmailText:
    """The email telling the account holder their password was changed at ``changed_at``."""
    when = _when(changed_at)
    if _locale(locale) == CHINESE:
        return EmailText(
            subject="您的密码已修改",
            body=(
                f"您账户的密码已于 {when} 修改。\n"
                "\n"
                "如果是您本人操作，无需任何处理。如果不是，请立即重置密码并联系我们。\n"
            ),
        )
    return EmailText(
        subject="Your password was changed",
        body=(
            f"The password of your account was changed on {when}.\n"
            "\n"
            "If you made this change, there is nothing to do. If you did not, reset your "
            "password now and contact us.\n"
        ),
    )


def password_changed_sms(changed_at: datetime, locale: str) -> str:
    """The text message telling the account holder their password was changed."""
    when = _when(changed_at)
    if _locale(locale) == CHINESE:
        return f"您账户的密码已于 {when} 修改。如非本人操作，请立即重置密码并联系我们。"
    return (
        f"Your password was changed on {when}. "
        "If this was not you, reset your password now and contact us."
    )


def no_account_email(locale: str) -> EmailText:
    """The email telling the holder of an address that a reset was asked for it, and that no
    account uses it."""
    if _locale(locale) == CHINESE:
        return EmailText(
            subject="密码重置请求",
            body=(
                "有人请求重置使用此邮箱地址的账户密码，但没有任何账户使用此邮箱地址。\n"
                "\n"
                "如果是您本人操作，您注册时可能使用了其他邮箱地址或手机号。"
                "如果不是，请忽略此邮件。\n"
            ),
        )
    return EmailText(
        subject="Password reset request",
        body=(
            "Someone asked to reset the password of an account with this email address, but "
            "no account uses this address.\n"
            "\n"
            "If it was you, you may have signed up with another email address or phone number. "
            "If it was not you, ignore this message.\n"
        ),
    )


def no_account_sms(locale: str) -> str:
    """The text message telling the holder of a phone number that a reset was asked for it,
    and that no account uses it."""
    if _locale(locale) == CHINESE:
        return (
            "有人请求重置使用此手机号的账户密码，但没有任何账户使用此手机号。"
            "如非本人操作，请忽略本短信。"
        )
    return (
        "Someone asked to reset the password of an account with this phone number, but no "
        "account uses it. If it was not you, ignore this message."
    )


def _quality(parameters: list[str]) -> float | None:
    """The q-value among a language range's parameters: 1 when absent, None when malformed."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "q":
            continue
        value = value.strip()
        return float(value) if _QVALUE.fullmatch(value) else None
    return 1.0


def _match(language_range: str) -> str | None:
    primary = language_range.split("-", 1)[0]
    if primary == "zh":
        return CHINESE
    if primary == "en":
        return ENGLISH
    return None


def pick_locale(header: str | None, default: str) -> str:
    """The message language for an ``Accept-Language`` header value.

    Language ranges are tried by falling q-value (in their order when equal); ``zh`` and every
    ``zh-*`` (``zh-CN``, ``zh-Hans``, ``zh-TW``...) give ``zh``, ``en`` and ``en-*`` give ``en``.
    ``*``, a missing or unreadable header, and languages the server does not write give
    ``default``. Ranges with ``q=0`` are refused, never chosen.
    """
    if not header:
        return default
    candidates: list[tuple[float, int, str]] = []
    ranges = header[:MAX_ACCEPT_LANGUAGE_LENGTH].split(",")[:MAX_ACCEPT_LANGUAGE_RANGES]
    for position, item in enumerate(ranges):
        tag, *parameters = item.split(";")
        tag = tag.strip().lower()
        quality = _quality(parameters)
        if not tag or quality is None or quality == 0:
            continue
        if tag == "*":
            candidates.append((quality, position, default))
            continue
        locale = _match(tag)
        if locale is not None:
            candidates.append((quality, position, locale))
    if not candidates:
        return default
    candidates.sort(key=lambda candidate: (-candidate[0], candidate[1]))
    return candidates[0][2]
