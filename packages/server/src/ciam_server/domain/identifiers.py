"""Validation and normalization of the identifiers a code is sent to.

A challenge and a user are matched on the normalized form, so ``Alice@Example.COM`` and
``alice@example.com`` name the same account, as do ``13800138000`` and ``+8613800138000``.
"""

from __future__ import annotations

import re
from functools import cache

import email_validator
import phonenumbers

from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import Channel
from ciam_shared import ErrorCode

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit less the angle brackets
MAX_PHONE_LENGTH = 32

_MAINLAND_CHINA_MOBILE_DIGITS = 11
# Digits and the usual separators; letters are refused, though phonenumbers would read them as
# keypad digits: an address a code goes to must be the one the user wrote.
_PHONE_CHARACTERS = re.compile(r"\+?[0-9 ()./-]+")

_ATOM = r"[a-z0-9_!#$%&'*+\-/=?^`{|}~]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_TOP_LABEL = r"(?:[a-z0-9][a-z0-9-]{0,61})?[a-z]"
_PLAIN_ADDRESS = re.compile(
    rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+{_TOP_LABEL}", re.ASCII | re.IGNORECASE
)
"""The everyday address: an ASCII dot-atom local part, then a domain of letters, digits and
hyphens with at least one dot, whose top-level label ends with a letter. email-validator
accepts each such address as it is but for the domain's case (see :func:`_is_plain`)."""


def normalize_email(raw: str) -> str:
    """The address with its domain as email-validator normalizes it (IDNA, lower case) and its
    local part lower-cased.

    RFC 5321 allows case-sensitive local parts, but no mail provider a reset flow meets uses
    them, and people do not type their address the same way twice. ``str.lower``, not
    ``casefold``: folding would turn ``straße`` into ``strasse``, another mailbox and, in a
    domain, another owner.
    """
    if len(raw) > MAX_EMAIL_LENGTH:
        raise FlowError(ErrorCode.MALFORMED_EMAIL, "The email address is too long.")
    if _is_plain(raw):
        return raw.lower()
    try:
        checked = email_validator.validate_email(raw, check_deliverability=False)
    except email_validator.EmailNotValidError:
        raise FlowError(ErrorCode.MALFORMED_EMAIL, "The email address is not valid.") from None
    return f"{checked.local_part.lower()}@{checked.domain}"


def _is_plain(raw: str) -> bool:
    """Whether ``raw`` is an address email-validator would accept unchanged but for its
    domain's case, so that its check can be skipped: a character-by-character pass of Unicode
    checks, a large part of an ``/otp/send``'s time on the event loop (see
    docs/performance.md). Every other address, and every refusal with its reason, is left to
    it.

    Left to it as well: domains with a double hyphen (Punycode ``xn--`` labels and the
    reserved ``ab--`` ones) and the special-use names it refuses (read from its list at each
    call, which applications may change)."""
    if not _PLAIN_ADDRESS.fullmatch(raw):
        return False
    domain = raw.rpartition("@")[2].lower()
    if "--" in domain:
        return False
    names = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)
    return not ("." + domain).endswith(_dotted(names))


@cache
def _dotted(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names``, each with a leading dot: a domain ends with one exactly when it is one of
    ``names`` or under it."""
    return tuple("." + name for name in names)


def normalize_phone_number(raw: str) -> str:
    """The number in E.164 form.

    A number in international form (``+`` and country code) is accepted for any country; a bare
    11-digit number starting with ``1`` is read as a mainland-China mobile number (+86), as the
    contract's API family accepts.
    """
    text = raw.strip()
    if len(text) > MAX_PHONE_LENGTH:
        raise FlowError(ErrorCode.MALFORMED_PHONE_NUMBER, "The phone number is too long.")
    if not _PHONE_CHARACTERS.fullmatch(text):
        raise FlowError(
            ErrorCode.MALFORMED_PHONE_NUMBER,
            "The phone number may hold only digits, spaces, '(', ')', '.', '-' and a leading '+'.",
        )
    if text.startswith("+"):
        region = None
    elif text.isdigit() and len(text) == _MAINLAND_CHINA_MOBILE_DIGITS and text[0] == "1":
        region = "CN"
    else:
        raise FlowError(
            ErrorCode.MALFORMED_PHONE_NUMBER,
            "The phone number must be in international form (+ and country code) "
            "or an 11-digit mainland-China mobile number.",
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise FlowError(ErrorCode.MALFORMED_PHONE_NUMBER, "The phone number is not valid.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize(channel: Channel, raw: str) -> str:
    """The normalized identifier for ``channel``."""
    return normalize_email(raw) if channel is Channel.EMAIL else normalize_phone_number(raw)
