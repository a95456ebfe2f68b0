"""The error-code registry against the contract: every documented code, with its status."""

from __future__ import annotations

import re

import pytest

from ciam_shared import ERROR_SPECS, ErrorCode, status_of

ALLOWED_STATUSES = {400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503}

# The codes of the contract, as its two documents give them, with their status.
RESET_CONTRACT_CODES = {  # the sample error responses of "Reset User Password"
    "recurrent_password": 400,
    "invalid_new_password": 400,
    "user_not_found": 400,
    "abnormal_user_status": 400,
    "bad_email_otp_token": 400,
    "bad_email_otp": 400,
}
OTP_SEND_CONTRACT_CODES = {  # the error table of /otp/send and the family's other codes
    "malformed_email": 400,
    "malformed_phone_number": 400,
    "invalid_email": 400,
    "insufficient_email_quota": 400,
    "insufficient_sms_quota": 400,
    "sms_rate_limit_exceeded": 400,
    "email_is_used": 400,
    "phone_number_is_used": 400,
    "temporarily_unavailable": 503,
    "invalid_request": 400,
    "invalid_client": 401,
    "bad_phone_number_otp_token": 400,
    "bad_phone_number_otp": 400,
}
SIGN_IN_CONTRACT_CODES = {  # signin_and_tokens: RFC 6749 §5.2, RFC 7009, change password
    "invalid_grant": 400,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
    "unsupported_token_type": 400,
    "invalid_token": 401,
    "wrong_old_password": 400,
    "duplicate_password": 400,
}
# Codes the contract does not name, with the status we answer them.
OTHER_CODES = {
    "unauthorized_client": 400,
    "email_rate_limit_exceeded": 400,
    "too_many_requests": 429,
    "idempotency_key_reused": 422,
    "idempotency_key_in_use": 409,
    # Framework-level failures answered in the same body shape.
    "not_found": 404,
    "method_not_allowed": 405,
    "request_too_large": 413,
    "unsupported_media_type": 415,
    "server_error": 500,
}

_SNAKE_CASE = re.compile(r"[a-z]+(?:_[a-z]+)+")


def test_every_code_has_a_spec_with_an_allowed_status_and_a_meaning() -> None:
    assert set(ERROR_SPECS) == set(ErrorCode)
    for code in ErrorCode:
        spec = ERROR_SPECS[code]
        assert spec.status in ALLOWED_STATUSES, code
        assert spec.meaning.strip(), code
        assert status_of(code) == spec.status


def test_codes_are_distinct_snake_case_strings() -> None:
    # An Enum member with a duplicate value becomes a silent alias of the first one.
    assert len(ErrorCode.__members__) == len(set(ErrorCode))
    for code in ErrorCode:
        assert _SNAKE_CASE.fullmatch(code.value) or code.value.isalpha(), code


def _assert_registered_with_status(expected: dict[str, int]) -> None:
    registered = {code.value: status_of(code) for code in ErrorCode}
    missing = sorted(set(expected) - set(registered))
    assert not missing, f"codes of the contract missing from the registry: {missing}"
    wrong = {
        code: (registered[code], status)
        for code, status in expected.items()
        if registered[code] != status
    }
    assert not wrong, f"codes registered with another status (registered, contract): {wrong}"


def test_the_reset_contract_codes_are_registered_with_their_status() -> None:
    _assert_registered_with_status(RESET_CONTRACT_CODES)


def test_the_otp_send_contract_codes_are_registered_with_their_status() -> None:
    _assert_registered_with_status(OTP_SEND_CONTRACT_CODES)


def test_the_sign_in_contract_codes_are_registered_with_their_status() -> None:
    _assert_registered_with_status(SIGN_IN_CONTRACT_CODES)


def test_the_registry_holds_nothing_but_the_listed_codes() -> None:
    listed = RESET_CONTRACT_CODES | OTP_SEND_CONTRACT_CODES | SIGN_IN_CONTRACT_CODES | OTHER_CODES
    assert {code.value for code in ErrorCode} == set(listed)


@pytest.mark.parametrize(("code", "status"), sorted(OTHER_CODES.items()))
def test_further_codes_are_registered_with_their_status(code: str, status: int) -> None:
    assert code in {c.value for c in ErrorCode}
    assert status_of(ErrorCode(code)) == status
