"""HTTP Basic client authentication as the API defines it."""

from __future__ import annotations

import base64
from urllib.parse import quote


def basic_authorization(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` header value for a confidential application.

    Each part is url-encoded (UTF-8, no safe characters) before the two are joined with ``:``
    and base64-encoded, as RFC 6749 §2.3.1 asks: a ``:`` inside the client id is sent as ``%3A``
    and cannot be mistaken for the separator, and ``+`` is sent as ``%2B`` so that a server
    decoding the parts as form data does not read it as a space.
    """
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")
