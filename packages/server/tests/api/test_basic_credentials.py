"""``parse_basic_credentials``: RFC 6749 §2.3.1 form-urlencoded parts inside HTTP Basic."""

from __future__ import annotations

import base64

import pytest

from ciam_server.api.auth import parse_basic_credentials
from ciam_server.domain.errors import FlowError
from ciam_shared import ErrorCode


def basic_of(raw: bytes | str) -> str:
    data = raw.encode() if isinstance(raw, str) else raw
    return "Basic " + base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("web-app:s3cret", ("web-app", "s3cret")),
        ("my+app:a+b+c", ("my app", "a b c")),
        ("tenant%3Aapp:sec%3Aret", ("tenant:app", "sec:ret")),
        ("a%2Bb:x%25y%26z", ("a+b", "x%y&z")),
        ("%E5%AE%A2%E6%88%B7:%E5%AF%86%E9%92%A5", ("客户", "密钥")),
        ("客户端:密钥", ("客户端", "密钥")),
        ("web-app:se:cr:et", ("web-app", "se:cr:et")),
        ("spa-app:", ("spa-app", "")),
    ],
    ids=[
        "plain",
        "plus-is-space",
        "percent-3A-is-colon",
        "percent-escapes",
        "percent-encoded-unicode",
        "raw-unicode",
        "secret-with-colons",
        "empty-secret",
    ],
)
def test_credentials_are_decoded_as_form_urlencoded_parts(
    raw: str, expected: tuple[str, str]
) -> None:
    assert parse_basic_credentials(basic_of(raw)) == expected


def test_the_scheme_is_case_insensitive_and_spaces_around_are_ignored() -> None:
    encoded = base64.b64encode(b"web-app:s3cret").decode()
    assert parse_basic_credentials(f"  basic {encoded} ") == ("web-app", "s3cret")
    assert parse_basic_credentials(f"BASIC {encoded}") == ("web-app", "s3cret")


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic !!!not-base64!!!", id="malformed-base64"),
        pytest.param("Basic d2ViLWFwcA", id="base64-without-padding"),
        pytest.param(basic_of(b"\xff\xfe:secret"), id="base64-of-invalid-utf8"),
        pytest.param(basic_of("web-app-without-colon"), id="no-colon"),
        pytest.param("Bearer d2ViLWFwcDpzM2NyZXQ=", id="bearer-scheme"),
        pytest.param("Digest username=web-app", id="digest-scheme"),
        pytest.param("Basic", id="no-credentials"),
        pytest.param("Basic    ", id="blank-credentials"),
        pytest.param("", id="empty-header"),
        pytest.param(basic_of(":secret"), id="empty-client-id"),
        pytest.param(basic_of("web%FFapp:secret"), id="invalid-utf8-in-decoded-id"),
        pytest.param(basic_of("web-app:sec%C3ret"), id="invalid-utf8-in-decoded-secret"),
    ],
)
def test_malformed_credentials_are_invalid_client(authorization: str) -> None:
    with pytest.raises(FlowError) as raised:
        parse_basic_credentials(authorization)
    assert raised.value.code is ErrorCode.INVALID_CLIENT
    assert raised.value.description


def test_the_description_never_repeats_the_secret() -> None:
    with pytest.raises(FlowError) as raised:
        parse_basic_credentials(basic_of("web-app:top%FFsecret-value"))
    assert "top" not in str(raised.value)
    assert "secret-value" not in str(raised.value)


def test_non_ascii_basic_credentials_are_invalid_client() -> None:
    with pytest.raises(FlowError) as refused:
        parse_basic_credentials("Basic dGVzdDp\u00f1")
    assert refused.value.code is ErrorCode.INVALID_CLIENT
