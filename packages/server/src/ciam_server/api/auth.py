"""Reading client credentials off a request.

The ``Authorization: Basic`` credentials are ``base64(urlencode(client_id) ":"
urlencode(client_secret))``, each part form-urlencoded as RFC 6749 §2.3.1 says, so ``+`` reads as
a space and ``%XX`` as the byte it names.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote_plus

from ciam_server.domain.clients import ClientCredentials
from ciam_server.domain.errors import FlowError
from ciam_shared import ErrorCode


def parse_basic_credentials(authorization: str) -> tuple[str, str]:
    """``(client_id, client_secret)`` from an ``Authorization`` header value, or
    ``invalid_client`` when it is not well-formed Basic credentials."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise FlowError(ErrorCode.INVALID_CLIENT, "The Authorization header must use Basic.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # not ASCII, not base64 (binascii.Error), or not UTF-8 once decoded
        raise FlowError(
            ErrorCode.INVALID_CLIENT, "The Basic credentials are not valid base64 of UTF-8."
        ) from None
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon:
        raise FlowError(ErrorCode.INVALID_CLIENT, "The Basic credentials lack a ':'.")
    try:
        client_id = unquote_plus(raw_id, errors="strict")
        client_secret = unquote_plus(raw_secret, errors="strict")
    except UnicodeDecodeError:
        raise FlowError(
            ErrorCode.INVALID_CLIENT, "The url-encoded Basic credentials are not UTF-8."
        ) from None
    if not client_id:
        raise FlowError(ErrorCode.INVALID_CLIENT, "The Basic credentials have no client_id.")
    return client_id, client_secret


def client_credentials(
    authorization: str | None, body_client_id: str | None, body_client_secret: str | None
) -> ClientCredentials:
    header_id = header_secret = None
    if authorization is not None:
        header_id, header_secret = parse_basic_credentials(authorization)
    return ClientCredentials(
        header_client_id=header_id,
        header_client_secret=header_secret,
        body_client_id=body_client_id,
        body_client_secret=body_client_secret,
    )
