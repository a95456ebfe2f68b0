"""The password policy: length after NFKC, no control characters, not common, not the address."""

from __future__ import annotations

import unicodedata

import pytest

from ciam_server.domain.errors import FlowError
from ciam_server.domain.policy import PasswordPolicy, normalize_password
from ciam_shared import ErrorCode

GOOD = "violet kettle marmalade 42"
FULLWIDTH_GOOD = "\uff3a\uff51\uff17\uff58\uff01\uff4d\uff2b\uff12"  # "Zq7x!mK2" in fullwidth forms


def refusal(password: str, **identifiers: str) -> FlowError:
    with pytest.raises(FlowError) as caught:
        PasswordPolicy().check(password, **identifiers)
    assert caught.value.code is ErrorCode.INVALID_NEW_PASSWORD
    return caught.value


def test_a_good_password_is_accepted_as_it_is() -> None:
    assert PasswordPolicy().check(GOOD) == GOOD


def test_a_good_unicode_password_is_accepted_in_nfkc_form() -> None:
    password = "\N{LATIN SMALL LIGATURE FI}ve gro\u00dfe \u00c4pfel \uff11\uff12\uff13"

    checked = PasswordPolicy().check(password)

    assert checked == "five gro\u00dfe \u00c4pfel 123"
    assert checked == unicodedata.normalize("NFKC", password)


def test_eight_fullwidth_characters_normalize_to_an_acceptable_password() -> None:
    assert PasswordPolicy().check(FULLWIDTH_GOOD) == "Zq7x!mK2"


def test_combining_marks_compose_before_length_is_counted() -> None:
    # Eight code points as typed, four after NFKC.
    assert len("e\u0301" * 4) == 8

    assert refusal("e\u0301" * 4).description == "The password must have at least 8 characters."


def test_a_password_of_seven_characters_is_too_short() -> None:
    assert refusal("Zq7x!mK").description == "The password must have at least 8 characters."


def test_length_is_counted_in_code_points_not_bytes() -> None:
    emoji = "\N{GRINNING FACE}" * 128  # 512 bytes in UTF-8

    assert PasswordPolicy().check(emoji) == emoji


def test_a_password_longer_than_128_characters_is_refused() -> None:
    assert refusal("x" * 129).description == "The password must have at most 128 characters."


def test_a_ligature_that_expands_past_the_maximum_is_too_long() -> None:
    # 128 code points as typed, 384 after NFKC.
    password = "\N{LATIN SMALL LIGATURE FFI}" * 128

    assert refusal(password).description == "The password must have at most 128 characters."


def test_the_limits_are_configurable() -> None:
    policy = PasswordPolicy(min_length=12, max_length=16)

    assert policy.check("twelve chars") == "twelve chars"
    with pytest.raises(FlowError, match="at least 12"):
        policy.check("eleven char")
    with pytest.raises(FlowError, match="at most 16"):
        policy.check("seventeen chars!!")


@pytest.mark.parametrize("control", ["\x00", "\n", "\t", "\x1b", "\x7f", "\x85"])
def test_control_characters_are_refused(control: str) -> None:
    refused = refusal(f"violet{control}kettle")

    assert refused.description == "The password must not contain control characters."


@pytest.mark.parametrize(
    "password",
    ["password1", "iloveyou", "qwerty123", "sunshine", "trustno1", "PassWord1", "ILOVEYOU"],
)
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert refusal(password).description == "The password is too common."


def test_a_common_password_typed_in_fullwidth_forms_is_refused() -> None:
    fullwidth = "".join(chr(ord(char) + 0xFEE0) for char in "password1")

    assert refusal(fullwidth).description == "The password is too common."


def test_the_common_password_check_can_be_switched_off() -> None:
    assert PasswordPolicy(check_common=False).check("password1") == "password1"


@pytest.mark.parametrize("password", ["alice.smith2024", "My-ALICE.SMITH-pw", "xxalice.smith"])
def test_a_password_containing_the_email_local_part_is_refused(password: str) -> None:
    refused = refusal(password, email="alice.smith@example.com")

    assert refused.description == "The password must not contain the email address."


def test_a_short_local_part_is_refused_only_with_its_domain() -> None:
    assert PasswordPolicy().check("bob-the-builder", email="bob@example.com") == "bob-the-builder"
    refused = refusal("is-bob@example.com-ok", email="bob@example.com")

    assert refused.description == "The password must not contain the email address."


@pytest.mark.parametrize(
    ("password", "phone_number"),
    [
        ("pw13800138000!", "+8613800138000"),
        ("x6502530000x", "+16502530000"),
    ],
)
def test_a_password_containing_the_national_number_is_refused(
    password: str, phone_number: str
) -> None:
    refused = refusal(password, phone_number=phone_number)

    assert refused.description == "The password must not contain the phone number."


def test_a_password_unrelated_to_the_account_is_accepted() -> None:
    checked = PasswordPolicy().check(
        GOOD, email="alice.smith@example.com", phone_number="+8613800138000"
    )

    assert checked == GOOD


def test_normalize_password_is_nfkc() -> None:
    assert normalize_password(FULLWIDTH_GOOD) == "Zq7x!mK2"
    assert normalize_password("e\u0301") == "\u00e9"
