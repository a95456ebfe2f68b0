"""Properties of reading HTTP Basic client credentials."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ciam_client._auth import basic_authorization
from ciam_server.api.auth import parse_basic_credentials
from ciam_server.domain.errors import FlowError
from ciam_shared import ErrorCode

# Any text that can be encoded as UTF-8 (lone surrogates cannot), and text rich in the
# characters that url-encoding and the ':' separator make interesting.
encodable = st.characters(codec="utf-8")
tricky = st.sampled_from(
    [":", "%", "+", " ", "%3A", "%2B", "%%", "=", "/", "é", "中", "\U0001f511"]
)
text = st.lists(st.one_of(encodable, tricky), max_size=40).map("".join)
client_ids = text.filter(bool)

PROFILE = settings(max_examples=200, deadline=None)


@PROFILE
@given(client_id=client_ids, secret=text)
@example(client_id="app:with:colons", secret="s3cret:+%20 %")
@example(client_id="a b+c", secret="")
def test_the_sdks_header_reads_back(client_id: str, secret: str) -> None:
    assert parse_basic_credentials(basic_authorization(client_id, secret)) == (client_id, secret)


@PROFILE
@given(client_id=client_ids, secret=text)
def test_form_encoded_credentials_read_back(client_id: str, secret: str) -> None:
    """``quote_plus``, as form encoding writes a space as ``+``: RFC 6749 §2.3.1 asks for it."""
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(secret, safe='')}"
    header = "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")
    assert parse_basic_credentials(header) == (client_id, secret)


@PROFILE
@given(scheme=st.sampled_from(["Basic", "basic", "BASIC"]), client_id=client_ids, secret=text)
def test_the_scheme_is_case_insensitive(scheme: str, client_id: str, secret: str) -> None:
    header = basic_authorization(client_id, secret).replace("Basic", scheme, 1)
    assert parse_basic_credentials(header) == (client_id, secret)


def _refused_or_read(header: str) -> None:
    """Credentials with a client_id, or a refusal as ``invalid_client``; never anything else."""
    try:
        client_id, secret = parse_basic_credentials(header)
    except FlowError as error:
        refusal = error.code
    else:
        assert client_id
        assert isinstance(secret, str)
        return
    assert refusal is ErrorCode.INVALID_CLIENT


@PROFILE
@given(header=st.text())
@example(header="Basic é")
@example(header="Basic \x00")
def test_any_header_is_read_or_refused_as_invalid_client(header: str) -> None:
    _refused_or_read(header)


@PROFILE
@given(encoded=st.text())
@example(encoded="YWJj\xff")
def test_any_basic_credentials_are_read_or_refused_as_invalid_client(encoded: str) -> None:
    """Header values arrive as Latin-1 text: any character can follow ``Basic``."""
    _refused_or_read(f"Basic {encoded}")


@PROFILE
@given(raw=st.binary(max_size=64))
def test_any_decoded_bytes_are_read_or_refused_as_invalid_client(raw: bytes) -> None:
    _refused_or_read("Basic " + base64.b64encode(raw).decode("ascii"))
