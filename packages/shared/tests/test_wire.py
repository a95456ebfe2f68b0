"""The request and response bodies: lenient on unknown fields, strict on types, secret in repr."""

from __future__ import annotations

import re

import msgspec
import pytest

from ciam_shared import (
    ErrorBody,
    ErrorCode,
    OtpSendRequest,
    OtpSendResponse,
    ResetUserPasswordRequest,
    Usage,
)

CLIENT_SECRET = "client-secret-5f1c9e"
PASSWORD = "new-password-8d2b7a"
EMAIL_OTP = "493817"
EMAIL_OTP_TOKEN = "email-otp-token-a41f0c"
PHONE_OTP = "602934"
PHONE_OTP_TOKEN = "phone-otp-token-77e3d1"
OTP_TOKEN = "otp-token-c0ffee42"


@pytest.mark.parametrize(
    ("struct", "payload"),
    [
        (OtpSendRequest, b'{"usage": "reset_password", "email": "a@example.com", "lang": "en"}'),
        (
            ResetUserPasswordRequest,
            b'{"password": "x", "email": "a@example.com", "captcha": {"answer": [1, 2]}}',
        ),
        (OtpSendResponse, b'{"otp_token": "t", "expires_in": 600, "token_type": "otp"}'),
        (ErrorBody, b'{"error": "invalid_request", "error_uri": "https://example.com/e"}'),
    ],
)
def test_unknown_fields_are_ignored(struct: type[msgspec.Struct], payload: bytes) -> None:
    decoded = msgspec.json.decode(payload, type=struct)
    assert isinstance(decoded, struct)


def test_a_decoded_request_keeps_its_known_fields() -> None:
    request = msgspec.json.decode(
        b'{"usage": "reset_password", "email": "a@example.com", "unknown": null}',
        type=OtpSendRequest,
    )
    assert request.usage == Usage.RESET_PASSWORD
    assert request.email == "a@example.com"
    assert request.phone_number is None


@pytest.mark.parametrize(
    ("struct", "payload", "path"),
    [
        (OtpSendRequest, b'{"email": 42}', "$.email"),
        (OtpSendRequest, b'{"usage": ["reset_password"]}', "$.usage"),
        (ResetUserPasswordRequest, b'{"password": true}', "$.password"),
        (ResetUserPasswordRequest, b'{"phone_number_otp": 123456}', "$.phone_number_otp"),
        (OtpSendResponse, b'{"otp_token": "t", "expires_in": "600"}', "$.expires_in"),
        (ErrorBody, b'{"error": 400}', "$.error"),
    ],
)
def test_a_wrongly_typed_field_is_refused_by_its_path(
    struct: type[msgspec.Struct], payload: bytes, path: str
) -> None:
    with pytest.raises(msgspec.ValidationError, match=rf"`{re.escape(path)}`"):
        msgspec.json.decode(payload, type=struct)


def _renderings(value: object) -> list[str]:
    return [repr(value), str(value), f"{value}", repr([value])]


def test_otp_send_request_repr_masks_the_client_secret() -> None:
    request = OtpSendRequest(
        client_id="web-app", client_secret=CLIENT_SECRET, email="a@example.com"
    )
    for text in _renderings(request):
        assert CLIENT_SECRET not in text
        assert "client_secret='***'" in text
        assert "client_id='web-app'" in text
        assert "email='a@example.com'" in text


def test_reset_request_repr_masks_the_secret_the_password_the_codes_and_the_tokens() -> None:
    request = ResetUserPasswordRequest(
        client_id="web-app",
        client_secret=CLIENT_SECRET,
        password=PASSWORD,
        email="a@example.com",
        email_otp_token=EMAIL_OTP_TOKEN,
        email_otp=EMAIL_OTP,
        phone_number="+8613800138000",
        phone_number_otp_token=PHONE_OTP_TOKEN,
        phone_number_otp=PHONE_OTP,
    )
    for text in _renderings(request):
        for secret in (
            CLIENT_SECRET,
            PASSWORD,
            EMAIL_OTP_TOKEN,
            EMAIL_OTP,
            PHONE_OTP_TOKEN,
            PHONE_OTP,
        ):
            assert secret not in text
        assert "email='a@example.com'" in text
        assert "phone_number='+8613800138000'" in text


def test_otp_send_response_repr_masks_the_token() -> None:
    response = OtpSendResponse(otp_token=OTP_TOKEN, expires_in=600)
    for text in _renderings(response):
        assert OTP_TOKEN not in text
        assert "expires_in=600" in text


def test_masking_leaves_the_encoded_body_intact() -> None:
    # The mask is for display only: what goes on the wire is the real value.
    response = OtpSendResponse(otp_token=OTP_TOKEN, expires_in=600)
    assert msgspec.json.decode(msgspec.json.encode(response)) == {
        "otp_token": OTP_TOKEN,
        "expires_in": 600,
    }


def test_error_body_omits_a_missing_description() -> None:
    assert msgspec.json.encode(ErrorBody(error="user_not_found")) == b'{"error":"user_not_found"}'


def test_error_body_carries_a_description_when_there_is_one() -> None:
    body = ErrorBody(error="abnormal_user_status", error_description="User is frozen.")
    assert msgspec.json.decode(msgspec.json.encode(body)) == {
        "error": "abnormal_user_status",
        "error_description": "User is frozen.",
    }


def test_error_body_decodes_an_unknown_code_as_a_plain_string() -> None:
    body = msgspec.json.decode(
        b'{"error": "a_code_from_a_newer_server", "error_description": "?"}', type=ErrorBody
    )
    assert body.error == "a_code_from_a_newer_server"
    assert type(body.error) is str
    assert body.error_description == "?"


def test_error_body_decodes_a_known_code_as_a_plain_string_too() -> None:
    body = msgspec.json.decode(b'{"error": "invalid_request"}', type=ErrorBody)
    assert body.error == ErrorCode.INVALID_REQUEST
    assert type(body.error) is str
    assert body.error_description is None


@pytest.mark.parametrize(
    ("field", "length"),
    [
        ("client_id", 255),
        ("client_secret", 255),
        ("password", 1024),
        ("email", 320),
        ("email_otp_token", 256),
        ("email_otp", 32),
        ("phone_number", 64),
        ("phone_number_otp_token", 256),
        ("phone_number_otp", 32),
    ],
)
def test_reset_fields_are_bounded_in_length(field: str, length: int) -> None:
    msgspec.json.decode(msgspec.json.encode({field: "a" * length}), type=ResetUserPasswordRequest)
    with pytest.raises(msgspec.ValidationError, match=rf"length <= {length} - at `\$\.{field}`"):
        msgspec.json.decode(
            msgspec.json.encode({field: "a" * (length + 1)}), type=ResetUserPasswordRequest
        )


@pytest.mark.parametrize("field", ["client_id", "usage", "email", "phone_number"])
def test_nul_is_refused_in_every_send_field(field: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=rf"`\$\.{field}`"):
        msgspec.json.decode(msgspec.json.encode({field: "a\x00b"}), type=OtpSendRequest)


def test_nul_is_refused_in_a_password() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"`\$\.password`"):
        msgspec.json.decode(b'{"password": "pass\\u0000word"}', type=ResetUserPasswordRequest)
