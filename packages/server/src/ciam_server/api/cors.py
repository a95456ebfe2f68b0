"""Cross-origin calls: browser apps served from another origin call the API with ``fetch``.

Litestar's own CORS handling answers the browser's preflight and marks the answers, for the
origins the operator allows (``CIAM_CORS_ALLOW_ORIGINS``). With none allowed it is left out, and
a browser refuses to let a page of another origin send the API a JSON body.
"""

from __future__ import annotations

from litestar.config.cors import CORSConfig

from ciam_server.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from ciam_server.api.request_id import HEADER as REQUEST_ID_HEADER

ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    IDEMPOTENCY_HEADER,
    "Accept-Language",
    REQUEST_ID_HEADER,
]
"""The request headers the API reads."""

EXPOSED_HEADERS = [
    "Retry-After",
    REQUEST_ID_HEADER,
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]
"""The answer's headers a page may read besides the always-readable ones (Content-Type...)."""


def allowed_origins(setting: str) -> list[str]:
    """The origins of a comma-separated ``CIAM_CORS_ALLOW_ORIGINS``, without blanks."""
    return [origin.strip() for origin in setting.split(",") if origin.strip()]


def cors_config(setting: str) -> CORSConfig | None:
    """Litestar's CORS configuration for the allowed origins, or None when there are none.

    No credentials: the API authenticates with ``Authorization`` or the body, never a cookie."""
    origins = allowed_origins(setting)
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,
        allow_methods=["GET", "POST"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
    )
