"""The error-code registry against the contract: every documented code, with its status."""

from __future__ import annotations

import re

import pytest

from ciam_shared import ERROR_SPECS, ErrorCode, status_of

ALLOWED_STATUSES = {400, 401, 403, 404, 405, 413, 415, 429, 500, 503}

# Codes the seed documents do not list in a table or a sample, with the status we answer them.
OTHER_CODES = {
    "invalid_request": 400,
    "invalid_client": 401,
    "unauthorized_client": 400,
    "email_rate_limit_exceeded": 400,
    "bad_phone_number_otp_token": 400,
    "bad_phone_number_otp": 400,
    "too_many_requests": 429,
    "temporarily_unavailable": 503,
    # Framework-level failures answered in the same body shape.
    "not_found": 404,
    "method_not_allowed": 405,
    "request_too_large": 413,
    "unsupported_media_type": 415,
    "server_error": 500,
}

_SNAKE_CASE = re.compile(r"[a-z]+(?:_[a-z]+)+")


def reset_contract_codes(text: str) -> dict[str, int]:
    """The ``"error"`` values of the sample error responses, each sent with ``400``."""
    codes = re.findall(r'"error"\s*:\s*"([a-z_]+)"', text)
    return dict.fromkeys(codes, 400)


def otp_send_contract_codes(text: str) -> dict[str, int]:
    """The codes of the ``| error | when |`` table (``400`` unless the row notes a status) and
    those named with a status in the text after it, e.g. ``invalid_client`` (401 ...)."""
    codes: dict[str, int] = {}
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"\|\s*error\s*\|", line))
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        first_cell = line.split("|")[1]
        noted = re.search(r"\((\d{3})\)", first_cell)
        for code in _SNAKE_CASE.findall(first_cell):
            codes[code] = int(noted.group(1)) if noted else 400
    for code, status in re.findall(r"`([a-z_]+)` \((\d{3})", text):
        codes[code] = int(status)
    return codes


def test_the_seed_parsers_find_the_documented_codes(
    reset_contract: str, otp_send_contract: str
) -> None:
    # Guards the parsers themselves: an empty parse would make the checks below vacuous.
    assert set(reset_contract_codes(reset_contract)) == {
        "recurrent_password",
        "invalid_new_password",
        "user_not_found",
        "abnormal_user_status",
        "bad_email_otp_token",
        "bad_email_otp",
    }
    otp_codes = otp_send_contract_codes(otp_send_contract)
    assert {"malformed_email", "email_is_used", "phone_number_is_used"} <= set(otp_codes)
    assert otp_codes["temporarily_unavailable"] == 503
    assert otp_codes["invalid_client"] == 401


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


def test_the_reset_contract_codes_are_registered_with_status_400(reset_contract: str) -> None:
    _assert_registered_with_status(reset_contract_codes(reset_contract))


def test_the_otp_send_contract_codes_are_registered_with_their_status(
    otp_send_contract: str,
) -> None:
    _assert_registered_with_status(otp_send_contract_codes(otp_send_contract))


@pytest.mark.parametrize(("code", "status"), sorted(OTHER_CODES.items()))
def test_further_codes_are_registered_with_their_status(code: str, status: int) -> None:
    assert code in {c.value for c in ErrorCode}
    assert status_of(ErrorCode(code)) == status
