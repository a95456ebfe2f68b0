"""The exception tree against the error-code registry, without HTTP."""

from __future__ import annotations

import httpx
import pytest

import ciam_client
from ciam_client import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    BadEmailOtpError,
    BadEmailOtpTokenError,
    BadOtpError,
    BadOtpTokenError,
    BadPhoneNumberOtpError,
    BadPhoneNumberOtpTokenError,
    CiamError,
    EmailIsUsedError,
    EmailRateLimitExceededError,
    IdentifierIsUsedError,
    InsufficientEmailQuotaError,
    InsufficientQuotaError,
    InsufficientSmsQuotaError,
    MalformedEmailError,
    MalformedIdentifierError,
    MalformedPhoneNumberError,
    PhoneNumberIsUsedError,
    RateLimitExceededError,
    SmsRateLimitExceededError,
    error_class_for,
)
from ciam_client._exceptions import index_leaf_classes
from ciam_shared import ERROR_SPECS, ErrorCode

FAMILIES = {
    BadOtpTokenError: {BadEmailOtpTokenError, BadPhoneNumberOtpTokenError},
    BadOtpError: {BadEmailOtpError, BadPhoneNumberOtpError},
    RateLimitExceededError: {EmailRateLimitExceededError, SmsRateLimitExceededError},
    InsufficientQuotaError: {InsufficientEmailQuotaError, InsufficientSmsQuotaError},
    MalformedIdentifierError: {MalformedEmailError, MalformedPhoneNumberError},
    IdentifierIsUsedError: {EmailIsUsedError, PhoneNumberIsUsedError},
}


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_its_own_leaf_class(code: ErrorCode) -> None:
    cls = error_class_for(code)
    assert cls.__dict__.get("code_enum") is code
    assert error_class_for(code.value) is cls


def test_no_two_codes_share_a_class() -> None:
    assert len({error_class_for(code) for code in ErrorCode}) == len(ErrorCode)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_leaf_classes_are_named_after_their_code_and_exported(code: ErrorCode) -> None:
    cls = error_class_for(code)
    camel = "".join(part.title() for part in code.split("_"))
    assert cls.__name__.removesuffix("Error") == camel.removesuffix("Error")
    assert getattr(ciam_client, cls.__name__) is cls
    assert cls.__name__ in ciam_client.__all__


@pytest.mark.parametrize("code", list(ErrorCode))
def test_leaf_classes_document_their_code_from_the_registry(code: ErrorCode) -> None:
    doc = error_class_for(code).__doc__
    assert doc is not None
    assert code.value in doc
    assert ERROR_SPECS[code].meaning in doc


@pytest.mark.parametrize(("family", "members"), FAMILIES.items())
def test_channel_families(family: type[APIStatusError], members: set[type[APIStatusError]]) -> None:
    assert set(family.__subclasses__()) == members
    assert family.code_enum is None


def test_unknown_code_maps_to_the_base_class() -> None:
    assert error_class_for("a_code_from_the_future") is APIStatusError


def test_a_registry_code_without_a_class_is_refused() -> None:
    class RootError(APIStatusError):
        pass

    class OnlyError(RootError):
        code_enum = ErrorCode.USER_NOT_FOUND

    assert index_leaf_classes(RootError, [ErrorCode.USER_NOT_FOUND]) == {
        "user_not_found": OnlyError
    }
    with pytest.raises(RuntimeError, match="recurrent_password"):
        index_leaf_classes(RootError, [ErrorCode.USER_NOT_FOUND, ErrorCode.RECURRENT_PASSWORD])


def test_two_classes_for_one_code_are_refused() -> None:
    class RootError(APIStatusError):
        pass

    class FirstError(RootError):
        code_enum = ErrorCode.USER_NOT_FOUND

    class SecondError(RootError):
        code_enum = ErrorCode.USER_NOT_FOUND

    with pytest.raises(RuntimeError, match="two classes"):
        index_leaf_classes(RootError, [ErrorCode.USER_NOT_FOUND])


def test_tree() -> None:
    assert issubclass(APIError, CiamError)
    assert issubclass(APIStatusError, APIError)
    assert issubclass(APIResponseValidationError, APIError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APIConnectionError, APIError)
    assert not issubclass(APIConnectionError, APIStatusError)


def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request(
        "POST", "https://ciam.test/reset_user_password", content=b'{"password":"hunter2-secret"}'
    )
    return httpx.Response(status, headers=headers, request=request)


def test_text_leads_with_the_request_id() -> None:
    error = BadEmailOtpError(
        _response(400, {"X-Request-ID": "abc"}), code="bad_email_otp", description="Wrong code."
    )
    assert str(error) == "[request_id: abc] 400 bad_email_otp: Wrong code."
    assert error.message == str(error)


def test_text_without_request_id_or_description() -> None:
    error = APIStatusError(_response(418), code="teapot", description=None)
    assert str(error) == "418 teapot"
    assert error.request_id is None
    assert error.retry_after is None


def test_repr_shows_class_status_and_code_only() -> None:
    error = BadEmailOtpError(
        _response(400, {"X-Request-ID": "abc"}), code="bad_email_otp", description="Wrong code."
    )
    assert (
        repr(error) == "BadEmailOtpError(status_code=400, code='bad_email_otp', request_id='abc')"
    )
    assert "hunter2" not in repr(error)
    assert "hunter2" not in str(error)
