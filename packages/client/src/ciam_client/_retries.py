"""When a failed call is sent again, and how long to wait first.

Pure functions that both clients share; only the sleeping and the sending differ between them.
What may be retried depends on the call's :class:`Repeat`: whether sending it again could make
it act twice. Every other error is final.
"""

from __future__ import annotations

from enum import Enum

from ciam_client._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    IdempotencyKeyInUseError,
)

RETRYABLE_STATUSES = frozenset({429, 503})
"""Statuses that say "not now" rather than "not this": too many requests, unavailable."""

INITIAL_RETRY_DELAY = 0.5
"""Seconds before the first retry, before jitter; doubled for each further retry."""

MAX_RETRY_DELAY = 8.0
"""The longest backoff, before jitter."""

MAX_RETRY_AFTER = 60.0
"""The longest ``Retry-After`` obeyed; a longer (or zero) one falls back to the backoff."""

JITTER = 0.25
"""The backoff is multiplied by a factor in ``[1 - JITTER, 1]``."""


class Repeat(Enum):
    """Whether a call may be sent again, and so which of its failures are retried."""

    WITH_KEY = "with_key"
    """Every attempt carries the call's ``Idempotency-Key``, and the server answers a repeated key
    with the first attempt's answer: any transport failure, a ``429``, a ``503`` and a
    ``409 idempotency_key_in_use`` (the first attempt is still running) are retried."""

    IDEMPOTENT = "idempotent"
    """The call has the same effect however often it runs (a ``GET``, a revocation): any transport
    failure, a ``429`` and a ``503`` are retried."""

    IF_NOT_ACTED_ON = "if_not_acted_on"
    """Running the call twice would act twice (a sign-in, a refresh-token rotation): retried only
    when the server surely did not act on it, that is when no connection could be made (so
    nothing was sent) or the server answered ``429`` or ``503``, which it sends before doing
    anything."""


def should_retry(error: APIError, repeat: Repeat) -> bool:
    """Whether ``error`` may go away when the same call is sent again, and sending is safe."""
    if isinstance(error, APIConnectionError):
        return repeat is not Repeat.IF_NOT_ACTED_ON or not error.request_sent
    if isinstance(error, IdempotencyKeyInUseError):
        return repeat is Repeat.WITH_KEY
    return isinstance(error, APIStatusError) and error.status_code in RETRYABLE_STATUSES


def retry_delay(retries_done: int, retry_after: float | None, random_fraction: float) -> float:
    """Seconds to wait before retry number ``retries_done + 1``.

    The server's ``retry_after`` when it is sane (more than 0 and at most
    :data:`MAX_RETRY_AFTER` seconds); otherwise ``INITIAL_RETRY_DELAY * 2**retries_done`` capped
    at :data:`MAX_RETRY_DELAY`, times ``1 - JITTER * random_fraction``, where ``random_fraction``
    is a draw from ``[0, 1)``.
    """
    if retry_after is not None and 0 < retry_after <= MAX_RETRY_AFTER:
        return retry_after
    backoff = min(INITIAL_RETRY_DELAY * 2.0 ** min(retries_done, 32), MAX_RETRY_DELAY)
    return backoff * (1 - JITTER * random_fraction)


def delay_before_retry(
    error: APIError,
    *,
    repeat: Repeat,
    retries_done: int,
    max_retries: int,
    random_fraction: float,
) -> float | None:
    """Seconds to wait before sending the call again, or ``None`` when ``error`` is final.

    ``retries_done`` counts the retries already made for this call (0 after the first attempt).
    """
    if retries_done >= max_retries or not should_retry(error, repeat):
        return None
    retry_after = error.retry_after if isinstance(error, APIStatusError) else None
    return retry_delay(retries_done, retry_after, random_fraction)
