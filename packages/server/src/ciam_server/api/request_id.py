"""``X-Request-ID``: honoured when the caller sends a sane one, made up otherwise, always echoed.

It is added by the app's ``before_send`` hook (:mod:`ciam_server.api.hooks`), which Litestar runs
for every response, those of unknown paths and refused methods included.
"""

from __future__ import annotations

import os
import re

from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.types import Message, Scope

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The request's id, chosen once per request. The header is read from the request's
    ``Headers``, which Litestar builds once and keeps in the scope for every reader. A made-up
    id is 128 random bits in hex, read straight from the system (``secrets.token_hex`` is the
    same in three more calls)."""
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        given = Headers.from_scope(scope).get(HEADER)
        state["request_id"] = (
            given if given is not None and _SANE.fullmatch(given) else os.urandom(16).hex()
        )
    request_id: str = state["request_id"]
    return request_id


def echo_request_id(message: Message, scope: Scope) -> None:
    """Add the request's id to the headers of its answer (its ``http.response.start``)."""
    if message["type"] == "http.response.start":
        # Added, not set: nothing else sets it, and setting looks for it first.
        MutableScopeHeaders.from_message(message).add(HEADER, request_id_of(scope))
