"""The request class of the app: its JSON body decoding knows a body nested too deep.

msgspec decodes JSON recursively and raises ``RecursionError`` past Python's recursion limit:
about 1,000 levels, 2 KB of ``[`` from anyone, with no credentials. Left alone, that error
would reach the app as an unexpected one (a ``500`` and a traceback in the log for each such
request); here it becomes :class:`NestedTooDeepError`, answered ``400 invalid_request``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request


class NestedTooDeepError(Exception):
    """The JSON body is nested deeper than the decoder goes."""


class ApiRequest(Request[Any, Any, Any]):
    """Litestar's request, whose ``json()`` refuses a body nested too deep to decode."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise NestedTooDeepError from None
