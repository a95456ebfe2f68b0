"""The error of a ``Bearer`` challenge in ``WWW-Authenticate`` (RFC 6750 §3, RFC 9110 §11.6.1).

A resource server may refuse an access token with this header alone, and no JSON body: ``401``
with ``Bearer error="invalid_token"``, or ``400`` with ``Bearer error="invalid_request"`` when
no token was sent. The SDK reads the error from it when the body is not an error object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ciam_shared import ErrorBody

_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_SCHEME = re.compile(rf"[\s,]*({_TCHARS})(?=[\s,]|$)")
_PARAM = re.compile(
    rf"""[\s,]*({_TCHARS})[ \t]*=[ \t]*(?:({_TCHARS})|"((?:[^"\\]|\\.)*)")[ \t]*(?=,|$)"""
)
_TOKEN68 = re.compile(r"[ \t]*[A-Za-z0-9._~+/-]+=*[ \t]*(?=,|$)")
_ESCAPED = re.compile(r"\\(.)")


def bearer_error(headers: Iterable[str]) -> ErrorBody | None:
    """The ``error`` and ``error_description`` of the first ``Bearer`` challenge that has an
    ``error``, among the ``WWW-Authenticate`` header values ``headers``; ``None`` without one.

    A value is read up to the first part that is neither a scheme, a ``name=value`` parameter
    nor a ``token68``.
    """
    for header in headers:
        params = _bearer_params(header)
        if "error" in params:
            return ErrorBody(
                error=params["error"], error_description=params.get("error_description")
            )
    return None


def _bearer_params(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    scheme: str | None = None
    position = 0
    while position < len(header.rstrip()):
        param = _PARAM.match(header, position)
        if param is not None and scheme is not None:
            if scheme == "bearer":
                name, token, quoted = param.groups()
                value = token if token is not None else _ESCAPED.sub(r"\1", quoted)
                params.setdefault(name.lower(), value)
            position = param.end()
            continue
        challenge = _SCHEME.match(header, position)
        if challenge is None:
            credentials = _TOKEN68.match(header, position) if scheme is not None else None
            if credentials is None:
                break
            position = credentials.end()
            continue
        if scheme == "bearer":  # a second challenge after the Bearer one: done
            break
        scheme = challenge.group(1).lower()
        position = challenge.end()
    return params
