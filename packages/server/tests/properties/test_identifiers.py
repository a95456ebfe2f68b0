"""Properties of email and phone number normalization."""

from __future__ import annotations

import re

import email_validator
import phonenumbers
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ciam_server.domain.errors import FlowError
from ciam_server.domain.identifiers import (
    _PLAIN_ADDRESS,
    MAX_EMAIL_LENGTH,
    normalize_email,
    normalize_phone_number,
)
from ciam_shared import ErrorCode

E164 = re.compile(r"\+[1-9]\d{6,14}", re.ASCII)
PROFILE = settings(max_examples=200, deadline=None)

# Valid numbers: each region's example mobile number, written in the ways people write them.
_regions = sorted(
    region
    for region in phonenumbers.SUPPORTED_REGIONS
    if phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
)
_formats = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
]


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(_regions))
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert number is not None
    return phonenumbers.format_number(number, draw(st.sampled_from(_formats)))


# Bare 11-digit numbers of mainland-China mobile ranges in use (130-139, 150-159 but 154, 180-189).
mainland_mobiles = st.from_regex(r"1(3[0-9]|5[0-35-9]|8[0-9])[0-9]{8}", fullmatch=True)
phone_like = st.from_regex(r"\+?[0-9 ()./-]{0,24}", fullmatch=True)
any_phone = st.one_of(phone_numbers(), mainland_mobiles, phone_like, st.text(max_size=40))


def _normalized_phone_or_refused(raw: str) -> str | None:
    try:
        return normalize_phone_number(raw)
    except FlowError as error:
        refusal = error.code
    assert refusal is ErrorCode.MALFORMED_PHONE_NUMBER
    return None


@PROFILE
@given(raw=any_phone)
@example(raw="+86 138 0013 8000")
@example(raw="13800138000")
@example(raw="+٨٦١٣٨٠٠١٣٨٠٠٠")  # Arabic-Indic digits
def test_a_phone_number_becomes_e164_or_is_refused(raw: str) -> None:
    normalized = _normalized_phone_or_refused(raw)
    if normalized is not None:
        assert E164.fullmatch(normalized), normalized
        assert normalize_phone_number(normalized) == normalized


@PROFILE
@given(raw=st.one_of(phone_numbers(), mainland_mobiles))
def test_valid_phone_numbers_are_accepted(raw: str) -> None:
    normalized = normalize_phone_number(raw)
    assert E164.fullmatch(normalized), normalized
    assert normalize_phone_number(normalized) == normalized


def _normalized_email_or_refused(raw: str) -> str | None:
    try:
        return normalize_email(raw)
    except FlowError as error:
        refusal = error.code
    assert refusal is ErrorCode.MALFORMED_EMAIL
    return None


ascii_emails = st.emails().filter(lambda address: address.isascii())
local_letters = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))
unicode_emails = st.builds(
    "{}@{}".format,
    st.text(local_letters, min_size=1, max_size=20),
    st.sampled_from(["example.com", "bücher.example", "例え.jp", "EXAMPLE.ORG"]),
)
any_email = st.one_of(ascii_emails, unicode_emails, st.text(max_size=60))


@PROFILE
@given(raw=any_email)
@example(raw="Alice@Example.COM")
@example(raw="İstanbul@example.com")
@example(raw="straße@straße.de")
def test_email_normalization_is_idempotent_and_refuses_only_as_malformed(raw: str) -> None:
    normalized = _normalized_email_or_refused(raw)
    if normalized is not None:
        assert normalize_email(normalized) == normalized


@PROFILE
@given(raw=ascii_emails)
def test_ascii_addresses_are_case_insensitive(raw: str) -> None:
    normalized = _normalized_email_or_refused(raw)
    if normalized is not None:
        assert normalize_email(raw.upper()) == normalized
        assert normalize_email(raw.lower()) == normalized
        assert normalized == normalized.lower()


def _as_email_validator_alone_normalizes(raw: str) -> str | None:
    try:
        checked = email_validator.validate_email(raw, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return f"{checked.local_part.lower()}@{checked.domain}"


plain_looking = st.from_regex(_PLAIN_ADDRESS, fullmatch=True)
near_plain = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-zA-Z0-9.+_-]{1,12}", fullmatch=True),
    st.from_regex(r"[a-zA-Z0-9-]{1,12}(\.[a-zA-Z0-9-]{1,12})?", fullmatch=True),
    st.sampled_from(["com", "COM", "local", "invalid", "arpa", "onion", "test", "c0m", "1", "x-"]),
)


@settings(max_examples=500, deadline=None)
@given(raw=st.one_of(plain_looking, near_plain, ascii_emails, any_email))
@example(raw="alice@mail.local")
@example(raw="alice@ab--cd.example")
@example(raw="alice@xn--bcher-kva.example")
@example(raw="alice@example.123")
@example(raw=f"{'a' * 64}@{'b' * 63}.{'c' * 63}.{'d' * 57}.com")
def test_email_normalization_is_email_validators_whatever_the_path(raw: str) -> None:
    """Plain addresses skip email-validator's check; each comes out as it alone would have it."""
    assume(len(raw) <= MAX_EMAIL_LENGTH)
    assert _normalized_email_or_refused(raw) == _as_email_validator_alone_normalizes(raw)
