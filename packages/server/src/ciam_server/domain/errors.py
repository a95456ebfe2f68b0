"""The one exception the flows raise: an error code of the registry with an optional description.

Descriptions are fixed sentences written here; they never contain a value the caller sent, since
such values may be passwords or codes.
"""

from __future__ import annotations

from ciam_shared import ErrorCode


class FlowError(Exception):
    """A request refused with a documented error code."""

    def __init__(
        self,
        code: ErrorCode,
        description: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(code.value if description is None else f"{code.value}: {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after
