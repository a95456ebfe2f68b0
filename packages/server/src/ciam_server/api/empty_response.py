"""An answer whose body is empty: it says so with ``Content-Length: 0`` and names no media type.

Litestar gives every answer with a body-allowing status a Content-Type (JSON by default); a
successful ``/reset_user_password`` has no body, so a Content-Type would claim content that is
not there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Response
from litestar.response.base import ASGIResponse


class EmptyResponse(Response[bytes]):
    """An answer of ``status_code`` with no body and no Content-Type."""

    def __init__(self, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(content=b"", status_code=status_code, headers=dict(headers or {}))

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        response = super().to_asgi_response(*args, **kwargs)
        del response.headers["content-type"]
        return response
