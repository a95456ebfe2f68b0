"""Emails and phone numbers are validated and brought to the one form accounts are matched on."""

from __future__ import annotations

import email_validator
import pytest

from ciam_server.domain.errors import FlowError
from ciam_server.domain.identifiers import (
    MAX_EMAIL_LENGTH,
    normalize,
    normalize_email,
    normalize_phone_number,
)
from ciam_server.domain.models import Channel
from ciam_shared import ErrorCode


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice@Example.COM", "alice@example.com"),
        ("ALICE.SMITH+RESET@MAIL.EXAMPLE.ORG", "alice.smith+reset@mail.example.org"),
    ],
)
def test_an_email_is_case_folded_whole(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


def test_an_idn_domain_is_normalized_to_one_form_whichever_way_it_is_written() -> None:
    unicode_form = normalize_email("Bob@B\N{LATIN CAPITAL LETTER U WITH DIAERESIS}cher.Example")
    punycode_form = normalize_email("bob@xn--bcher-kva.example")

    assert (
        unicode_form == punycode_form == "bob@b\N{LATIN SMALL LETTER U WITH DIAERESIS}cher.example"
    )


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        # IDNA 2008 keeps these letters: strasse.de and stra\u00dfe.de are two different domains
        # with different owners, and so are the final-sigma and sigma spellings below.
        ("user@xn--strae-oqa.de", "user@stra\N{LATIN SMALL LETTER SHARP S}e.de"),
        ("user@xn--hxakrdsd7b.gr", "user@\u03bc\u03ac\u03b8\u03b7\u03bc\u03b1\u03c2.gr"),
    ],
    ids=["sharp-s", "final-sigma"],
)
def test_normalizing_an_email_keeps_its_domain(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


def test_a_plain_address_is_normalized_without_email_validators_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("email-validator was asked")

    monkeypatch.setattr(email_validator, "validate_email", refuse)

    assert normalize_email("Alice.Smith+Reset@Mail.Example.ORG") == (
        "alice.smith+reset@mail.example.org"
    )


@pytest.mark.parametrize(
    "raw", ["alice@mail.local", "alice@host.invalid", "alice@ab--cd.example", "alice@example.c0"]
)
def test_plain_looking_addresses_email_validator_refuses_are_refused(raw: str) -> None:
    with pytest.raises(FlowError) as caught:
        normalize_email(raw)

    assert caught.value.code is ErrorCode.MALFORMED_EMAIL


def test_a_special_use_domain_added_by_the_application_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        email_validator,
        "SPECIAL_USE_DOMAIN_NAMES",
        [*email_validator.SPECIAL_USE_DOMAIN_NAMES, "corp"],
    )

    with pytest.raises(FlowError) as caught:
        normalize_email("alice@mail.corp")

    assert caught.value.code is ErrorCode.MALFORMED_EMAIL


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "alice",
        "alice@",
        "@example.com",
        "alice@@example.com",
        "alice @example.com",
        "alice@example",
        "alice@exa mple.com",
        "alice@-example.com",
        "alice@example..com",
    ],
)
def test_an_invalid_email_is_malformed(raw: str) -> None:
    with pytest.raises(FlowError) as caught:
        normalize_email(raw)

    assert caught.value.code is ErrorCode.MALFORMED_EMAIL


def test_an_email_longer_than_254_characters_is_malformed() -> None:
    raw = f"{'a' * 60}@{'b' * 63}.{'c' * 63}.{'d' * 63}.example"
    assert len(raw) > MAX_EMAIL_LENGTH

    with pytest.raises(FlowError) as caught:
        normalize_email(raw)

    assert caught.value.code is ErrorCode.MALFORMED_EMAIL
    assert caught.value.description == "The email address is too long."


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+8613800138000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("+1 650-253-0000", "+16502530000"),
        ("+44 20 7183 8750", "+442071838750"),
        ("+49 30 901820", "+4930901820"),
        ("+81 3-3224-5000", "+81332245000"),
        ("+61 2 9374 4000", "+61293744000"),
        ("  +33 1 42 68 53 00  ", "+33142685300"),
    ],
)
def test_a_number_in_international_form_is_accepted_for_any_country(raw: str, e164: str) -> None:
    assert normalize_phone_number(raw) == e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("13800138000", "+8613800138000"), ("15912345678", "+8615912345678")],
)
def test_a_bare_11_digit_number_is_a_mainland_china_mobile(raw: str, e164: str) -> None:
    assert normalize_phone_number(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not a number",
        "+",
        "+86abc",
        "+8612345",  # too short for China
        "12345678901",  # 11 digits starting with 1, but no mainland mobile prefix
        "23800138000",  # 11 digits not starting with 1
        "3800138000",  # 10 digits and no country code
        "138 0013 8000",  # a bare number must be 11 digits alone
        "008613800138000",  # international prefix instead of +
        "+999 1234 5678",  # no such country code
    ],
)
def test_an_invalid_phone_number_is_malformed(raw: str) -> None:
    with pytest.raises(FlowError) as caught:
        normalize_phone_number(raw)

    assert caught.value.code is ErrorCode.MALFORMED_PHONE_NUMBER


def test_a_phone_number_longer_than_32_characters_is_malformed() -> None:
    with pytest.raises(FlowError) as caught:
        normalize_phone_number("+86 138 0013 8000" + " 0" * 10)

    assert caught.value.code is ErrorCode.MALFORMED_PHONE_NUMBER
    assert caught.value.description == "The phone number is too long."


@pytest.mark.parametrize(
    ("channel", "raw", "normalized"),
    [
        (Channel.EMAIL, "Alice@Example.COM", "alice@example.com"),
        (Channel.SMS, "13800138000", "+8613800138000"),
    ],
)
def test_normalize_picks_the_rules_of_the_channel(
    channel: Channel, raw: str, normalized: str
) -> None:
    assert normalize(channel, raw) == normalized
